/* Checkpoints and safetensors: round trips of every dtype, a file from another writer,
 * rejection of corrupted, truncated and mismatched files with the model untouched,
 * atomic writes, NAdam's scalar mu_product state, and bit-exact resume in a fresh
 * process for every optimizer. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nde/nde.h"

/* A per-process scratch directory in the test's working directory (the build tree). */
static void scratch_path(char *buf, size_t n, const char *file)
{
    char dir[64];
    snprintf(dir, sizeof dir, "ckpt_scratch_%ld", (long)getpid());
    mkdir(dir, 0755);
    snprintf(buf, n, "%s/%s", dir, file);
}

/* Remove a scratch file and, once empty, its directory. */
static void scratch_remove(const char *path)
{
    char dir[128];
    remove(path);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    rmdir(dir);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    cr_assert(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void write_bytes(const char *path, const unsigned char *b, size_t len)
{
    FILE *fp = fopen(path, "wb");
    cr_assert(fp != NULL);
    cr_assert_eq(fwrite(b, 1, len, fp), len);
    fclose(fp);
}

/* ---- safetensors ---------------------------------------------------------- */

Test(safetensors, round_trip_of_dtypes_metadata_and_odd_names)
{
    const double f64[6] = {1.5, -2.25, 3.0, 0.1, 1e300, -0.0};
    const float f32[3] = {1.5f, -2.0f, 0.1f};
    const uint8_t u8[5] = {0, 1, 127, 128, 255};
    const int32_t i32[2] = {-7, 2147483647};
    const uint64_t u64[1] = {UINT64_C(0xfedcba9876543210)};
    const double scalar = 42.0;
    const size_t s23[2] = {2, 3}, s3[1] = {3}, s5[1] = {5}, s2[1] = {2}, s1[1] = {1}, s0[1] = {0};
    nde_st_writer *w = NULL;
    cr_assert_eq(nde_st_writer_create(&w), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "u8", NDE_ST_U8, 1, s5, u8), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "layer \"0\"\\w\n", NDE_ST_F64, 2, s23, f64), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "f32", NDE_ST_F32, 1, s3, f32), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "i32", NDE_ST_I32, 1, s2, i32), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "u64", NDE_ST_U64, 1, s1, u64), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "scalar", NDE_ST_F64, 0, NULL, &scalar), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "empty", NDE_ST_F64, 1, s0, NULL), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "f32", NDE_ST_F32, 1, s3, f32), NDE_ERR_ARG);
    cr_assert_eq(nde_st_writer_add(w, "__metadata__", NDE_ST_F32, 1, s3, f32), NDE_ERR_ARG);
    cr_assert_eq(nde_st_writer_meta(w, "note", "a \"quoted\" value"), NDE_OK);
    cr_assert_eq(nde_st_writer_meta(w, "note", "again"), NDE_ERR_ARG);
    char path[128];
    scratch_path(path, sizeof path, "round.safetensors");
    cr_assert_eq(nde_st_writer_write(w, path), NDE_OK, "%s", nde_last_error());
    nde_st_writer_destroy(&w);
    cr_assert_null(w);

    size_t len;
    unsigned char *raw = read_bytes(path, &len);
    uint64_t hlen = 0;
    memcpy(&hlen, raw, 8);
    cr_assert_eq(hlen % 8, 0, "header padded to 8 bytes");
    free(raw);

    nde_st_file *f = NULL;
    cr_assert_eq(nde_st_open(path, &f), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_n_tensors(f), 7);
    const nde_st_tensor *t = nde_st_find(f, "layer \"0\"\\w\n");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, NDE_ST_F64);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[1], 3);
    cr_assert_eq(memcmp(t->data, f64, sizeof f64), 0);
    cr_assert_eq(memcmp(nde_st_find(f, "f32")->data, f32, sizeof f32), 0);
    cr_assert_eq(memcmp(nde_st_find(f, "u8")->data, u8, sizeof u8), 0);
    cr_assert_eq(memcmp(nde_st_find(f, "i32")->data, i32, sizeof i32), 0);
    cr_assert_eq(memcmp(nde_st_find(f, "u64")->data, u64, sizeof u64), 0);
    cr_assert_eq(nde_st_find(f, "scalar")->ndim, 0);
    cr_assert_eq(nde_st_find(f, "scalar")->numel, 1);
    cr_assert_eq(nde_st_find(f, "empty")->nbytes, 0);
    cr_assert_str_eq(nde_st_meta(f, "note"), "a \"quoted\" value");
    cr_assert_null(nde_st_meta(f, "absent"));
    cr_assert_null(nde_st_find(f, "absent"));
    nde_st_close(&f);
    cr_assert_null(f);
    nde_st_close(NULL);
    scratch_remove(path);
}

