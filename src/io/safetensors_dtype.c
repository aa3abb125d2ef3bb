/* safetensors dtype names and sizes (huggingface/safetensors, Dtype). */
#include "nde/safetensors.h"

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
