/* SPDX-License-Identifier: MIT */
/*
 * body.c's string scan has two forms: SSE2 (every x86-64 build) and a
 * portable one (word-at-a-time) for the rest. This file compiles a second
 * copy of body.c with BODY_PORTABLE, its exported names renamed, so that
 * the portable form runs here too, and checks it against the SSE2 build
 * linked into the tests: the same verdict, the same error message, the same
 * document, on strings whose special bytes (quotes, escapes, control bytes,
 * UTF-8, bad escapes) fall at every offset around the 16-byte halves of a
 * 32-byte block and at the very end of the input.
 */
#define BODY_PORTABLE     1
#define body_parse        portable_body_parse
#define body_parse_max    portable_body_parse_max
#define body_free         portable_body_free
#define body_root         portable_body_root
#define body_get          portable_body_get
#define body_type         portable_body_type
#define body_str          portable_body_str
#define body_str_nonempty portable_body_str_nonempty
#define body_count        portable_body_count
#define body_int          portable_body_int
#define body_num          portable_body_num
#define body_bool         portable_body_bool
#define body_has          portable_body_has
#define body_array_len    portable_body_array_len
#define body_array_at     portable_body_array_at
#define body_object_len   portable_body_object_len
#define body_object_key   portable_body_object_key
#define body_object_value portable_body_object_value
#define body_dump         portable_body_dump
#include "../plugin/body.c"
#undef body_parse
#undef body_free
#undef body_root
#undef body_dump

#include <check.h>

/* The SSE2 build's own functions (body.h's declarations were renamed). */
int body_parse(const char *data, size_t len, struct body **out, char err[ERR_MAX]);
void body_free(struct body *b);
const struct body_node *body_root(const struct body *b);
int body_dump(const struct body_node *n, struct buf *out);

/* Parses in with both forms: same verdict, same message, same document. */
static void both_alike(const char *in, size_t len)
{
    struct body *a = NULL, *p = NULL;
    char aerr[ERR_MAX] = "", perr[ERR_MAX] = "";
    int arc = body_parse(in, len, &a, aerr);
    int prc = portable_body_parse(in, len, &p, perr);
    ck_assert_msg(arc == prc, "%.*s: SSE2 %d (%s), portable %d (%s)", (int)len, in, arc, aerr, prc,
                  perr);
    if (arc < 0) {
        ck_assert_msg(strcmp(aerr, perr) == 0, "%.*s: %s / %s", (int)len, in, aerr, perr);
    } else {
        struct buf ad, pd;
        buf_init(&ad, 1 << 20);
        buf_init(&pd, 1 << 20);
        ck_assert_int_eq(body_dump(body_root(a), &ad), 0);
        ck_assert_int_eq(portable_body_dump(portable_body_root(p), &pd), 0);
        ck_assert_msg(ad.len == pd.len && memcmp(ad.data, pd.data, ad.len) == 0, "%.*s", (int)len,
                      in);
        buf_free(&ad);
        buf_free(&pd);
    }
    body_free(a);
    portable_body_free(p);
}

START_TEST(portable_scan_agrees_with_sse2)
{
    static const char *const specials[] = {
        "\\n",        "\\\"",         "\\\\",
        "\\/",        "\\u00e9",      "\\ud83d\\ude00",
        "\\u0000",    "\\ud83d",      "\\x",
        "\\u12",      "\x01",         "\x7f",
        "\xc3\xa9",   "\xe6\x9d\xb1", "\xf0\x9f\x98\x80",
        "\xff",       "\xc3(",        "\"",
        "\\u20ac\\n", "\xed\xa0\x80",
    };
    const size_t ns = sizeof(specials) / sizeof(specials[0]);
    char in[256];
    for (size_t a = 0; a < ns; a++) {
        for (size_t b = 0; b < ns; b += 3) {
            for (size_t at = 0; at < 36; at++) {
                for (size_t gap = 0; gap < 20; gap += 5) {
                    /* {"k":"<at x's><special a><gap y's><special b>z"} */
                    int n = snprintf(in, sizeof(in), "{\"k\":\"%.*s%s%.*s%sz\"}", (int)at,
                                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", specials[a],
                                     (int)gap, "yyyyyyyyyyyyyyyyyyyy", specials[b]);
                    ck_assert_int_gt(n, 0);
                    both_alike(in, (size_t)n);
                    /* cut anywhere in the string's last 24 bytes: the scan's
                     * tail, short of a block, and unterminated strings */
                    for (size_t cut = (size_t)n > 24 ? (size_t)n - 24 : 0; cut < (size_t)n; cut++)
                        both_alike(in, cut);
                }
            }
        }
    }
}
END_TEST

Suite *check_body_portable_suite(void);
Suite *check_body_portable_suite(void)
{
    Suite *s = suite_create("body_portable");
    TCase *t = tcase_create("body_portable");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, portable_scan_agrees_with_sse2);
    suite_add_tcase(s, t);
    return s;
}