/* ---- checkpoints: a two-tensor model ------------------------------------- */

static nde_params *make_model(size_t nw, size_t nb)
{
    nde_params *p = NULL;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    const size_t ws[1] = {nw}, bs[1] = {nb};
    cr_assert_eq(nde_params_add(p, "w", 1, ws, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_params_add(p, "b", 1, bs, NDE_GROUP_NO_DECAY, NULL), NDE_OK);
    double *th = nde_params_theta(p);
    for (size_t i = 0; i < nw + nb; i++) th[i] = sin(0.1 * (double)i + 0.3);
    return p;
}

Test(checkpoint, loads_a_file_from_another_safetensors_writer)
{
    nde_params *p = NULL;
    cr_assert_eq(nde_params_create(&p), NDE_OK);
    const size_t ws[2] = {2, 3}, bs[1] = {3};
    cr_assert_eq(nde_params_add(p, "w", 2, ws, NDE_GROUP_DEFAULT, NULL), NDE_OK);
    cr_assert_eq(nde_params_add(p, "b", 1, bs, NDE_GROUP_NO_DECAY, NULL), NDE_OK);
    const char *path = NDE_SOURCE_ROOT "/tests/ref/foreign_model.safetensors";
    cr_assert_eq(nde_checkpoint_load(path, p, NULL, NULL), NDE_OK, "%s", nde_last_error());
    const double *th = nde_params_theta(p);
    for (int i = 0; i < 6; i++) cr_assert_eq(th[i], 0.5 * i - 1.0); /* F32 widened */
    cr_assert_eq(th[6], 0.1);
    cr_assert_eq(th[7], -0.2);
    cr_assert_eq(th[8], 0.3);
    nde_params_destroy(&p);
}

Test(checkpoint, io_errors_and_atomic_replace)
{
    nde_params *p = make_model(8, 2);
    cr_assert_eq(nde_checkpoint_save("no_such_dir_xyz/ck.safetensors", p, NULL, NULL), NDE_ERR_IO);
    cr_assert(strstr(nde_last_error(), "no_such_dir_xyz") != NULL);
    cr_assert_eq(nde_checkpoint_load("no_such_file.safetensors", p, NULL, NULL), NDE_ERR_IO);
    cr_assert_eq(nde_checkpoint_save(NULL, p, NULL, NULL), NDE_ERR_ARG);
    cr_assert_eq(nde_checkpoint_load("x", NULL, NULL, NULL), NDE_ERR_ARG);

    char path[128];
    scratch_path(path, sizeof path, "atomic.safetensors");
    cr_assert_eq(nde_checkpoint_save(path, p, NULL, NULL), NDE_OK);
    nde_params_theta(p)[0] = 123.0;
    cr_assert_eq(nde_checkpoint_save(path, p, NULL, NULL), NDE_OK); /* replaces */
    nde_params_theta(p)[0] = 0.0;
    cr_assert_eq(nde_checkpoint_load(path, p, NULL, NULL), NDE_OK);
    cr_assert_eq(nde_params_theta(p)[0], 123.0);
    /* No temporary file is left next to the target. */
    char dir[128];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(strstr(e->d_name, ".tmp.") == NULL, "leftover %s", e->d_name);
    closedir(d);
    scratch_remove(path);
    nde_params_destroy(&p);
}

/* Snapshot of everything a failed load must leave alone. */
typedef struct snapshot {
    double theta[64];
    unsigned char state[4096];
    size_t state_len;
    uint64_t step;
    double lr;
    nde_train_state ts;
} snapshot;

static void take(snapshot *s, nde_params *p, nde_optim *o, const nde_train_state *ts)
{
    memset(s, 0, sizeof *s);
    memcpy(s->theta, nde_params_theta(p), nde_params_count(p) * sizeof(double));
    for (size_t i = 0; i < nde_optim_n_state(o); i++) {
        nde_optim_state_view v;
        cr_assert_eq(nde_optim_state(o, i, &v), NDE_OK);
        const size_t nb = v.numel * (v.dtype == NDE_OPTIM_U8 ? 1 : 8);
        cr_assert(s->state_len + nb <= sizeof s->state);
        memcpy(s->state + s->state_len, v.data, nb);
        s->state_len += nb;
    }
    s->step = nde_optim_step_count(o);
    s->lr = nde_optim_lr(o);
    s->ts = *ts;
}

static void expect_unchanged(const snapshot *before, nde_params *p, nde_optim *o,
                             const nde_train_state *ts, const char *what)
{
    snapshot now;
    take(&now, p, o, ts);
    cr_assert_eq(memcmp(before, &now, sizeof now), 0, "%s: model changed by a failed load", what);
}

/* Corrupt a copy of `good` by replacing the first `from` with `to` (same length) and
 * expect the load to fail with `want` and a message containing `msg`. */
static void expect_rejected(const unsigned char *good, size_t len, const char *from,
                            const char *to, size_t cut, nde_status want, const char *msg,
                            nde_params *p, nde_optim *o, nde_train_state *ts)
{
    unsigned char *b = malloc(len);
    memcpy(b, good, len);
    if (from) {
        size_t fl = strlen(from);
        cr_assert_eq(fl, strlen(to));
        unsigned char *hit = NULL;
        for (size_t i = 8; i + fl <= len && !hit; i++)
            if (memcmp(b + i, from, fl) == 0) hit = b + i;
        cr_assert_not_null(hit, "'%s' not in the file", from);
        memcpy(hit, to, fl);
    }
    char path[128];
    scratch_path(path, sizeof path, "bad.safetensors");
    write_bytes(path, b, len - cut);
    free(b);
    snapshot before;
    take(&before, p, o, ts);
    const nde_status st = nde_checkpoint_load(path, p, o, ts);
    remove(path);
    cr_assert_eq(st, want, "%s -> %s / cut %zu: got %s (%s)", from ? from : "-", to ? to : "-",
                 cut, nde_status_str(st), nde_last_error());
    cr_assert(strstr(nde_last_error(), msg) != NULL, "message '%s' lacks '%s'", nde_last_error(),
              msg);
    expect_unchanged(&before, p, o, ts, msg);
}

Test(checkpoint, corrupted_truncated_and_mismatched_files_are_rejected)
{
    nde_params *p = make_model(8, 2);
    nde_optim_spec spec = nde_optim_defaults(NDE_OPT_ADAMW);
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&spec, p, &o), NDE_OK);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < 10; i++) nde_params_grad(p)[i] = cos((double)(i + k));
        cr_assert_eq(nde_optim_step(o), NDE_OK);
    }
    nde_train_state ts = {.step = 3};
    nde_rng_seed(&ts.rng, 9);
    char path[128];
    scratch_path(path, sizeof path, "good.safetensors");
    cr_assert_eq(nde_checkpoint_save(path, p, o, &ts), NDE_OK, "%s", nde_last_error());
    size_t len;
    unsigned char *good = read_bytes(path, &len);
    double saved_theta[10];
    memcpy(saved_theta, nde_params_theta(p), sizeof saved_theta);

    /* Move the live objects away from the saved values so a partial load would show. */
    for (size_t i = 0; i < 10; i++) nde_params_grad(p)[i] = 0.5;
    cr_assert_eq(nde_optim_step(o), NDE_OK);
    ts.step = 77;
    nde_rng_u64(&ts.rng);

    expect_rejected(good, len, NULL, NULL, len, NDE_ERR_FORMAT, "shorter than", p, o, &ts);
    expect_rejected(good, len, NULL, NULL, len - 5, NDE_ERR_FORMAT, "header length", p, o, &ts);
    expect_rejected(good, len, NULL, NULL, 1, NDE_ERR_FORMAT, "lie outside", p, o, &ts);
    expect_rejected(good, len, "{\"__", "[\"__", 0, NDE_ERR_FORMAT, "start with '{'", p, o, &ts);
    expect_rejected(good, len, "\"dtype\":\"F64\"", "\"dtype\"=\"F64\"", 0, NDE_ERR_FORMAT,
                    "not valid JSON", p, o, &ts);
    expect_rejected(good, len, "\"F64\"", "\"F65\"", 0, NDE_ERR_FORMAT, "unknown dtype 'F65'",
                    p, o, &ts);
    expect_rejected(good, len, "\"shape\":[8]", "\"shape\":[9]", 0, NDE_ERR_FORMAT, "needs 72 bytes",
                    p, o, &ts);
    expect_rejected(good, len, "\"shape\":[8]", "\"shape\":[-8", 0, NDE_ERR_FORMAT, "JSON", p, o, &ts);
    expect_rejected(good, len, "\"data_offsets\":[0,", "\"data_offsets\":[8,", 0, NDE_ERR_FORMAT,
                    "data_offsets", p, o, &ts);
    expect_rejected(good, len, "\"w\":", "\"v\":", 0, NDE_ERR_FORMAT, "missing tensor 'w'", p, o, &ts);
    expect_rejected(good, len, "optim.exp_avg.b\"", "optim.exp_avg.c\"", 0, NDE_ERR_FORMAT,
                    "missing tensor 'optim.exp_avg.b'", p, o, &ts);
    expect_rejected(good, len, "\"adamw\"", "\"adamx\"", 0, NDE_ERR_FORMAT, "optim.kind", p, o, &ts);
    expect_rejected(good, len, "\"train.rng.s\"", "\"train.rng.t\"", 0, NDE_ERR_FORMAT,
                    "train.rng.s", p, o, &ts);
    /* Flipping one byte in a header-length digit. */
    unsigned char *b = malloc(len);
    memcpy(b, good, len);
    b[7] = 0x40;
    write_bytes(path, b, len);
    free(b);
    cr_assert_eq(nde_checkpoint_load(path, p, o, &ts), NDE_ERR_FORMAT);

    /* A model of another shape, and an optimizer of another kind or state layout. */
    write_bytes(path, good, len);
    nde_params *p2 = make_model(9, 2);
    cr_assert_eq(nde_checkpoint_load(path, p2, NULL, NULL), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "tensor 'w' is F64 (8), expected F64 (9)") != NULL,
              "%s", nde_last_error());
    nde_params *p3 = make_model(8, 2);
    nde_optim_spec ams = spec;
    ams.amsgrad = 1;
    nde_optim *o3 = NULL;
    cr_assert_eq(nde_optim_create(&ams, p3, &o3), NDE_OK);
    cr_assert_eq(nde_checkpoint_load(path, p3, o3, NULL), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "optim.max_exp_avg_sq.w") != NULL, "%s", nde_last_error());
    nde_optim_destroy(&o3);
    nde_optim_spec adam = nde_optim_defaults(NDE_OPT_ADAM);
    cr_assert_eq(nde_optim_create(&adam, p3, &o3), NDE_OK);
    cr_assert_eq(nde_checkpoint_load(path, p3, o3, NULL), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "optim.kind is 'adamw', expected 'adam'") != NULL, "%s",
              nde_last_error());
    /* Params only: optimizer and train entries are skipped. */
    cr_assert_eq(nde_checkpoint_load(path, p3, NULL, NULL), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(memcmp(nde_params_theta(p3), saved_theta, sizeof saved_theta), 0);

    /* The good file still restores everything exactly. */
    cr_assert_eq(nde_checkpoint_load(path, p, o, &ts), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(ts.step, 3);
    cr_assert_eq(nde_optim_step_count(o), 3);
    nde_rng fresh;
    nde_rng_seed(&fresh, 9);
    cr_assert_eq(memcmp(ts.rng.s, fresh.s, sizeof fresh.s), 0);
    free(good);
    scratch_remove(path);
    nde_optim_destroy(&o3);
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
    nde_params_destroy(&p2);
    nde_params_destroy(&p3);
}

/* ---- resume: N steps straight == N/2, save, load in a new process, N/2 ------- */

enum { RESUME_NW = 600, RESUME_NB = 7, RESUME_STEPS = 10 };

typedef struct run {
    nde_params *p;
    nde_optim *o;
    nde_train_state ts;
    nde_schedule sched;
} run;

static void run_create(run *r, const nde_optim_spec *spec, uint64_t seed)
{
    r->p = make_model(RESUME_NW, RESUME_NB);
    cr_assert_eq(nde_optim_create(spec, r->p, &r->o), NDE_OK, "%s: %s",
                 nde_optim_kind_name(spec->kind), nde_last_error());
    r->ts.step = 0;
    nde_rng_seed(&r->ts.rng, seed);
    r->sched = nde_schedule_cosine(spec->lr, 0.1 * spec->lr, RESUME_STEPS, 2);
    r->sched.warmup_v0 = 0.2 * spec->lr;
}

static void run_destroy(run *r)
{
    nde_optim_destroy(&r->o);
    nde_params_destroy(&r->p);
}

/* One training step: gradient of Σ c_i θ_i²/2 plus RNG noise, lr from the schedule. */
static void run_step(run *r)
{
    const double *th = nde_params_theta(r->p);
    double *g = nde_params_grad(r->p);
    for (size_t i = 0; i < RESUME_NW + RESUME_NB; i++)
        g[i] = (1.0 + (double)(i % 5)) * th[i] + 0.05 * nde_rng_normal(&r->ts.rng);
    cr_assert_eq(nde_optim_set_lr(r->o, nde_schedule_value(&r->sched, r->ts.step)), NDE_OK);
    cr_assert_eq(nde_optim_step(r->o), NDE_OK, "%s", nde_last_error());
    r->ts.step++;
}

static void check_resume(const nde_optim_spec *spec, const char *label)
{
    run straight = {0};
    run_create(&straight, spec, 1234);
    for (int k = 0; k < RESUME_STEPS; k++) run_step(&straight);

    run first = {0};
    run_create(&first, spec, 1234);
    for (int k = 0; k < RESUME_STEPS / 2; k++) run_step(&first);
    char ck[128], out[128];
    scratch_path(ck, sizeof ck, "resume.safetensors");
    scratch_path(out, sizeof out, "resume.theta");
    cr_assert_eq(nde_checkpoint_save(ck, first.p, first.o, &first.ts), NDE_OK, "%s", nde_last_error());
    run_destroy(&first);

    /* The second half runs in a child process from objects created from scratch (other
     * seed, other θ) and restored from the file only. */
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        run second = {0};
        nde_optim_spec other = *spec;
        run_create(&second, &other, 999);
        for (size_t i = 0; i < nde_params_count(second.p); i++) nde_params_theta(second.p)[i] = 7.0;
        int ok = nde_checkpoint_load(ck, second.p, second.o, &second.ts) == NDE_OK;
        for (int k = 0; ok && k < RESUME_STEPS / 2; k++) run_step(&second);
        FILE *fp = ok ? fopen(out, "wb") : NULL;
        ok = fp && fwrite(nde_params_theta(second.p), sizeof(double), nde_params_count(second.p),
                          fp) == nde_params_count(second.p);
        if (fp) fclose(fp);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child failed", label);
    size_t len;
    unsigned char *theta = read_bytes(out, &len);
    cr_assert_eq(len, nde_params_count(straight.p) * sizeof(double));
    cr_assert_eq(memcmp(theta, nde_params_theta(straight.p), len), 0,
                 "%s: resumed parameters differ from the straight run", label);
    free(theta);
    remove(out);
    scratch_remove(ck);
    run_destroy(&straight);
}

static nde_optim_spec spec_for(nde_optim_kind kind, int bits)
{
    nde_optim_spec s = nde_optim_defaults(kind);
    s.lr = kind == NDE_OPT_LION ? 1e-3 : 1e-2;
    s.weight_decay = 0.05;
    s.momentum = kind == NDE_OPT_SGD || kind == NDE_OPT_RMSPROP ? 0.9 : 0.0;
    s.centered = kind == NDE_OPT_RMSPROP;
    s.amsgrad = kind == NDE_OPT_ADAM;
    s.state_bits = bits;
    s.block_size = 128;
    s.min_8bit_numel = 256;
    return s;
}

Test(checkpoint, resume_is_bit_exact_for_every_optimizer)
{
    for (int k = 0; k < NDE_OPT_KIND_COUNT; k++) {
        nde_optim_spec s = spec_for((nde_optim_kind)k, 32);
        check_resume(&s, nde_optim_kind_name((nde_optim_kind)k));
    }
    nde_optim_spec s = spec_for(NDE_OPT_LION, 32);
    s.lion_k = NDE_LION_K_L2;
    check_resume(&s, "lion-k l2");
    s = spec_for(NDE_OPT_ADAN, 32);
    s.adan_no_prox = 1;
    check_resume(&s, "adan no_prox");
    s = spec_for(NDE_OPT_ADAN, 32);
    s.max_grad_norm = 1.0;
    check_resume(&s, "adan max_grad_norm");
    s = spec_for(NDE_OPT_ADABELIEF, 32);
    s.fixed_decay = 1;
    check_resume(&s, "adabelief fixed_decay");
    s = spec_for(NDE_OPT_NADAM, 32);
    s.decoupled_wd = 1;
    check_resume(&s, "nadam decoupled_wd");
}

/* NAdam's optimizer-wide Π μ_i is stored as "optim.mu_product" (F64, (1)), restored
 * exactly, and required when loading into a NAdam optimizer. */
Test(checkpoint, nadam_mu_product_is_saved_restored_and_required)
{
    nde_params *p = make_model(8, 2);
    nde_optim_spec spec = nde_optim_defaults(NDE_OPT_NADAM);
    nde_optim *o = NULL;
    cr_assert_eq(nde_optim_create(&spec, p, &o), NDE_OK);
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < 10; i++) nde_params_grad(p)[i] = cos((double)(i + k));
        cr_assert_eq(nde_optim_step(o), NDE_OK);
    }
    nde_optim_state_view v;
    cr_assert_eq(nde_optim_state(o, nde_optim_n_state(o) - 1, &v), NDE_OK);
    cr_assert_str_eq(v.name, "optim.mu_product");
    const double saved = *(const double *)v.data;
    cr_assert(saved > 0.0 && saved < 1.0);
    nde_train_state ts = {.step = 4};
    nde_rng_seed(&ts.rng, 3);
    char path[128];
    scratch_path(path, sizeof path, "nadam.safetensors");
    cr_assert_eq(nde_checkpoint_save(path, p, o, &ts), NDE_OK, "%s", nde_last_error());
    nde_st_file *f = NULL;
    cr_assert_eq(nde_st_open(path, &f), NDE_OK, "%s", nde_last_error());
    const nde_st_tensor *t = nde_st_find(f, "optim.mu_product");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, NDE_ST_F64);
    cr_assert_eq(t->ndim, 1);
    cr_assert_eq(t->shape[0], 1);
    cr_assert_eq(memcmp(t->data, &saved, sizeof saved), 0);
    cr_assert_str_eq(nde_st_meta(f, "optim.kind"), "nadam");
    nde_st_close(&f);
    size_t len;
    unsigned char *good = read_bytes(path, &len);

    /* One more step moves Π; a file without it is rejected and changes nothing. */
    for (size_t i = 0; i < 10; i++) nde_params_grad(p)[i] = 0.5;
    cr_assert_eq(nde_optim_step(o), NDE_OK);
    cr_assert(*(const double *)v.data != saved);
    expect_rejected(good, len, "\"optim.mu_product\"", "\"optim.mu_produkt\"", 0, NDE_ERR_FORMAT,
                    "missing tensor 'optim.mu_product'", p, o, &ts);
    write_bytes(path, good, len);
    cr_assert_eq(nde_checkpoint_load(path, p, o, &ts), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(*(const double *)v.data, saved);
    cr_assert_eq(nde_optim_step_count(o), 4);
    /* Into another kind: the kind is checked by name; params alone load. */
    nde_optim_spec adamw = nde_optim_defaults(NDE_OPT_ADAMW);
    nde_optim *o2 = NULL;
    cr_assert_eq(nde_optim_create(&adamw, p, &o2), NDE_OK);
    cr_assert_eq(nde_checkpoint_load(path, p, o2, NULL), NDE_ERR_FORMAT);
    cr_assert(strstr(nde_last_error(), "optim.kind is 'nadam', expected 'adamw'") != NULL, "%s",
              nde_last_error());
    cr_assert_eq(nde_checkpoint_load(path, p, NULL, NULL), NDE_OK, "%s", nde_last_error());
    free(good);
    scratch_remove(path);
    nde_optim_destroy(&o2);
    nde_optim_destroy(&o);
    nde_params_destroy(&p);
}

