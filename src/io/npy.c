/* NumPy .npy files (format versions 1.0–3.0, numpy/lib/format.py and NEP 1): magic
 * "\x93NUMPY", version, little-endian header length (2 bytes in v1, 4 in v2/v3), an
 * ASCII Python dict {'descr': …, 'fortran_order': …, 'shape': (…), } padded with
 * spaces and '\n' so the data start at a multiple of 64 bytes, then the raw array. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "io/dataset_internal.h"

#define NPY_MAGIC "\x93NUMPY"

/* The quoted value after 'key': in the header dict, copied to val. */
static int dict_str(const char *hdr, const char *key, char *val, size_t cap)
{
    const char *p = strstr(hdr, key);
    if (!p) return 0;
    p = strchr(p + strlen(key), ':');
    if (!p) return 0;
    p += 1 + strspn(p + 1, " ");
    if (*p != '\'' && *p != '"') return 0;
    const char q = *p++;
    const char *e = strchr(p, q);
    if (!e || (size_t)(e - p) >= cap) return 0;
    memcpy(val, p, (size_t)(e - p));
    val[e - p] = '\0';
    return 1;
}

/* The True/False value after 'key': → 1/0; −1 when missing or malformed. */
static int dict_bool(const char *hdr, const char *key)
{
    const char *p = strstr(hdr, key);
    if (!p) return -1;
    p = strchr(p + strlen(key), ':');
    if (!p) return -1;
    p += 1 + strspn(p + 1, " ");
    if (strncmp(p, "True", 4) == 0) return 1;
    if (strncmp(p, "False", 5) == 0) return 0;
    return -1;
}

/* Shape tuple after 'shape': → ndim and shape; 0 on a malformed tuple. */
static int dict_shape(const char *hdr, int *ndim, size_t *shape)
{
    const char *p = strstr(hdr, "'shape'");
    if (!p) return 0;
    p = strchr(p, '(');
    if (!p) return 0;
    p++;
    *ndim = 0;
    for (;;) {
        p += strspn(p, " ");
        if (*p == ')') return 1;
        if (*p < '0' || *p > '9' || *ndim == NDE_ARRAY_MAX_DIMS) return 0;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || end == p) return 0;
        shape[(*ndim)++] = (size_t)v;
        p = end + strspn(end, " L");
        if (*p == ',') p++;
        else if (*p != ')') return 0;
    }
}

typedef struct npy_dtype {
    char kind;   /* 'f', 'i', 'u', 'b' */
    size_t size; /* bytes */
    int swap;    /* big-endian data */
} npy_dtype;

/* The whole descr string, e.g. '<f8': byte order, kind, and a size of one digit. */
static int parse_descr(const char *d, npy_dtype *t)
{
    if (strlen(d) != 3 || !strchr("<>|=", d[0]) || d[2] < '1' || d[2] > '8') return 0;
    t->kind = d[1];
    t->size = (size_t)(d[2] - '0');
    t->swap = d[0] == '>';
    switch (t->kind) {
    case 'f': return t->size == 4 || t->size == 8;
    case 'i':
    case 'u': return t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8;
    case 'b': return t->size == 1;
    default: return 0;
    }
}

static double convert(const unsigned char *src, const npy_dtype *t)
{
    unsigned char b[8];
    for (size_t i = 0; i < t->size; i++) b[i] = t->swap ? src[t->size - 1 - i] : src[i];
    switch (t->kind) {
    case 'f':
        if (t->size == 4) {
            float f;
            memcpy(&f, b, 4);
            return f;
        } else {
            double f;
            memcpy(&f, b, 8);
            return f;
        }
    case 'b': return b[0] ? 1.0 : 0.0;
    case 'i':
        switch (t->size) {
        case 1: { int8_t v; memcpy(&v, b, 1); return v; }
        case 2: { int16_t v; memcpy(&v, b, 2); return v; }
        case 4: { int32_t v; memcpy(&v, b, 4); return v; }
        default: { int64_t v; memcpy(&v, b, 8); return (double)v; }
        }
    default:
        switch (t->size) {
        case 1: return b[0];
        case 2: { uint16_t v; memcpy(&v, b, 2); return v; }
        case 4: { uint32_t v; memcpy(&v, b, 4); return v; }
        default: { uint64_t v; memcpy(&v, b, 8); return (double)v; }
        }
    }
}

