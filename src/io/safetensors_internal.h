/* Pieces shared by the safetensors reader and writer. Internal to src/io. */
#ifndef NDE_IO_SAFETENSORS_INTERNAL_H
#define NDE_IO_SAFETENSORS_INTERNAL_H

#include "nde/safetensors.h"

/* One "__metadata__" entry; both strings owned (nde_alloc). */
typedef struct st_kv {
    char *key, *value;
} st_kv;

/* safetensors stores little-endian data; nde refuses big-endian hosts. */
int nde_st_host_little_endian(void);
/* nde_alloc'ed copy of s, NULL when out of memory. */
char *nde_st_strdup(const char *s);
/* kv ← copies of key and value; NDE_ERR_NOMEM (kv's strings NULL) when out of memory. */
nde_status nde_st_kv_set(st_kv *kv, const char *key, const char *value);
/* Free n entries' strings and the array itself. */
void nde_st_free_meta(st_kv *meta, size_t n);

#endif
