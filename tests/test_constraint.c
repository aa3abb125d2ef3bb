/* Hard linear constraints (nde/constraint.h): the projection against an independent
 * solve of the full KKT system, the built-ins against their closed forms, the IFT
 * gradient against central differences, the mixture-of-experts form against the
 * global projection, the model layer through the model check, and bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "model_check.h"
#include "nde/nde.h"
#include "numcheck.h"

#define CHECK(x) cr_assert_eq((x), NDE_OK, "%s", nde_last_error())

static void fill(double *v, size_t n, uint64_t seed)
{
    nde_rng rng;
    nde_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) v[i] = nde_rng_normal(&rng);
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

/* The reference: [W Aᵀ; A 0] [z; λ] = [W y; b] solved by Gaussian elimination with
 * partial pivoting on the whole (n + m) system (no Schur complement, no Cholesky). */
static void kkt_reference(size_t n, size_t m, const double *A, const double *w, const double *y,
                          const double *b, double *z)
{
    const size_t N = n + m;
    double *K = calloc(N * (N + 1), sizeof *K);
    cr_assert_not_null(K);
    for (size_t i = 0; i < n; i++) {
        K[i * (N + 1) + i] = w ? w[i] : 1.0;
        K[i * (N + 1) + N] = (w ? w[i] : 1.0) * y[i];
    }
    for (size_t r = 0; r < m; r++) {
        for (size_t i = 0; i < n; i++) {
            K[(n + r) * (N + 1) + i] = A[r * n + i];
            K[i * (N + 1) + n + r] = A[r * n + i];
        }
        K[(n + r) * (N + 1) + N] = b[r];
    }
    for (size_t c = 0; c < N; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < N; r++)
            if (fabs(K[r * (N + 1) + c]) > fabs(K[piv * (N + 1) + c])) piv = r;
        for (size_t j = 0; j <= N; j++) {
            const double t = K[c * (N + 1) + j];
            K[c * (N + 1) + j] = K[piv * (N + 1) + j];
            K[piv * (N + 1) + j] = t;
        }
        for (size_t r = c + 1; r < N; r++) {
            const double f = K[r * (N + 1) + c] / K[c * (N + 1) + c];
            for (size_t j = c; j <= N; j++) K[r * (N + 1) + j] -= f * K[c * (N + 1) + j];
        }
    }
    double *x = calloc(N, sizeof *x);
    for (size_t r = N; r-- > 0;) {
        double s = K[r * (N + 1) + N];
        for (size_t j = r + 1; j < N; j++) s -= K[r * (N + 1) + j] * x[j];
        x[r] = s / K[r * (N + 1) + r];
    }
    memcpy(z, x, n * sizeof *z);
    free(x);
    free(K);
}

Test(constraint, projection_solves_the_kkt_system)
{
    enum { N = 12, M = 5, B = 3 };
    double A[M * N], w[N], y[B * N], b[B * M], z[B * N], ref[N];
    fill(A, M * N, 1);
    fill(y, B * N, 2);
    fill(b, B * M, 3);
    fill(w, N, 4);
    for (size_t i = 0; i < N; i++) w[i] = 0.5 + fabs(w[i]);
    nde_constraint *c;
    CHECK(nde_constraint_create(N, 1, &(nde_constraint_block){.n_idx = N, .m = M, .A = A, .w = w}, 1, &c));
    cr_assert_eq(nde_constraint_n(c), N);
    cr_assert_eq(nde_constraint_m(c), M);
    CHECK(nde_constraint_project(c, y, b, z, B));
    const double viol = nde_constraint_violation(c, z, b, B);
    cr_expect(viol <= 1e-12, "violation %.3g", viol);
    for (size_t s = 0; s < B; s++) {
        kkt_reference(N, M, A, w, y + s * N, b + s * M, ref);
        const double d = max_abs_diff(z + s * N, ref, N);
        cr_expect(d <= 1e-12, "sample %zu: |z − z_ref| = %.3g", s, d);
    }
    /* in place gives the same bits; projecting again changes nothing (idempotent) */
    double zz[B * N];
    memcpy(zz, y, sizeof zz);
    CHECK(nde_constraint_project(c, zz, b, zz, B));
    cr_expect_arr_eq(zz, z, sizeof zz);
    CHECK(nde_constraint_project(c, z, b, zz, B));
    cr_expect(max_abs_diff(zz, z, B * N) <= 1e-13);
    nde_constraint_destroy(&c);
    cr_assert_null(c);
    nde_constraint_destroy(NULL);
}

