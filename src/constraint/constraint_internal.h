/* The constraint object shared by src/constraint (the projection and its model layer). */
#ifndef NDE_CONSTRAINT_INTERNAL_H
#define NDE_CONSTRAINT_INTERNAL_H

#include "nde/constraint.h"
#include "operators/pool.h"

/* One expert: A z[idx] = b on its sub-domain, M = A W⁻¹ Aᵀ = L Lᵀ factored once. */
typedef struct constraint_block {
    size_t n_idx, m, row0; /* row0: first row of this block in b (batch, m_total) */
    size_t *idx;           /* (n_idx) */
    double *A;             /* (m, n_idx) */
    double *winv;          /* (n_idx) 1 / w */
    double *L;             /* (m, m) lower Cholesky factor of M, row-major */
    double *b0;            /* (m) default right-hand side */
    double *loc, *corr;    /* scratch (n_idx): y or gz on the sub-domain, Aᵀλ */
    double *lam;           /* scratch (m); a block runs on one thread at a time */
} constraint_block;

struct nde_constraint {
    size_t n, m, n_blocks, n_threads;
    constraint_block *blocks; /* (n_blocks) */
    unsigned char *covered;   /* (n) 1 if an entry is in a block */
    nde_pool *pool;           /* n_threads − 1 workers, or NULL */
};

/* The default right-hand side (m) in block order into b. */
void nde_constraint_default_b(const nde_constraint *c, double *b);

#endif