static nde_status read_body(FILE *fp, size_t file_size, const char *path, int expect_ndim,
                            nde_array *out, const io_rows *rows)
{
    unsigned char pre[12];
    if (fread(pre, 1, 8, fp) != 8 || memcmp(pre, NPY_MAGIC, 6) != 0)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    const int major = pre[6];
    size_t hlen;
    if (major == 1) {
        if (fread(pre + 8, 1, 2, fp) != 2) return NDE_FAIL(NDE_ERR_FORMAT, "%s: truncated header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 8, 1, 4, fp) != 4) return NDE_FAIL(NDE_ERR_FORMAT, "%s: truncated header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: .npy format version %d.%d not supported", path, major,
                        pre[7]);
    }
    if (hlen > (1u << 20)) return NDE_FAIL(NDE_ERR_FORMAT, "%s: header of %zu bytes", path, hlen);
    char *hdr = nde_alloc(hlen + 1);
    if (!hdr) return NDE_ERR_NOMEM;
    nde_status st = NDE_OK;
    char descr[32] = "";
    npy_dtype t = {0};
    int ndim = 0, fortran = -1;
    size_t shape[NDE_ARRAY_MAX_DIMS];
    if (fread(hdr, 1, hlen, fp) != hlen) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: truncated header", path);
    } else if (!dict_str(hdr, "'descr'", descr, sizeof descr)) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: header has no 'descr': %.80s", path, hdr);
    } else if (!parse_descr(descr, &t)) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: dtype '%s' is not supported (bool, int, uint, "
                      "float32/64)", path, descr);
    } else if ((fortran = dict_bool(hdr, "'fortran_order'")) < 0) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: header has no valid 'fortran_order'", path);
    } else if (!dict_shape(hdr, &ndim, shape)) {
        st = NDE_FAIL(NDE_ERR_FORMAT, "%s: malformed or too long 'shape' in header: %.80s", path,
                      hdr);
    }
    nde_free(hdr);
    NDE_TRY(st);
    NDE_TRY(io_check_rank(ndim, expect_ndim, path, "array"));
    /* The data must be exactly numel × itemsize bytes: compared before allocating, so a
     * header claiming a huge shape in a small file costs nothing. */
    size_t numel = 1, need = 0;
    int overflow = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] && numel > SIZE_MAX / t.size / shape[d]) overflow = 1;
        else numel *= shape[d];
    }
    if (!overflow) need = numel * t.size;
    const long here = ftell(fp);
    const size_t have = here >= 0 && (size_t)here <= file_size ? file_size - (size_t)here : 0;
    if (overflow || have != need) {
        char dims[160] = "";
        size_t len = 0;
        for (int d = 0; d < ndim && len < sizeof dims; d++) {
            int w = snprintf(dims + len, sizeof dims - len, d ? ", %zu" : "%zu", shape[d]);
            if (w < 0) break;
            len += (size_t)w;
        }
        if (overflow)
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: header claims shape (%s) of '%s': too large", path,
                            dims, descr);
        return NDE_FAIL(NDE_ERR_FORMAT,
                        "%s: header claims shape (%s) of '%s' = %zu bytes of data, but the file "
                        "holds %zu (%s)", path, dims, descr, need, have,
                        have < need ? "truncated" : "trailing bytes");
    }
    if (rows && ndim == 0)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: a scalar array has no rows", path);
    if (rows && (rows->first > shape[0] || rows->count > shape[0] - rows->first))
        return NDE_FAIL(NDE_ERR_ARG, "%s: rows %zu..%zu of an array of %zu", path, rows->first,
                        rows->first + rows->count, shape[0]);
    if (rows && rows->count == 0) { /* the shape alone */
        memset(out, 0, sizeof *out);
        out->ndim = ndim;
        for (int d = 0; d < ndim; d++) out->shape[d] = shape[d];
        return NDE_OK;
    }
    size_t skip = 0; /* C order: the rows are contiguous; seek to the first and read them */
    if (rows && !fortran) {
        const size_t row = shape[0] ? numel / shape[0] : 0;
        skip = rows->first * row;
        shape[0] = rows->count;
        numel = rows->count * row;
        if (skip && fseek(fp, (long)(skip * t.size), SEEK_CUR) != 0)
            return NDE_FAIL(NDE_ERR_IO, "%s: cannot seek to row %zu", path, rows->first);
    }
    size_t fshape[NDE_ARRAY_MAX_DIMS];
    for (int d = 0; d < ndim; d++) fshape[d] = fortran ? shape[ndim - 1 - d] : shape[d];
    nde_array raw;
    NDE_TRY(io_array_alloc(&raw, ndim, fshape, path));
    unsigned char buf[4096];
    const size_t per = sizeof buf / t.size;
    for (size_t k = 0; k < raw.numel && st == NDE_OK;) {
        const size_t want = raw.numel - k < per ? raw.numel - k : per;
        const size_t got = fread(buf, t.size, want, fp);
        for (size_t i = 0; i < got; i++) raw.data[k + i] = convert(buf + i * t.size, &t);
        if (got < want)
            st = NDE_FAIL(NDE_ERR_FORMAT, "%s: data truncated: %zu of %zu elements of '%s'", path,
                          k + got, raw.numel, descr);
        k += got;
    }
    if (st == NDE_OK && fortran) {
        st = io_array_alloc(out, ndim, shape, path);
        if (st == NDE_OK) io_reverse_axes(ndim, fshape, raw.data, out->data);
        nde_array_free(&raw);
        /* Fortran order: a row is strided through the file; read whole, then cut */
        if (st == NDE_OK && rows) {
            const size_t row = shape[0] ? out->numel / shape[0] : 0;
            memmove(out->data, out->data + rows->first * row, rows->count * row * sizeof *out->data);
            out->shape[0] = rows->count;
            out->numel = rows->count * row;
        }
    } else {
        *out = raw;
    }
    if (st == NDE_OK) st = io_check_finite(out, path, "array");
    if (st != NDE_OK) nde_array_free(out);
    return st;
}

