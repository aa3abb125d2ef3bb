/* Dense (fully connected) layer in torch.nn.Linear layout, y = [x, t] Wᵀ + b, batched
 * through BLAS dgemm; parameters live in an nde_params as offsets. The same products
 * serve the MLP's (batch, features) rows and, transposed, the 1×1 convolutions of the
 * operator layers on channel-major (channels, points) fields (nde_nn_layout). */
#include "nde/nn.h"

#include <cblas.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

#include <math.h>

/* ---- small products without BLAS dispatch ----
 *
 * For the tiny matrices of small MLPs (2→50→2 on a batch of 20) dgemm's dispatch, packing
 * and C-scaling cost more than the arithmetic. gemm_small computes the same products with
 * each entry summed exactly as OpenBLAS's x86-64 dgemm micro-kernels do: one fused
 * multiply–add chain over k in order, starting from zero, then added to C (or to +0 when C
 * is overwritten). fma() is correctly rounded everywhere (the "default" clone calls libm),
 * so the bits do not depend on the clone. Used only below the sizes in SMALL_* (one K
 * block of OpenBLAS, no threading), where dgemm does not split the sum, and for two or
 * more samples (with one, OpenBLAS's edge kernels sum in another order). Checked by the
 * byte-identical spiral run and work-precision neural problem (docs/benchmarks.md). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define NDE_GEMM_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NDE_GEMM_CLONES
#endif

enum { SMALL_K = 64, SMALL_N = 128, SMALL_T = 4096 /* doubles of a transposed operand */ };

/* A tile: `rows` rows × `cols` columns of c whose rows·cols chains stay in registers for
 * the whole sum over k. acc is a fixed-size local array, and once the tile is inlined with
 * constant rows and cols (the block_<W> below) every loop over it has a compile-time trip
 * count, so GCC unrolls them fully (the pragmas), keeps acc in (y/z)mm registers and
 * vectorizes along the columns. Each entry is still the one fma chain over p = 0, 1, …,
 * k−1 from 0.0 described above: the vectors run over independent entries, never over p.
 * (Summing into arrays of runtime length, as before, loaded and stored the accumulator at
 * every fma.)
 *
 * Shapes: 4 rows × 16 columns for wide outputs — in the x86-64-v4 clone 8 zmm
 * accumulators, enough independent chains to cover the fma latency when k is long (the
 * weight gradients sum over the batch); in the v3 clone 16 ymm accumulators, of which GCC
 * 12 keeps 14 in registers and 2 on the stack, still fewer instructions than 4 × 8 tiles
 * (callgrind). Then 4 × 8 for a remainder of 8 columns, and 8 rows × 1–4 columns for
 * narrow outputs (the 2-D and 4-D states of the example SDEs and ODEs). */
enum { TILE_R = 8, TILE_C = 16 };

/* c[j·c_cs] = [c[j·c_cs] +] acc[j] for j < cols; + 0.0 turns a −0 sum into +0 as the
 * dgemm kernels' C = 0 + sum does. */
static inline __attribute__((always_inline)) void
store_row(size_t cols, const double *acc, double *c, size_t c_cs, int add)
{
    if (add) {
#pragma GCC unroll 16
        for (size_t j = 0; j < cols; j++) c[j * c_cs] += acc[j];
    } else {
#pragma GCC unroll 16
        for (size_t j = 0; j < cols; j++) c[j * c_cs] = acc[j] + 0.0;
    }
}

/* c(r, j) = [c(r, j) +] Σ_p a(r, p) b(p, j) for r < rows ≤ TILE_R, j < cols ≤ TILE_C, with
 * a(r, p) = a[r·a_rs + p·a_cs], b(p, j) = b[p·ldb + j], c(r, j) = c[r·c_rs + j·c_cs]. */
