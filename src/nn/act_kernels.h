/* Vectorized element-wise kernels (internal): the activations behind
 * nde_act_forward/backward and the one GELU, which the operator layers (channel MLP,
 * FNO, MgNO) call directly.
 *
 * CPU dispatch — the only scheme in nde; no other file checks the CPU or calls a
 * vector ABI by name. Every kernel is a plain branch-free C loop in act_kernels.c that
 * GCC auto-vectorizes without -ffast-math (GELU's backward is a product with the
 * derivative from nde_kern_gelu_with_grad). On x86-64 with GCC ≥ 11 each is marked
 * NDE_VEC_CLONES (GCC target_clones): it is compiled for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2) — both with FMA contraction — and baseline x86-64, and the dynamic
 * loader picks the variant once, through an ifunc resolver reading the CPU features.
 * Library functions inside a loop (erfc and exp in GELU) are declared `simd` when
 * glibc's libmvec is available (NDE_HAVE_LIBMVEC), so each variant calls libmvec's
 * vector functions of its own width; without libmvec, or on other compilers and
 * machines, they stay scalar libm calls and the loops are compiled once.
 *
 * Bits: the polynomial kernels (tanh, sigmoid, swish, softplus') give the same bits on
 * v3 and v4 and ≤ 1 ulp different ones on the baseline. GELU's bits depend on the
 * libmvec variant (glibc documents a few ulp for each), so they can differ between CPU
 * levels, but not with a value's position, the array length or the entry point (the
 * kernels work in zero-padded blocks, see act_kernels.c). */
#ifndef NDE_NN_ACT_KERNELS_H
#define NDE_NN_ACT_KERNELS_H

#include <stddef.h>

/* The library is built with hidden symbols, but GCC gives the load-time dispatchers of
 * target_clones functions default visibility regardless; say it on each declaration. */
#if defined(__GNUC__)
#define NDE_KERN_INTERNAL __attribute__((visibility("hidden")))
#else
#define NDE_KERN_INTERNAL
#endif

/* y (n) = tanh(x); y may equal x. */
NDE_KERN_INTERNAL void nde_kern_tanh(const double *x, double *y, size_t n);
/* y (n) = 1 / (1 + e^-x); y may equal x. */
NDE_KERN_INTERNAL void nde_kern_sigmoid(const double *x, double *y, size_t n);
/* y (n) = x / (1 + e^-x); y may equal x. */
NDE_KERN_INTERNAL void nde_kern_swish(const double *x, double *y, size_t n);
/* dx (n) = dy ⊙ (1 − y²), the tanh derivative from its output y; dx may equal dy. */
NDE_KERN_INTERNAL void nde_kern_tanh_backward(const double *y, const double *dy, double *dx, size_t n);
/* dx (n) = dy ⊙ y (1 − y), the sigmoid derivative from its output y; dx may equal dy. */
NDE_KERN_INTERNAL void nde_kern_sigmoid_backward(const double *y, const double *dy, double *dx, size_t n);
/* dx (n) = dy ⊙ swish'(x) = dy s (1 + x (1 − s)), s = sigmoid(x); dx may equal dy. */
NDE_KERN_INTERNAL void nde_kern_swish_backward(const double *x, const double *dy, double *dx, size_t n);
/* dx (n) = dy ⊙ softplus'(x): dy for x > 20 (torch's threshold), else dy e^x/(1 + e^x);
 * dx may equal dy. */
NDE_KERN_INTERNAL void nde_kern_softplus_backward(const double *x, const double *dy, double *dx, size_t n);

/* GELU, erfc form: gelu(z) = z Φ(z) = ½ z erfc(−z/√2), gelu'(z) = Φ(z) + z φ(z).
 * y (n) = gelu(z); y may equal z. */
NDE_KERN_INTERNAL void nde_kern_gelu(const double *z, double *y, size_t n);
/* y (n) = gelu(z) and dydz (n) = gelu'(z) in one pass (a backward is then a product);
 * y and dydz may each equal z, not each other. */
NDE_KERN_INTERNAL void nde_kern_gelu_with_grad(const double *z, double *y, double *dydz,
                                               size_t n);
/* dx (n) = dy ⊙ gelu'(z); dx may equal dy (or z). */
NDE_KERN_INTERNAL void nde_kern_gelu_backward(const double *z, const double *dy, double *dx,
                                              size_t n);

#endif