Test(constraint, default_b_and_the_matrix)
{
    enum { N = 6, M = 2 };
    double A[M * N], b0[M] = {0.7, -1.3}, y[N], z[N], Aout[M * N];
    fill(A, M * N, 5);
    fill(y, N, 6);
    nde_constraint *c;
    CHECK(nde_constraint_create(N, 1, &(nde_constraint_block){.n_idx = N, .m = M, .A = A, .b = b0}, 1, &c));
    CHECK(nde_constraint_project(c, y, NULL, z, 1));
    cr_expect(nde_constraint_violation(c, z, NULL, 1) <= 1e-12);
    cr_expect(nde_constraint_violation(c, z, b0, 1) <= 1e-12);
    CHECK(nde_constraint_matrix(c, Aout));
    cr_expect_arr_eq(Aout, A, sizeof A);
    nde_constraint_destroy(&c);
}

Test(constraint, builtins_have_their_closed_forms)
{
    enum { N = 16 };
    double y[2 * N], z[2 * N], b[2] = {0.25, -2.0};
    fill(y, 2 * N, 7);
    nde_constraint *c;
    /* mean: z = y − mean(y) + b */
    CHECK(nde_constraint_mean_create(N, 1, 1, &c));
    CHECK(nde_constraint_project(c, y, b, z, 2));
    for (size_t s = 0; s < 2; s++) {
        double mean = 0.0;
        for (size_t i = 0; i < N; i++) mean += y[s * N + i] / N;
        for (size_t i = 0; i < N; i++)
            cr_expect(fabs(z[s * N + i] - (y[s * N + i] - mean + b[s])) <= 1e-14);
    }
    cr_expect(nde_constraint_violation(c, z, b, 2) <= 1e-12);
    nde_constraint_destroy(&c);
    /* boundary values: the ends set, the interior untouched */
    const size_t ends[2] = {0, N - 1};
    const double vals[2] = {1.5, -0.5};
    CHECK(nde_constraint_values_create(N, 2, ends, vals, &c));
    CHECK(nde_constraint_project(c, y, NULL, z, 2));
    for (size_t s = 0; s < 2; s++) {
        cr_expect(fabs(z[s * N] - 1.5) <= 1e-15 * (1.0 + fabs(y[s * N])));
        cr_expect(fabs(z[s * N + N - 1] + 0.5) <= 1e-15 * (1.0 + fabs(y[s * N + N - 1])));
        for (size_t i = 1; i < N - 1; i++) cr_expect_eq(z[s * N + i], y[s * N + i]);
    }
    nde_constraint_destroy(&c);
}

/* u = ∂ψ/∂y, v = −∂ψ/∂x in differences of a stream function at the cell corners is
 * exactly divergence-free on the staggered grid. */
static void stream_field(size_t nx, size_t ny, double hx, double hy, const double *psi, double *uv)
{
    for (size_t j = 0; j < ny; j++)
        for (size_t i = 0; i < nx; i++) {
            uv[j * nx + i] = (psi[((j + 1) % ny) * nx + i] - psi[j * nx + i]) / hy;
            uv[nx * ny + j * nx + i] = -(psi[j * nx + (i + 1) % nx] - psi[j * nx + i]) / hx;
        }
}

