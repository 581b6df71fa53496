/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tokenmeter/lineproto.h"

/* Builds one line with a tag and a string field holding `v`, then reads it
 * back: the structure must survive whatever v holds. */
static void roundtrip(const char *v, struct lineproto_point *pt)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    bool first = true;
    char err[ERR_MAX];
    ck_assert_int_ge(lineproto_measurement(&b, "m"), 0);
    ck_assert_int_ge(lineproto_tag(&b, "t", v), 0);
    ck_assert_int_ge(lineproto_field_str(&b, &first, "s", v), 0);
    ck_assert_int_ge(lineproto_field_int(&b, &first, "n", 7), 0);
    ck_assert_int_eq(lineproto_end(&b, 42), 0);
    /* exactly one line, and it ends the buffer */
    ck_assert_int_eq(lineproto_line_end(b.data, b.len), (long)b.len - 1);
    ck_assert_ptr_eq(memchr(b.data, '\n', b.len), b.data + b.len - 1);
    ck_assert_int_eq(lineproto_parse(b.data, b.len - 1, pt, err), 0);
    ck_assert_int_eq(pt->ntags, 1);
    ck_assert_int_eq(pt->nfields, 2);
    ck_assert_str_eq(pt->tags[0].key, "t");
    ck_assert_str_eq(pt->fields[0].key, "s");
    ck_assert_str_eq(pt->fields[1].key, "n");
    ck_assert_int_eq(pt->fields[1].i, 7);
    ck_assert_int_eq(pt->time_ns, 42);
    buf_free(&b);
}

START_TEST(escape_tag_separators)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(lineproto_tag(&b, "model", "a b,c=d"), 0);
    ck_assert_str_eq(b.data, ",model=a\\ b\\,c\\=d");
    buf_free(&b);
}
END_TEST

START_TEST(escape_controls_visible_or_dropped)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(lineproto_tag(&b, "k",
                                   "a\nb\rc\td\fe\x01"
                                   "f\x7fg"),
                     0);
    ck_assert_str_eq(b.data, ",k=a\\nb\\rc\\td\\fefg");
    buf_reset(&b);
    bool first = true;
    ck_assert_int_eq(lineproto_field_str(&b, &first, "s", "x\ny\"z\\w\x02"), 0);
    /* in strings the visible sequence's backslash is itself escaped */
    ck_assert_str_eq(b.data, " s=\"x\\\\ny\\\"z\\\\w\"");
    buf_free(&b);
}
END_TEST

START_TEST(escape_backslashes_in_tags)
{
    struct buf b;
    buf_init(&b, 4096);
    /* kept before an ordinary byte, dropped before a separator, another
     * backslash, or the end */
    ck_assert_int_eq(lineproto_tag(&b, "k", "a\\b"), 0);
    ck_assert_str_eq(b.data, ",k=a\\b");
    buf_reset(&b);
    ck_assert_int_eq(lineproto_tag(&b, "k", "a\\,b"), 0);
    ck_assert_str_eq(b.data, ",k=a\\,b");
    buf_reset(&b);
    ck_assert_int_eq(lineproto_tag(&b, "k", "a\\\\"), 0);
    ck_assert_str_eq(b.data, ",k=a");
    buf_reset(&b);
    ck_assert_int_eq(lineproto_tag(&b, "k", "a\\ "), 0);
    ck_assert_str_eq(b.data, ",k=a\\ ");
    buf_free(&b);
}
END_TEST

START_TEST(empty_tag_is_unknown)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(lineproto_tag(&b, "org", ""), 0);
    ck_assert_int_eq(lineproto_tag(&b, "team", NULL), 0);
    ck_assert_int_eq(lineproto_tag(&b, "user", "\x01\x02\\"), 0);
    ck_assert_str_eq(b.data, ",org=unknown,team=unknown,user=unknown");
    buf_free(&b);
}
END_TEST

/* A full buffer is remembered: every later writer reports the same error,
 * so a formatter may write the whole line and check once. */
