/** @file
 * nde/core.h — status codes, per-thread error messages, seeded random numbers,
 * aligned allocation and the library context.
 *
 * Every fallible nde function returns an nde_status. On failure it also leaves a
 * message with context (function, file, shape, value) that nde_last_error() returns
 * until the next failure on the same thread. Library code never aborts on bad input. */
#ifndef NDE_CORE_H
#define NDE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "nde/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The result of every fallible nde function: NDE_OK or the kind of failure (the details are in nde_last_error()). */
typedef enum nde_status {
    NDE_OK = 0, /**< success */
    NDE_ERR_ARG,         /**< invalid argument: NULL, non-positive tolerance, bad option */
    NDE_ERR_NOMEM,       /**< allocation failed */
    NDE_ERR_SHAPE,       /**< dimensions disagree */
    NDE_ERR_NONFINITE,   /**< NaN or Inf in input or during a computation */
    NDE_ERR_MAX_STEPS,   /**< solver exhausted max_steps */
    NDE_ERR_DT_MIN,      /**< step size fell below dt_min */
    NDE_ERR_STATE,       /**< call made in the wrong order (e.g. adjoint before a solve) */
    NDE_ERR_IO,          /**< file could not be opened, read or written */
    NDE_ERR_FORMAT,      /**< file content is malformed or does not match */
    NDE_ERR_SOLVER,      /**< an external solver (SUNDIALS) failed; message has its text */
    NDE_ERR_UNSUPPORTED, /**< feature not available in this build or for this method */
    NDE_ERR_STOPPED,     /**< a user callback asked to stop */
    NDE_ERR_MISSING,     /**< a required resource (dataset, file) is not present */
    NDE_ERR_LIMIT,       /**< a resource limit was reached (e.g. nde_solver_opts.tape_max_bytes);
                            the message names the limit and how to raise it */
    NDE_STATUS_COUNT
} nde_status;

/** Short, static, human-readable name of a status ("ok", "invalid argument", ...). */
NDE_API const char *nde_status_str(nde_status s);

/** The message left by the last failure on this thread ("" if none). Valid until the
 * next nde call on this thread that fails. */
NDE_API const char *nde_last_error(void);
/** Clear this thread's error message (nde_last_error() returns "" afterwards). */
NDE_API void nde_clear_error(void);

/** Record a failure: formats the message as "file:line: <text>" into the per-thread
 * buffer and returns `s` so callers can `return NDE_FAIL(...)`. */
NDE_API nde_status nde_fail(nde_status s, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/** Record a failure at the caller's file and line and evaluate to `status`: `return NDE_FAIL(NDE_ERR_ARG, "n = %d", n);`. */
#define NDE_FAIL(status, ...) nde_fail((status), __FILE__, __LINE__, __VA_ARGS__)

/** Propagate a non-OK status from a call (the callee already set the message). */
#define NDE_TRY(expr)                                  \
    do {                                               \
        nde_status nde_try_s_ = (expr);                \
        if (nde_try_s_ != NDE_OK) return nde_try_s_;   \
    } while (0)

/* ---- aligned allocation ----------------------------------------------------
 * 64-byte aligned (cache line, AVX-512), zero-filled. nde_alloc returns NULL on
 * failure or on size overflow and sets NDE_ERR_NOMEM's message. nde_free(NULL) is a
 * no-op. */
/** Alignment of nde_alloc() in bytes (a cache line; AVX-512). */
#define NDE_ALIGN 64
/** π in double precision. */
#define NDE_PI 3.14159265358979323846
/** 64-byte aligned, zero-filled allocation of `bytes`; NULL (and an NDE_ERR_NOMEM message) on failure. */
NDE_API void *nde_alloc(size_t bytes);
/** As nde_alloc() for `count` elements of `elem_size` bytes; NULL if the product overflows. */
NDE_API void *nde_alloc_array(size_t count, size_t elem_size);
/** Free memory from nde_alloc() or nde_alloc_array(); nde_free(NULL) is a no-op. */
NDE_API void nde_free(void *p);

/* ---- random numbers --------------------------------------------------------
 * xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64. A plain value so
 * it can be copied, embedded and saved in checkpoints; same seed → same bits. */
/** Random number generator: xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64. A plain value so it can be copied, embedded and saved in checkpoints; same seed, same bits. */
typedef struct nde_rng {
    uint64_t s[4]; /**< generator state */
    double spare_normal; /**< second Box–Muller value, valid when has_spare */
    int has_spare; /**< 1 if spare_normal holds an unused value */
} nde_rng;

/** Seed `r` (any 64-bit seed, through splitmix64). */
NDE_API void nde_rng_seed(nde_rng *r, uint64_t seed);
/** Next 64 random bits. */
NDE_API uint64_t nde_rng_u64(nde_rng *r);
NDE_API double nde_rng_uniform(nde_rng *r);            /**< [0, 1), 53 random bits */
/** Uniform double in [lo, hi). */
NDE_API double nde_rng_uniform_in(nde_rng *r, double lo, double hi);
NDE_API double nde_rng_normal(nde_rng *r);             /**< N(0, 1), Box–Muller */
NDE_API uint64_t nde_rng_below(nde_rng *r, uint64_t n); /**< uniform integer in [0, n), unbiased; n > 0 */
/** Independent stream: the state after 2^128 draws (xoshiro's jump function). */
NDE_API void nde_rng_jump(nde_rng *r);

/* ---- context ---------------------------------------------------------------
 * Owns what several objects share: the SUNDIALS context and FFT plan caches
 * (created lazily by the modules that need them), and a default RNG. */
/** The library context: owns what several objects share, the SUNDIALS context and FFT plan caches (created lazily by the modules that need them), and a default RNG. */
typedef struct nde_ctx nde_ctx;
/** Create a context in *ctx (destroy with nde_ctx_destroy()). */
NDE_API nde_status nde_ctx_create(nde_ctx **ctx);
NDE_API void nde_ctx_destroy(nde_ctx **ctx); /**< NULL or *ctx == NULL: no-op; sets *ctx = NULL */
/** The context's default random number generator (owned by the context). */
NDE_API nde_rng *nde_ctx_rng(nde_ctx *ctx);

/** Monotonic wall clock in seconds (for progress lines and benchmarks). */
NDE_API double nde_wall_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
