/* IDX reader and writer through zlib (gzread reads gzip and plain files alike). */
#include "nde/idx.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>

static size_t type_size(int type)
{
    switch (type) {
    case NDE_IDX_U8:
    case NDE_IDX_I8: return 1;
    case NDE_IDX_I16: return 2;
    case NDE_IDX_I32:
    case NDE_IDX_F32: return 4;
    case NDE_IDX_F64: return 8;
    default: return 0;
    }
}

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Big-endian file order <-> host order, in place. */
static void swap_elems(unsigned char *p, size_t count, size_t es)
{
    if (es == 1 || !host_is_little()) return;
    for (size_t i = 0; i < count; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Read exactly len bytes (gzread takes an unsigned int length). 1 on success. */
static int read_all(gzFile g, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int got = gzread(g, p, chunk);
        if (got <= 0) return 0;
        p += got;
        len -= (size_t)got;
    }
    return 1;
}

static nde_status fail_read(gzFile g, const char *path, const char *what)
{
    int errnum = 0;
    const char *msg = gzerror(g, &errnum);
    nde_status st = errnum == Z_ERRNO || (errnum != Z_OK && errnum != Z_BUF_ERROR)
                        ? NDE_ERR_IO
                        : NDE_ERR_FORMAT;
    return NDE_FAIL(st, "%s: %s (%s)", path, what, errnum == Z_OK ? "unexpected end of file" : msg);
}

/* *data ← the next `claim` bytes of g. The buffer grows by doubling as data arrive (from
 * 1 MiB), so a header claiming gigabytes in a small or gzip file costs at most twice the
 * bytes really there, and a short file is reported with the count it holds. */
static nde_status read_claimed(gzFile g, const char *path, size_t claim, void **data)
{
    size_t cap = claim < ((size_t)1 << 20) ? claim : ((size_t)1 << 20), have = 0;
    unsigned char *buf = nde_alloc(cap ? cap : 1);
    if (!buf) return NDE_ERR_NOMEM;
    for (;;) {
        while (have < cap) {
            const size_t want = cap - have;
            const int got = gzread(g, buf + have, want > (1u << 30) ? (1u << 30) : (unsigned)want);
            if (got <= 0) break;
            have += (size_t)got;
        }
        if (have == claim) break;
        if (have < cap) {
            nde_free(buf);
            int errnum;
            gzerror(g, &errnum);
            if (errnum != Z_OK && errnum != Z_BUF_ERROR)
                return fail_read(g, path, "cannot read the IDX data");
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: the IDX header claims %zu bytes of data, the "
                            "file holds %zu (truncated)", path, claim, have);
        }
        const size_t grown = cap > claim / 2 ? claim : 2 * cap;
        unsigned char *next = nde_alloc(grown);
        if (!next) {
            nde_free(buf);
            return NDE_ERR_NOMEM;
        }
        memcpy(next, buf, have);
        nde_free(buf);
        buf = next;
        cap = grown;
    }
    *data = buf;
    return NDE_OK;
}

static nde_status read_into(gzFile g, const char *path, size_t max_items, nde_idx *x)
{
    unsigned char head[4];
    if (!read_all(g, head, 4)) return fail_read(g, path, "cannot read the IDX magic");
    if (head[0] != 0 || head[1] != 0 || type_size(head[2]) == 0)
        return NDE_FAIL(NDE_ERR_FORMAT,
                        "%s: not an IDX file (magic %02x %02x %02x %02x; want 00 00 <type "
                        "08/09/0b/0c/0d/0e> <ndim>)",
                        path, head[0], head[1], head[2], head[3]);
    if (head[3] == 0 || head[3] > NDE_IDX_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: IDX ndim %d outside [1, %d]", path, head[3],
                        NDE_IDX_MAX_DIMS);
    x->type = (nde_idx_type)head[2];
    x->ndim = head[3];
    x->elem_size = type_size(head[2]);
    unsigned char db[4 * NDE_IDX_MAX_DIMS];
    if (!read_all(g, db, 4 * (size_t)x->ndim))
        return fail_read(g, path, "cannot read the IDX dimensions");
    size_t count = 1;
    for (int d = 0; d < x->ndim; d++) {
        const unsigned char *b = db + 4 * d;
        x->dims[d] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (x->dims[d] == 0)
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: IDX dimension %d is 0", path, d);
        if (d == 0 && max_items > 0 && max_items < x->dims[0]) x->dims[0] = (uint32_t)max_items;
        if (count > SIZE_MAX / x->elem_size / x->dims[d])
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: IDX size overflows", path);
        count *= x->dims[d];
    }
    x->count = count;
    NDE_TRY(read_claimed(g, path, count * x->elem_size, &x->data));
    if (max_items == 0) {
        unsigned char extra;
        if (gzread(g, &extra, 1) != 0)
            return NDE_FAIL(NDE_ERR_FORMAT, "%s: trailing bytes after %zu IDX elements", path,
                            count);
    }
    swap_elems(x->data, count, x->elem_size);
    return NDE_OK;
}

