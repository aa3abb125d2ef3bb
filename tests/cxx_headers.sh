#!/bin/sh
# The public headers compile as C++ (C++11, -Wall -Wextra -Wpedantic -Werror): one
# translation unit including all of them (nde/nde.h, plus those nde.h does not include),
# and each header on its own (each must include what it uses). The all-in-one unit calls
# into libnde and is linked and run, which fails if a header lacks its extern "C" guard
# (the C++ compiler would look for mangled names). Every header that declares an NDE_API
# function must have the guard.
#
#   cxx_headers.sh CXX SOURCE_INCLUDE_DIR BUILD_INCLUDE_DIR LIBNDE_SO
set -eu
cxx=$1 inc=$2 binc=$3 lib=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-std=c++11 -Wall -Wextra -Wpedantic -Werror -I$inc -I$binc"
status=0

# A header that needs a system header this machine lacks (nde/mpi.h: <mpi.h> without an
# MPI implementation installed) is skipped, with a note.
headers=
for h in $(cd "$inc" && ls nde/*.h) $(cd "$binc" && ls nde/*.h); do
    f=$inc/$h; [ -f "$f" ] || f=$binc/$h
    missing=
    for sys in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$f"); do
        printf '#include <%s>\n' "$sys" > "$tmp/probe.cpp"
        $cxx -fsyntax-only "$tmp/probe.cpp" 2>/dev/null || missing="$missing <$sys>"
    done
    if [ -n "$missing" ]; then
        echo "cxx_headers: skipping $h:$missing not found"
    else
        headers="$headers $h"
    fi
done
for h in $headers; do
    f=$inc/$h; [ -f "$f" ] || f=$binc/$h
    if grep -q 'NDE_API' "$f" && [ "$h" != nde/export.h ] && ! grep -q 'extern "C"' "$f"; then
        echo "cxx_headers: $h declares NDE_API functions without an extern \"C\" guard" >&2
        status=1
    fi
    printf '#include "%s"\n#include "%s"\nint main() { return 0; }\n' "$h" "$h" > "$tmp/one.cpp"
    # shellcheck disable=SC2086
    $cxx $flags -fsyntax-only "$tmp/one.cpp" || { echo "cxx_headers: $h alone fails as C++" >&2; status=1; }
done

{
    echo '#include "nde/nde.h"'
    for h in $headers; do echo "#include \"$h\""; done
    cat <<'CPP'
#include <cstdio>
#include <cstring>
int main()
{
    // links only if the declarations have C linkage
    nde_rng r;
    nde_rng_seed(&r, 1);
    std::printf("nde %s (headers %s), hdf5=%d, %s\n", nde_version(), NDE_VERSION_STRING,
                nde_has_feature("hdf5"), nde_status_str(NDE_ERR_ARG));
    return std::strcmp(nde_version(), NDE_VERSION_STRING) != 0 || nde_rng_uniform(&r) >= 1.0;
}
CPP
} > "$tmp/all.cpp"
libdir=$(dirname "$lib")
# shellcheck disable=SC2086
$cxx $flags -o "$tmp/all" "$tmp/all.cpp" "$lib" -Wl,-rpath,"$libdir" ||
    { echo "cxx_headers: the all-headers C++ program does not compile or link" >&2; exit 1; }
"$tmp/all" || { echo "cxx_headers: the all-headers C++ program failed" >&2; exit 1; }
[ "$status" -eq 0 ] && echo "cxx_headers: $(echo $headers | wc -w) headers compile as C++11"
exit "$status"