nde_status nde_npy_read(const char *path, int expect_ndim, nde_array *out)
{
    if (!path || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_npy_read: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *fp;
    size_t size;
    NDE_TRY(io_open_read(path, "a .npy file", &fp, &size));
    nde_status st = read_body(fp, size, path, expect_ndim, out, NULL);
    fclose(fp);
    return st;
}

nde_status io_npy_read_sel(const char *path, int expect_ndim, nde_array *out, const io_rows *rows)
{
    memset(out, 0, sizeof *out);
    FILE *fp;
    size_t size;
    NDE_TRY(io_open_read(path, "a .npy file", &fp, &size));
    nde_status st = read_body(fp, size, path, expect_ndim, out, rows);
    fclose(fp);
    return st;
}

nde_status nde_npy_write(const char *path, int ndim, const size_t *shape, const double *data)
{
    if (!path || (ndim && !shape) || !data) return NDE_FAIL(NDE_ERR_ARG, "nde_npy_write: NULL argument");
    if (ndim < 0 || ndim > NDE_ARRAY_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_SHAPE, "%s: rank %d outside [0, %d]", path, ndim, NDE_ARRAY_MAX_DIMS);
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%zu%s", shape[d],
                        ndim == 1 ? "," : (d + 1 < ndim ? ", " : ""));
        numel *= shape[d];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* pad with spaces so that 10 + header length is a multiple of 64, ending in '\n' */
    size_t hlen = ((size_t)len + 1 + 10 + 63) / 64 * 64 - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    char hdr[320];
    memset(hdr, ' ', hlen);
    memcpy(hdr, dict, (size_t)len);
    hdr[hlen - 1] = '\n';
    FILE *fp = nde_fault_fopen(path, "wb");
    if (!fp) return NDE_FAIL(NDE_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    int ok = nde_fault_fwrite(pre, 1, 10, fp) == 10 && nde_fault_fwrite(hdr, 1, hlen, fp) == hlen;
    for (size_t k = 0; ok && k < numel; k++) {
        unsigned char b[8];
        uint64_t bits;
        memcpy(&bits, data + k, 8);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(bits >> (8 * i)); /* little-endian */
        ok = nde_fault_fwrite(b, 1, 8, fp) == 8;
    }
    if (fclose(fp) != 0 || !ok) return NDE_FAIL(NDE_ERR_IO, "%s: writing failed", path);
    return NDE_OK;
}
