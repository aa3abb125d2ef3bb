/* MATLAB v5 (and v7, compressed) MAT-files through libmatio. Format: MathWorks, "MAT-File
 * Format" (a 128-byte text header, version 0x0100, then tagged data elements). matio
 * returns each variable with MATLAB's dimensions and column-major data, the same layout
 * the v7.3 reader gets from HDF5 with the dimension order reversed; both then go through
 * io_reverse_axes, so the same data saved either way give the same nde_array. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/dataset_internal.h"
#include "nde_config.h"

#if NDE_HAVE_MATIO
#include <matio.h>
#include <zlib.h>

/* matio reports through a log function; its default one prints, and aborts on errors.
 * nde keeps the last message (per thread) to put into its own. */
static _Thread_local char matio_msg[256];

static void matio_log(int level, char *message)
{
    (void)level;
    snprintf(matio_msg, sizeof matio_msg, "%s", message ? message : "");
}

static const char *matio_reason(void) { return matio_msg[0] ? matio_msg : "unreadable"; }

static const char *class_str(const matvar_t *v)
{
    if (v->isLogical) return "logical";
    switch (v->class_type) {
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_DOUBLE: return "double";
    case MAT_C_SINGLE: return "single";
    case MAT_C_INT8: return "int8";
    case MAT_C_UINT8: return "uint8";
    case MAT_C_INT16: return "int16";
    case MAT_C_UINT16: return "uint16";
    case MAT_C_INT32: return "int32";
    case MAT_C_UINT32: return "uint32";
    case MAT_C_INT64: return "int64";
    case MAT_C_UINT64: return "uint64";
    case MAT_C_FUNCTION: return "function";
    case MAT_C_OPAQUE: return "opaque";
    default: return "empty";
    }
}

/* Bytes per element of a numeric class as matio returns it (0: not numeric). */
static size_t class_bytes(enum matio_classes c)
{
    switch (c) {
    case MAT_C_DOUBLE: case MAT_C_INT64: case MAT_C_UINT64: return 8;
    case MAT_C_SINGLE: case MAT_C_INT32: case MAT_C_UINT32: return 4;
    case MAT_C_INT16: case MAT_C_UINT16: return 2;
    case MAT_C_INT8: case MAT_C_UINT8: return 1;
    default: return 0;
    }
}

static double element(enum matio_classes c, const unsigned char *p)
{
    switch (c) {
#define AS(T) do { T v; memcpy(&v, p, sizeof v); return (double)v; } while (0)
    case MAT_C_DOUBLE: AS(double);
    case MAT_C_SINGLE: AS(float);
    case MAT_C_INT8: AS(int8_t);
    case MAT_C_UINT8: AS(uint8_t);
    case MAT_C_INT16: AS(int16_t);
    case MAT_C_UINT16: AS(uint16_t);
    case MAT_C_INT32: AS(int32_t);
    case MAT_C_UINT32: AS(uint32_t);
    case MAT_C_INT64: AS(int64_t);
    case MAT_C_UINT64: AS(uint64_t);
#undef AS
    default: return 0.0;
    }
}

static uint32_t u32(const unsigned char *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Inflate `n` bytes of the file at its current position; *out ← the inflated size, head
 * ← its first 8 bytes. NDE_ERR_FORMAT unless the stream is complete within the n bytes. */
static nde_status inflate_count(FILE *fp, uint32_t n, size_t *out, unsigned char *head,
                                const char *path, int index)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return NDE_FAIL(NDE_ERR_NOMEM, "%s: cannot start zlib", path);
    unsigned char in[4096], sink[16384];
    size_t total = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END && n > 0) {
        size_t want = n < sizeof in ? n : sizeof in;
        size_t got = fread(in, 1, want, fp);
        if (got == 0) break;
        n -= (uint32_t)got;
        z.next_in = in;
        z.avail_in = (uInt)got;
        do {
            z.next_out = sink;
            z.avail_out = sizeof sink;
            rc = inflate(&z, Z_NO_FLUSH);
            size_t made = sizeof sink - z.avail_out;
            for (size_t k = 0; k < made && total + k < 8; k++) head[total + k] = sink[k];
            total += made;
        } while (rc == Z_OK && z.avail_out == 0);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: compressed variable %d is %s (corrupted)", path,
                        index, rc == Z_OK ? "cut short" : "not a valid zlib stream");
    *out = total;
    return NDE_OK;
}

/* The file's top-level data elements must lie inside it, and each compressed one must
 * inflate completely to the matrix element its tag announces: matio itself reads a cut
 * compressed variable as zeros. */
