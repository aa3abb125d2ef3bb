/* IDX reader/writer: round trips of every element type, gzip and plain, big-endian
 * byte layout checked against hand-written bytes, truncated/garbage/missing files, and
 * the partial read used for dataset subsets. Files are generated in the build folder. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "nde/idx.h"

#define CHECK(expr) cr_assert_eq((expr), NDE_OK, "%s: %s", #expr, nde_last_error())

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

Test(idx, reads_hand_written_big_endian_bytes)
{
    /* int16, shape (2, 2): 1, -2, 258, -32768 */
    const unsigned char b[] = {0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                               0x00, 0x01, 0xFF, 0xFE, 0x01, 0x02, 0x80, 0x00};
    write_bytes("idx_hand.idx", b, sizeof b);
    nde_idx *x;
    CHECK(nde_idx_read("idx_hand.idx", 0, &x));
    cr_assert(x->type == NDE_IDX_I16 && x->ndim == 2 && x->dims[0] == 2 && x->dims[1] == 2);
    cr_assert_eq(x->count, 4u);
    double v[4];
    CHECK(nde_idx_to_double(x, 0, 4, 1.0, v));
    cr_expect(v[0] == 1 && v[1] == -2 && v[2] == 258 && v[3] == -32768);
    CHECK(nde_idx_to_double(x, 2, 2, 0.5, v));
    cr_expect(v[0] == 129 && v[1] == -16384);
    cr_expect_eq(nde_idx_to_double(x, 3, 2, 1.0, v), NDE_ERR_ARG);
    nde_idx_destroy(&x);
    cr_expect_null(x);
    nde_idx_destroy(&x);
    nde_idx_destroy(NULL);
}

Test(idx, every_type_round_trips_through_gzip_and_plain_files)
{
    uint8_t u8[6] = {0, 1, 127, 128, 200, 255};
    int8_t i8[6] = {-128, -1, 0, 1, 64, 127};
    int32_t i32[6] = {-2147483647 - 1, -5, 0, 7, 65536, 2147483647};
    float f32[6] = {-1.5f, 0.0f, 3.25f, 1e-30f, 6.5e20f, -7.0f};
    double f64[6] = {-1.5, 0.0, 3.141592653589793, 1e-300, 6.5e200, -7.0};
    const void *data[5] = {u8, i8, i32, f32, f64};
    const nde_idx_type types[5] = {NDE_IDX_U8, NDE_IDX_I8, NDE_IDX_I32, NDE_IDX_F32, NDE_IDX_F64};
    const uint32_t dims[3] = {1, 2, 3};
    for (int gz = 0; gz < 2; gz++)
        for (int k = 0; k < 5; k++) {
            const char *path = gz ? "idx_rt.idx.gz" : "idx_rt.idx";
            CHECK(nde_idx_write(path, types[k], 3, dims, data[k], gz));
            nde_idx *x;
            CHECK(nde_idx_read(path, 0, &x));
            cr_assert(x->type == types[k] && x->ndim == 3 && x->count == 6);
            cr_expect(memcmp(x->data, data[k], 6 * x->elem_size) == 0, "type %d gz %d", k, gz);
            nde_idx_destroy(&x);
        }
    /* the gzip file really is gzip (magic 1f 8b) */
    FILE *f = fopen("idx_rt.idx.gz", "rb");
    unsigned char m[2];
    cr_assert_eq(fread(m, 1, 2, f), 2u);
    fclose(f);
    cr_expect(m[0] == 0x1f && m[1] == 0x8b);
}

Test(idx, partial_read_keeps_the_first_items)
{
    uint8_t img[4 * 2 * 2];
    for (int i = 0; i < 16; i++) img[i] = (uint8_t)(10 * i);
    const uint32_t dims[3] = {4, 2, 2};
    CHECK(nde_idx_write("idx_part.gz", NDE_IDX_U8, 3, dims, img, 1));
    nde_idx *x;
    CHECK(nde_idx_read("idx_part.gz", 3, &x));
    cr_expect(x->dims[0] == 3 && x->count == 12);
    cr_expect(memcmp(x->data, img, 12) == 0);
    nde_idx_destroy(&x);
    CHECK(nde_idx_read("idx_part.gz", 9, &x)); /* more than there is: all */
    cr_expect(x->dims[0] == 4 && x->count == 16);
    nde_idx_destroy(&x);
}

