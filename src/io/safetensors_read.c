/* safetensors reader: reads a file (or copies an image) and validates header length,
 * JSON, dtypes, shapes, byte counts and that the offsets tile the buffer exactly before
 * any tensor is exposed. The rules follow huggingface/safetensors (the format section
 * of its README and the checks of its Rust reader: contiguous, hole-free buffer,
 * header at most 100 MB). */
#include "io/safetensors_internal.h"
#include "io/dataset_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_HEADER_MAX 100000000u

struct nde_st_file {
    char label[512];
    unsigned char *buf; /* (len) the whole file */
    size_t len;
    nde_st_tensor *tensors;
    size_t n;
    st_kv *meta;
    size_t n_meta;
};

void nde_st_close(nde_st_file **f)
{
    if (!f || !*f) return;
    nde_st_free_meta((*f)->meta, (*f)->n_meta);
    nde_free((*f)->tensors);
    nde_free((*f)->buf);
    nde_free(*f);
    *f = NULL;
}

/* A JSON number that is an exact non-negative integer representable as size_t. */
static int json_size(const cJSON *j, size_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    const double v = j->valuedouble;
    if (!(v >= 0.0) || v != floor(v) || v > 9007199254740992.0) return 0;
    *out = (size_t)v;
    return 1;
}

static nde_status parse_metadata(nde_st_file *f, const cJSON *obj)
{
    if (!cJSON_IsObject(obj))
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': __metadata__ is not an object", f->label);
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    f->meta = nde_alloc_array(n ? n : 1, sizeof *f->meta);
    if (!f->meta) return NDE_ERR_NOMEM;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': metadata '%s' is not a string",
                            f->label, c->string);
        NDE_TRY(nde_st_kv_set(&f->meta[f->n_meta], c->string, c->valuestring));
        f->n_meta++;
    }
    return NDE_OK;
}

static nde_status parse_tensor(nde_st_file *f, const cJSON *e, size_t data_len, size_t *begin,
                               nde_st_tensor *t)
{
    const char *name = e->string;
    if (!name[0] || strlen(name) >= NDE_ST_NAME_MAX)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor name '%.40s' is empty or longer "
                                        "than %d bytes", f->label, name, NDE_ST_NAME_MAX - 1);
    if (!cJSON_IsObject(e))
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': entry '%s' is not an object", f->label,
                        name);
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' needs a string dtype and "
                                        "arrays shape and data_offsets", f->label, name);
    t->dtype = NDE_ST_DTYPE_COUNT;
    for (int d = 0; d < NDE_ST_DTYPE_COUNT; d++)
        if (strcmp(dt->valuestring, nde_st_dtype_name((nde_st_dtype)d)) == 0) t->dtype = (nde_st_dtype)d;
    if (t->dtype == NDE_ST_DTYPE_COUNT)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' has unknown dtype '%s'",
                        f->label, name, dt->valuestring);
    const int ndim = cJSON_GetArraySize(sh);
    if (ndim > NDE_ST_MAX_DIMS)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' has %d dimensions (max %d)",
                        f->label, name, ndim, NDE_ST_MAX_DIMS);
    t->ndim = ndim;
    t->numel = 1;
    int d = 0;
    for (const cJSON *c = sh->child; c; c = c->next, d++) {
        if (!json_size(c, &t->shape[d]))
            return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' dimension %d is not a "
                                            "non-negative integer", f->label, name, d);
        if (t->shape[d] && t->numel > SIZE_MAX / t->shape[d])
            return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' shape overflows", f->label,
                            name);
        t->numel *= t->shape[d];
    }
    const size_t esize = nde_st_dtype_size(t->dtype);
    if (t->numel > SIZE_MAX / esize)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' shape overflows", f->label, name);
    t->nbytes = t->numel * esize;
    size_t b = 0, end = 0;
    if (cJSON_GetArraySize(off) != 2 || !json_size(off->child, &b) ||
        !json_size(off->child->next, &end))
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' data_offsets must be two "
                                        "non-negative integers", f->label, name);
    if (b > end || end > data_len)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' data_offsets [%zu, %zu] lie "
                                        "outside the %zu-byte buffer", f->label, name, b, end, data_len);
    if (end - b != t->nbytes)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' (%s, %zu elements) needs %zu "
                                        "bytes, data_offsets [%zu, %zu] give %zu", f->label, name,
                        nde_st_dtype_name(t->dtype), t->numel, t->nbytes, b, end, end - b);
    *begin = b;
    return NDE_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const size_t *x = a, *y = b; /* (begin, end, index) triples */
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
    return 0;
}

