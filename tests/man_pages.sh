#!/bin/sh
# The man pages of the nde tool (docs/man):
#   - every subcommand has a page, and groff renders each page without a warning;
#   - every option of `nde COMMAND --help` is in the page (as \-\-name in the roff);
#   - the committed pages are what scripts/gen_man.py makes of the current --help texts.
#
#   man_pages.sh path/to/nde path/to/source/root
set -eu
nde=$1
root=$2
man=$root/docs/man
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for cmd in "" data train eval predict inspect steps info bench; do
    page=$man/nde${cmd:+-$cmd}.1
    if [ ! -f "$page" ]; then
        echo "no man page $page for 'nde $cmd'"; fail=1; continue
    fi
    if ! groff -man -Tutf8 -ww -z "$page" 2>"$tmp/warn" || [ -s "$tmp/warn" ]; then
        echo "groff warns on $page:"; cat "$tmp/warn"; fail=1
    fi
    # shellcheck disable=SC2086
    "$nde" $cmd --help > "$tmp/help"
    opts=$(grep -oE '^  (-[A-Za-z], )?--[A-Za-z0-9-]+' "$tmp/help" | sed 's/.*--/--/' | sort -u)
    [ -n "$opts" ] || { echo "'nde $cmd --help' lists no option"; fail=1; }
    for o in $opts; do
        roff=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        if ! grep -q -- "$roff" "$page"; then
            echo "$page lacks $o (of 'nde $cmd --help')"; fail=1
        fi
    done
    if [ -z "$cmd" ]; then # nde(1) names every subcommand's page
        for c in data train eval predict inspect steps info bench; do
            grep -q "nde\\\\-$c (1)" "$page" || { echo "nde.1 lacks nde-$c(1)"; fail=1; }
        done
    fi
done
if command -v python3 >/dev/null 2>&1; then
    python3 "$root/scripts/gen_man.py" "$nde" "$tmp/gen" >/dev/null
    if ! diff -r "$man" "$tmp/gen" -x meson.build > "$tmp/diff"; then
        echo "docs/man is out of date (run python3 scripts/gen_man.py build/tools/nde):"
        head -40 "$tmp/diff"; fail=1
    fi
fi
[ $fail = 0 ] && echo "man pages: 9 pages, every option documented, no groff warning"
exit $fail