Test(constraint, divergence_free_staggered)
{
    enum { NX = 6, NY = 5 };
    const double hx = 1.0 / NX, hy = 1.0 / NY;
    double psi[NX * NY], y[2 * NX * NY], z[2 * NX * NY], div[NX * NY];
    nde_constraint *c;
    CHECK(nde_constraint_divfree2d_create(NX, NY, hx, hy, &c));
    cr_assert_eq(nde_constraint_m(c), NX * NY - 1);
    fill(y, 2 * NX * NY, 8);
    CHECK(nde_constraint_project(c, y, NULL, z, 1));
    /* every cell's divergence, the dropped one included, computed here independently */
    for (size_t j = 0; j < NY; j++)
        for (size_t i = 0; i < NX; i++)
            div[j * NX + i] = (z[j * NX + (i + 1) % NX] - z[j * NX + i]) / hx +
                              (z[NX * NY + ((j + 1) % NY) * NX + i] - z[NX * NY + j * NX + i]) / hy;
    for (size_t k = 0; k < NX * NY; k++) cr_expect(fabs(div[k]) <= 1e-12, "cell %zu: %.3g", k, div[k]);
    /* a divergence-free field is its own projection */
    fill(psi, NX * NY, 9);
    stream_field(NX, NY, hx, hy, psi, y);
    CHECK(nde_constraint_project(c, y, NULL, z, 1));
    cr_expect(max_abs_diff(z, y, 2 * NX * NY) <= 1e-12);
    nde_constraint_destroy(&c);
}

/* Central differences of L = Σ gz ⊙ P(y, b) in y and b against the IFT VJP. */
Test(constraint, vjp_matches_central_differences)
{
    enum { N = 10, M = 4, B = 2 };
    double A[M * N], w[N], y[B * N], b[B * M], gz[B * N], gy[B * N], gb[B * M], z[B * N];
    double fy[B * N], fb[B * M];
    fill(A, M * N, 11);
    fill(w, N, 12);
    for (size_t i = 0; i < N; i++) w[i] = 0.3 + fabs(w[i]);
    fill(y, B * N, 13);
    fill(b, B * M, 14);
    fill(gz, B * N, 15);
    nde_constraint *c;
    CHECK(nde_constraint_create(N, 1, &(nde_constraint_block){.n_idx = N, .m = M, .A = A, .w = w}, 1, &c));
    CHECK(nde_constraint_vjp(c, gz, gy, gb, B));
    const double h = 1e-6;
    for (int which = 0; which < 2; which++) {
        double *v = which ? b : y, *f = which ? fb : fy;
        const size_t len = which ? B * M : B * N;
        for (size_t i = 0; i < len; i++) {
            const double v0 = v[i];
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                v[i] = v0 + (sgn ? -h : h);
                CHECK(nde_constraint_project(c, y, b, z, B));
                l[sgn] = 0.0;
                for (size_t k = 0; k < B * N; k++) l[sgn] += gz[k] * z[k];
            }
            v[i] = v0;
            f[i] = (l[0] - l[1]) / (2.0 * h);
        }
    }
    const double ey = rel_err(gy, fy, B * N), eb = rel_err(gb, fb, B * M);
    cr_expect(ey <= 1e-8, "dL/dy relative error %.3g", ey);
    cr_expect(eb <= 1e-8, "dL/db relative error %.3g", eb);
    nde_constraint_destroy(&c);
}

/* Three experts on interleaved entries (and two entries in none) against one global
 * block whose A is the same block-diagonal matrix: equal projections and VJPs. */