/* The offsets must tile [0, data_len) without holes or overlap. */
static nde_status check_coverage(nde_st_file *f, const size_t *begins, size_t data_len)
{
    size_t *spans = nde_alloc_array(f->n ? 3 * f->n : 3, sizeof *spans);
    if (!spans) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < f->n; i++) {
        spans[3 * i] = begins[i];
        spans[3 * i + 1] = begins[i] + f->tensors[i].nbytes;
        spans[3 * i + 2] = i;
    }
    qsort(spans, f->n, 3 * sizeof *spans, cmp_begin);
    size_t pos = 0;
    nde_status st = NDE_OK;
    for (size_t k = 0; k < f->n && st == NDE_OK; k++) {
        if (spans[3 * k] != pos)
            st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensor '%s' starts at byte %zu, "
                                          "expected %zu (hole or overlap in the buffer)", f->label,
                          f->tensors[spans[3 * k + 2]].name, spans[3 * k], pos);
        pos = spans[3 * k + 1];
    }
    if (st == NDE_OK && pos != data_len)
        st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': tensors cover %zu bytes, the buffer has "
                                      "%zu", f->label, pos, data_len);
    nde_free(spans);
    return st;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const nde_st_tensor *const *)a)->name, (*(const nde_st_tensor *const *)b)->name);
}

/* No two tensors share a name: sorted by name, equal names are neighbours (O(n log n);
 * a header may hold millions of entries). */
static nde_status check_unique_names(const nde_st_file *f)
{
    const nde_st_tensor **by_name = nde_alloc_array(f->n ? f->n : 1, sizeof *by_name);
    if (!by_name) return NDE_ERR_NOMEM;
    for (size_t i = 0; i < f->n; i++) by_name[i] = &f->tensors[i];
    qsort(by_name, f->n, sizeof *by_name, cmp_name);
    nde_status st = NDE_OK;
    for (size_t k = 1; k < f->n && st == NDE_OK; k++)
        if (strcmp(by_name[k - 1]->name, by_name[k]->name) == 0)
            st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': duplicate tensor '%s'", f->label,
                          by_name[k]->name);
    nde_free(by_name);
    return st;
}

static nde_status parse_header(nde_st_file *f, const char *hdr, size_t hlen, size_t data_len,
                               const unsigned char *data)
{
    if (hlen == 0 || hdr[0] != '{')
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': header does not start with '{'", f->label);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!root)
        return NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': header is not valid JSON (near byte %ld)",
                        f->label, cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - hdr) : -1L);
    nde_status st = NDE_OK;
    for (const char *p = end; p && p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': trailing bytes after the header JSON",
                          f->label);
            break;
        }
    if (st == NDE_OK && !cJSON_IsObject(root))
        st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': header is not a JSON object", f->label);
    if (st != NDE_OK) {
        cJSON_Delete(root);
        return st;
    }
    size_t n = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        if (strcmp(c->string, "__metadata__") != 0) n++;
    size_t *begins = nde_alloc_array(n ? n : 1, sizeof *begins);
    f->tensors = nde_alloc_array(n ? n : 1, sizeof *f->tensors);
    if (!begins || !f->tensors) st = NDE_ERR_NOMEM;
    int seen_meta = 0;
    for (const cJSON *c = root->child; c && st == NDE_OK; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if (seen_meta++)
                st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': duplicate __metadata__", f->label);
            else
                st = parse_metadata(f, c);
            continue;
        }
        st = parse_tensor(f, c, data_len, &begins[f->n], &f->tensors[f->n]);
        if (st == NDE_OK) f->tensors[f->n].data = data + begins[f->n];
        if (st == NDE_OK) f->n++;
    }
    if (st == NDE_OK) st = check_unique_names(f);
    if (st == NDE_OK) st = check_coverage(f, begins, data_len);
    nde_free(begins);
    cJSON_Delete(root);
    return st;
}

