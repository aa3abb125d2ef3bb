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

static double element_value(enum matio_classes c, const unsigned char *p)
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

/* ---- structure check ---------------------------------------------------------------
 * libmatio trusts the sizes in a file: a cell claiming 4 billion elements makes it calloc
 * 32 GB while listing variables, and a cut compressed variable reads as zeros. Before
 * matio sees a file, nde walks every variable (MathWorks, "MAT-File Format", ch. 1):
 * each data element must lie inside its parent, dimensions must be non-negative, a
 * numeric array's data must hold numel elements of its stored type, cells and structs
 * must have room for one 8-byte tag per element they claim, and a compressed variable
 * must inflate completely to the matrix it announces. Objects (classes 3, 16, 17) and
 * unknown classes are refused. */

enum { MI_INT8 = 1, MI_INT32 = 5, MI_UINT32 = 6, MI_MATRIX = 14, MI_COMPRESSED = 15 };
enum { MAT5_MAX_DEPTH = 8 };

typedef struct walk {
    const char *path;
    int big;   /* big-endian file ("MI") */
    int index; /* top-level variable, for messages */
} walk;


static size_t mi_size(uint32_t type)
{
    switch (type) {
    case 1: case 2: return 1;          /* int8, uint8 */
    case 3: case 4: return 2;          /* int16, uint16 */
    case 5: case 6: case 7: return 4;  /* int32, uint32, single */
    case 9: case 12: case 13: return 8; /* double, int64, uint64 */
    case 16: return 1;                 /* utf8 */
    case 17: return 2;                 /* utf16 */
    case 18: return 4;                 /* utf32 */
    default: return 0;
    }
}

/* One data element at buf[*off] within len bytes: *type, *data, *n; *off moves past it
 * (and its padding to 8 bytes). 0 if it does not fit. */
static int element(const walk *w, const unsigned char *buf, size_t len, size_t *off,
                   uint32_t *type, const unsigned char **data, size_t *n)
{
    if (len - *off < 8) return 0;
    const unsigned char *p = buf + *off;
    const uint32_t first = u32(p, w->big);
    if (first >> 16) { /* small element: type and size in 4 bytes, data in the next 4 */
        *type = first & 0xffff;
        *n = first >> 16;
        if (*n > 4) return 0;
        *data = p + 4;
        *off += 8;
        return 1;
    }
    *type = first;
    *n = u32(p + 4, w->big);
    if (*n > len - *off - 8) return 0;
    *data = p + 8;
    size_t step = 8 + *n;
    step += (8 - step % 8) % 8;
    *off = step > len - *off ? len : *off + step;
    return 1;
}

static nde_status bad(const walk *w, const char *what)
{
    return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable %d: %s (corrupted MAT-file)", w->path,
                    w->index, what);
}

/* The body (len bytes) of an miMATRIX element. */
static nde_status check_matrix(const walk *w, const unsigned char *buf, size_t len, int depth)
{
    if (depth > MAT5_MAX_DEPTH) return bad(w, "cells or structs nested too deep");
    if (len == 0) return NDE_OK; /* an empty cell element */
    size_t off = 0, n, dn;
    uint32_t type, dtype;
    const unsigned char *d, *dims;
    if (!element(w, buf, len, &off, &type, &d, &n) || type != MI_UINT32 || n != 8)
        return bad(w, "array flags missing or malformed");
    const unsigned cls = u32(d, w->big) & 0xff, complex_ = (u32(d, w->big) >> 11) & 1;
    if (cls == 3 || cls == 16 || cls == 17)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable %d is a MATLAB object (class %u), which nde "
                        "does not read; save the arrays alone", w->path, w->index, cls);
    if (cls < 1 || cls > 15) return bad(w, "unknown array class");
    if (!element(w, buf, len, &off, &dtype, &dims, &dn) || dtype != MI_INT32 || dn % 4 ||
        dn < 8)
        return bad(w, "dimensions missing or malformed");
    size_t numel = 1;
    for (size_t k = 0; k < dn / 4; k++) {
        const uint32_t v = u32(dims + 4 * k, w->big);
        if (v > INT32_MAX) return bad(w, "negative dimension");
        if (v && numel > SIZE_MAX / 16 / v) return bad(w, "dimensions overflow");
        numel *= v;
    }
    if (!element(w, buf, len, &off, &type, &d, &n) || type != MI_INT8)
        return bad(w, "name missing or malformed");
    const size_t rest = len - off;
    switch (cls) {
    case 1: /* cell: numel matrices */
        if (numel > rest / 8) return bad(w, "cell claims more elements than it holds");
        for (size_t k = 0; k < numel; k++) {
            if (!element(w, buf, len, &off, &type, &d, &n) || type != MI_MATRIX)
                return bad(w, "cell element missing or not a matrix");
            NDE_TRY(check_matrix(w, d, n, depth + 1));
        }
        return NDE_OK;
    case 2: { /* struct: field name length, names, numel × nfields matrices */
        if (!element(w, buf, len, &off, &type, &d, &n) || type != MI_INT32 || n != 4)
            return bad(w, "struct field name length missing");
        const uint32_t flen = u32(d, w->big);
        if (!element(w, buf, len, &off, &type, &d, &n) || type != MI_INT8 || flen == 0 ||
            flen > 4096 || n % flen)
            return bad(w, "struct field names malformed");
        const size_t nfields = n / flen;
        if (nfields && numel > (len - off) / 8 / nfields)
            return bad(w, "struct claims more fields than it holds");
        for (size_t k = 0; k < numel * nfields; k++) {
            if (!element(w, buf, len, &off, &type, &d, &n) || type != MI_MATRIX)
                return bad(w, "struct field missing or not a matrix");
            NDE_TRY(check_matrix(w, d, n, depth + 1));
        }
        return NDE_OK;
    }
    case 5: /* sparse: row indices, column starts, values; nde refuses it after listing */
        return NDE_OK;
    default: /* char and numeric: real (and imaginary) parts of numel stored elements */
        for (unsigned part = 0; part <= complex_; part++) {
            if (!element(w, buf, len, &off, &type, &d, &n) || !mi_size(type))
                return bad(w, "data element missing or of an unknown type");
            if (n / mi_size(type) < numel)
                return bad(w, "data shorter than its dimensions claim");
        }
        return NDE_OK;
    }
}