Test(constraint, experts_equal_the_global_projection_when_decoupled)
{
    enum { N = 14, B = 3 };
    const size_t idx0[4] = {0, 3, 6, 9}, idx1[5] = {1, 4, 7, 10, 12}, idx2[3] = {2, 8, 13};
    const size_t *idx[3] = {idx0, idx1, idx2}, ni[3] = {4, 5, 3}, mk[3] = {2, 3, 1};
    double Ak[3][15], wk[3][5], Ag[6 * N] = {0}, wg[N], y[B * N], b[B * 6];
    double zm[B * N], zg[B * N], gz[B * N], gym[B * N], gyg[B * N], gbm[B * 6], gbg[B * 6];
    nde_constraint_block bl[3];
    for (size_t i = 0; i < N; i++) wg[i] = 1.0;
    size_t row = 0;
    for (size_t k = 0; k < 3; k++) {
        fill(Ak[k], mk[k] * ni[k], 20 + k);
        fill(wk[k], ni[k], 30 + k);
        for (size_t p = 0; p < ni[k]; p++) {
            wk[k][p] = 0.5 + fabs(wk[k][p]);
            wg[idx[k][p]] = wk[k][p];
        }
        for (size_t r = 0; r < mk[k]; r++)
            for (size_t p = 0; p < ni[k]; p++) Ag[(row + r) * N + idx[k][p]] = Ak[k][r * ni[k] + p];
        row += mk[k];
        bl[k] = (nde_constraint_block){.n_idx = ni[k], .idx = idx[k], .m = mk[k], .A = Ak[k], .w = wk[k]};
    }
    fill(y, B * N, 40);
    fill(b, B * 6, 41);
    fill(gz, B * N, 42);
    nde_constraint *moe, *glob;
    CHECK(nde_constraint_create(N, 3, bl, 2, &moe));
    CHECK(nde_constraint_create(N, 1, &(nde_constraint_block){.n_idx = N, .m = 6, .A = Ag, .w = wg}, 1, &glob));
    cr_assert_eq(nde_constraint_n_blocks(moe), 3);
    double Am[6 * N];
    CHECK(nde_constraint_matrix(moe, Am));
    cr_expect_arr_eq(Am, Ag, sizeof Am);
    CHECK(nde_constraint_project(moe, y, b, zm, B));
    CHECK(nde_constraint_project(glob, y, b, zg, B));
    cr_expect(max_abs_diff(zm, zg, B * N) <= 1e-13, "%.3g", max_abs_diff(zm, zg, B * N));
    cr_expect(nde_constraint_violation(moe, zm, b, B) <= 1e-12);
    for (size_t s = 0; s < B; s++) { /* entries 5 and 11 are in no sub-domain */
        cr_expect_eq(zm[s * N + 5], y[s * N + 5]);
        cr_expect_eq(zm[s * N + 11], y[s * N + 11]);
    }
    CHECK(nde_constraint_vjp(moe, gz, gym, gbm, B));
    CHECK(nde_constraint_vjp(glob, gz, gyg, gbg, B));
    cr_expect(max_abs_diff(gym, gyg, B * N) <= 1e-13);
    cr_expect(max_abs_diff(gbm, gbg, B * 6) <= 1e-13);
    /* one thread gives the same bits as two */
    nde_constraint *moe1;
    CHECK(nde_constraint_create(N, 3, bl, 1, &moe1));
    double z1[B * N];
    CHECK(nde_constraint_project(moe1, y, b, z1, B));
    cr_expect_arr_eq(z1, zm, sizeof z1);
    nde_constraint_destroy(&moe1);
    nde_constraint_destroy(&moe);
    nde_constraint_destroy(&glob);
}

Test(constraint, mean_experts_conserve_each_sub_domain)
{
    enum { N = 12, K = 4 };
    double y[N], z[N], b[K] = {1, 2, 3, 4}, A[K * N] = {0}, zg[N];
    fill(y, N, 50);
    nde_constraint *moe, *glob;
    CHECK(nde_constraint_mean_create(N, K, 3, &moe));
    for (size_t k = 0; k < K; k++)
        for (size_t p = 0; p < N / K; p++) A[k * N + k * (N / K) + p] = 1.0 / (N / K);
    CHECK(nde_constraint_create(N, 1, &(nde_constraint_block){.n_idx = N, .m = K, .A = A}, 1, &glob));
    CHECK(nde_constraint_project(moe, y, b, z, 1));
    CHECK(nde_constraint_project(glob, y, b, zg, 1));
    cr_expect(max_abs_diff(z, zg, N) <= 1e-14);
    for (size_t k = 0; k < K; k++) {
        double mean = 0.0;
        for (size_t p = 0; p < N / K; p++) mean += z[k * (N / K) + p] / (N / K);
        cr_expect(fabs(mean - b[k]) <= 1e-12);
    }
    nde_constraint_destroy(&moe);
    nde_constraint_destroy(&glob);
}

/* The layer as a model: an FNO whose output keeps the input's mean (b = A x), checked
 * through the model check (θ and x gradients against central differences). */