START_TEST(full_buffer_is_sticky)
{
    struct buf b;
    buf_init(&b, 12);
    bool first = true;
    ck_assert_int_eq(lineproto_measurement(&b, "usage"), 0);
    ck_assert_int_eq(lineproto_tag(&b, "org", "acme-corporation"), -ENOSPC);
    ck_assert_int_eq(lineproto_field_int(&b, &first, "n", 1), -ENOSPC);
    ck_assert_int_eq(lineproto_field_str(&b, &first, "s", "x"), -ENOSPC);
    ck_assert_int_eq(lineproto_field_float(&b, &first, "f", 1.5), -ENOSPC);
    ck_assert_int_eq(lineproto_end(&b, 1), -ENOSPC);
    ck_assert_int_eq(buf_error(&b), -ENOSPC);
    /* NaN is refused before anything is appended */
    ck_assert_int_eq(lineproto_field_float(&b, &first, "f", NAN), -EDOM);
    buf_free(&b);
}
END_TEST

START_TEST(truncation_at_utf8_boundary)
{
    char big[LINEPROTO_TAG_MAX + 10];
    /* 'a' then two-byte 'é' repeated: the cut must not split a sequence */
    big[0] = 'a';
    size_t n = 1;
    while (n + 2 < sizeof(big)) {
        big[n++] = (char)0xC3;
        big[n++] = (char)0xA9;
    }
    big[n] = '\0';
    struct buf b;
    buf_init(&b, 1 << 16);
    ck_assert_int_eq(lineproto_tag(&b, "k", big), 1);
    ck_assert_uint_le(b.len, LINEPROTO_TAG_MAX + 3);
    ck_assert_int_ne((unsigned char)b.data[b.len - 1], 0xC3);
    buf_free(&b);
}
END_TEST

