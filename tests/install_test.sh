#!/bin/sh
# The installed-prefix test: `meson install --destdir` into a temporary directory, then
# build the README's C example outside the build tree against that prefix, the way a
# user would, both ways, and run it:
#   shared: cc prog.c $(pkg-config --cflags --libs nde)        (run with LD_LIBRARY_PATH)
#   static: cc prog.c $(pkg-config --cflags nde) -Wl,-Bstatic -lnde -Wl,-Bdynamic \
#                     $(pkg-config --static --libs nde)
# Also checks what was installed (library both ways, headers, nde, configs, nde.pc), that
# nde.pc's Libs.private names no absolute shared-library path, and that the installed
# `nde info` runs.
#
#   install_test.sh BUILD_DIR SOURCE_ROOT PREFIX LIBDIR README_EXAMPLE.c
#
# The prefix is relocated by rewriting only the `prefix=` line of the installed nde.pc
# (every other path in it is relative to ${prefix}); the other .pc files (openblas, ...)
# stay the system's, as for a real install.
set -eu
build=$1 src=$2 prefix=$3 libdir=$4 example=$5
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

root=$tmp/root
env -u DESTDIR meson install -C "$build" --no-rebuild --quiet --destdir "$root" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install failed"; }
R=$root$prefix
L=$root$libdir

# what must be there
for f in "$L/libnde.a" "$L/libnde.so" "$L/libnde.so.0" "$L/pkgconfig/nde.pc" "$R/bin/nde" \
         "$R/include/nde/version.h"; do
    [ -e "$f" ] || fail "not installed: ${f#"$root"}"
done
# nde/mpi.h needs <mpi.h>: an MPI build installs it, a -Dmpi=disabled build must not
with_mpi=$(LD_LIBRARY_PATH=$L "$R/bin/nde" info | grep -c 'mpi=yes' || true)
for h in "$src"/include/nde/*.h; do
    b=$(basename "$h")
    if [ "$b" = mpi.h ] && [ "$with_mpi" = 0 ]; then
        [ ! -e "$R/include/nde/mpi.h" ] || fail "mpi.h installed by a build without MPI"
        continue
    fi
    [ -f "$R/include/nde/$b" ] || fail "header not installed: $b"
done
for c in "$src"/examples/configs/*.ini; do
    [ -f "$R/share/nde/configs/$(basename "$c")" ] || fail "config not installed: $(basename "$c")"
done
[ ! -e "$R/include/nde/meson.build" ] && [ ! -e "$R/include/nde/version.h.in" ] ||
    fail "build files installed into include/nde"

# nde.pc: -lm in Libs, no absolute paths to shared libraries anywhere
grep -q '^Libs:.*-lm' "$L/pkgconfig/nde.pc" || fail "nde.pc: Libs lacks -lm"
if grep -E '^Libs' "$L/pkgconfig/nde.pc" | grep -Eq '(^|[[:space:]])/[^[:space:]]*\.so'; then
    grep -E '^Libs' "$L/pkgconfig/nde.pc" >&2
    fail "nde.pc names a shared library by absolute path"
fi
mkdir "$tmp/pc"
sed "s|^prefix=.*|prefix=$R|" "$L/pkgconfig/nde.pc" > "$tmp/pc/nde.pc"
PKG_CONFIG_PATH=$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
[ "$(pkg-config --modversion nde)" = "$(sed -n 's/^#define NDE_VERSION_STRING "\(.*\)"$/\1/p' "$R/include/nde/version.h")" ] ||
    fail "nde.pc version differs from version.h"

# the installed nde runs (its build-tree rpath is gone: LD_LIBRARY_PATH)
LD_LIBRARY_PATH=$L "$R/bin/nde" info > "$tmp/info.txt" || fail "installed nde info failed"
grep -q "^nde $(pkg-config --modversion nde) " "$tmp/info.txt" || { cat "$tmp/info.txt" >&2; fail "nde info: no version line"; }

# the README example, outside the build tree
mkdir "$tmp/user"
cp "$example" "$tmp/user/prog.c"
cd "$tmp/user"
check_run() { # $1 = what, rest = command
    what=$1; shift
    "$@" > out.txt 2>&1 || { cat out.txt >&2; fail "$what: the example failed"; }
    grep -Eq '^mse [0-9.]+e[-+][0-9]+ after 200 iterations; last training solve: [0-9]+ steps' out.txt ||
        { cat out.txt >&2; fail "$what: unexpected output"; }
    echo "$what: $(cat out.txt)"
}
# shellcheck disable=SC2046
$cc -o prog_shared prog.c $(pkg-config --cflags --libs nde) || fail "shared link failed"
readelf -d prog_shared | grep -q 'NEEDED.*\[libnde\.so\.0\]' || fail "prog_shared does not use libnde.so.0"
LD_LIBRARY_PATH=$L ldd ./prog_shared | grep -q "libnde\.so\.0 => $L/" || fail "libnde.so.0 not taken from the prefix"
check_run shared env LD_LIBRARY_PATH="$L" ./prog_shared

# shellcheck disable=SC2046
$cc -o prog_static prog.c $(pkg-config --cflags nde) -Wl,-Bstatic -lnde -Wl,-Bdynamic \
    $(pkg-config --static --libs nde) || fail "static link failed"
if readelf -d prog_static | grep -q 'NEEDED.*libnde'; then fail "prog_static needs libnde.so"; fi
check_run static ./prog_static
echo "install_test: ok"
