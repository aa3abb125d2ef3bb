/* safetensors writer: header JSON built here (integers printed exactly, names escaped),
 * tensors ordered by decreasing dtype size, atomic replace of the target file. */
#include "core/fault.h"
#include "io/safetensors_internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/grow.h"

struct nde_st_writer {
    nde_st_tensor *tensors;
    size_t n, cap;
    st_kv *meta;
    size_t n_meta, cap_meta;
};

nde_status nde_st_writer_create(nde_st_writer **w)
{
    if (!w) return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_create: w is NULL");
    *w = nde_alloc(sizeof **w);
    return *w ? NDE_OK : NDE_ERR_NOMEM;
}

void nde_st_writer_destroy(nde_st_writer **w)
{
    if (!w || !*w) return;
    nde_st_free_meta((*w)->meta, (*w)->n_meta);
    nde_free((*w)->tensors);
    nde_free(*w);
    *w = NULL;
}

nde_status nde_st_writer_add(nde_st_writer *w, const char *name, nde_st_dtype dtype, int ndim,
                             const size_t *shape, const void *data)
{
    if (!w || !name) return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: NULL writer or name");
    if (!name[0] || strlen(name) >= NDE_ST_NAME_MAX || strcmp(name, "__metadata__") == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: invalid tensor name '%s'", name);
    if (nde_st_dtype_size(dtype) == 0)
        return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: tensor '%s' has unknown dtype %d", name,
                        (int)dtype);
    if (ndim < 0 || ndim > NDE_ST_MAX_DIMS || (ndim > 0 && !shape))
        return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: tensor '%s' has ndim %d (0..%d)", name,
                        ndim, NDE_ST_MAX_DIMS);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: duplicate tensor '%s'", name);
    nde_st_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.dtype = dtype;
    t.ndim = ndim;
    t.numel = 1;
    for (int d = 0; d < ndim; d++) {
        t.shape[d] = shape[d];
        if (shape[d] && t.numel > SIZE_MAX / shape[d])
            return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: tensor '%s' is too large", name);
        t.numel *= shape[d];
    }
    if (t.numel > SIZE_MAX / nde_st_dtype_size(dtype))
        return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: tensor '%s' is too large", name);
    t.nbytes = t.numel * nde_st_dtype_size(dtype);
    if (t.nbytes > 0 && !data)
        return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_add: tensor '%s' has NULL data", name);
    t.data = data;
    NDE_TRY(nde_grow((void **)&w->tensors, &w->cap, w->n, sizeof *w->tensors, 32));
    w->tensors[w->n++] = t;
    return NDE_OK;
}

nde_status nde_st_writer_meta(nde_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value) return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_meta: NULL argument");
    for (size_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[i].key, key) == 0)
            return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_meta: duplicate key '%s'", key);
    NDE_TRY(nde_grow((void **)&w->meta, &w->cap_meta, w->n_meta, sizeof *w->meta, 8));
    NDE_TRY(nde_st_kv_set(&w->meta[w->n_meta], key, value));
    w->n_meta++;
    return NDE_OK;
}

