/* A string attribute of an HDF5 object, read from the object header's bytes by nde itself.
 *
 * Why not H5Aexists/H5Aread: libhdf5 1.10.8 decodes attribute messages without checking
 * them against the message they sit in. Coverage-guided fuzzing found a corrupted
 * attribute that makes H5Aexists copy from a wild heap address (docs/reliability.md,
 * "Fuzzing", finding 6), and the fuzzer found it again in CI. nde reads one attribute,
 * MATLAB_class, so it walks the object header and decodes that attribute itself, every
 * field checked against the bytes that hold it (HDF5 File Format Specification 2.0,
 * sections IV.A.1 "Data Object Headers" and IV.A.2 messages 0x0001, 0x0003, 0x000C,
 * 0x0010). Byte order is little-endian throughout.
 *
 * Attributes in dense storage (a fractal heap, where libhdf5 moves them once an object has
 * more than 8) and attribute messages kept in the shared-message heap are not read: the
 * attribute counts as absent. MATLAB writes one or two attributes per variable. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/dataset_internal.h"

enum {
    MSG_ATTRIBUTE = 0x000C,
    MSG_CONTINUATION = 0x0010,
    MAX_CHUNKS = 64,            /* a header is one chunk, plus one per continuation */
    MAX_CHUNK_BYTES = 1 << 20,  /* messages are at most 64 KiB; chunks hold a few */
};

typedef struct ohdr_walk {
    FILE *fp;
    size_t file_size;
    uint64_t base;              /* where address 0 is in the file (the user block's size) */
    unsigned sizeof_addr, sizeof_size;
    const char *path, *name;    /* for messages */
    int version;                /* 1 or 2 */
    int track_order;            /* v2: messages carry a 2-byte creation order */
    uint64_t next[MAX_CHUNKS][2]; /* continuation chunks still to read (address, length),
                                   * in any order: a stack */
    int n_next, n_read;
    const char *attr;           /* the attribute looked for */
    char *out;
    size_t out_len;
    int found;
    unsigned char *buf;         /* the chunk being walked */
} ohdr_walk;

/* NDE_ERR_FORMAT for what was found at address addr (byte base + addr of the file) */
static nde_status corrupt(const ohdr_walk *w, const char *what, uint64_t addr)
{
    return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s': object header corrupted (%s, at byte "
                    "%llu of the file)", w->path, w->name, what,
                    (unsigned long long)(w->base + addr));
}

/* w->buf ← len bytes at address addr; NDE_ERR_FORMAT unless they lie inside the file. */
static nde_status read_bytes(ohdr_walk *w, uint64_t addr, uint64_t len)
{
    if (len > MAX_CHUNK_BYTES)
        return corrupt(w, "a chunk of more than 1 MiB", addr);
    if (w->base > w->file_size || addr > w->file_size - w->base ||
        len > w->file_size - w->base - addr)
        return corrupt(w, "a chunk outside the file", addr);
    if (fseek(w->fp, (long)(w->base + addr), SEEK_SET) != 0 ||
        fread(w->buf, 1, (size_t)len, w->fp) != (size_t)len)
        return NDE_FAIL(NDE_ERR_IO, "%s: variable '%s': reading its object header failed",
                        w->path, w->name);
    return NDE_OK;
}

/* a field of size n at *p within [.., end): its value, and *p moves past it; *ok ← 0 if
 * the field does not fit */
static uint64_t take(const unsigned char **p, const unsigned char *end, unsigned n, int *ok)
{
    if (!*ok || (size_t)(end - *p) < n) {
        *ok = 0;
        return 0;
    }
    const uint64_t v = io_le(*p, n);
    *p += n;
    return v;
}