static nde_status check_elements(const char *path)
{
    FILE *fp;
    size_t file_size;
    NDE_TRY(io_open_read(path, "a .mat file", &fp, &file_size));
    unsigned char hdr[128];
    nde_status st = NDE_OK;
    if (fread(hdr, 1, sizeof hdr, fp) != sizeof hdr) {
        fclose(fp);
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: shorter than a MAT-file header", path);
    }
    const int big = hdr[126] == 'M';
    size_t off = 128;
    for (int index = 1; st == NDE_OK && file_size - off >= 8; index++) {
        unsigned char tag[8];
        if (fseek(fp, (long)off, SEEK_SET) != 0 || fread(tag, 1, 8, fp) != 8) {
            st = NDE_FAIL(NDE_ERR_IO, "%s: read error at byte %zu", path, off);
            break;
        }
        const uint32_t type = u32(tag, big), n = u32(tag + 4, big);
        if (n > file_size - off - 8) {
            st = NDE_FAIL(NDE_ERR_FORMAT, "%s: variable %d at byte %zu claims %u bytes, the file "
                          "holds %zu more (truncated)", path, index, off, (unsigned)n,
                          file_size - off - 8);
        } else if (type == 15) { /* miCOMPRESSED */
            size_t total = 0;
            unsigned char head[8] = {0};
            st = inflate_count(fp, n, &total, head, path, index);
            if (st == NDE_OK && (total < 8 || u32(head + 4, big) > total - 8))
                st = NDE_FAIL(NDE_ERR_FORMAT, "%s: compressed variable %d inflates to %zu bytes, "
                              "less than its header claims (corrupted)", path, index, total);
        }
        off += 8 + (size_t)n;
    }
    fclose(fp);
    return st;
}

static nde_status open_v5(const char *path, mat_t **mat, size_t *file_size)
{
    FILE *fp;
    NDE_TRY(io_open_read(path, "a .mat file", &fp, file_size));
    fclose(fp);
    NDE_TRY(check_elements(path));
    matio_msg[0] = '\0';
    Mat_LogInitFunc("nde", matio_log);
    *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!*mat)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: not a readable MATLAB v5 MAT-file (libmatio: %s)",
                        path, matio_reason());
    if (Mat_GetVersion(*mat) != MAT_FT_MAT5) {
        Mat_Close(*mat);
        *mat = NULL;
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: not a MATLAB v5 MAT-file", path);
    }
    return NDE_OK;
}

/* The variable's header, as matio describes it, checked before any data are read: a real
 * numeric (or logical) array of rank ≤ NDE_ARRAY_MAX_DIMS whose data fit the file. Each
 * element takes at least one byte of the file, or, compressed, at least 1/1100 byte
 * (deflate's maximum ratio is about 1032:1). */
static nde_status check_var(const matvar_t *v, const char *path, const char *name,
                            size_t file_size, size_t *numel)
{
    const char *cls = class_str(v);
    if (v->class_type == MAT_C_SPARSE)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' is a sparse matrix; save it full "
                        "(full(%s)) to read it", path, name, name);
    if (!class_bytes(v->class_type))
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' has MATLAB class '%s'; expected a "
                        "numeric or logical array", path, name, cls);
    if (v->isComplex)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' is complex (%s); expected a real "
                        "array", path, name, cls);
    if (v->rank < 0 || v->rank > NDE_ARRAY_MAX_DIMS || (v->rank && !v->dims))
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: variable '%s' has rank %d (at most %d supported)",
                        path, name, v->rank, NDE_ARRAY_MAX_DIMS);
    size_t n = 1;
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] && n > SIZE_MAX / v->dims[d])
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' claims too many elements", path,
                            name);
        n *= v->dims[d];
    }
    const size_t limit = v->compression == MAT_COMPRESSION_NONE
                             ? file_size
                             : (file_size > SIZE_MAX / 1100 ? SIZE_MAX : file_size * 1100);
    if (n > limit)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' claims %zu elements, more than a "
                        "%s file of %zu bytes can hold (corrupted)", path, name, n,
                        v->compression == MAT_COMPRESSION_NONE ? "" : "compressed", file_size);
    *numel = n;
    return NDE_OK;
}

