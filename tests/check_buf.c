/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"

START_TEST(error_is_sticky_until_reset)
{
    struct buf b;
    buf_init(&b, 8);
    ck_assert_int_eq(buf_puts(&b, "abcd"), 0);
    ck_assert_int_eq(buf_error(&b), 0);
    ck_assert_int_eq(buf_puts(&b, "efghij"), -ENOSPC); /* would pass the cap */
    ck_assert_str_eq(b.data, "abcd");                  /* left unchanged */
    /* a later append that would fit still fails: the record is already cut */
    ck_assert_int_eq(buf_putc(&b, 'e'), -ENOSPC);
    ck_assert_int_eq(buf_printf(&b, "%d", 1), -ENOSPC);
    ck_assert_str_eq(b.data, "abcd");
    ck_assert_int_eq(buf_error(&b), -ENOSPC);
    buf_truncate(&b, 2);
    ck_assert_int_eq(buf_error(&b), -ENOSPC);
    buf_consume(&b, 2);
    ck_assert_int_eq(buf_error(&b), -ENOSPC);
    buf_reset(&b);
    ck_assert_int_eq(buf_error(&b), 0);
    ck_assert_int_eq(buf_printf(&b, "%s-%d", "ok", 7), 0);
    ck_assert_str_eq(b.data, "ok-7");
    buf_free(&b);
    ck_assert_int_eq(buf_error(&b), 0);
}
END_TEST

START_TEST(cap_is_exact)
{
    struct buf b;
    buf_init(&b, 3);
    ck_assert_int_eq(buf_append(&b, "abc", 3), 0);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_int_eq(buf_append(&b, "", 0), 0);
    ck_assert_int_eq(buf_putc(&b, 'd'), -ENOSPC);
    buf_free(&b);
}
END_TEST

/* buf_space() hands out room that nothing uses until buf_commit(), grows
 * as an append would, and fails as one would, sticky. */
START_TEST(space_then_commit)
{
    struct buf b;
    buf_init(&b, 300);
    char *p = buf_space(&b, 10);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(b.len, 0);
    memcpy(p, "abcdefghij", 10);
    buf_commit(&b, 3); /* less than was asked */
    ck_assert_str_eq(b.data, "abc");
    p = buf_space(&b, 290); /* past the first allocation */
    ck_assert_ptr_nonnull(p);
    memset(p, 'x', 290);
    buf_commit(&b, 290);
    ck_assert_uint_eq(b.len, 293);
    ck_assert_int_eq(b.data[293], '\0');
    ck_assert_ptr_null(buf_space(&b, 8)); /* 301 > max */
    ck_assert_int_eq(buf_error(&b), -ENOSPC);
    ck_assert_ptr_null(buf_space(&b, 1)); /* sticky */
    ck_assert_uint_eq(b.len, 293);
    buf_free(&b);
}
END_TEST

START_TEST(err_set_formats_and_returns_the_code)
{
    char err[ERR_MAX];
    ck_assert_int_eq(err_set(err, -EINVAL, "key %s: %d", "x", 3), -EINVAL);
    ck_assert_str_eq(err, "key x: 3");
    ck_assert_int_eq(err_set(NULL, -ENOMEM, "dropped"), -ENOMEM);
    char big[2 * ERR_MAX];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err_set(err, -EIO, "%s", big);
    ck_assert_uint_eq(strlen(err), ERR_MAX - 1); /* cut, never overrun */
}
END_TEST

Suite *check_buf_suite(void);
Suite *check_buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, error_is_sticky_until_reset);
    tcase_add_test(tc, cap_is_exact);
    tcase_add_test(tc, space_then_commit);
    tcase_add_test(tc, err_set_formats_and_returns_the_code);
    suite_add_tcase(s, tc);
    return s;
}
