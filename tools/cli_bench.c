/* `nde bench NAME [ARGS...]`: runs one of the benchmark programs of bench/ (execv, no
 * shell) with ARGS passed through unchanged. The programs are looked up next to the tool
 * in a build tree (<dir of nde>/../bench/<folder>/<program>) and else where meson
 * installs them (<libexecdir>/nde/<program>, NDE_BENCH_DIR). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nde_args.h"

#ifndef NDE_BENCH_DIR
#define NDE_BENCH_DIR "/usr/local/libexec/nde"
#endif

/* NAME of `nde bench`, the folder under bench/ and the program. */
static const struct bench {
    const char *name, *folder, *program, *about;
} benches[] = {
    {"adjoint_memory", "adjoint_memory", "adjoint_memory", "memory and time of every gradient method"},
    {"constraint", "constraint", "bench_constraint",
     "hard-constraint projection: global against mixture of experts"},
    {"fno", "fno", "fno_bench", "seconds per epoch of the FNO-1D Burgers model"},
    {"fno2d", "fno", "fno2d_bench", "seconds per epoch of the FNO-2D Darcy model"},
    {"method_choice", "method_choice", "bench_method_choice",
     "NFE and error of each explicit pair by tolerance (the auto chooser's data)"},
    {"mgno", "mgno", "mgno_bench", "the 3x3 convolution and one MgNO sample"},
    {"nn", "nn", "bench_nn", "speed of tanh and of the MLP"},
    {"optim", "optim", "bench_optim", "the spiral neural ODE trained with each optimizer"},
    {"optim_operator", "optim_operator", "bench_optim_operator",
     "a small neural operator trained with each optimizer"},
    {"regularizers", "regularizers", "regularizers", "cost of each regularizer on a solve"},
    {"scaling", "scaling", "bench_scaling",
     "data-parallel throughput of one rank (start under mpirun; bench/scaling/run.sh)"},
    {"spiral", "spiral", "bench_spiral", "microseconds per spiral training iteration"},
    {"work_precision", "work_precision", "work_precision",
     "NFE and end-point error of every explicit pair (bench/work_precision/run.sh adds scipy)"},
};
enum { N_BENCH = sizeof benches / sizeof benches[0] };

static void list(FILE *f)
{
    for (size_t k = 0; k < N_BENCH; k++)
        fprintf(f, "  %-16s %s\n", benches[k].name, benches[k].about);
}

/* The program of b in the build tree beside this executable, else the installed one;
 * 0 and the path in buf, or -1 (buf then names the installed path looked for). */
static int locate(const struct bench *b, char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, cap, "%s/../bench/%s/%s", self, b->folder, b->program);
            if (access(buf, X_OK) == 0) return 0;
        }
    }
    snprintf(buf, cap, "%s/%s", NDE_BENCH_DIR, b->program);
    return access(buf, X_OK) == 0 ? 0 : -1;
}

int cli_bench(int argc, char **argv)
{
    int do_list = 0;
    const nde_arg opts[] = {
        {.name = "list", .kind = NDE_ARG_FLAG, .dest = &do_list,
         .help = "list the benchmarks NAME may be"},
    };
    const nde_args_spec spec = {
        .prog = "nde bench", .synopsis = "NAME [ARGS...] | --list",
        .about = "Runs the benchmark program NAME (bench/; `nde bench --list` lists them) with\n"
                 "ARGS passed through unchanged (`nde bench NAME --help` shows its options).\n"
                 "Each prints one JSON object per result line on stdout.",
        NDE_ARGS_TABLE(opts)};
    /* the options of nde bench come before NAME; everything after NAME is the program's */
    int k = 1;
    while (k < argc && argv[k][0] == '-' && strcmp(argv[k], "--")) k++;
    const int name_at = k < argc && !strcmp(argv[k], "--") ? k + 1 : k;
    int rc = nde_args_parse(&spec, k, argv, NULL);
    if (rc != NDE_ARGS_OK) return nde_args_exit_status(rc);
    if (do_list) {
        if (name_at < argc) {
            fprintf(stderr, "nde bench: --list takes no NAME (try --help)\n");
            return 2;
        }
        list(stdout);
        return 0;
    }
    if (name_at >= argc) {
        fprintf(stderr, "nde bench: name the benchmark (try --help); NAME is one of:\n");
        list(stderr);
        return 2;
    }
    const char *name = argv[name_at];
    const struct bench *b = NULL;
    for (size_t i = 0; i < N_BENCH; i++)
        if (!strcmp(benches[i].name, name)) b = &benches[i];
    if (!b) {
        fprintf(stderr, "nde bench: unknown benchmark '%s'; NAME is one of:\n", name);
        list(stderr);
        return 2;
    }
    char path[PATH_MAX + 64];
    if (locate(b, path, sizeof path)) {
        fprintf(stderr, "nde bench: %s: cannot run %s: %s (benchmarks are built and installed "
                "with -Dexamples=true)\n", name, path, strerror(errno));
        return 1;
    }
    /* argv of the program: its path, then everything after NAME */
    char **args = calloc((size_t)(argc - name_at) + 1, sizeof *args);
    if (!args) {
        fprintf(stderr, "nde bench: out of memory\n");
        return 1;
    }
    args[0] = path;
    for (int i = name_at + 1; i < argc; i++) args[i - name_at] = argv[i];
    fflush(stdout);
    fflush(stderr);
    execv(path, args);
    fprintf(stderr, "nde bench: cannot run %s: %s\n", path, strerror(errno));
    free(args);
    return 1;
}
