/* Running gnuplot for PNG plots. */
#include "nde/plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int nde_plot_available(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

nde_status nde_plot_run(const char *script)
{
    if (!script) return NDE_FAIL(NDE_ERR_ARG, "nde_plot_run: script is NULL");
    if (!nde_plot_available())
        return NDE_FAIL(NDE_ERR_MISSING,
                        "gnuplot is not installed (apt-get install gnuplot-nox); no plot written");
    FILE *p = popen("gnuplot", "w");
    if (!p) return NDE_FAIL(NDE_ERR_IO, "cannot start gnuplot");
    size_t len = strlen(script);
    size_t wrote = fwrite(script, 1, len, p);
    int rc = pclose(p);
    if (wrote != len) return NDE_FAIL(NDE_ERR_IO, "could not send the script to gnuplot");
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        return NDE_FAIL(NDE_ERR_IO, "gnuplot failed (exit status %d)",
                        WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    return NDE_OK;
}