START_TEST(float_format)
{
    char out[32];
    lineproto_format_float(0.0003345, out);
    ck_assert_str_eq(out, "0.0003345");
    lineproto_format_float(2210, out);
    ck_assert_str_eq(out, "2210");
    lineproto_format_float(0.1 + 0.2, out);
    ck_assert_str_eq(out, "0.30000000000000004");
    lineproto_format_float(-0.0, out);
    ck_assert_str_eq(out, "-0");
    lineproto_format_float(1e21, out);
    ck_assert_str_eq(out, "1e+21");
    struct buf b;
    buf_init(&b, 4096);
    bool first = true;
    ck_assert_int_eq(lineproto_field_float(&b, &first, "x", NAN), -EDOM);
    ck_assert_int_eq(lineproto_field_float(&b, &first, "x", INFINITY), -EDOM);
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

/* The printf-only definition lineproto_format_float() must keep matching. */
static void float_reference(double v, char out[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* The printf-free fast path gives printf's bytes: decimals of every length
 * and scale (prices, costs, latencies), the edges of %g's fixed notation,
 * and random bit patterns. */
START_TEST(float_format_matches_printf)
{
    static const double edges[] = {
        1e-4, 9.9999999999999991e-5, 1.0000000000000001e-4, 1e15, 1e15 - 1, 999999999999999.5,
        0.1 + 0.2, 1.0 / 3, 2.5e-3, 123456789012345.0, 12345678901234.5, -0.001, -0.0, 0.0, 5e-324,
        1.7976931348623157e308,
        /* subnormals */
        2.2250738585072009e-308, 1e-310, -3.0000000000000003e-320, 2.2250738585072014e-308,
        /* 1e21 and up: %g's exponent form */
        1e21, 1e22, -1.5e300, 123456789012345678901.0,
        /* 17 significant digits */
        1.0000000000000002, 123.45678901234568, 0.00012345678901234567, 9007199254740993.0,
        99999999999999.984,
        /* just below %g's fixed range */
        1e-5, 9.9999999999999998e-5};
    char want[32], got[32];
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        float_reference(edges[i], want);
        lineproto_format_float(edges[i], got);
        ck_assert_str_eq(got, want);
    }
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        switch (i % 4) {
        case 0: /* a short decimal at some scale */
            v = (double)(x % 100000000) / pow(10, (double)((x >> 40) % 19));
            break;
        case 1: /* a long one */
            v = (double)(x % 1000000000000000u) / pow(10, (double)((x >> 50) % 19));
            break;
        case 2: /* any finite double */
            memcpy(&v, &x, sizeof(v));
            if (!isfinite(v))
                continue;
            break;
        default: /* a product, as a price times a count */
            v = (double)(x % 100000) * ((double)(x >> 44 & 0xFFF) / 1e6);
        }
        if (x & 1u << 20)
            v = -v;
        float_reference(v, want);
        lineproto_format_float(v, got);
        ck_assert_msg(strcmp(got, want) == 0, "%.17g: got %s, printf %s", v, got, want);
    }
}
END_TEST

/* A key given as a lineproto_key writes the bytes the same key given as a
 * string does, whatever the value, including values that need escaping, an
 * empty or missing tag value and a cut one. */
START_TEST(keyed_writers_match_string_keys)
{
    static const struct lineproto_key tag = LINEPROTO_KEY("model"), field = LINEPROTO_KEY("n");
    char long_value[LINEPROTO_STRING_MAX + 10];
    memset(long_value, 'x', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    const char *values[] = {"gpt-4o", "a b,c=d", "q\"uote\\", "", NULL, long_value, "\n\x01"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct buf want, got;
        buf_init(&want, 1 << 16);
        buf_init(&got, 1 << 16);
        bool fw = true, fg = true;
        ck_assert_int_eq(lineproto_tag(&want, "model", values[i]),
                         lineproto_tag_key(&got, tag, values[i]));
        ck_assert_int_eq(lineproto_field_int(&want, &fw, "n", -42),
                         lineproto_field_int_key(&got, &fg, field, -42));
        ck_assert_int_eq(lineproto_field_float(&want, &fw, "n", 0.25),
                         lineproto_field_float_key(&got, &fg, field, 0.25));
        ck_assert_int_eq(lineproto_field_float(&want, &fw, "n", NAN),
                         lineproto_field_float_key(&got, &fg, field, NAN));
        if (values[i])
            ck_assert_int_eq(lineproto_field_str(&want, &fw, "n", values[i]),
                             lineproto_field_str_key(&got, &fg, field, values[i]));
        ck_assert_uint_eq(got.len, want.len);
        ck_assert_mem_eq(got.data, want.data, want.len);
        buf_free(&want);
        buf_free(&got);
    }
}
END_TEST

/* Integers of every width, as printf writes them. */
START_TEST(int_digits_match_printf)
{
    const int64_t v[] = {0,         7,        -7, 10, 99, 100, -101, 999999, 1787666591767559175,
                         INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct buf b;
        buf_init(&b, 1024);
        bool first = true;
        char want[64];
        snprintf(want, sizeof(want), " k=%" PRId64 "i %" PRId64 "\n", v[i], v[i]);
        ck_assert_int_eq(lineproto_field_int(&b, &first, "k", v[i]), 0);
        ck_assert_int_eq(lineproto_end(&b, v[i]), 0);
        ck_assert_str_eq(b.data, want);
        buf_free(&b);
    }
}
END_TEST

static const char *const hostile[] = {
    "plain",
    "new\nline",
    "quote\"in",
    "comma,and=equals and space",
    "back\\slash\\",
    "\\\"\\,\\ \\=",
    "end\\",
    "tab\tcr\rff\f",
    "x\" injected=1i,y=\"",
    "\n\n\n",
    "",
};

START_TEST(hostile_roundtrip)
{
    struct lineproto_point pt;
    lineproto_point_init(&pt);
    roundtrip(hostile[_i], &pt);
    lineproto_point_free(&pt);
}
END_TEST

START_TEST(reader_raw_newline_in_string)
{
    /* Telegraf's value parser keeps a JSON body's newlines raw in the field */
    const char *in = "http_listener_v2,org=acme value=\"{\\\"a\\\":\n 1}\" 17\nnext f=1i 2\n";
    long end = lineproto_line_end(in, strlen(in));
    ck_assert_int_eq(end, (long)(strchr(in, '}') - in) + 5);
    struct lineproto_point pt;
    char err[ERR_MAX];
    lineproto_point_init(&pt);
    ck_assert_int_eq(lineproto_parse(in, (size_t)end, &pt, err), 0);
    ck_assert_str_eq(pt.measurement, "http_listener_v2");
    ck_assert_str_eq(lineproto_point_tag(&pt, "org"), "acme");
    const struct lineproto_field *f = lineproto_point_field(&pt, "value");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->type, LINEPROTO_STRING);
    ck_assert_str_eq(f->s, "{\"a\":\n 1}");
    ck_assert_int_eq(pt.time_ns, 17);
    /* incomplete input needs more bytes */
    ck_assert_int_eq(lineproto_line_end(in, 30), LINEPROTO_NO_END);
    lineproto_point_free(&pt);
}
END_TEST

START_TEST(reader_types_and_errors)
{
    struct lineproto_point pt;
    char err[ERR_MAX];
    lineproto_point_init(&pt);
    const char *ok = "m\\ x,t\\,k=v\\=1 i=-5i,u=5u,f=1.5e3,b=t,B=FALSE";
    ck_assert_int_eq(lineproto_parse(ok, strlen(ok), &pt, err), 0);
    ck_assert_str_eq(pt.measurement, "m x");
    ck_assert_str_eq(pt.tags[0].key, "t,k");
    ck_assert_str_eq(pt.tags[0].value, "v=1");
    ck_assert_int_eq(pt.fields[0].i, -5);
    ck_assert_uint_eq(pt.fields[1].u, 5);
    ck_assert_double_eq(pt.fields[2].f, 1500.0);
    ck_assert(pt.fields[3].b);
    ck_assert(!pt.fields[4].b);
    ck_assert(!pt.has_time);
    /* names unescape only \\, \\space \\= : InfluxDB keeps other backslashes */
    const char *kept = "m,t=a\\\"b\\\\c f=1i";
    ck_assert_int_eq(lineproto_parse(kept, strlen(kept), &pt, err), 0);
    ck_assert_str_eq(pt.tags[0].value, "a\\\"b\\\\c");
    ck_assert_int_eq(lineproto_parse("# c", 3, &pt, err), 1);
    ck_assert_int_eq(lineproto_parse("  ", 2, &pt, err), 1);
    static const char *const bad[] = {"m",         "m f",     "m f=",      "m f=\"open", "m,t f=1",
                                      "m f=1 12x", "m f=abc", "m f=1 1 2", ",t=v f=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(lineproto_parse(bad[i], strlen(bad[i]), &pt, err) == -EINVAL, "%s", bad[i]);
    lineproto_point_free(&pt);
}
END_TEST

Suite *check_lineproto_suite(void);
Suite *check_lineproto_suite(void)
{
    Suite *s = suite_create("lineproto");
    TCase *w = tcase_create("writer");
    tcase_add_test(w, escape_tag_separators);
    tcase_add_test(w, escape_controls_visible_or_dropped);
    tcase_add_test(w, escape_backslashes_in_tags);
    tcase_add_test(w, empty_tag_is_unknown);
    tcase_add_test(w, full_buffer_is_sticky);
    tcase_add_test(w, truncation_at_utf8_boundary);
    tcase_add_test(w, float_format);
    tcase_add_test(w, float_format_matches_printf);
    tcase_add_test(w, keyed_writers_match_string_keys);
    tcase_add_test(w, int_digits_match_printf);
    tcase_add_loop_test(w, hostile_roundtrip, 0, sizeof(hostile) / sizeof(hostile[0]));
    suite_add_tcase(s, w);
    TCase *r = tcase_create("reader");
    tcase_add_test(r, reader_raw_newline_in_string);
    tcase_add_test(r, reader_types_and_errors);
    suite_add_tcase(s, r);
    return s;
}