Test(constraint, constrained_fno_model_gradient)
{
    nde_ctx *ctx;
    CHECK(nde_ctx_create(&ctx));
    nde_fno_spec sp = nde_fno1d_burgers_spec();
    sp.precision = NDE_PRECISION_FLOAT64; /* finite-difference checks: the double path */
    sp.n_modes[0] = 3;
    sp.width = 3;
    sp.n_layers = 2;
    sp.proj_hidden[0] = 5;
    sp.precision = NDE_PRECISION_FLOAT64; /* gradients against central differences */
    const size_t n = 8;
    nde_model *fno, *m;
    CHECK(nde_model_fno_create(ctx, &sp, &n, 2, 1, &fno));
    nde_constraint *c;
    CHECK(nde_constraint_mean_create(n, 1, 1, &c));
    double Bmat[8];
    CHECK(nde_constraint_matrix(c, Bmat));
    CHECK(nde_model_constraint_create(fno, c, Bmat, &m));
    cr_assert_str_eq(nde_model_kind(m), "constrained");
    cr_assert_eq(nde_model_constraint(m), c);
    cr_assert_eq(nde_model_constraint_inner(m), fno);
    cr_assert_eq(nde_model_n_params(m), nde_model_n_params(fno));
    cr_assert_null(nde_model_constraint(fno));
    nde_rng rng;
    nde_rng_seed(&rng, 6);
    CHECK(nde_model_init(m, &rng));
    double x[2 * 8], y[2 * 8];
    fill(x, 16, 3);
    CHECK(nde_model_forward(m, x, y, 2));
    for (size_t s = 0; s < 2; s++) {
        double mx = 0.0, my = 0.0;
        for (size_t i = 0; i < n; i++) mx += x[s * n + i] / n, my += y[s * n + i] / n;
        cr_expect(fabs(mx - my) <= 1e-12, "sample %zu: mean in %.17g, out %.17g", s, mx, my);
    }
    model_check_grad(m, x, 2, 1e-6, 1e-6, 5);
    nde_model_destroy(&m);
    nde_ctx_destroy(&ctx);
}

/* The constrained model trains through the one trainer and keeps the constraint. */
Test(constraint, trainer_runs_a_constrained_model)
{
    enum { N = 8, S = 6 };
    nde_model *mlp, *m;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = N, .out = N, .hidden = {8}, .act = NDE_ACT_TANH},
                               "mlp", NDE_INIT_TORCH, 0.0, &mlp));
    nde_constraint *c;
    CHECK(nde_constraint_mean_create(N, 1, 1, &c));
    double Bmat[N];
    CHECK(nde_constraint_matrix(c, Bmat));
    CHECK(nde_model_constraint_create(mlp, c, Bmat, &m));
    nde_rng rng;
    nde_rng_seed(&rng, 1);
    CHECK(nde_model_init(m, &rng));
    double x[S * N], y[S * N], p[S * N];
    fill(x, S * N, 60);
    for (size_t i = 0; i < S * N; i++) y[i] = x[(i / N) * N + (i + 1) % N]; /* a shift keeps the mean */
    nde_trainer_spec ts = nde_trainer_defaults();
    ts.epochs = 3;
    ts.batch = 3;
    ts.optim.lr = 1e-2;
    ts.loss = nde_loss_mse();
    ts.progress = 0;
    nde_data d = {.x = x, .y = y, .n = S, .x_size = N, .y_size = N};
    nde_trainer *t;
    CHECK(nde_trainer_create(m, &d, NULL, &ts, &t));
    double before;
    CHECK(nde_trainer_evaluate(t, &d, &before));
    CHECK(nde_trainer_run(t));
    double after;
    CHECK(nde_trainer_evaluate(t, &d, &after));
    cr_expect(after < before, "loss %.6g → %.6g", before, after);
    nde_trainer_destroy(&t);
    CHECK(nde_model_forward(m, x, p, S));
    for (size_t s = 0; s < S; s++) {
        double mx = 0.0, mp = 0.0;
        for (size_t i = 0; i < N; i++) mx += x[s * N + i] / N, mp += p[s * N + i] / N;
        cr_expect(fabs(mx - mp) <= 1e-12);
    }
    nde_model_destroy(&m);
}

static void expect_fail(nde_status got, nde_status want, const char *needle)
{
    cr_expect_eq(got, want, "status %s, want %s (%s)", nde_status_str(got), nde_status_str(want),
                 nde_last_error());
    cr_expect(strstr(nde_last_error(), needle) != NULL, "message '%s' lacks '%s'", nde_last_error(),
              needle);
}