/* The inflated miMATRIX of a compressed variable (n bytes at the file's current position)
 * into *out (nde_alloc'ed, *out_len bytes). At most `cap` bytes are inflated. */
static nde_status inflate_var(const walk *w, FILE *fp, uint32_t n, size_t cap,
                              unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return NDE_FAIL(NDE_ERR_NOMEM, "%s: cannot start zlib", w->path);
    unsigned char in[4096];
    size_t have = 0, size = 0;
    unsigned char *buf = NULL;
    int rc = Z_OK;
    nde_status st = NDE_OK;
    while (rc != Z_STREAM_END && n > 0 && st == NDE_OK) {
        const size_t got = fread(in, 1, n < sizeof in ? n : sizeof in, fp);
        if (got == 0) break;
        n -= (uint32_t)got;
        z.next_in = in;
        z.avail_in = (uInt)got;
        while (st == NDE_OK && (z.avail_in > 0 || have == size) && rc != Z_STREAM_END) {
            if (have == size) {
                if (size >= cap) {
                    st = bad(w, "compressed data inflate beyond any plausible size");
                    break;
                }
                size_t grown = size ? 2 * size : 65536;
                if (grown > cap) grown = cap;
                unsigned char *nb = nde_alloc(grown);
                if (!nb) {
                    st = NDE_ERR_NOMEM;
                    break;
                }
                if (have) memcpy(nb, buf, have);
                nde_free(buf);
                buf = nb;
                size = grown;
            }
            z.next_out = buf + have;
            z.avail_out = (uInt)(size - have < UINT32_MAX ? size - have : UINT32_MAX);
            const uInt before = z.avail_out;
            rc = inflate(&z, Z_NO_FLUSH);
            have += before - z.avail_out;
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
            if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
    }
    inflateEnd(&z);
    if (st == NDE_OK && rc != Z_STREAM_END)
        st = bad(w, rc == Z_OK || rc == Z_BUF_ERROR ? "compressed data cut short"
                                                    : "compressed data are not a valid zlib stream");
    if (st != NDE_OK) {
        nde_free(buf);
        return st;
    }
    *out = buf;
    *out_len = have;
    return NDE_OK;
}

/* The checks above over every top-level variable of the file. */
static nde_status check_structure(const char *path)
{
    FILE *fp;
    size_t file_size;
    NDE_TRY(io_open_read(path, "a .mat file", &fp, &file_size));
    unsigned char hdr[128];
    if (fread(hdr, 1, sizeof hdr, fp) != sizeof hdr) {
        fclose(fp);
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: shorter than a MAT-file header", path);
    }
    walk w = {.path = path, .big = hdr[126] == 'M', .index = 0};
    /* deflate expands at most about 1032:1 */
    const size_t cap = file_size > SIZE_MAX / 1100 ? SIZE_MAX : file_size * 1100;
    nde_status st = NDE_OK;
    size_t off = 128;
    while (st == NDE_OK && file_size - off >= 8) {
        w.index++;
        unsigned char tag[8];
        if (fseek(fp, (long)off, SEEK_SET) != 0 || fread(tag, 1, 8, fp) != 8) {
            st = NDE_FAIL(NDE_ERR_IO, "%s: read error at byte %zu", path, off);
            break;
        }
        const uint32_t type = u32(tag, w.big), n = u32(tag + 4, w.big);
        if (n > file_size - off - 8) {
            st = NDE_FAIL(NDE_ERR_FORMAT, "%s: variable %d at byte %zu claims %u bytes, the file "
                          "holds %zu more (truncated)", path, w.index, off, (unsigned)n,
                          file_size - off - 8);
            break;
        }
        unsigned char *body = NULL;
        size_t body_len = 0;
        if (type == MI_COMPRESSED) {
            st = inflate_var(&w, fp, n, cap, &body, &body_len);
        } else if (type == MI_MATRIX) {
            body = nde_alloc(n ? n : 1);
            if (!body) st = NDE_ERR_NOMEM;
            else if (fread(body, 1, n, fp) != n)
                st = NDE_FAIL(NDE_ERR_IO, "%s: read error at byte %zu", path, off);
            body_len = n;
        } else {
            st = NDE_FAIL(NDE_ERR_FORMAT, "%s: variable %d at byte %zu has data type %u, not a "
                          "matrix (corrupted MAT-file)", path, w.index, off, (unsigned)type);
        }
        if (st == NDE_OK && type == MI_COMPRESSED) {
            size_t o = 0, in_n;
            uint32_t in_type;
            const unsigned char *d;
            if (!element(&w, body, body_len, &o, &in_type, &d, &in_n) || in_type != MI_MATRIX)
                st = bad(&w, "compressed data do not hold a whole matrix");
            else
                st = check_matrix(&w, d, in_n, 0);
        } else if (st == NDE_OK) {
            st = check_matrix(&w, body, body_len, 0);
        }
        nde_free(body);
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
    NDE_TRY(check_structure(path));
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
            for (size_t i = 0; i < numel; i++) raw.data[i] = element_value(v->class_type, p + i * es);
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
