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
/* Rows first .. first+count−1 of it only (nde_dataset_read_rows; count 0: the shape). */
nde_status cli_dataset_read_rows(const char *path, const char *name, size_t first, size_t count,
                                 nde_array *out);
/* NDE_OK if a file can be created at path (its folder exists and is writable, and path
 * is not a folder); else NDE_ERR_IO naming path and the system's reason. */
nde_status cli_check_writable(const char *path);
/* Write datasets names[0..n) of the given shapes atomically: each file is written under a
 * temporary name beside it and renamed into place. */
nde_status cli_datasets_write(const char *path, size_t n, const char *const *names,
                              const int *ndim, const size_t (*shape)[3], const double *const *data);

/* ---- MPI (tools/cli_mpi.c): `mpirun -np P nde train|data ...` ----
 * cli_mpi_begin initialises MPI when a launcher (mpirun, srun) started the process and
 * the build has MPI (returns non-zero if MPI_Init failed); cli_mpi_end finalizes it. A
 * plain `nde` is rank 0 of 1 and never touches MPI. */
int cli_mpi_begin(int *argc, char ***argv);
void cli_mpi_end(void);
int cli_rank(void);
int cli_size(void);
/* 1 if flag is non-zero on any rank (collective). */
int cli_any(int flag);
/* Hand MPI_COMM_WORLD to the trainer when there is more than one rank. */
nde_status cli_set_comm(nde_trainer *tr);
/* Rank r's contiguous part of n items: [cli_share(n, r, 0), cli_share(n, r, 1)). */
size_t cli_share(size_t n, int r, int end);
/* Rank 0 receives every rank's rows (its cli_share of n rows of `per` doubles) into v. */
nde_status cli_gather_rows(double *v, size_t n, size_t per);
/* v[0..n) summed over the ranks in place (collective; nothing on one rank). */
nde_status cli_sum(double *v, size_t n);
/* Rank 0's status on every rank (others keep their own error). */
nde_status cli_share_status(nde_status st, const char *what);
/* ---- PNG plots (cli_plot.c; gnuplot through tools/plot, every path as an ARG) ---- */

/* 1 if gnuplot is installed; else a warning naming prog on stderr and 0. */
int cli_plots_possible(const char *prog);
/* dir/loss.png: train loss (and test metric when has_test) per epoch from the trainer's
 * metrics.jsonl, through dir/loss.dat. */
nde_status cli_plot_loss(const char *dir, const char *metrics, const char *loss_name,
                         const char *metric_name, int has_test);
/* dir/nfe.png: mean forward NFE per training step of epochs first_epoch.. (n values). */
nde_status cli_plot_nfe(const char *dir, size_t first_epoch, size_t n, const double *nfe);

typedef enum cli_plot_layout {
    CLI_PLOT_1D,         /* fields (count, n0): up to 4 samples as line plots */
    CLI_PLOT_2D,         /* fields (count, n0, n1): heat maps true, predicted, error of the first */
    CLI_PLOT_TRAJECTORY, /* states (count, n0 times, n1 dim) at t: the first sample */
    CLI_PLOT_SCATTER,    /* (count, n0) values: predicted against true */
} cli_plot_layout;
/* dir/pred.png (through dir/pred.dat): predictions against targets y. */
nde_status cli_plot_pred(const char *dir, cli_plot_layout layout, size_t count, size_t n0,
                         size_t n1, const double *t, const double *y, const double *pred);

#endif