/* A growable text buffer for the header. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = nde_alloc(cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        if (b->len) memcpy(np, b->p, b->len);
        nde_free(b->p);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt_size(sbuf *b, size_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", v);
    sb_put(b, tmp, (size_t)n);
}

/* JSON string literal (RFC 8259 §7): escape quote, backslash and control characters. */
static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            sb_put(b, e, 2);
        } else if (*c < 0x20) {
            char e[8];
            int n = snprintf(e, sizeof e, "\\u%04x", *c);
            sb_put(b, e, (size_t)n);
        } else {
            sb_put(b, (const char *)c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Order of tensors in the buffer: decreasing dtype size, then insertion order. */
static void order_tensors(const nde_st_writer *w, size_t *order)
{
    size_t k = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (size_t i = 0; i < w->n; i++)
            if (nde_st_dtype_size(w->tensors[i].dtype) == size) order[k++] = i;
}

static nde_status build_header(const nde_st_writer *w, const size_t *order, sbuf *b)
{
    sb_str(b, "{");
    int first = 1;
    if (w->n_meta) {
        sb_str(b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->n_meta; i++) {
            if (i) sb_str(b, ",");
            sb_json_string(b, w->meta[i].key);
            sb_str(b, ":");
            sb_json_string(b, w->meta[i].value);
        }
        sb_str(b, "}");
        first = 0;
    }
    size_t offset = 0;
    for (size_t k = 0; k < w->n; k++) {
        const nde_st_tensor *t = &w->tensors[order[k]];
        if (!first) sb_str(b, ",");
        first = 0;
        sb_json_string(b, t->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, nde_st_dtype_name(t->dtype));
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_str(b, ",");
            sb_fmt_size(b, t->shape[d]);
        }
        sb_str(b, "],\"data_offsets\":[");
        sb_fmt_size(b, offset);
        sb_str(b, ",");
        offset += t->nbytes;
        sb_fmt_size(b, offset);
        sb_str(b, "]}");
    }
    sb_str(b, "}");
    while (!b->oom && b->len % 8) sb_str(b, " "); /* an OOM stops growing len */
    return b->oom ? NDE_ERR_NOMEM : NDE_OK;
}

static nde_status io_fail(const char *what, const char *path, int err)
{
    return NDE_FAIL(NDE_ERR_IO, "safetensors: cannot %s '%s': %s", what, path, strerror(err));
}

/* Make the rename durable: fsync the directory holding `path`. */
/* dir (cap) = the folder holding `path` ("." for a bare name, "/" for "/x"); 0 if it
 * does not fit. */
static int parent_dir(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
        return 1;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1;
    if (n >= cap) return 0;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 1;
}

static void sync_parent_dir(const char *path)
{
    char dir[4096];
    if (!parent_dir(path, dir, sizeof dir)) return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Remove the temporaries "<base>.tmp.<pid>" beside `path` that a writer killed
 * mid-write left behind (its process no longer exists), so they do not pile up. Our
 * own and those of live processes (a concurrent writer) are kept. Best effort: errors
 * are ignored, the write has already succeeded. */
static void remove_stale_temps(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!parent_dir(path, dir, sizeof dir)) return;
    const size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *name = e->d_name;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) continue;
        const char *digits = name + blen + 5;
        char *end;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (end == digits || *end != '\0' || errno || pid <= 0 || (pid_t)pid != pid) continue;
        if ((pid_t)pid == getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        char full[8300];
        if (snprintf(full, sizeof full, "%s/%s", dir, name) >= (int)sizeof full) continue;
        remove(full);
    }
    closedir(d);
}

static nde_status write_all(FILE *fp, const void *p, size_t n, const char *tmp)
{
    if (n && nde_fault_fwrite(p, 1, n, fp) != n) return io_fail("write", tmp, errno);
    return NDE_OK;
}

nde_status nde_st_writer_write(nde_st_writer *w, const char *path)
{
    if (!w || !path) return NDE_FAIL(NDE_ERR_ARG, "nde_st_writer_write: NULL writer or path");
    if (!nde_st_host_little_endian())
        return NDE_FAIL(NDE_ERR_UNSUPPORTED, "safetensors: big-endian hosts are not supported");
    size_t *order = nde_alloc_array(w->n ? w->n : 1, sizeof *order);
    if (!order) return NDE_ERR_NOMEM;
    order_tensors(w, order);
    sbuf hdr = {0};
    nde_status st = build_header(w, order, &hdr);
    char tmp[4096];
    if (st == NDE_OK && snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        st = NDE_FAIL(NDE_ERR_ARG, "safetensors: path too long: '%s'", path);
    FILE *fp = NULL;
    if (st == NDE_OK) {
        fp = nde_fault_fopen(tmp, "wb");
        if (!fp) st = io_fail("create", tmp, errno);
    }
    if (st == NDE_OK) {
        unsigned char len8[8];
        uint64_t n = (uint64_t)hdr.len;
        for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
        st = write_all(fp, len8, 8, tmp);
        if (st == NDE_OK) st = write_all(fp, hdr.p, hdr.len, tmp);
        for (size_t k = 0; st == NDE_OK && k < w->n; k++)
            st = write_all(fp, w->tensors[order[k]].data, w->tensors[order[k]].nbytes, tmp);
        if (st == NDE_OK && nde_fault_fflush(fp) != 0) st = io_fail("flush", tmp, errno);
        if (st == NDE_OK && nde_fault_fsync(fileno(fp)) != 0) st = io_fail("fsync", tmp, errno);
        if (fclose(fp) != 0 && st == NDE_OK) st = io_fail("close", tmp, errno);
        if (st == NDE_OK && nde_fault_rename(tmp, path) != 0) st = io_fail("rename to", path, errno);
        if (st != NDE_OK)
            remove(tmp);
        else {
            sync_parent_dir(path);
            remove_stale_temps(path);
        }
    }
    nde_free(hdr.p);
    nde_free(order);
    return st;
}