/* Takes ownership of buf. */
static nde_status parse_image(unsigned char *buf, size_t len, const char *label, nde_st_file **out)
{
    nde_st_file *f = nde_alloc(sizeof *f);
    if (!f) {
        nde_free(buf);
        return NDE_ERR_NOMEM;
    }
    snprintf(f->label, sizeof f->label, "%s", label);
    f->buf = buf;
    f->len = len;
    nde_status st = NDE_OK;
    if (!nde_st_host_little_endian())
        st = NDE_FAIL(NDE_ERR_UNSUPPORTED, "safetensors: big-endian hosts are not supported");
    uint64_t hlen = 0;
    if (st == NDE_OK && len < 8)
        st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': %zu bytes, shorter than the 8-byte header "
                                      "length", label, len);
    if (st == NDE_OK) {
        for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
        if (hlen > ST_HEADER_MAX || hlen > len - 8)
            st = NDE_FAIL(NDE_ERR_FORMAT, "safetensors '%s': header length %llu exceeds the file "
                                          "(%zu bytes) or the 100 MB limit", label,
                          (unsigned long long)hlen, len);
    }
    if (st == NDE_OK)
        st = parse_header(f, (const char *)buf + 8, (size_t)hlen, len - 8 - (size_t)hlen,
                          buf + 8 + hlen);
    if (st != NDE_OK) {
        nde_st_close(&f);
        return st;
    }
    *out = f;
    return NDE_OK;
}

nde_status nde_st_open_memory(const void *bytes, size_t len, const char *label, nde_st_file **f)
{
    if (!f) return NDE_FAIL(NDE_ERR_ARG, "nde_st_open_memory: f is NULL");
    *f = NULL;
    if (!bytes && len) return NDE_FAIL(NDE_ERR_ARG, "nde_st_open_memory: NULL bytes");
    unsigned char *buf = nde_alloc(len);
    if (!buf) return NDE_ERR_NOMEM;
    if (len) memcpy(buf, bytes, len);
    return parse_image(buf, len, label ? label : "(memory)", f);
}

nde_status nde_st_open(const char *path, nde_st_file **f)
{
    if (!f || !path) return NDE_FAIL(NDE_ERR_ARG, "nde_st_open: NULL argument");
    *f = NULL;
    FILE *fp;
    size_t size;
    NDE_TRY(io_open_read(path, "a .safetensors file", &fp, &size));
    unsigned char *buf = nde_alloc(size);
    if (!buf) {
        fclose(fp);
        return NDE_ERR_NOMEM;
    }
    size_t got = size ? fread(buf, 1, size, fp) : 0;
    int err = ferror(fp);
    fclose(fp);
    if (got != size || err) {
        nde_free(buf);
        return NDE_FAIL(NDE_ERR_IO, "safetensors: short read of '%s' (%zu of %zu bytes)", path, got,
                        size);
    }
    return parse_image(buf, size, path, f);
}

size_t nde_st_n_tensors(const nde_st_file *f) { return f ? f->n : 0; }

const nde_st_tensor *nde_st_tensor_at(const nde_st_file *f, size_t i)
{
    return (f && i < f->n) ? &f->tensors[i] : NULL;
}

const nde_st_tensor *nde_st_find(const nde_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *nde_st_meta(const nde_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

const char *nde_st_label(const nde_st_file *f) { return f ? f->label : ""; }
