/* Vectorizable element-wise kernels behind nde_act_forward/backward (internal).
 * Branch-free loops that GCC auto-vectorizes without -ffast-math; on x86-64 each is
 * compiled for AVX-512, AVX2 (both with FMA, same bits) and baseline SSE2, and the
 * variant is picked at load time. */
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

#endif
