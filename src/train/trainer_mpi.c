/* The trainer's communicator (include/nde/mpi.h): data parallelism over MPI. Without
 * MPI every helper is the serial identity. */
#include <string.h>

#include "train/trainer_internal.h"

#if NDE_HAVE_MPI
#include "nde/mpi.h"

static nde_status mpi_fail(int err, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
    return NDE_FAIL(NDE_ERR_IO, "trainer: %s failed: %s", what, len ? msg : "MPI error");
}

nde_status nde_trainer_set_comm(nde_trainer *tr, MPI_Comm comm)
{
    if (!tr) return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_set_comm: NULL trainer");
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (comm != MPI_COMM_NULL && (!init || fin))
        return NDE_FAIL(NDE_ERR_ARG, "nde_trainer_set_comm: MPI is %s (the caller initialises "
                        "MPI; nde never calls MPI_Init)", fin ? "finalized" : "not initialised");
    MPI_Comm dup = MPI_COMM_NULL;
    int rank = 0, size = 1;
    if (comm != MPI_COMM_NULL) {
        int err = MPI_Comm_dup(comm, &dup);
        if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Comm_dup");
        MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
        MPI_Comm_rank(dup, &rank);
        MPI_Comm_size(dup, &size);
    }
    nde_trainer_comm_free(tr);
    tr->comm = dup;
    tr->rank = rank;
    tr->size = size;
    return NDE_OK;
}

void nde_trainer_comm_free(nde_trainer *tr)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (tr->comm != MPI_COMM_NULL && !fin) MPI_Comm_free(&tr->comm);
    tr->comm = MPI_COMM_NULL;
    tr->rank = 0;
    tr->size = 1;
}

nde_status nde_trainer_allreduce(nde_trainer *tr, double *buf, size_t n)
{
    if (tr->size <= 1 || n == 0) return NDE_OK;
    /* in pieces of at most INT_MAX/2 doubles (MPI counts are int) */
    for (size_t at = 0; at < n;) {
        const size_t k = n - at < (size_t)1 << 30 ? n - at : (size_t)1 << 30;
        const int err = MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)k, MPI_DOUBLE, MPI_SUM, tr->comm);
        if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Allreduce of the gradient");
        at += k;
    }
    return NDE_OK;
}

int nde_trainer_any(nde_trainer *tr, int flag)
{
    if (tr->size <= 1) return flag != 0;
    int v = flag != 0, out = 1; /* an MPI failure counts as "yes": stop */
    if (MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, tr->comm) != MPI_SUCCESS) return 1;
    return out;
}

nde_status nde_trainer_share_status(nde_trainer *tr, nde_status st, const char *what)
{
    if (tr->size <= 1) return st;
    int v = (int)st;
    const int err = MPI_Bcast(&v, 1, MPI_INT, 0, tr->comm);
    if (err != MPI_SUCCESS) return st != NDE_OK ? st : mpi_fail(err, "MPI_Bcast of a status");
    if (tr->rank == 0 || st != NDE_OK) return st;
    if (v != NDE_OK)
        return NDE_FAIL((nde_status)v, "%s: %s failed on rank 0 (its message is on rank 0's "
                        "stderr)", tr->spec.name, what);
    return NDE_OK;
}

nde_status nde_trainer_bcast_params(nde_trainer *tr)
{
    if (tr->size <= 1) return NDE_OK;
    nde_params *p = nde_model_params(tr->model);
    double *theta = nde_params_theta(p);
    const size_t n = nde_params_count(p);
    for (size_t at = 0; at < n;) {
        const size_t k = n - at < (size_t)1 << 30 ? n - at : (size_t)1 << 30;
        const int err = MPI_Bcast(theta + at, (int)k, MPI_DOUBLE, 0, tr->comm);
        if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Bcast of the parameters");
        at += k;
    }
    return NDE_OK;
}

#else

nde_status nde_trainer_allreduce(nde_trainer *tr, double *buf, size_t n)
{
    (void)tr, (void)buf, (void)n;
    return NDE_OK;
}

int nde_trainer_any(nde_trainer *tr, int flag)
{
    (void)tr;
    return flag != 0;
}

nde_status nde_trainer_share_status(nde_trainer *tr, nde_status st, const char *what)
{
    (void)tr, (void)what;
    return st;
}

nde_status nde_trainer_bcast_params(nde_trainer *tr)
{
    (void)tr;
    return NDE_OK;
}

void nde_trainer_comm_free(nde_trainer *tr)
{
    tr->rank = 0;
    tr->size = 1;
}

#endif
