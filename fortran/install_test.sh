#!/bin/sh
# fortran/install_test.sh BUILD SRC — a Fortran program built against an installed prefix:
# `meson install --destdir` into a temporary folder, then
#     gfortran SRC/examples/fortran/train_node.f90 $(pkg-config --cflags --libs nde-fortran)
# with the installed nde-fortran.pc and nde.pc (prefix moved into the folder), and the
# program run against the installed libraries only.
set -eu
build=$1 src=$2
dest=$(mktemp -d "${TMPDIR:-/tmp}/nde_fortran_install_XXXXXX")
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pc=$(find "$dest" -name nde-fortran.pc | head -n 1)
[ -n "$pc" ] || { echo "install_test: nde-fortran.pc was not installed" >&2; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
for f in nde.mod nde_fortran.h; do
    [ -f "$dest$prefix/include/nde/fortran/$f" ] || { echo "install_test: include/nde/fortran/$f missing" >&2; exit 1; }
done
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --define-variable=prefix="$dest$prefix" --cflags --libs nde-fortran)
echo "gfortran train_node.f90 $flags"
# shellcheck disable=SC2086
gfortran "$src/examples/fortran/train_node.f90" -o "$dest/train_node" $flags
libdir=$(pkg-config --define-variable=prefix="$dest$prefix" --variable=libdir nde-fortran)
LD_LIBRARY_PATH="$libdir" "$dest/train_node" --epochs 5 --steps 5
# the program ran against the installed libraries, not the build tree's
LD_LIBRARY_PATH="$libdir" ldd "$dest/train_node" | grep -E 'libnde(_fortran)?\.so' | tee "$dest/ldd.txt"
if grep -v "$dest" "$dest/ldd.txt" | grep -q .; then
    echo "install_test: a libnde library resolved outside the installed prefix" >&2
    exit 1
fi