static inline __attribute__((always_inline)) void
tile(size_t rows, size_t cols, size_t k, const double *a, size_t a_rs, size_t a_cs,
     const double *b, size_t ldb, double *c, size_t c_rs, size_t c_cs, int add)
{
    double acc[TILE_R][TILE_C];
#pragma GCC unroll 8
    for (size_t r = 0; r < rows; r++)
#pragma GCC unroll 16
        for (size_t j = 0; j < cols; j++) acc[r][j] = 0.0;
    for (size_t p = 0; p < k; p++, a += a_cs, b += ldb) {
#pragma GCC unroll 8
        for (size_t r = 0; r < rows; r++) {
            const double x = a[r * a_rs];
#pragma GCC unroll 16
            for (size_t j = 0; j < cols; j++) acc[r][j] = fma(x, b[j], acc[r][j]);
        }
    }
    /* Unit column stride (the common case) as its own instantiation, so that its stores
     * vectorize too. */
#pragma GCC unroll 8
    for (size_t r = 0; r < rows; r++) {
        if (c_cs == 1)
            store_row(cols, acc[r], c + r * c_rs, 1, add);
        else
            store_row(cols, acc[r], c + r * c_rs, c_cs, add);
    }
}

/* All m rows of one block of `cols` columns: `height` rows at a time, then what is left as
 * a tile of 4 rows (when height is 8) and one of 1–3 (each its own constant instantiation). */
static inline __attribute__((always_inline)) void
tile_rows(size_t height, size_t cols, size_t m, size_t k, const double *a, size_t a_rs,
          size_t a_cs, const double *b, size_t ldb, double *c, size_t c_rs, size_t c_cs, int add)
{
    size_t i = 0;
    for (; i + height <= m; i += height)
        tile(height, cols, k, a + i * a_rs, a_rs, a_cs, b, ldb, c + i * c_rs, c_rs, c_cs, add);
    if (height > 4 && i + 4 <= m) {
        tile(4, cols, k, a + i * a_rs, a_rs, a_cs, b, ldb, c + i * c_rs, c_rs, c_cs, add);
        i += 4;
    }
    a += i * a_rs, c += i * c_rs;
    switch (m - i) {
    case 3: tile(3, cols, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add); break;
    case 2: tile(2, cols, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add); break;
    case 1: tile(1, cols, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add); break;
    default: break;
    }
}

/* block_<W>: tile_rows for a block of W columns (4 rows high for W ≥ 8, else 8), one
 * target-cloned function per width. Separate functions rather than all widths inlined
 * into one: there GCC left too few general registers for the tile loops, which then
 * reloaded their strides from the stack at every step. */
#define NDE_GEMM_BLOCK(W)                                                                  \
    NDE_GEMM_CLONES                                                                      \
    static void block_##W(size_t m, size_t k, const double *a, size_t a_rs, size_t a_cs, \
                          const double *b, size_t ldb, double *c, size_t c_rs,           \
                          size_t c_cs, int add)                                          \
    {                                                                                    \
        tile_rows(W >= 8 ? 4 : 8, W, m, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add);   \
    }
NDE_GEMM_BLOCK(16)
NDE_GEMM_BLOCK(8)
NDE_GEMM_BLOCK(4)
NDE_GEMM_BLOCK(3)
NDE_GEMM_BLOCK(2)
NDE_GEMM_BLOCK(1)
#undef NDE_GEMM_BLOCK

/* c(i, j) = [c(i, j) +] Σ_p a(i, p) b(p, j) for i < m, j < n, with a(i, p) = a[i·a_rs +
 * p·a_cs], b(p, j) = b[p·ldb + j] (unit stride along j), c(i, j) = c[i·c_rs + j·c_cs]:
 * blocks of 16 columns, then at most one each of 8, 4 and the last 1–3 columns (few
 * widths, as each is a set of tiles in each target clone). */