/* The number of elements a dataspace message describes; -1 if it does not fit in n bytes. */
static int64_t dataspace_points(const ohdr_walk *w, const unsigned char *d, size_t n)
{
    if (n < 4) return -1;
    const unsigned version = d[0], rank = d[1], flags = d[2];
    const unsigned char *p = d + (version == 1 ? 8 : 4), *end = d + n;
    if ((version != 1 && version != 2) || rank > 32 || p > end) return -1;
    if (version == 2 && d[3] == 2) return 0; /* a null dataspace */
    int ok = 1;
    uint64_t points = 1;
    for (unsigned k = 0; k < rank; k++) {
        const uint64_t dim = take(&p, end, w->sizeof_size, &ok);
        points = dim && points > INT64_MAX / dim ? (uint64_t)INT64_MAX : points * dim;
    }
    if (flags & 1) /* maximum dimensions follow */
        for (unsigned k = 0; k < rank; k++) take(&p, end, w->sizeof_size, &ok);
    return ok ? (int64_t)points : -1;
}

/* An attribute message of n bytes at d (address at): when it is w->attr, its value into
 * w->out. */
static nde_status attribute(ohdr_walk *w, const unsigned char *d, size_t n, uint64_t at)
{
    const unsigned char *p = d, *end = d + n;
    int ok = 1;
    const unsigned version = (unsigned)take(&p, end, 1, &ok);
    const unsigned flags = (unsigned)take(&p, end, 1, &ok);
    const size_t name_size = (size_t)take(&p, end, 2, &ok);
    const size_t type_size = (size_t)take(&p, end, 2, &ok);
    const size_t space_size = (size_t)take(&p, end, 2, &ok);
    if (ok && version == 3) take(&p, end, 1, &ok); /* the name's character set */
    if (!ok || version < 1 || version > 3)
        return corrupt(w, "an attribute message of unknown version", at);
    /* version 1 pads the name, datatype and dataspace to multiples of 8 bytes */
    const size_t pad = version == 1 ? 7 : 0;
    const size_t sizes[3] = {name_size, type_size, space_size};
    const unsigned char *field[3];
    for (int k = 0; k < 3; k++) {
        const size_t stored = (sizes[k] + pad) & ~pad;
        if ((size_t)(end - p) < stored)
            return corrupt(w, "an attribute larger than its message", at);
        field[k] = p;
        p += stored;
    }
    const size_t want = strlen(w->attr);
    if (name_size != want + 1 || memcmp(field[0], w->attr, want) != 0 || field[0][want] != 0)
        return NDE_OK; /* another attribute */
    w->found = 1;
    /* a shared datatype or dataspace (version 2+, flags bits 0 and 1) is stored elsewhere:
     * not a plain string, as for an attribute of another type */
    if (version >= 2 && (flags & 3)) return NDE_OK;
    const int64_t points = dataspace_points(w, field[2], space_size);
    if (points < 0)
        return corrupt(w, "an attribute's dataspace larger than its message", at);
    if (points != 1)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: variable '%s': %s attribute holds %lld values; "
                        "expected one string", w->path, w->name, w->attr, (long long)points);
    if (type_size < 8 || (field[1][0] & 0x0f) != 3) return NDE_OK; /* not a fixed string */
    const uint64_t len = io_le(field[1] + 4, 4);
    if (len > (size_t)(end - p))
        return corrupt(w, "an attribute value larger than its message", at);
    size_t k = 0;
    for (; k < len && k + 1 < w->out_len && p[k]; k++) /* a corrupted value reaches messages */
        w->out[k] = p[k] >= 0x20 && p[k] <= 0x7e ? (char)p[k] : '?';
    while (k > 0 && w->out[k - 1] == ' ') k--; /* space padding */
    w->out[k] = '\0';
    return NDE_OK;
}

/* One header message of type `type` with n bytes of data at d (address at). */
static nde_status message(ohdr_walk *w, unsigned type, unsigned flags, const unsigned char *d,
                          size_t n, uint64_t at)
{
    int ok = 1;
    const unsigned char *p = d, *end = d + n;
    if (type == MSG_CONTINUATION) {
        const uint64_t addr = take(&p, end, w->sizeof_addr, &ok);
        const uint64_t len = take(&p, end, w->sizeof_size, &ok);
        if (!ok) return corrupt(w, "a continuation message too short", at);
        if (w->n_read + w->n_next >= MAX_CHUNKS)
            return corrupt(w, "more than 64 chunks", at);
        w->next[w->n_next][0] = addr, w->next[w->n_next][1] = len;
        w->n_next++;
    } else if (type == MSG_ATTRIBUTE && !(flags & 2)) { /* flag 2: stored in a shared heap */
        return attribute(w, d, n, at);
    }
    return NDE_OK;
}

