/* The version header (include/nde/version.h, generated from meson.project_version()) and the
 * run-time query: the compile-time macros equal what the library reports, the feature
 * query equals the build's configuration (nde_config.h), and `nde info` prints both. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "nde/nde.h"
#include "nde_config.h"

Test(version, macros_match_the_library_and_the_project)
{
    cr_assert_str_eq(nde_version(), NDE_VERSION_STRING);
    cr_assert_str_eq(NDE_VERSION_STRING, NDE_PROJECT_VERSION); /* meson.project_version() */
    int a = -1, b = -1, c = -1;
    cr_assert_eq(sscanf(nde_version(), "%d.%d.%d", &a, &b, &c), 3, "%s", nde_version());
    cr_assert_eq(a, NDE_VERSION_MAJOR);
    cr_assert_eq(b, NDE_VERSION_MINOR);
    cr_assert_eq(c, NDE_VERSION_PATCH);
    char s[64];
    snprintf(s, sizeof s, "%d.%d.%d", NDE_VERSION_MAJOR, NDE_VERSION_MINOR, NDE_VERSION_PATCH);
    cr_assert_str_eq(s, NDE_VERSION_STRING);
}

Test(version, at_least)
{
    cr_assert(NDE_VERSION_AT_LEAST(NDE_VERSION_MAJOR, NDE_VERSION_MINOR, NDE_VERSION_PATCH));
    cr_assert(NDE_VERSION_AT_LEAST(0, 0, 0));
    cr_assert(!NDE_VERSION_AT_LEAST(NDE_VERSION_MAJOR, NDE_VERSION_MINOR, NDE_VERSION_PATCH + 1));
    cr_assert(!NDE_VERSION_AT_LEAST(NDE_VERSION_MAJOR, NDE_VERSION_MINOR + 1, 0));
    cr_assert(!NDE_VERSION_AT_LEAST(NDE_VERSION_MAJOR + 1, 0, 0));
    if (NDE_VERSION_PATCH > 0)
        cr_assert(NDE_VERSION_AT_LEAST(NDE_VERSION_MAJOR, NDE_VERSION_MINOR, NDE_VERSION_PATCH - 1));
    if (NDE_VERSION_MINOR > 0) cr_assert(NDE_VERSION_AT_LEAST(NDE_VERSION_MAJOR, NDE_VERSION_MINOR - 1, 99));
#if !NDE_VERSION_AT_LEAST(0, 0, 1) && NDE_VERSION_NUMBER != 0
    cr_assert_fail("NDE_VERSION_AT_LEAST is not usable in #if");
#endif
}

Test(version, features_match_the_build)
{
    cr_assert_eq(nde_has_feature("hdf5"), NDE_HAVE_HDF5);
    cr_assert_eq(nde_has_feature("sundials"), NDE_HAVE_SUNDIALS);
    cr_assert_eq(nde_has_feature("mpi"), NDE_HAVE_MPI);
    cr_assert_eq(nde_has_feature("matio"), NDE_HAVE_MATIO);
    cr_assert_eq(nde_has_feature("fault_injection"), NDE_FAULT_INJECTION);
    cr_assert_eq(nde_has_feature("nosuch"), 0);
    cr_assert_eq(nde_has_feature(""), 0);
    cr_assert_eq(nde_has_feature(NULL), 0);
    cr_assert_eq(nde_has_feature("HDF5"), 0); /* names are exact */
    cr_assert_eq(nde_has_feature("hdf"), 0);
    /* the list holds exactly the five names */
    const char *expect[] = {"hdf5", "sundials", "mpi", "matio", "fault_injection"};
    int n = 0;
    while (nde_feature_name(n)) n++;
    cr_assert_eq(n, 5);
    for (int i = 0; i < 5; i++) {
        int seen = 0;
        for (int k = 0; k < n; k++) seen += !strcmp(nde_feature_name(k), expect[i]);
        cr_assert_eq(seen, 1, "%s", expect[i]);
    }
    cr_assert_null(nde_feature_name(-1));
}

Test(version, nde_info_prints_version_and_features)
{
    FILE *p = popen(NDE_CLI_EXE " info", "r");
    cr_assert_not_null(p);
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s", out);
    char first[128];
    snprintf(first, sizeof first, "nde %s ", NDE_VERSION_STRING);
    cr_assert(strncmp(out, first, strlen(first)) == 0, "%s", out);
    for (int i = 0; nde_feature_name(i); i++) {
        char want[64];
        snprintf(want, sizeof want, " %s=%s", nde_feature_name(i),
                 nde_has_feature(nde_feature_name(i)) ? "yes" : "no");
        cr_assert(strstr(out, want) != NULL, "%s missing in:\n%s", want, out);
    }
}
