/* GELU, exact erf form (Hendrycks & Gimpel 2016; torch.nn.functional.gelu default).
 *
 * The erf and exp calls dominate an FNO's elementwise work, so on x86-64 with glibc's
 * libmvec the kernels run 8 (AVX-512) or 4 (AVX2) values per call of its vector erf/exp
 * (glibc documents ≤ 4 ulp for these; the tests compare with PyTorch to 1e-13). The
 * scalar loop handles the tail and other machines. */
#include <math.h>

#include "nde/operators.h"
#include "nde_config.h"

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

/* Scalar reference: y = gelu(z), and dydz = gelu'(z) = Φ(z) + z φ(z) when not NULL. */
static void gelu_scalar(const double *z, double *y, double *dydz, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        double v = z[i];
        double cdf = 0.5 * (1.0 + erf(v * INV_SQRT2));
        if (dydz) dydz[i] = cdf + v * INV_SQRT_2PI * exp(-0.5 * v * v);
        y[i] = v * cdf;
    }
}

#if NDE_HAVE_LIBMVEC && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* glibc libmvec entry points (x86_64 vector ABI names). */
__m512d _ZGVeN8v_erf(__m512d x);
__m512d _ZGVeN8v_exp(__m512d x);
__m256d _ZGVdN4v_erf(__m256d x);
__m256d _ZGVdN4v_exp(__m256d x);

/* Each returns how many leading values it handled (a multiple of its width). */
__attribute__((target("avx512f"))) static size_t gelu_avx512(const double *z, double *y,
                                                             double *dydz, size_t count)
{
    const __m512d half = _mm512_set1_pd(0.5), one = _mm512_set1_pd(1.0);
    const __m512d is2 = _mm512_set1_pd(INV_SQRT2), is2pi = _mm512_set1_pd(INV_SQRT_2PI);
    const __m512d mhalf = _mm512_set1_pd(-0.5);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m512d v = _mm512_loadu_pd(z + i);
        __m512d cdf = _mm512_mul_pd(half, _mm512_add_pd(one, _ZGVeN8v_erf(_mm512_mul_pd(v, is2))));
        if (dydz) {
            __m512d e = _ZGVeN8v_exp(_mm512_mul_pd(mhalf, _mm512_mul_pd(v, v)));
            _mm512_storeu_pd(dydz + i, _mm512_fmadd_pd(_mm512_mul_pd(v, is2pi), e, cdf));
        }
        _mm512_storeu_pd(y + i, _mm512_mul_pd(v, cdf));
    }
    return i;
}

__attribute__((target("avx2,fma"))) static size_t gelu_avx2(const double *z, double *y,
                                                            double *dydz, size_t count)
{
    const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0);
    const __m256d is2 = _mm256_set1_pd(INV_SQRT2), is2pi = _mm256_set1_pd(INV_SQRT_2PI);
    const __m256d mhalf = _mm256_set1_pd(-0.5);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        __m256d v = _mm256_loadu_pd(z + i);
        __m256d cdf = _mm256_mul_pd(half, _mm256_add_pd(one, _ZGVdN4v_erf(_mm256_mul_pd(v, is2))));
        if (dydz) {
            __m256d e = _ZGVdN4v_exp(_mm256_mul_pd(mhalf, _mm256_mul_pd(v, v)));
            _mm256_storeu_pd(dydz + i, _mm256_fmadd_pd(_mm256_mul_pd(v, is2pi), e, cdf));
        }
        _mm256_storeu_pd(y + i, _mm256_mul_pd(v, cdf));
    }
    return i;
}

static void gelu_kernel(const double *z, double *y, double *dydz, size_t count)
{
    size_t done = 0;
    if (__builtin_cpu_supports("avx512f"))
        done = gelu_avx512(z, y, dydz, count);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        done = gelu_avx2(z, y, dydz, count);
    gelu_scalar(z + done, y + done, dydz ? dydz + done : NULL, count - done);
}
#else
static void gelu_kernel(const double *z, double *y, double *dydz, size_t count)
{
    gelu_scalar(z, y, dydz, count);
}
#endif

void nde_gelu(const double *z, double *y, size_t count) { gelu_kernel(z, y, NULL, count); }

void nde_gelu_with_derivative(const double *z, double *y, double *dydz, size_t count)
{
    gelu_kernel(z, y, dydz, count);
}

void nde_gelu_vjp(const double *z, const double *gy, double *gz, size_t count)
{
    /* blocks through small buffers keep the vector kernel and allow gz to alias z or gy */
    double y[256], d[256];
    for (size_t i = 0; i < count; i += 256) {
        size_t nb = count - i < 256 ? count - i : 256;
        gelu_kernel(z + i, y, d, nb);
        for (size_t j = 0; j < nb; j++) gz[i + j] = gy[i + j] * d[j];
    }
}
