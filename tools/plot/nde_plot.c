/* tools/plot: running gnuplot for PNG plots. The script goes to gnuplot's standard input (`gnuplot -c
 * /dev/stdin ARG1 …`); user text such as output paths goes in as the argument variables
 * ARG1…ARG9, never into the script text, so no quote or newline in a path can run a
 * command. gnuplot is started with posix_spawnp, not through a shell. */
#include "nde_plot.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int nde_plot_available(void)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        /* an empty PATH entry is the current directory */
        int n = len ? snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)len, path)
                    : snprintf(buf, sizeof buf, "./gnuplot");
        if (n > 0 && (size_t)n < sizeof buf && access(buf, X_OK) == 0) return 1;
        path += len;
        if (*path == ':') path++;
    }
    return 0;
}

/* Write all of buf to fd; 0 on success. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

nde_status nde_plot_run_args(const char *script, int n_args, const char *const *args)
{
    if (!script) return NDE_FAIL(NDE_ERR_ARG, "nde_plot_run_args: script is NULL");
    if (n_args < 0 || n_args > 9 || (n_args && !args))
        return NDE_FAIL(NDE_ERR_ARG, "nde_plot_run_args: %d arguments (0 to 9 allowed)", n_args);
    for (int i = 0; i < n_args; i++)
        if (!args[i]) return NDE_FAIL(NDE_ERR_ARG, "nde_plot_run_args: argument %d is NULL", i + 1);
    if (!nde_plot_available())
        return NDE_FAIL(NDE_ERR_MISSING,
                        "gnuplot is not installed (apt-get install gnuplot-nox); no plot written");
    char *argv[13] = {"gnuplot", "-c", "/dev/stdin"};
    for (int i = 0; i < n_args; i++) argv[3 + i] = (char *)args[i];
    argv[3 + n_args] = NULL;
    int fds[2];
    if (pipe(fds) != 0) return NDE_FAIL(NDE_ERR_IO, "cannot start gnuplot: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    int err = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (err != 0) {
        close(fds[1]);
        return NDE_FAIL(NDE_ERR_IO, "cannot start gnuplot: %s", strerror(err));
    }
    /* gnuplot may exit before reading everything: a write error, not SIGPIPE */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    const int wrote = write_all(fds[1], script, strlen(script)) == 0;
    close(fds[1]);
    sigaction(SIGPIPE, &old, NULL);
    int rc;
    while (waitpid(pid, &rc, 0) < 0)
        if (errno != EINTR) return NDE_FAIL(NDE_ERR_IO, "gnuplot: %s", strerror(errno));
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        return NDE_FAIL(NDE_ERR_IO, "gnuplot failed (exit status %d)",
                        WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    if (!wrote) return NDE_FAIL(NDE_ERR_IO, "could not send the script to gnuplot");
    return NDE_OK;
}

nde_status nde_plot_run(const char *script)
{
    return nde_plot_run_args(script, 0, NULL);
}