static void gemm_core(size_t m, size_t n, size_t k, const double *a, size_t a_rs, size_t a_cs,
                      const double *b, size_t ldb, double *c, size_t c_rs, size_t c_cs, int add)
{
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        block_16(m, k, a, a_rs, a_cs, b + j, ldb, c + j * c_cs, c_rs, c_cs, add);
    if (j + 8 <= n) {
        block_8(m, k, a, a_rs, a_cs, b + j, ldb, c + j * c_cs, c_rs, c_cs, add);
        j += 8;
    }
    if (j + 4 <= n) {
        block_4(m, k, a, a_rs, a_cs, b + j, ldb, c + j * c_cs, c_rs, c_cs, add);
        j += 4;
    }
    b += j, c += j * c_cs;
    switch (n - j) {
    case 3: block_3(m, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add); break;
    case 2: block_2(m, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add); break;
    case 1: block_1(m, k, a, a_rs, a_cs, b, ldb, c, c_rs, c_cs, add); break;
    default: break;
    }
}

/* c (m × n, row stride ldc) = [c +] a·b with a(i, p) = a[i·a_rs + p·a_cs] and
 * b(p, j) = b[p·b_rs + j·b_cs], when the sizes are small: 1 if done, 0 if the caller must
 * use dgemm. The vectorized loop runs over the wider of m and n (the product transposed,
 * which sums the same terms in the same order); the operand it reads along that loop is
 * copied to unit stride first when it is not. */
static int gemm_small(size_t m, size_t n, size_t k, const double *a, size_t a_rs, size_t a_cs,
                      const double *b, size_t b_rs, size_t b_cs, double *c, size_t ldc, int add)
{
    if (k > SMALL_K) return 0;
    if (n <= 4 && m >= 8 && a_rs == 1 && m <= SMALL_N) { /* along i, a already unit-stride */
        gemm_core(n, m, k, b, b_cs, b_rs, a, a_cs, c, 1, ldc, add);
        return 1;
    }
    double tmp[SMALL_T];
    if (n <= 4 || n >= 8 || m < 8) { /* along j: b unit-stride in j */
        if (n > SMALL_N) return 0;
        if (b_cs != 1) {
            if (n * k > SMALL_T) return 0;
            for (size_t p = 0; p < k; p++)
                for (size_t j = 0; j < n; j++) tmp[p * n + j] = b[p * b_rs + j * b_cs];
            b = tmp, b_rs = n;
        }
        gemm_core(m, n, k, a, a_rs, a_cs, b, b_rs, c, ldc, 1, add);
        return 1;
    }
    /* along i: cᵀ = bᵀ aᵀ, aᵀ(p, i) unit-stride in i */
    if (m > SMALL_N) return 0;
    if (a_rs != 1) {
        if (m * k > SMALL_T) return 0;
        for (size_t p = 0; p < k; p++)
            for (size_t i = 0; i < m; i++) tmp[p * m + i] = a[i * a_rs + p * a_cs];
        a = tmp, a_cs = m;
    }
    gemm_core(n, m, k, b, b_cs, b_rs, a, a_cs, c, 1, ldc, add);
    return 1;
}

/* buf (NDE_PARAM_NAME_MAX) = "<prefix>.<suffix>"; NDE_ERR_ARG if it does not fit. */
static nde_status tensor_name(char *buf, const char *prefix, const char *suffix)
{
    int len = snprintf(buf, NDE_PARAM_NAME_MAX, "%s.%s", prefix, suffix);
    if (len < 0 || len >= NDE_PARAM_NAME_MAX)
        return NDE_FAIL(NDE_ERR_ARG, "tensor name '%s.%s' is longer than %d characters", prefix,
                        suffix, NDE_PARAM_NAME_MAX - 1);
    return NDE_OK;
}

