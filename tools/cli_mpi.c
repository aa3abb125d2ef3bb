/* The nde tool under mpirun: MPI is initialised by the tool (never by the library) for
 * the commands that use it, and only when a launcher started the process, so a plain
 * `nde ...` stays a serial program that never touches MPI. Without MPI every helper is
 * the one-rank identity. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nde_config.h"

#if NDE_HAVE_MPI
#include <cblas.h>
#include <mpi.h>

#include "nde/mpi.h"

static int active, rank, size = 1;

/* Environment variables Open MPI's mpirun, PMI and PMIx launchers (Slurm's srun) set. */
static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int cli_mpi_begin(int *argc, char ***argv)
{
    if (!launched()) return 0;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return 1;
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* ranks sharing a node share its cores: unless the user chose, BLAS gets cores / ranks */
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const long per_node = local ? strtol(local, NULL, 10) : 1;
    if (per_node > 1 && !getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) {
        const int t = openblas_get_num_procs() / (int)per_node;
        openblas_set_num_threads(t > 1 ? t : 1);
    }
    return 0;
}

void cli_mpi_end(void)
{
    if (active) MPI_Finalize();
    active = 0, rank = 0, size = 1;
}

int cli_rank(void) { return rank; }
int cli_size(void) { return size; }

int cli_any(int flag)
{
    if (size <= 1) return flag != 0;
    int v = flag != 0, out = 1;
    if (MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) return 1;
    return out;
}

nde_status cli_set_comm(nde_trainer *tr)
{
    return size > 1 ? nde_trainer_set_comm(tr, MPI_COMM_WORLD) : NDE_OK;
}

/* Blocks of at most 2^30 doubles (MPI counts are int). */
static int send_doubles(const double *v, size_t n, int to)
{
    for (size_t at = 0; at < n;) {
        const size_t k = n - at < (size_t)1 << 30 ? n - at : (size_t)1 << 30;
        if (MPI_Send(v + at, (int)k, MPI_DOUBLE, to, 17, MPI_COMM_WORLD) != MPI_SUCCESS) return 1;
        at += k;
    }
    return 0;
}

static int recv_doubles(double *v, size_t n, int from)
{
    for (size_t at = 0; at < n;) {
        const size_t k = n - at < (size_t)1 << 30 ? n - at : (size_t)1 << 30;
        if (MPI_Recv(v + at, (int)k, MPI_DOUBLE, from, 17, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS)
            return 1;
        at += k;
    }
    return 0;
}

nde_status cli_gather_rows(double *v, size_t n, size_t per)
{
    if (size <= 1) return NDE_OK;
    int bad = 0;
    for (int r = 1; r < size && !bad; r++) {
        const size_t lo = cli_share(n, r, 0), hi = cli_share(n, r, 1);
        if (rank == r) bad = send_doubles(v + lo * per, (hi - lo) * per, 0);
        else if (rank == 0) bad = recv_doubles(v + lo * per, (hi - lo) * per, r);
    }
    if (bad) return NDE_FAIL(NDE_ERR_IO, "gathering the samples on rank 0 failed");
    return NDE_OK;
}

nde_status cli_sum(double *v, size_t n)
{
    if (size <= 1 || n == 0) return NDE_OK;
    if (n > (size_t)1 << 30 ||
        MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return NDE_FAIL(NDE_ERR_IO, "MPI_Allreduce of %zu values failed", n);
    return NDE_OK;
}

nde_status cli_share_status(nde_status st, const char *what)
{
    if (size <= 1) return st;
    int v = (int)st;
    if (MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS && st == NDE_OK)
        return NDE_FAIL(NDE_ERR_IO, "%s: MPI_Bcast failed", what);
    if (rank != 0 && st == NDE_OK && v != NDE_OK)
        return NDE_FAIL((nde_status)v, "%s failed on rank 0", what);
    return st;
}

#else

int cli_mpi_begin(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}
void cli_mpi_end(void) {}
int cli_rank(void) { return 0; }
int cli_size(void) { return 1; }
int cli_any(int flag) { return flag != 0; }
nde_status cli_set_comm(nde_trainer *tr)
{
    (void)tr;
    return NDE_OK;
}
nde_status cli_gather_rows(double *v, size_t n, size_t per)
{
    (void)v, (void)n, (void)per;
    return NDE_OK;
}
nde_status cli_share_status(nde_status st, const char *what)
{
    (void)what;
    return st;
}
nde_status cli_sum(double *v, size_t n)
{
    (void)v, (void)n;
    return NDE_OK;
}

#endif

size_t cli_share(size_t n, int r, int end)
{
    const size_t P = (size_t)cli_size(), k = (size_t)r + (end ? 1 : 0);
    return n / P * k + (n % P) * k / P; /* ⌊n·k/P⌋ without overflow */
}