nde_status io_mat5_read(const char *path, const char *name, nde_array *out)
{
    memset(out, 0, sizeof *out);
    mat_t *mat;
    size_t file_size;
    NDE_TRY(open_v5(path, &mat, &file_size));
    nde_status st = NDE_OK;
    size_t numel = 0;
    matvar_t *info = Mat_VarReadInfo(mat, name), *v = NULL;
    if (!info) {
        char have[200] = "";
        size_t len = 0;
        Mat_Rewind(mat);
        for (int k = 0; k < 10000; k++) {
            matvar_t *o = Mat_VarReadNextInfo(mat);
            if (!o) break;
            if (o->name && len + strlen(o->name) + 3 < sizeof have)
                len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", len ? ", " : "",
                                        o->name);
            Mat_VarFree(o);
        }
        st = NDE_FAIL(NDE_ERR_MISSING, "%s: no variable '%s' (the file has: %s)", path, name,
                      have[0] ? have : "nothing readable");
    }
    if (st == NDE_OK) st = check_var(info, path, name, file_size, &numel);
    if (st == NDE_OK) {
        Mat_Rewind(mat);
        matio_msg[0] = '\0';
        v = Mat_VarRead(mat, name);
        size_t want = numel * class_bytes(info->class_type);
        if (!v || v->class_type != info->class_type || v->rank != info->rank || v->isComplex)
            st = NDE_FAIL(NDE_ERR_FORMAT, "%s: reading variable '%s' failed (libmatio: %s)",
                          path, name, matio_reason());
        else if (want && (!v->data || v->nbytes < want))
            st = NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' holds %zu bytes of data, expected "
                          "%zu (corrupted)", path, name, v->data ? v->nbytes : 0, want);
        for (int d = 0; st == NDE_OK && d < v->rank; d++)
            if (v->dims[d] != info->dims[d])
                st = NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s' changed shape while read "
                              "(corrupted)", path, name);
    }
    if (st == NDE_OK) {
        /* column-major (d0, …, d_{k−1}) = row-major (d_{k−1}, …, d0): reverse below */
        size_t shape[NDE_ARRAY_MAX_DIMS];
        const int k = v->rank;
        for (int d = 0; d < k; d++) shape[d] = v->dims[k - 1 - d];
        nde_array raw;
        st = io_array_alloc(&raw, k, shape, path);
        if (st == NDE_OK) {
            const size_t es = class_bytes(v->class_type);
            const unsigned char *p = v->data;
            for (size_t i = 0; i < numel; i++) raw.data[i] = element(v->class_type, p + i * es);
            size_t mshape[NDE_ARRAY_MAX_DIMS];
            for (int d = 0; d < k; d++) mshape[d] = v->dims[d];
            st = io_array_alloc(out, k, mshape, path);
            if (st == NDE_OK) io_reverse_axes(k, raw.shape, raw.data, out->data);
            nde_array_free(&raw);
        }
    }
    if (v) Mat_VarFree(v);
    if (info) Mat_VarFree(info);
    Mat_Close(mat);
    return st;
}

nde_status io_mat5_list(const char *path, nde_mat_var **vars, size_t *count)
{
    *vars = NULL;
    *count = 0;
    mat_t *mat;
    size_t file_size;
    NDE_TRY(open_v5(path, &mat, &file_size));
    nde_status st = NDE_OK;
    size_t n = 0, cap = 0;
    nde_mat_var *list = NULL;
    for (;;) {
        matvar_t *v = Mat_VarReadNextInfo(mat);
        if (!v) break;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            nde_mat_var *grown = nde_alloc_array(ncap, sizeof *grown);
            if (!grown) {
                Mat_VarFree(v);
                st = NDE_ERR_NOMEM;
                break;
            }
            if (n) memcpy(grown, list, n * sizeof *list);
            nde_free(list);
            list = grown;
            cap = ncap;
        }
        nde_mat_var *e = &list[n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", v->name ? v->name : "");
        snprintf(e->mclass, sizeof e->mclass, "%s", class_str(v));
        e->is_complex = v->isComplex != 0;
        e->ndim = v->rank < 0 ? 0 : v->rank;
        for (int d = 0; d < e->ndim && d < NDE_ARRAY_MAX_DIMS && v->dims; d++)
            e->shape[d] = v->dims[d];
        Mat_VarFree(v);
    }
    Mat_Close(mat);
    if (st != NDE_OK) {
        nde_free(list);
        return st;
    }
    *vars = list;
    *count = n;
    return NDE_OK;
}

#else

nde_status io_mat5_read(const char *path, const char *name, nde_array *out)
{
    memset(out, 0, sizeof *out);
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: cannot read '%s': this is a MATLAB v5/v7 MAT-file "
                    "and nde was built without libmatio (install libmatio-dev and rebuild, or "
                    "save it with save(..., '-v7.3'))", path, name);
}

nde_status io_mat5_list(const char *path, nde_mat_var **vars, size_t *count)
{
    *vars = NULL;
    *count = 0;
    return NDE_FAIL(NDE_ERR_UNSUPPORTED, "%s: this is a MATLAB v5/v7 MAT-file and nde was "
                    "built without libmatio (install libmatio-dev and rebuild)", path);
}

#endif