nde_status nde_nn_dense_add(nde_params *p, const char *prefix, size_t in, size_t out,
                            unsigned flags, int bias_group, nde_dense *d)
{
    if (!p || !prefix || !d) return NDE_FAIL(NDE_ERR_ARG, "nde_dense_add: NULL argument");
    if (!prefix[0]) return NDE_FAIL(NDE_ERR_ARG, "nde_dense_add: empty tensor-name prefix");
    if (in == 0 || out == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_add(%s): zero width (in %zu, out %zu)", prefix,
                        in, out);
    if (in >= INT_MAX || out > INT_MAX)
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_add(%s): width beyond BLAS int (in %zu, out %zu)",
                        prefix, in, out);
    if (flags & ~(unsigned)(NDE_DENSE_NO_BIAS | NDE_DENSE_TIME_INPUT))
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_add(%s): unknown flags 0x%x", prefix, flags);
    nde_dense l = {
        .in = in,
        .out = out,
        .in_cols = in + ((flags & NDE_DENSE_TIME_INPUT) ? 1 : 0),
        .has_bias = !(flags & NDE_DENSE_NO_BIAS),
        .has_time = (flags & NDE_DENSE_TIME_INPUT) != 0,
    };
    char wname[NDE_PARAM_NAME_MAX], bname[NDE_PARAM_NAME_MAX];
    NDE_TRY(tensor_name(wname, prefix, "weight"));
    NDE_TRY(tensor_name(bname, prefix, "bias"));
    /* Check both names first so a clash leaves p unchanged. */
    if (nde_params_find(p, wname) || (l.has_bias && nde_params_find(p, bname)))
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_add: tensor '%s' already exists in the params",
                        l.has_bias && nde_params_find(p, bname) ? bname : wname);
    size_t wshape[2] = {out, l.in_cols};
    NDE_TRY(nde_params_add(p, wname, 2, wshape, NDE_GROUP_DEFAULT, &l.w_off));
    if (l.has_bias) NDE_TRY(nde_params_add(p, bname, 1, &out, bias_group, &l.b_off));
    *d = l;
    return NDE_OK;
}

nde_status nde_dense_add(nde_params *p, const char *prefix, size_t in, size_t out,
                         unsigned flags, nde_dense *d)
{
    return nde_nn_dense_add(p, prefix, in, out, flags, NDE_GROUP_NO_DECAY, d);
}

size_t nde_nn_dense_end(const nde_dense *d)
{
    size_t end = d->w_off + d->out * d->in_cols;
    if (d->has_bias && d->b_off + d->out > end) end = d->b_off + d->out;
    return end;
}

nde_status nde_nn_check_call(const char *fn, const void *obj, const char *what,
                             const nde_params *p, size_t batch)
{
    if (!obj || !p) return NDE_FAIL(NDE_ERR_ARG, "%s: NULL %s or params", fn, what);
    if (batch == 0) return NDE_FAIL(NDE_ERR_ARG, "%s: batch is 0", fn);
    if (batch > INT_MAX) return NDE_FAIL(NDE_ERR_ARG, "%s: batch %zu beyond BLAS int", fn, batch);
    return NDE_OK;
}

/* NDE_OK if d and p are non-NULL, 0 < batch ≤ INT_MAX and the layer fits in p. */
static nde_status check_call(const char *fn, const nde_dense *d, const nde_params *p,
                             size_t batch)
{
    NDE_TRY(nde_nn_check_call(fn, d, "layer", p, batch));
    size_t end = nde_nn_dense_end(d);
    if (end > nde_params_count(p))
        return NDE_FAIL(NDE_ERR_SHAPE,
                        "%s: layer (%zu -> %zu) needs params up to offset %zu, params hold %zu",
                        fn, d->in, d->out, end, nde_params_count(p));
    return NDE_OK;
}

/* c (out) = b + t·W[:, in], the part of y that does not depend on x, or NULL when the
 * layer has neither bias nor time input. */
static const double *constant_part(const nde_dense *d, const double *theta, double t, double *c,
                                   size_t o0, size_t m)
{
    if (!d->has_bias && !d->has_time) return NULL;
    const double *w = theta + d->w_off;
    for (size_t o = 0; o < m; o++) {
        double v = d->has_bias ? theta[d->b_off + o0 + o] : 0.0;
        if (d->has_time) v += t * w[(o0 + o) * d->in_cols + d->in];
        c[o] = v;
    }
    return c;
}