Test(constraint, bad_inputs)
{
    enum { N = 5 };
    double A[3 * N], b[3] = {1, 2, 0}, y[N] = {0}, z[N];
    fill(A, 2 * N, 70);
    for (size_t i = 0; i < N; i++) A[2 * N + i] = 2.0 * A[i] - 0.5 * A[N + i]; /* row 2 = 2 r0 − r1/2 */
    nde_constraint *c = (nde_constraint *)1;
    nde_constraint_block bl = {.n_idx = N, .m = 3, .A = A, .b = b};
    b[2] = 2.0 * b[0] - 0.5 * b[1];
    expect_fail(nde_constraint_create(N, 1, &bl, 1, &c), NDE_ERR_ARG, "rank deficient");
    cr_expect_null(c);
    b[2] += 1.0;
    expect_fail(nde_constraint_create(N, 1, &bl, 1, &c), NDE_ERR_ARG, "inconsistent");
    bl.m = 6;
    expect_fail(nde_constraint_create(N, 1, &bl, 1, &c), NDE_ERR_ARG, "more rows");
    bl.m = 2;
    const size_t bad_idx[N] = {0, 1, 2, 3, 7};
    bl.idx = bad_idx;
    expect_fail(nde_constraint_create(N, 1, &bl, 1, &c), NDE_ERR_ARG, "not < n");
    bl.idx = NULL;
    const double w[N] = {1, 1, 0, 1, 1};
    bl.w = w;
    expect_fail(nde_constraint_create(N, 1, &bl, 1, &c), NDE_ERR_ARG, "weight 2");
    bl.w = NULL;
    nde_constraint_block two[2] = {bl, bl};
    expect_fail(nde_constraint_create(N, 2, two, 1, &c), NDE_ERR_ARG, "disjoint");
    expect_fail(nde_constraint_create(0, 1, &bl, 1, &c), NDE_ERR_ARG, "n 0");
    expect_fail(nde_constraint_mean_create(10, 3, 1, &c), NDE_ERR_ARG, "equal sub-domains");
    expect_fail(nde_constraint_divfree2d_create(1, 4, 1.0, 1.0, &c), NDE_ERR_ARG, "grid 1 x 4");
    const size_t ends[2] = {0, 0};
    expect_fail(nde_constraint_values_create(N, 2, ends, NULL, &c), NDE_ERR_ARG, "disjoint");
    /* A zero row is dependent on nothing before it: rank deficient (b 0) */
    double Az[N] = {0};
    expect_fail(nde_constraint_create(N, 1, &(nde_constraint_block){.n_idx = N, .m = 1, .A = Az}, 1, &c),
                NDE_ERR_ARG, "rank deficient");
    /* non-finite values at projection time */
    CHECK(nde_constraint_create(N, 1, &bl, 1, &c));
    y[3] = NAN;
    expect_fail(nde_constraint_project(c, y, NULL, z, 1), NDE_ERR_NONFINITE, "y[0][3]");
    y[3] = 0.0;
    double bb[2] = {INFINITY, 0};
    expect_fail(nde_constraint_project(c, y, bb, z, 1), NDE_ERR_NONFINITE, "b[0][0]");
    expect_fail(nde_constraint_project(c, y, NULL, z, 0), NDE_ERR_ARG, "batch 0");
    cr_expect(isnan(nde_constraint_violation(NULL, z, NULL, 1)));
    double zn[2 * N] = {0};
    zn[2] = NAN; /* a NaN in the first sample stays NaN after a finite second one */
    cr_expect(isnan(nde_constraint_violation(c, zn, NULL, 2)));
    /* a model whose output size is not the constraint's: both freed, *out NULL */
    nde_model *mlp, *m = (nde_model *)1;
    CHECK(nde_model_mlp_create(&(nde_mlp_spec){.in = 2, .out = 3, .hidden = {4}, .act = NDE_ACT_TANH},
                               "mlp", NDE_INIT_TORCH, 0.0, &mlp));
    expect_fail(nde_model_constraint_create(mlp, c, NULL, &m), NDE_ERR_SHAPE, "outputs 3");
    cr_expect_null(m);
}
