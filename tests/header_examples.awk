# Cut the "Typical use" blocks out of the public headers into one C program.
#
#   awk -f header_examples.awk include/nde/*.h > header_examples.c
#
# A block is the run of comment lines indented by at least four spaces after the star
# (" *     code") that follows a line containing "Typical use". Each block becomes the
# body of a function returning nde_status (so it may use NDE_TRY), with #line pointing
# compiler messages at the header. main() runs them in order and prints
# "header examples: N ran" on success, or the failing block and nde_last_error().
BEGIN {
    n = 0
    print "#include <stdio.h>"
    print "#include <stdlib.h>"
    print "#include \"nde/nde.h\""
}
FNR == 1 { state = 0 }
/Typical use/ { state = 1; next }
state && /^ \*    / {
    if (state == 1) {
        n++
        where[n] = FILENAME ":" FNR
        printf "\nstatic nde_status header_example_%d(void)\n{\n", n
        printf "#line %d \"%s\"\n", FNR, FILENAME
        state = 2
    }
    line = $0
    sub(/^ \*/, "", line)
    print line
    next
}
state == 2 { print "    return NDE_OK;\n}"; state = 0 }
END {
    if (state == 2) print "    return NDE_OK;\n}"
    print "\nint main(void)\n{"
    for (i = 1; i <= n; i++) {
        printf "    if (header_example_%d() != NDE_OK) {\n", i
        printf "        fprintf(stderr, \"header example at %s failed: %%s\\n\", nde_last_error());\n", where[i]
        print "        return EXIT_FAILURE;\n    }"
    }
    printf "    printf(\"header examples: %d ran\\n\");\n", n
    print "    return EXIT_SUCCESS;\n}"
}