/* The messages of one chunk: `len` bytes at w->buf, the first at file address `addr`. */
static nde_status messages(ohdr_walk *w, size_t len, uint64_t addr)
{
    const size_t head = w->version == 1 ? 8 : 4 + (w->track_order ? 2 : 0);
    size_t at = 0;
    while (len - at >= head) { /* in version 2 a gap shorter than a message header ends it */
        const unsigned char *h = w->buf + at;
        const unsigned type = w->version == 1 ? (unsigned)io_le(h, 2) : h[0];
        const size_t n = w->version == 1 ? (size_t)io_le(h + 2, 2) : (size_t)io_le(h + 1, 2);
        const unsigned flags = w->version == 1 ? h[4] : h[3];
        if (n > len - at - head)
            return corrupt(w, "a message longer than its chunk", addr + at);
        NDE_TRY(message(w, type, flags, h + head, n, addr + at));
        at += head + n;
    }
    return NDE_OK;
}

/* The object header's first chunk at addr: its version, and where its messages are. */
static nde_status prefix(ohdr_walk *w, uint64_t addr, uint64_t *first, uint64_t *len)
{
    NDE_TRY(read_bytes(w, addr, 16));
    const unsigned char *b = w->buf;
    if (b[0] == 1) { /* version 1: version, reserved, count, references, size, padding */
        w->version = 1;
        *first = addr + 16, *len = io_le(b + 8, 4);
        return NDE_OK;
    }
    if (memcmp(b, "OHDR", 4) != 0 || b[4] != 2)
        return corrupt(w, "an object header of unknown version", addr);
    w->version = 2;
    const unsigned flags = b[5];
    w->track_order = (flags & 4) != 0;
    uint64_t p = 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
    const unsigned width = 1u << (flags & 3);
    NDE_TRY(read_bytes(w, addr + p, width));
    *len = io_le(w->buf, width);
    *first = addr + p + width; /* the chunk's checksum follows its messages */
    return NDE_OK;
}

nde_status io_h5_string_attr(const char *path, const char *name, size_t file_size, uint64_t base,
                             unsigned sizeof_addr, unsigned sizeof_size, uint64_t addr,
                             const char *attr, char *out, size_t out_len)
{
    out[0] = '\0';
    if (sizeof_addr < 1 || sizeof_addr > 8 || sizeof_size < 1 || sizeof_size > 8)
        return NDE_FAIL(NDE_ERR_FORMAT, "%s: addresses of %u bytes and lengths of %u", path,
                        sizeof_addr, sizeof_size);
    ohdr_walk w = {.file_size = file_size, .base = base, .sizeof_addr = sizeof_addr,
                   .sizeof_size = sizeof_size, .path = path, .name = name, .attr = attr,
                   .out = out, .out_len = out_len};
    w.buf = nde_alloc(MAX_CHUNK_BYTES);
    if (!w.buf) return NDE_ERR_NOMEM;
    nde_status st = io_open_read(path, "an HDF5 file", &w.fp, NULL);
    uint64_t first = 0, len = 0;
    if (st == NDE_OK) st = prefix(&w, addr, &first, &len);
    if (st == NDE_OK) st = read_bytes(&w, first, len);
    if (st == NDE_OK) st = messages(&w, (size_t)len, first);
    while (st == NDE_OK && w.n_next > 0 && !w.found) {
        w.n_next--, w.n_read++;
        uint64_t at = w.next[w.n_next][0], n = w.next[w.n_next][1];
        st = read_bytes(&w, at, n);
        if (st != NDE_OK) break;
        if (w.version == 2) { /* "OCHK", messages, checksum */
            if (n < 8 || memcmp(w.buf, "OCHK", 4) != 0) {
                st = corrupt(&w, "a continuation chunk without its signature", at);
                break;
            }
            memmove(w.buf, w.buf + 4, (size_t)n - 4);
            at += 4, n -= 8;
        }
        st = messages(&w, (size_t)n, at);
    }
    if (w.fp) fclose(w.fp);
    nde_free(w.buf);
    if (st != NDE_OK) out[0] = '\0';
    return st;
}
