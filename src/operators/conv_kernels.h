/* The convolution kernels of conv.c in one real type: the one source of the double path
 * and of its float32 twin (issue 16). conv.c includes this file twice, with
 *   CONV_REAL  double | float            the arithmetic
 *   CONV_GEMM  cblas_dgemm | cblas_sgemm the matching GEMM
 *   CONV_FN(name)                        name (double) | name##_f32 (float)
 * defined, and undefines them after each inclusion. Both instances read the same plan
 * (index tables; the column buffer is sized for doubles, so it holds either type). */

/* The im2col index map, both ways. Gather (col2im_add = 0): dst = cols (c_big·kk,
 * p_small) ← big-grid values of src (c_big, p_big), 0 where a tap falls outside. Scatter
 * (col2im_add = 1, the adjoint): dst (c_big, p_big) += src = cols scattered back. */
static void CONV_FN(im2col_map)(const nde_conv *c, const CONV_REAL *src, CONV_REAL *dst,
                                int col2im_add)
{
    const size_t s0 = c->small[0], s1 = c->small[1], b1 = c->big[1];
    for (size_t ch = 0; ch < c->c_big; ch++)
        for (size_t t0 = 0; t0 < c->ksz[0]; t0++)
            for (size_t t1 = 0; t1 < c->ksz[1]; t1++) {
                const size_t row = (ch * c->ksz[0] + t0) * c->ksz[1] + t1;
                const int *i0 = c->tab[0] + t0 * s0, *i1 = c->tab[1] + t1 * s1;
                for (size_t o0 = 0; o0 < s0; o0++) {
                    const size_t col = row * c->p_small + o0 * s1; /* offset in cols */
                    if (i0[o0] < 0) {
                        if (!col2im_add) memset(dst + col, 0, s1 * sizeof *dst);
                        continue;
                    }
                    const size_t grid = ch * c->p_big + (size_t)i0[o0] * b1; /* in the grid */
                    if (col2im_add) {
                        for (size_t o1 = 0; o1 < s1; o1++)
                            if (i1[o1] >= 0) dst[grid + (size_t)i1[o1]] += src[col + o1];
                    } else {
                        for (size_t o1 = 0; o1 < s1; o1++)
                            dst[col + o1] = i1[o1] < 0 ? 0 : src[grid + (size_t)i1[o1]];
                    }
                }
            }
}

/* x (c_big, p_big) as columns (c_big·kk, p_small): x itself when im2col is the identity,
 * else gathered into c->cols. */
static const CONV_REAL *CONV_FN(im2col)(const nde_conv *c, const CONV_REAL *x)
{
    if (c->identity) return x;
    CONV_FN(im2col_map)(c, x, c->cols, 0);
    return c->cols;
}

static void CONV_FN(add_bias)(CONV_REAL *y, const CONV_REAL *b, size_t c_out, size_t points,
                              CONV_REAL alpha)
{
    for (size_t o = 0; o < c_out; o++) {
        const CONV_REAL v = alpha * b[o];
        for (size_t i = 0; i < points; i++) y[o * points + i] += v;
    }
}

nde_status CONV_FN(nde_conv_apply)(nde_conv *c, const CONV_REAL *w, const CONV_REAL *b,
                                   const CONV_REAL *x, CONV_REAL *y, size_t batch,
                                   CONV_REAL alpha, int accumulate)
{
    if (!c || !w || !x || !y || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_conv_forward: NULL argument or empty batch");
    const size_t ci = c->spec.c_in, co = c->spec.c_out, kk = c->kk, ps = c->p_small;
    const size_t in_n = nde_conv_in_numel(c), out_n = nde_conv_out_numel(c);
    CONV_REAL *cols = c->cols;
    for (size_t s = 0; s < batch; s++) {
        const CONV_REAL *xb = x + s * in_n;
        CONV_REAL *yb = y + s * out_n;
        if (!c->spec.transposed) {
            const CONV_REAL *xc = CONV_FN(im2col)(c, xb);
            CONV_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)co, (int)ps, (int)(ci * kk),
                      alpha, w, (int)(ci * kk), xc, (int)ps, accumulate ? 1 : 0, yb, (int)ps);
            if (b) CONV_FN(add_bias)(yb, b, co, ps, alpha);
        } else {
            if (c->identity) {
                CONV_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)co, (int)ps, (int)ci,
                          alpha, w, (int)co, xb, (int)ps, accumulate ? 1 : 0, yb, (int)ps);
            } else {
                if (!accumulate) memset(yb, 0, out_n * sizeof *yb);
                CONV_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(co * kk), (int)ps,
                          (int)ci, alpha, w, (int)(co * kk), xb, (int)ps, 0, cols, (int)ps);
                CONV_FN(im2col_map)(c, cols, yb, 1);
            }
            if (b) CONV_FN(add_bias)(yb, b, co, c->p_big, alpha);
        }
    }
    return NDE_OK;
}

nde_status CONV_FN(nde_conv_apply_vjp)(nde_conv *c, const CONV_REAL *w, const CONV_REAL *x,
                                       const CONV_REAL *gy, CONV_REAL *gx, CONV_REAL *gw,
                                       CONV_REAL *gb, size_t batch, CONV_REAL alpha)
{
    if (!c || !w || !gy || !batch)
        return NDE_FAIL(NDE_ERR_ARG, "nde_conv_vjp: NULL argument or empty batch");
    if (gw && !x) return NDE_FAIL(NDE_ERR_ARG, "nde_conv_vjp: the weight gradient needs x");
    const size_t ci = c->spec.c_in, co = c->spec.c_out, kk = c->kk, ps = c->p_small;
    const size_t in_n = nde_conv_in_numel(c), out_n = nde_conv_out_numel(c);
    const size_t out_points = c->spec.transposed ? c->p_big : ps;
    CONV_REAL *cols = c->cols;
    for (size_t s = 0; s < batch; s++) {
        const CONV_REAL *gyb = gy + s * out_n;
        const CONV_REAL *xb = x ? x + s * in_n : NULL;
        CONV_REAL *gxb = gx ? gx + s * in_n : NULL;
        if (!c->spec.transposed) {
            if (gw) {
                const CONV_REAL *xc = CONV_FN(im2col)(c, xb);
                CONV_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)co, (int)(ci * kk),
                          (int)ps, alpha, gyb, (int)ps, xc, (int)ps, 1, gw, (int)(ci * kk));
            }
            if (gxb && c->identity) {
                CONV_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ci, (int)ps, (int)co,
                          alpha, w, (int)ci, gyb, (int)ps, 1, gxb, (int)ps);
            } else if (gxb) {
                CONV_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(ci * kk), (int)ps,
                          (int)co, alpha, w, (int)(ci * kk), gyb, (int)ps, 0, cols, (int)ps);
                CONV_FN(im2col_map)(c, cols, gxb, 1);
            }
        } else {
            const CONV_REAL *colsg = CONV_FN(im2col)(c, gyb);
            if (gxb)
                CONV_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ci, (int)ps,
                          (int)(co * kk), alpha, w, (int)(co * kk), colsg, (int)ps, 1, gxb,
                          (int)ps);
            if (gw)
                CONV_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ci, (int)(co * kk),
                          (int)ps, alpha, xb, (int)ps, colsg, (int)ps, 1, gw, (int)(co * kk));
        }
        if (gb)
            for (size_t o = 0; o < co; o++) {
                CONV_REAL acc = 0;
                for (size_t i = 0; i < out_points; i++) acc += gyb[o * out_points + i];
                gb[o] += alpha * acc;
            }
    }
    return NDE_OK;
}
