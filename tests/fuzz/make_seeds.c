/* Writes the generated seed files of the fuzz corpora (scripts/fuzz seeds):
 *   make_seeds CORPUS_DIR
 * with nde's own writers: safetensors files (every dtype, scalar, metadata), checkpoints
 * of the checkpoint harness's model (fuzz_model.h) with each optimizer, .npy, IDX plain
 * and gzip, and HDF5 and MATLAB v7.3 files holding "a" and "u". The committed test files
 * (tests/data/npy, tests/data/mat, examples/configs) are copied by the script. */
#include <stdio.h>
#include <string.h>

#include "fuzz_model.h"

static char dir[1024];

static const char *at(const char *target, const char *name)
{
    static char path[2048];
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    return path;
}

#define CHECK(x)                                                                   \
    do {                                                                           \
        if ((x) != NDE_OK) {                                                       \
            fprintf(stderr, "make_seeds: %s: %s\n", #x, nde_last_error());         \
            return 1;                                                              \
        }                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    const double v[12] = {0.5, -1.25, 3.0, 4.5, -0.0, 1e-3, 2.0, 7.0, -8.0, 9.5, 10.0, 11.0};

    /* safetensors: every dtype, a scalar, an empty tensor, metadata */
    nde_st_writer *w;
    CHECK(nde_st_writer_create(&w));
    const size_t s23[2] = {2, 3}, s0[1] = {0}, s4[1] = {4};
    unsigned char bytes[96];
    for (size_t k = 0; k < sizeof bytes; k++) bytes[k] = (unsigned char)(k * 37u);
    CHECK(nde_st_writer_add(w, "f64", NDE_ST_F64, 2, s23, v));
    CHECK(nde_st_writer_add(w, "scalar", NDE_ST_F64, 0, NULL, v));
    CHECK(nde_st_writer_add(w, "empty", NDE_ST_F32, 1, s0, bytes));
    for (int d = 0; d <= NDE_ST_F64; d++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", d);
        if (nde_st_dtype_size((nde_st_dtype)d)) CHECK(nde_st_writer_add(w, name, (nde_st_dtype)d, 1, s4, bytes));
    }
    CHECK(nde_st_writer_meta(w, "format", "pt"));
    CHECK(nde_st_writer_meta(w, "nde.step", "12"));
    CHECK(nde_st_writer_write(w, at("safetensors", "dtypes.safetensors")));
    nde_st_writer_destroy(&w);
    CHECK(nde_st_writer_create(&w));
    CHECK(nde_st_writer_write(w, at("safetensors", "empty.safetensors")));
    nde_st_writer_destroy(&w);

    /* checkpoints of the harness's model, one per optimizer, with a train state */
    for (int which = 0; which < FUZZ_OPT_COUNT; which++) {
        nde_params *p;
        nde_optim *opt;
        CHECK(fuzz_model_create(which, &p, &opt));
        double *th = nde_params_theta(p);
        for (size_t k = 0; k < nde_params_count(p); k++) th[k] = 0.1 * (double)k - 0.5;
        nde_train_state ts = {.step = 3};
        nde_rng_seed(&ts.rng, 7);
        if (opt) {
            double *g = nde_params_grad(p);
            for (size_t k = 0; k < nde_params_count(p); k++) g[k] = 0.01 * (double)k;
            CHECK(nde_optim_step(opt));
        }
        char name[64];
        snprintf(name, sizeof name, "opt%d.safetensors", which);
        if (which == FUZZ_OPT_ADAM8) {
            double hist[3] = {1, 2, 3};
            int64_t order[5] = {4, 3, 2, 1, 0};
            nde_checkpoint_extra extra[2] = {
                {.name = "train.hist", .dtype = NDE_ST_F64, .ndim = 1, .shape = {3, 0}, .data = hist},
                {.name = "train.order", .dtype = NDE_ST_I64, .ndim = 2, .shape = {1, 5}, .data = order},
            };
            CHECK(nde_checkpoint_save_extra(at("checkpoint", name), p, opt, &ts, extra, 2));
        } else {
            CHECK(nde_checkpoint_save(at("checkpoint", name), p, opt, which ? &ts : NULL));
        }
        nde_optim_destroy(&opt);
        nde_params_destroy(&p);
    }

    /* .npy */
    const size_t s3[1] = {3}, s223[3] = {2, 2, 3};
    CHECK(nde_npy_write(at("npy", "f8_2x3.npy"), 2, s23, v));
    CHECK(nde_npy_write(at("npy", "f8_3.npy"), 1, s3, v));
    CHECK(nde_npy_write(at("npy", "f8_2x2x3.npy"), 3, s223, v));
    CHECK(nde_npy_write(at("npy", "f8_scalar.npy"), 0, NULL, v));

    /* IDX: images u8, labels, floats; plain and gzip */
    const uint32_t d3[3] = {2, 2, 3}, d1[1] = {5};
    CHECK(nde_idx_write(at("idx", "u8_2x2x3"), NDE_IDX_U8, 3, d3, bytes, 0));
    CHECK(nde_idx_write(at("idx", "u8_2x2x3.gz"), NDE_IDX_U8, 3, d3, bytes, 1));
    CHECK(nde_idx_write(at("idx", "labels.gz"), NDE_IDX_U8, 1, d1, bytes, 1));
    CHECK(nde_idx_write(at("idx", "i16_5"), NDE_IDX_I16, 1, d1, bytes, 0));
    CHECK(nde_idx_write(at("idx", "i32_5"), NDE_IDX_I32, 1, d1, bytes, 0));
    CHECK(nde_idx_write(at("idx", "f32_5.gz"), NDE_IDX_F32, 1, d1, bytes, 1));
    CHECK(nde_idx_write(at("idx", "f64_2x2x3"), NDE_IDX_F64, 3, d3, v, 0));

    /* HDF5 and MATLAB v7.3 holding a (2, 3) and u (3) */
    CHECK(nde_h5_write(at("dataset", "au.h5"), "a", 2, s23, v, 0));
    CHECK(nde_h5_write(at("dataset", "au.h5"), "u", 1, s3, v, 1));
    CHECK(nde_h5_write(at("dataset", "group.h5"), "g/a", 3, s223, v, 0));
    CHECK(nde_mat_write(at("dataset", "au_v73.mat"), "a", 2, s23, v, 0));
    CHECK(nde_mat_write(at("dataset", "au_v73.mat"), "u", 3, s223, v, 1));
    return 0;
}
