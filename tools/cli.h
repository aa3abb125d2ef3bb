/* tools/cli.h — the subcommands of the nde tool implemented outside nde.c. Each takes
 * the command's argv (argv[0] is the command name) and returns the exit status:
 * 0 success, 1 failure (message on stderr), 2 usage or configuration error. */
#ifndef NDE_CLI_H
#define NDE_CLI_H

#include "nde/nde.h"

int cli_data(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_bench(int argc, char **argv);

/* Dataset files. A path ending in .npy names a family of files, one per dataset:
 * "d.npy" holds dataset "a" in "d_a.npy". Other paths: .mat (v7.3) or HDF5. */
void cli_dataset_file(const char *path, const char *name, char *buf, size_t cap);
nde_status cli_dataset_read(const char *path, const char *name, nde_array *out);
/* Write datasets names[0..n) of the given shapes atomically: each file is written under a
 * temporary name beside it and renamed into place. */
nde_status cli_datasets_write(const char *path, size_t n, const char *const *names,
                              const int *ndim, const size_t (*shape)[3], const double *const *data);

#endif
