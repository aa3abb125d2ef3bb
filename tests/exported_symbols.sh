#!/bin/sh
# The exported-symbol check: `nm -D --defined-only` of the shared library must list
# exactly the functions declared in the public headers, no more, no fewer.
#
#   exported_symbols.sh path/to/libnde.so include/nde [generated-header-path | SKIP.h ...]
#
# Arguments with a '/' are generated public headers (build/include/nde/version.h) read too.
#
# Headers named after the directory are left out (mpi.h in a build without MPI, whose
# library does not define its functions).
# A declared function is an identifier nde_* followed by "(" in header code, outside
# comments and preprocessor lines, and not a function-pointer declarator "nde_x (*".
# Prints the names missing on either side (with the header line that declares them)
# and exits 1 if there are any.
set -eu
lib=$1
incdir=$2
shift 2
headers=
gen=
for a in "$@"; do case "$a" in */*) gen="$gen $a" ;; esac; done
for h in "$incdir"/*.h; do
    skip=0
    for s in "$@"; do [ "$(basename "$h")" = "$s" ] && skip=1; done
    [ "$skip" -eq 0 ] && headers="$headers $h"
done
headers="$headers$gen"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

awk '
FNR == 1 { in_comment = 0; continued = 0 }
{
    rest = $0; code = ""
    while (rest != "") {
        if (in_comment) {
            k = index(rest, "*/")
            if (!k) break
            rest = substr(rest, k + 2); in_comment = 0; continue
        }
        b = index(rest, "/*"); l = index(rest, "//")
        if (l && (!b || l < b)) { code = code substr(rest, 1, l - 1); break }
        if (!b) { code = code rest; break }
        code = code substr(rest, 1, b - 1) " "; rest = substr(rest, b + 2); in_comment = 1
    }
    if (continued || code ~ /^[ \t]*#/) { continued = (code ~ /\\[ \t]*$/); next }
    while (match(code, /nde_[A-Za-z0-9_]*[ \t]*\(/)) {
        name = substr(code, RSTART, RLENGTH - 1); sub(/[ \t]+$/, "", name)
        code = substr(code, RSTART + RLENGTH)
        if (code !~ /^[ \t]*\*/) print name, FILENAME ":" FNR
    }
}' $headers | sort -k1,1 > "$tmp/declared_at"
awk '{ print $1 }' "$tmp/declared_at" | sort -u > "$tmp/declared"
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u > "$tmp/exported"

if [ ! -s "$tmp/declared" ] || [ ! -s "$tmp/exported" ]; then
    echo "exported_symbols: no declarations found in $incdir or no symbols in $lib" >&2
    exit 1
fi

comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/missing"
comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/extra"
status=0
if [ -s "$tmp/missing" ]; then
    echo "declared in $incdir but not exported by $lib (missing NDE_API, or not defined):" >&2
    join "$tmp/missing" "$tmp/declared_at" | sed 's/^/    /' >&2
    status=1
fi
if [ -s "$tmp/extra" ]; then
    echo "exported by $lib but not declared in $incdir (make it static, or declare it with NDE_API):" >&2
    sed 's/^/    /' "$tmp/extra" >&2
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "exported_symbols: $(wc -l < "$tmp/declared") functions declared and exported"
fi
exit "$status"