void nde_nn_dense_forward(const nde_dense *d, const double *theta, double t, const double *x,
                          double *y, size_t n, nde_nn_layout layout, int accumulate)
{
    const double *w = theta + d->w_off; /* (out, in_cols) */
    const int has_c = d->has_bias || d->has_time;
    double beta = (accumulate || has_c) ? 1.0 : 0.0;
    if (layout == NDE_NN_ROWS) {
        if (has_c) {
            if (accumulate) {
                /* A chunk of outputs at a time, added to every row. */
                enum { CHUNK = 64 };
                double c[CHUNK];
                for (size_t o0 = 0; o0 < d->out; o0 += CHUNK) {
                    size_t m = d->out - o0 < CHUNK ? d->out - o0 : CHUNK;
                    constant_part(d, theta, t, c, o0, m);
                    for (size_t b = 0; b < n; b++)
                        for (size_t o = 0; o < m; o++) y[b * d->out + o0 + o] += c[o];
                }
            } else {
                /* Row 0 holds b + t·W[:, in]; copy it to every row, then GEMM adds x Wᵀ. */
                constant_part(d, theta, t, y, 0, d->out);
                /* a plain loop, not a memcpy per row: rows are short (a few to a few
                 * dozen doubles), where the call costs more than the copy */
                for (size_t b = 1; b < n; b++)
                    for (size_t o = 0; o < d->out; o++) y[b * d->out + o] = y[o];
            }
        }
        /* y (n, out) [+]= x Wᵀ */
        if (n >= 2 && /* one sample: OpenBLAS sums differently (edge kernels); keep dgemm */
            gemm_small(n, d->out, d->in, x, d->in, 1, w, 1, d->in_cols, y, d->out, beta != 0.0))
            return;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)d->out, (int)d->in,
                    1.0, x, (int)d->in, w, (int)d->in_cols, beta, y, (int)d->out);
        return;
    }
    /* NDE_NN_COLS: y (out, n) = W[:, :in] x + c, row o of y filled with c[o] first. */
    if (has_c)
        for (size_t o = 0; o < d->out; o++) {
            double c;
            constant_part(d, theta, t, &c, o, 1);
            double *row = y + o * n;
            if (accumulate)
                for (size_t p = 0; p < n; p++) row[p] += c;
            else
                for (size_t p = 0; p < n; p++) row[p] = c;
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->out, (int)n, (int)d->in, 1.0,
                w, (int)d->in_cols, x, (int)n, beta, y, (int)n);
}

/* s[o] = Σ_b dy[b·ld + o] for o < m (m a multiple of 16), summed over b in order from
 * 0.0 as the plain loop does, 16 columns at a time with the sums in registers. */
NDE_GEMM_CLONES
static void sum_rows_16(const double *dy, size_t ld, size_t n, size_t m, double *s)
{
    for (size_t o0 = 0; o0 < m; o0 += 16) {
        double acc[16] = {0};
        for (size_t b = 0; b < n; b++) {
            const double *row = dy + b * ld + o0;
#pragma GCC unroll 16
            for (size_t o = 0; o < 16; o++) acc[o] += row[o];
        }
        for (size_t o = 0; o < 16; o++) s[o0 + o] = acc[o];
    }
}