nde_status nde_idx_read(const char *path, size_t max_items, nde_idx **out)
{
    if (!path || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_idx_read: NULL argument");
    *out = NULL;
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g) {
        if (errno == ENOENT) return NDE_FAIL(NDE_ERR_MISSING, "%s: no such file", path);
        return NDE_FAIL(NDE_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    }
    nde_idx *x = nde_alloc(sizeof *x);
    if (!x) {
        gzclose(g);
        return NDE_ERR_NOMEM;
    }
    nde_status st = read_into(g, path, max_items, x);
    gzclose(g);
    if (st != NDE_OK) {
        nde_idx_destroy(&x);
        return st;
    }
    *out = x;
    return NDE_OK;
}

void nde_idx_destroy(nde_idx **idx)
{
    if (!idx || !*idx) return;
    nde_free((*idx)->data);
    nde_free(*idx);
    *idx = NULL;
}

nde_status nde_idx_to_double(const nde_idx *idx, size_t first, size_t n, double scale,
                             double *out)
{
    if (!idx || !out) return NDE_FAIL(NDE_ERR_ARG, "nde_idx_to_double: NULL argument");
    if (first > idx->count || n > idx->count - first)
        return NDE_FAIL(NDE_ERR_ARG, "nde_idx_to_double: elements [%zu, %zu) outside %zu", first,
                        first + n, idx->count);
    const unsigned char *p = (const unsigned char *)idx->data + first * idx->elem_size;
    for (size_t i = 0; i < n; i++, p += idx->elem_size) {
        double v;
        switch (idx->type) {
        case NDE_IDX_U8: v = *p; break;
        case NDE_IDX_I8: v = (signed char)*p; break;
        case NDE_IDX_I16: { int16_t t; memcpy(&t, p, 2); v = t; break; }
        case NDE_IDX_I32: { int32_t t; memcpy(&t, p, 4); v = t; break; }
        case NDE_IDX_F32: { float t; memcpy(&t, p, 4); v = t; break; }
        default: { double t; memcpy(&t, p, 8); v = t; break; }
        }
        out[i] = scale * v;
    }
    return NDE_OK;
}

nde_status nde_idx_write(const char *path, nde_idx_type type, int ndim, const uint32_t *dims,
                         const void *data, int gzip)
{
    if (!path || !dims || !data) return NDE_FAIL(NDE_ERR_ARG, "nde_idx_write: NULL argument");
    size_t es = type_size(type);
    if (es == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_idx_write: unknown IDX type 0x%02x", (int)type);
    if (ndim < 1 || ndim > NDE_IDX_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_ARG, "nde_idx_write: ndim %d outside [1, %d]", ndim,
                        NDE_IDX_MAX_DIMS);
    size_t count = 1;
    unsigned char head[4 + 4 * NDE_IDX_MAX_DIMS] = {0, 0, (unsigned char)type,
                                                    (unsigned char)ndim};
    for (int d = 0; d < ndim; d++) {
        if (dims[d] == 0) return NDE_FAIL(NDE_ERR_ARG, "nde_idx_write: dimension %d is 0", d);
        count *= dims[d];
        for (int b = 0; b < 4; b++) head[4 + 4 * d + b] = (unsigned char)(dims[d] >> (24 - 8 * b));
    }
    gzFile g = gzopen(path, gzip ? "wb" : "wbT");
    if (!g) return NDE_FAIL(NDE_ERR_IO, "%s: cannot create (%s)", path, strerror(errno));
    int ok = gzwrite(g, head, 4 + 4 * (unsigned)ndim) == (int)(4 + 4 * ndim);
    unsigned char buf[8];
    const unsigned char *p = data;
    for (size_t i = 0; ok && i < count; i++, p += es) {
        memcpy(buf, p, es);
        swap_elems(buf, 1, es);
        ok = gzwrite(g, buf, (unsigned)es) == (int)es;
    }
    if (gzclose(g) != Z_OK || !ok) return NDE_FAIL(NDE_ERR_IO, "%s: write failed", path);
    return NDE_OK;
}