Test(checkpoint, resume_is_bit_exact_for_8bit_states)
{
    const nde_optim_kind kinds[4] = {NDE_OPT_ADAM, NDE_OPT_ADAMW, NDE_OPT_LION, NDE_OPT_ADABELIEF};
    for (int k = 0; k < 4; k++) {
        nde_optim_spec s = spec_for(kinds[k], 8);
        check_resume(&s, nde_optim_kind_name(kinds[k]));
    }
}

/* Issue 12: a directory given as a checkpoint says so (it said "cannot allocate
 * 9223372036854775807 bytes"), and a checkpoint holding NaN or Inf in a parameter is
 * refused at load, naming the file, the tensor and the index, with the model untouched. */
Test(checkpoint, directory_and_non_finite_parameters_are_named)
{
    nde_params *p = make_model(8, 2);
    char path[128];
    scratch_path(path, sizeof path, "dir.safetensors");
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(nde_checkpoint_load(path, p, NULL, NULL), NDE_ERR_IO);
    cr_assert(strstr(nde_last_error(), path) && strstr(nde_last_error(), "is a directory"), "%s",
              nde_last_error());
    nde_st_file *f = NULL;
    cr_assert_eq(nde_st_open(path, &f), NDE_ERR_IO);
    cr_assert_null(f);
    cr_assert(strstr(nde_last_error(), "is a directory"), "%s", nde_last_error());
    rmdir(path);
    const double bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        nde_params *q = make_model(8, 2);
        nde_params_theta(q)[8 + k] = bad[k]; /* b[k] */
        scratch_path(path, sizeof path, "nonfinite.safetensors");
        cr_assert_eq(nde_checkpoint_save(path, q, NULL, NULL), NDE_OK, "%s", nde_last_error());
        double before[10];
        memcpy(before, nde_params_theta(p), sizeof before);
        cr_assert_eq(nde_checkpoint_load(path, p, NULL, NULL), NDE_ERR_NONFINITE);
        char want[64];
        snprintf(want, sizeof want, "tensor 'b' holds %g at index %d", bad[k], k);
        cr_assert(strstr(nde_last_error(), path) && strstr(nde_last_error(), want), "%s",
                  nde_last_error());
        cr_assert_arr_eq(before, nde_params_theta(p), sizeof before);
        scratch_remove(path);
        nde_params_destroy(&q);
    }
    nde_params_destroy(&p);
}

