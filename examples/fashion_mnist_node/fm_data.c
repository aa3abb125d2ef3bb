/* Reads Fashion-MNIST's gzip'd IDX files (Xiao, Rasul & Vollgraf 2017). */
#include "fm_data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nde/idx.h"

static nde_status read_file(const char *dir, const char *split, const char *kind,
                            size_t max_count, nde_idx **out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-%s-ubyte.gz", dir, split, kind);
    nde_status st = nde_idx_read(path, max_count, out);
    struct stat sb;
    const char *why = stat(path, &sb) != 0 ? strerror(errno) : "missing";
    if (st == NDE_ERR_MISSING)
        return NDE_FAIL(NDE_ERR_MISSING,
                        "Fashion-MNIST file %s: %s: install the Debian package "
                        "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass "
                        "--data DIR holding %s-%s-ubyte.gz",
                        path, why, split, kind);
    return st;
}

nde_status fm_load(const char *dir, const char *split, size_t max_count, fm_split *out)
{
    memset(out, 0, sizeof *out);
    nde_idx *img = NULL, *lab = NULL;
    nde_status st = read_file(dir, split, "images-idx3", max_count, &img);
    if (st == NDE_OK) st = read_file(dir, split, "labels-idx1", max_count, &lab);
    if (st == NDE_OK && (img->type != NDE_IDX_U8 || img->ndim != 3 || img->dims[1] != 28 ||
                         img->dims[2] != 28 || lab->type != NDE_IDX_U8 || lab->ndim != 1 ||
                         lab->dims[0] != img->dims[0]))
        st = NDE_FAIL(NDE_ERR_FORMAT,
                      "Fashion-MNIST %s: want uint8 images (n, 28, 28) and labels (n), got %d-d "
                      "images of %u items and %u labels",
                      split, img->ndim, img->dims[0], lab->dims[0]);
    if (st == NDE_OK) {
        out->count = img->dims[0];
        out->images = nde_alloc_array(out->count * FM_PIXELS, sizeof *out->images);
        out->labels = nde_alloc_array(out->count, 1);
        if (!out->images || !out->labels) st = NDE_ERR_NOMEM;
    }
    if (st == NDE_OK) st = nde_idx_to_double(img, 0, out->count * FM_PIXELS, 1.0 / 255.0,
                                             out->images);
    if (st == NDE_OK) {
        memcpy(out->labels, lab->data, out->count);
        for (size_t i = 0; i < out->count && st == NDE_OK; i++)
            if (out->labels[i] >= FM_CLASSES)
                st = NDE_FAIL(NDE_ERR_FORMAT, "Fashion-MNIST %s: label %zu is %u", split, i,
                              out->labels[i]);
    }
    nde_idx_destroy(&img);
    nde_idx_destroy(&lab);
    if (st != NDE_OK) fm_free(out);
    return st;
}

void fm_free(fm_split *s)
{
    nde_free(s->images);
    nde_free(s->labels);
    memset(s, 0, sizeof *s);
}