Test(idx, bad_files_return_statuses)
{
    nde_idx *x = (nde_idx *)1;
    cr_expect_eq(nde_idx_read("idx_no_such_file.gz", 0, &x), NDE_ERR_MISSING);
    cr_expect_null(x);
    cr_expect(strstr(nde_last_error(), "idx_no_such_file.gz") != NULL);
    cr_expect_eq(nde_idx_read(NULL, 0, &x), NDE_ERR_ARG);
    const unsigned char bad_magic[] = {1, 0, 8, 1, 0, 0, 0, 1, 5};
    write_bytes("idx_bad1.idx", bad_magic, sizeof bad_magic);
    cr_expect_eq(nde_idx_read("idx_bad1.idx", 0, &x), NDE_ERR_FORMAT);
    const unsigned char bad_type[] = {0, 0, 7, 1, 0, 0, 0, 1, 5};
    write_bytes("idx_bad2.idx", bad_type, sizeof bad_type);
    cr_expect_eq(nde_idx_read("idx_bad2.idx", 0, &x), NDE_ERR_FORMAT);
    const unsigned char zero_dim[] = {0, 0, 8, 1, 0, 0, 0, 0};
    write_bytes("idx_bad3.idx", zero_dim, sizeof zero_dim);
    cr_expect_eq(nde_idx_read("idx_bad3.idx", 0, &x), NDE_ERR_FORMAT);
    const unsigned char no_dims[] = {0, 0, 8, 0};
    write_bytes("idx_bad4.idx", no_dims, sizeof no_dims);
    cr_expect_eq(nde_idx_read("idx_bad4.idx", 0, &x), NDE_ERR_FORMAT);
    const unsigned char short_data[] = {0, 0, 8, 1, 0, 0, 0, 4, 1, 2};
    write_bytes("idx_bad5.idx", short_data, sizeof short_data);
    cr_expect_eq(nde_idx_read("idx_bad5.idx", 0, &x), NDE_ERR_FORMAT);
    const unsigned char trailing[] = {0, 0, 8, 1, 0, 0, 0, 1, 1, 2};
    write_bytes("idx_bad6.idx", trailing, sizeof trailing);
    cr_expect_eq(nde_idx_read("idx_bad6.idx", 0, &x), NDE_ERR_FORMAT);
    const unsigned char short_head[] = {0, 0, 8, 2, 0, 0};
    write_bytes("idx_bad7.idx", short_head, sizeof short_head);
    cr_expect_eq(nde_idx_read("idx_bad7.idx", 0, &x), NDE_ERR_FORMAT);
    /* a truncated gzip stream */
    uint8_t d[64] = {0};
    const uint32_t dims[1] = {64};
    CHECK(nde_idx_write("idx_trunc.gz", NDE_IDX_U8, 1, dims, d, 1));
    FILE *f = fopen("idx_trunc.gz", "rb");
    unsigned char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes("idx_trunc.gz", buf, n / 2);
    cr_expect_neq(nde_idx_read("idx_trunc.gz", 0, &x), NDE_OK);
    cr_expect_null(x);

    const uint32_t zd[1] = {0};
    cr_expect_eq(nde_idx_write("idx_w.idx", NDE_IDX_U8, 1, zd, d, 0), NDE_ERR_ARG);
    cr_expect_eq(nde_idx_write("idx_w.idx", (nde_idx_type)3, 1, dims, d, 0), NDE_ERR_ARG);
    cr_expect_eq(nde_idx_write("idx_w.idx", NDE_IDX_U8, 0, dims, d, 0), NDE_ERR_ARG);
    cr_expect_eq(nde_idx_write("no_such_dir/idx_w.idx", NDE_IDX_U8, 1, dims, d, 0), NDE_ERR_IO);
}
