/* safetensors dtype names and sizes (huggingface/safetensors, Dtype), and the small
 * helpers the reader and writer share. */
#include <stdint.h>
#include <string.h>

#include "io/safetensors_internal.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[NDE_ST_DTYPE_COUNT] = {
    [NDE_ST_BOOL] = {"BOOL", 1}, [NDE_ST_U8] = {"U8", 1},    [NDE_ST_I8] = {"I8", 1},
    [NDE_ST_U16] = {"U16", 2},   [NDE_ST_I16] = {"I16", 2},  [NDE_ST_F16] = {"F16", 2},
    [NDE_ST_BF16] = {"BF16", 2}, [NDE_ST_U32] = {"U32", 4},  [NDE_ST_I32] = {"I32", 4},
    [NDE_ST_F32] = {"F32", 4},   [NDE_ST_U64] = {"U64", 8},  [NDE_ST_I64] = {"I64", 8},
    [NDE_ST_F64] = {"F64", 8},
};

const char *nde_st_dtype_name(nde_st_dtype d)
{
    return ((int)d >= 0 && d < NDE_ST_DTYPE_COUNT) ? dtypes[d].name : "?";
}

size_t nde_st_dtype_size(nde_st_dtype d)
{
    return ((int)d >= 0 && d < NDE_ST_DTYPE_COUNT) ? dtypes[d].size : 0;
}

int nde_st_host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

char *nde_st_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = nde_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

nde_status nde_st_kv_set(st_kv *kv, const char *key, const char *value)
{
    kv->key = nde_st_strdup(key);
    kv->value = nde_st_strdup(value);
    if (kv->key && kv->value) return NDE_OK;
    nde_free(kv->key);
    nde_free(kv->value);
    kv->key = kv->value = NULL;
    return NDE_ERR_NOMEM;
}

void nde_st_free_meta(st_kv *meta, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nde_free(meta[i].key);
        nde_free(meta[i].value);
    }
    nde_free(meta);
}