/* A write killed midway leaves "<path>.tmp.<pid>"; the next successful write removes
 * those of processes that no longer exist, and keeps a live process's (a concurrent
 * writer) and any other file. */
Test(safetensors, a_write_removes_temporaries_of_dead_writers_only)
{
    pid_t dead = fork();
    cr_assert_neq(dead, -1);
    if (dead == 0) _exit(0);
    int ws;
    cr_assert_eq(waitpid(dead, &ws, 0), dead); /* reaped: the pid names no process now */
    char path[128], stale[200], live[200], other[200];
    scratch_path(path, sizeof path, "stale.safetensors");
    snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)dead);
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    snprintf(other, sizeof other, "%s.tmp.x%ld", path, (long)dead);
    const char *const files[3] = {stale, live, other};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(files[k], "wb");
        cr_assert_not_null(f, "%s", files[k]);
        fputs("half a checkpoint", f);
        fclose(f);
    }
    const double v = 1.0;
    const size_t s1[1] = {1};
    nde_st_writer *w = NULL;
    cr_assert_eq(nde_st_writer_create(&w), NDE_OK);
    cr_assert_eq(nde_st_writer_add(w, "v", NDE_ST_F64, 1, s1, &v), NDE_OK);
    cr_assert_eq(nde_st_writer_write(w, path), NDE_OK, "%s", nde_last_error());
    nde_st_writer_destroy(&w);
    struct stat sb;
    cr_assert_neq(stat(stale, &sb), 0, "%s (a dead writer's) is left", stale);
    cr_assert_eq(stat(live, &sb), 0, "%s (a live process's) was removed", live);
    cr_assert_eq(stat(other, &sb), 0, "%s (not a temporary name) was removed", other);
    cr_assert_eq(stat(path, &sb), 0);
    remove(live);
    remove(other);
    remove(path);
}