void nde_nn_dense_backward(const nde_dense *d, const double *theta, double t, const double *x,
                           const double *dy, double *dx, double *gtheta, size_t n,
                           nde_nn_layout layout, int accumulate)
{
    const double *w = theta + d->w_off; /* (out, in_cols) */
    const double beta = accumulate ? 1.0 : 0.0;
    const int rows = layout == NDE_NN_ROWS;
    if (dx) {
        if (rows && n >= 2 &&
            gemm_small(n, d->in, d->out, dy, d->out, 1, w, d->in_cols, 1, dx, d->in, accumulate))
            ; /* dx (n, in) = dy W[:, :in], small */
        else if (rows) /* dx (n, in) = dy W[:, :in] */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d->in,
                        (int)d->out, 1.0, dy, (int)d->out, w, (int)d->in_cols, beta, dx,
                        (int)d->in);
        else /* dx (in, n) = W[:, :in]ᵀ dy */
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d->in, (int)n, (int)d->out,
                        1.0, w, (int)d->in_cols, dy, (int)n, beta, dx, (int)n);
    }
    if (!gtheta) return;
    double *gw = gtheta + d->w_off;
    if (rows && gemm_small(d->out, d->in, n, dy, 1, d->out, x, d->in, 1, gw, d->in_cols, 1))
        ; /* gW[:, :in] += dyᵀ x, small */
    else if (rows) /* gW[:, :in] += dyᵀ x */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d->out, (int)d->in, (int)n, 1.0,
                    dy, (int)d->out, x, (int)d->in, 1.0, gw, (int)d->in_cols);
    else /* gW[:, :in] += dy xᵀ */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d->out, (int)d->in, (int)n, 1.0,
                    dy, (int)n, x, (int)n, 1.0, gw, (int)d->in_cols);
    if (!d->has_bias && !d->has_time) return;
    /* s = Σ_samples dy; gb += s, gW[:, in] += t·s. Rows: a chunk of outputs at a time so
     * the sums vectorize across outputs; columns: each output's sum is one contiguous row. */
    enum { CHUNK = 64 };
    for (size_t o0 = 0; o0 < d->out; o0 += CHUNK) {
        size_t m = d->out - o0 < CHUNK ? d->out - o0 : CHUNK;
        double s[CHUNK] = {0};
        if (rows && m % 16 == 0)
            sum_rows_16(dy + o0, d->out, n, m, s);
        else if (rows)
            for (size_t b = 0; b < n; b++) {
                const double *row = dy + b * d->out + o0;
                for (size_t o = 0; o < m; o++) s[o] += row[o];
            }
        else
            for (size_t o = 0; o < m; o++) {
                const double *row = dy + (o0 + o) * n;
                for (size_t p = 0; p < n; p++) s[o] += row[p];
            }
        for (size_t o = 0; o < m; o++) {
            if (d->has_bias) gtheta[d->b_off + o0 + o] += s[o];
            if (d->has_time) gw[(o0 + o) * d->in_cols + d->in] += t * s[o];
        }
    }
}

void nde_nn_dense_jvp(const nde_dense *d, const double *theta, const double *w, double *jy,
                      size_t batch)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)d->out, (int)d->in, 1.0,
                w, (int)d->in, theta + d->w_off, (int)d->in_cols, 0.0, jy, (int)d->out);
}

nde_status nde_dense_forward(const nde_dense *d, const nde_params *p, double t, const double *x,
                             double *y, size_t batch)
{
    NDE_TRY(check_call("nde_dense_forward", d, p, batch));
    if (!x || !y) return NDE_FAIL(NDE_ERR_ARG, "nde_dense_forward: NULL x or y");
    nde_nn_dense_forward(d, nde_params_theta_const(p), t, x, y, batch, NDE_NN_ROWS, 0);
    return NDE_OK;
}

nde_status nde_dense_backward(const nde_dense *d, const nde_params *p, double t, const double *x,
                              const double *dy, double *dx, double *gtheta, size_t batch)
{
    NDE_TRY(check_call("nde_dense_backward", d, p, batch));
    if (!dy || (gtheta && !x))
        return NDE_FAIL(NDE_ERR_ARG, "nde_dense_backward: NULL dy, or NULL x with gtheta");
    nde_nn_dense_backward(d, nde_params_theta_const(p), t, x, dy, dx, gtheta, batch, NDE_NN_ROWS,
                          0);
    return NDE_OK;
}

nde_status nde_dense_jvp(const nde_dense *d, const nde_params *p, const double *w, double *jy,
                         size_t batch)
{
    NDE_TRY(check_call("nde_dense_jvp", d, p, batch));
    if (!w || !jy) return NDE_FAIL(NDE_ERR_ARG, "nde_dense_jvp: NULL w or jy");
    nde_nn_dense_jvp(d, nde_params_theta_const(p), w, jy, batch);
    return NDE_OK;
}
