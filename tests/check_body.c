/* SPDX-License-Identifier: MIT */
/* body accessors, time parsing and base64: the small parsers every source
 * relies on. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "testutil.h"
#include "tokenmeter/base64.h"
#include "tokenmeter/body.h"
#include "tokenmeter/timeutil.h"

static struct body *parse(const char *json)
{
    struct body *b = NULL;
    char err[ERR_MAX];
    ck_assert_int_eq(body_parse(json, strlen(json), &b, err), 0);
    return b;
}

START_TEST(pointer_paths)
{
    struct body *b = parse("{\"a\":{\"b/c\":[10,{\"d~e\":\"x\"}]},\"gen_ai.usage.input_tokens\":5,"
                           "\"n\":null,\"e\":\"\"}");
    const struct body_node *r = body_root(b);
    int64_t v = 0;
    ck_assert_int_eq(body_count(r, "/a/b~1c/0", &v), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_str_eq(body_str(r, "/a/b~1c/1/d~0e"), "x");
    ck_assert_int_eq(body_count(r, "/gen_ai.usage.input_tokens", &v), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_ptr_null(body_get(r, "/a/missing"));
    ck_assert_ptr_null(body_get(r, "/a/b~1c/7"));
    ck_assert_ptr_null(body_get(r, "/a/b~1c/-1"));
    ck_assert_ptr_null(body_get(r, "no-leading-slash"));
    ck_assert_int_eq(body_type(body_get(r, "/n")), BODY_NULL);
    ck_assert(!body_has(r, "/n"));
    ck_assert_int_eq(body_count(r, "/n", &v), -ENOENT);
    ck_assert_str_eq(body_str(r, "/e"), "");
    ck_assert_ptr_null(body_str_nonempty(r, "/e"));
    ck_assert_ptr_eq(body_get(r, ""), r);
    body_free(b);
    body_free(NULL);
}
END_TEST

START_TEST(counts_accept_and_refuse)
{
    struct body *b = parse("{\"i\":7,\"r\":7.0,\"s\":\"123\",\"neg\":-1,\"frac\":1.5,\"big\":1e30,"
                           "\"sneg\":\"-4\",\"sx\":\"12a\",\"huge\":\"99999999999999999999\","
                           "\"bool\":true,\"max\":9223372036854775807}");
    const struct body_node *r = body_root(b);
    int64_t v = 0;
    ck_assert_int_eq(body_count(r, "/i", &v), 0);
    ck_assert_int_eq(body_count(r, "/r", &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(body_count(r, "/s", &v), 0);
    ck_assert_int_eq(v, 123);
    ck_assert_int_eq(body_count(r, "/max", &v), 0);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(body_count(r, "/neg", &v), -ERANGE);
    ck_assert_int_eq(body_count(r, "/sneg", &v), -ERANGE);
    ck_assert_int_eq(body_count(r, "/frac", &v), -EINVAL);
    ck_assert_int_eq(body_count(r, "/big", &v), -ERANGE);
    ck_assert_int_eq(body_count(r, "/sx", &v), -EINVAL);
    ck_assert_int_eq(body_count(r, "/huge", &v), -ERANGE);
    ck_assert_int_eq(body_count(r, "/bool", &v), -EINVAL);
    double d = 0;
    ck_assert_int_eq(body_num(r, "/s", &d), 0);
    ck_assert_double_eq(d, 123.0);
    ck_assert_int_eq(body_num(r, "/sx", &d), -EINVAL);
    body_free(b);
}
END_TEST

START_TEST(parse_errors)
{
    struct body *b = NULL;
    char err[ERR_MAX];
    ck_assert_int_eq(body_parse("{\"a\":", 5, &b, err), -EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
    ck_assert_int_eq(body_parse("\"scalar\"", 8, &b, err), -EINVAL);
    ck_assert_int_eq(body_parse("{\"a\":\"\xff\"}", 9, &b, err), -EINVAL);
    /* 10 000 levels of nesting: refused by the depth limit, not a crash */
    static char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    ck_assert_int_eq(body_parse(deep, 20000, &b, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "depth"));
}
END_TEST

/* Every byte that a string's block scan must stop at, at every offset in
 * and around a block: found where it is (error offsets say so), decoded or
 * refused as it must be. */
START_TEST(string_scan_finds_every_special_byte)
{
    static const struct {
        const char *bytes;
        const char *decoded; /* NULL: refused */
        const char *reason;
    } cases[] = {
        {"\\n", "\n", NULL},
        {"\\\"", "\"", NULL},
        {"\\u00e9", "\xc3\xa9", NULL},
        {"\xc3\xa9", "\xc3\xa9", NULL},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", NULL},
        {"\x7f", "\x7f", NULL},
        {"\x01", NULL, "control character"},
        {"\x1f", NULL, "control character"},
        {"\xff", NULL, "invalid UTF-8"},
        {"\xc3(", NULL, "invalid UTF-8"},
        {"\\x", NULL, "invalid escape"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (size_t at = 0; at < 40; at++) {
            char json[128], want[128];
            size_t blen = strlen(cases[c].bytes);
            /* {"k":"aaa<bytes>aaaa"} with `at` a's before and 40 - at after */
            int n = snprintf(json, sizeof(json), "{\"k\":\"%.*s%s%.*s\"}", (int)at,
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", cases[c].bytes,
                             (int)(40 - at), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
            ck_assert_int_gt(n, 0);
            struct body *b = NULL;
            char err[ERR_MAX] = "";
            int rc = body_parse(json, (size_t)n, &b, err);
            if (!cases[c].decoded) {
                ck_assert_msg(rc == -EINVAL, "case %zu at %zu: %d", c, at, rc);
                ck_assert_msg(strstr(err, cases[c].reason), "case %zu at %zu: %s", c, at, err);
                char where[64];
                snprintf(where, sizeof(where), "at byte %zu:", 6 + at);
                ck_assert_msg(strstr(err, where), "case %zu at %zu: %s", c, at, err);
                continue;
            }
            ck_assert_msg(rc == 0, "case %zu at %zu: %s", c, at, err);
            snprintf(want, sizeof(want), "%.*s%s%.*s", (int)at,
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", cases[c].decoded, (int)(40 - at),
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
            ck_assert_str_eq(body_str(body_root(b), "/k"), want);
            (void)blen;
            body_free(b);
        }
    }
}
END_TEST

/* body_parse() reads its own copy of the document, never past len of the
 * caller's: a document cut anywhere, with the rest of it still in the
 * caller's buffer, gets the verdict of the cut bytes alone (the scans read
 * ahead into the copy's padding, which must not pass for the bytes cut
 * off); the caller's bytes are never written, not even when strings are
 * decoded, and the body does not need them once parsed. */
START_TEST(the_document_is_a_copy)
{
    static const char doc[] = "{\"k\\u00e9y\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" "
                              "and a tail of thirty-two bytes..\",\"n\":12,\"r\":1.5}";
    const size_t len = sizeof(doc) - 1;
    char buf[sizeof(doc)];
    for (size_t cut = 1; cut <= len; cut++) {
        memcpy(buf, doc, sizeof(doc));
        char *alone = malloc(cut); /* exactly the cut bytes: ASan sees any read past them */
        ck_assert_ptr_nonnull(alone);
        memcpy(alone, doc, cut);
        struct body *b = NULL, *a = NULL;
        char err[ERR_MAX] = "", aerr[ERR_MAX] = "";
        int rc = body_parse(buf, cut, &b, err);
        int arc = body_parse(alone, cut, &a, aerr);
        ck_assert_msg(rc == arc && strcmp(err, aerr) == 0, "cut %zu: %s / %s", cut, err, aerr);
        ck_assert_msg(cut == len ? rc == 0 : rc == -EINVAL, "cut %zu: %d %s", cut, rc, err);
        /* cut inside a string (its closing quote cut off): unterminated
         * there, whatever its escapes and the bytes past the cut */
        bool open = false;
        for (size_t i = 0; i < cut; i++) {
            if (open && doc[i] == '\\')
                i++;
            else if (doc[i] == '"')
                open = !open;
        }
        if (open) {
            char want[ERR_MAX];
            snprintf(want, sizeof(want), "invalid JSON at byte %zu: unterminated string", cut);
            ck_assert_str_eq(err, want);
        }
        if (rc == 0) {
            const struct body_node *r = body_root(b);
            ck_assert_str_eq(body_str(r, "/k\xc3\xa9y"),
                             "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" and a tail of thirty-two bytes..");
            ck_assert_int_eq(memcmp(buf, doc, sizeof(doc)), 0);
            memset(buf, 'x', sizeof(buf));
            ck_assert_str_eq(body_str(r, "/k\xc3\xa9y"),
                             "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" and a tail of thirty-two bytes..");
            int64_t n = 0;
            double d = 0;
            ck_assert_int_eq(body_count(r, "/n", &n), 0);
            ck_assert_int_eq(n, 12);
            ck_assert_int_eq(body_num(r, "/r", &d), 0);
            ck_assert(d == 1.5);
        }
        body_free(b);
        body_free(a);
        free(alone);
    }
}
END_TEST

/* A string with escapes is decoded when it is first read, by whichever
 * accessor reads it, the same every time; a key is decoded at once. */
START_TEST(escapes_decoded_when_read)
{
    const char *json = "{\"k\\u0065y\":\"a\\nb\",\"n\":\"\\u0031\\u0032\",\"r\":\"\\u0031.5\","
                       "\"d\":\"\\ud83d\\ude00\\/\"}";
    for (int order = 0; order < 2; order++) {
        struct body *b = parse(json);
        const struct body_node *r = body_root(b);
        struct buf out;
        buf_init(&out, 1024);
        if (order == 1) /* dumped before any read, then read */
            ck_assert_int_eq(body_dump(r, &out), 0);
        ck_assert_str_eq(body_str(r, "/key"), "a\nb");
        ck_assert_str_eq(body_str(r, "/key"), "a\nb");
        int64_t v = 0;
        ck_assert_int_eq(body_count(r, "/n", &v), 0);
        ck_assert_int_eq(v, 12);
        ck_assert_int_eq(body_count(r, "/n", &v), 0);
        ck_assert_int_eq(v, 12);
        double d = 0;
        ck_assert_int_eq(body_num(r, "/r", &d), 0);
        ck_assert_double_eq(d, 1.5);
        ck_assert_str_eq(body_str(r, "/d"), "\xf0\x9f\x98\x80/");
        buf_reset(&out);
        ck_assert_int_eq(body_dump(r, &out), 0);
        ck_assert_str_eq(out.data, "{\"d\":\"\xf0\x9f\x98\x80/\",\"key\":\"a\\nb\",\"n\":\"12\","
                                   "\"r\":\"1.5\"}");
        buf_free(&out);
        body_free(b);
    }
}
END_TEST

/* Escapes are checked while the string is scanned, yet a document gets the
 * verdict it got when they were checked while decoding: a control byte or
 * bad UTF-8 anywhere in the string wins over a bad escape before it, and the
 * first bad escape wins over later ones. */
START_TEST(escape_errors_keep_their_precedence)
{
    static const struct {
        const char *json, *reason;
        size_t at;
    } cases[] = {
        {"[\"\\x \x01\"]", "control character", 5},
        {"[\"\\x \xff\"]", "invalid UTF-8", 5},
        {"[\"\\x \\u12\"]", "invalid escape", 2},
        {"[\"ab\\u12\"]", "invalid \\u escape", 4},
        {"[\"\\ud800x\\q\"]", "unpaired UTF-16 surrogate", 2},
        {"[\"\\udc00\"]", "unpaired UTF-16 surrogate", 2},
        {"[\"\\u0000\"]", "\\u0000 is not allowed", 2},
        {"[\"\\q", "unterminated string", 4},
        {"[\"\\u00e9\\", "unterminated string", 9},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct body *b = NULL;
        char err[ERR_MAX] = "", where[48];
        ck_assert_int_eq(body_parse(cases[i].json, strlen(cases[i].json), &b, err), -EINVAL);
        snprintf(where, sizeof(where), "at byte %zu: ", cases[i].at);
        ck_assert_msg(strstr(err, where) && strstr(err, cases[i].reason), "%zu: %s", i, err);
    }
}
END_TEST

/* Reals are read without strtod() when one IEEE operation is exact; the
 * value must still be strtod()'s, bit for bit, and the lexeme kept. */
/* An escape is checked inline when the input has room for the longest
 * one after it, by the general path near the end: both must judge every \u
 * form as it is, surrogates above all (a BMP character from D000 to D7FF is
 * not a high surrogate). A complete pair always has that room, so its
 * verdicts are checked against the expected ones. */
START_TEST(escape_fast_path_agrees_with_the_general_one)
{
    static const struct {
        const char *escape, *decoded; /* NULL: refused */
    } cases[] = {
        {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
        {"\\uD83D\\uDE00", "\xf0\x9f\x98\x80"},
        {"\\ud800\\udc00", "\xf0\x90\x80\x80"},
        {"\\udbff\\udfff", "\xf4\x8f\xbf\xbf"},
        {"\\ud800\\uDc00", "\xf0\x90\x80\x80"},
        {"\\ud000\\udc00", NULL},
        {"\\ud7ff\\udc00", NULL},
        {"\\udc00\\ud800", NULL},
        {"\\ud800\\ud800", NULL},
        {"\\ud800\\u0041", NULL},
        {"\\ud800\\n", NULL},
        {"\\udbff\\ue000", NULL},
        {"\\ud800\\udbff", NULL},
        {"\\ud800\\udc0g", NULL},
        {"\\ud800x\\udc00", NULL},
        {"\\u0000", NULL},
        {"\\u0001", "\x01"},
        {"\\ud7ff", "\xed\x9f\xbf"},
        {"\\ue000", "\xee\x80\x80"},
        {"\\uffff", "\xef\xbf\xbf"},
        {"\\u00e9", "\xc3\xa9"},
        {"\\u12g4", NULL},
        {"\\n", "\n"},
        {"\\/", "/"},
        {"\\a", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *e = cases[i].escape;
        char roomy[128], tight[64], rerr[ERR_MAX] = "", terr[ERR_MAX] = "";
        int rn = snprintf(roomy, sizeof(roomy), "[\"%s%s\"]", e, "pppppppppppppppppppp");
        int tn = snprintf(tight, sizeof(tight), "[\"%s\"]", e);
        struct body *rb = NULL, *tb = NULL;
        int rrc = body_parse(roomy, (size_t)rn, &rb, rerr);
        int trc = body_parse(tight, (size_t)tn, &tb, terr);
        ck_assert_msg(rrc == (cases[i].decoded ? 0 : -EINVAL), "%s: %d %s", e, rrc, rerr);
        ck_assert_msg(rrc == trc, "%s: %d (%s) / %d (%s)", e, rrc, rerr, trc, terr);
        if (rrc < 0) {
            ck_assert_msg(strcmp(rerr, terr) == 0, "%s: %s / %s", e, rerr, terr);
        } else {
            char want[64];
            snprintf(want, sizeof(want), "%s%s", cases[i].decoded, "pppppppppppppppppppp");
            ck_assert_str_eq(body_str(body_root(rb), "/0"), want);
            ck_assert_str_eq(body_str(body_root(tb), "/0"), cases[i].decoded);
        }
        body_free(rb);
        body_free(tb);
    }
    struct body *b = NULL;
    char err[ERR_MAX] = "";
    ck_assert_int_eq(body_parse("[\"\\ud000\\udc00pppppppppppp\"]", 28, &b, err), -EINVAL);
    ck_assert_msg(strstr(err, "at byte 8: unpaired UTF-16 surrogate"), "%s", err);
}
END_TEST

START_TEST(reals_match_strtod)
{
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char lex[64], json[80];
        int frac = (int)(x >> 8 & 31), expo = (int)(x >> 16 & 63) - 32;
        unsigned long long m = (unsigned long long)(x >> 24) % (i % 3 ? 100000000ull : 1ull << 40);
        int n = i % 2 ? snprintf(lex, sizeof(lex), "%s%llu.%0*d", x & 1 ? "-" : "", m, frac % 8 + 1,
                                 (int)(x >> 40 & 0xFFFF) % 1000)
                      : snprintf(lex, sizeof(lex), "%s%llu.%de%d", x & 1 ? "-" : "", m, frac, expo);
        ck_assert_int_gt(n, 0);
        snprintf(json, sizeof(json), "[%s]", lex);
        struct body *b = parse(json);
        double got = 0, want = strtod(lex, NULL);
        ck_assert_int_eq(body_num(body_root(b), "/0", &got), 0);
        ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0, "%s: %.17g, strtod %.17g", lex, got,
                      want);
        struct buf out;
        buf_init(&out, 128);
        ck_assert_int_eq(body_dump(body_root(b), &out), 0);
        ck_assert_str_eq(out.data, json);
        buf_free(&out);
        body_free(b);
    }
    /* Only an exponent or more than 308 integer digits can overflow: the
     * parser checks those alone. */
    static const struct {
        int digits;
        const char *tail;
        int rc;
    } edge[] = {{308, ".9", 0},       {309, ".0", -EINVAL}, {308, "e0", 0},
                {308, "e1", -EINVAL}, {1, "e307", 0},       {1, "e308", -EINVAL}};
    for (size_t k = 0; k < sizeof(edge) / sizeof(edge[0]); k++) {
        char json[400], err[ERR_MAX] = "";
        json[0] = '[';
        memset(json + 1, '9', (size_t)edge[k].digits);
        int n = snprintf(json + 1 + edge[k].digits, 16, "%s]", edge[k].tail);
        struct body *b = NULL;
        int rc = body_parse(json, (size_t)(1 + edge[k].digits + n), &b, err);
        ck_assert_msg(rc == edge[k].rc, "%d digits%s: %d %s", edge[k].digits, edge[k].tail, rc,
                      err);
        if (rc < 0)
            ck_assert_msg(strstr(err, "real number out of range"), "%s", err);
        body_free(b);
    }
}
END_TEST

/* Each container gets exactly its children, whatever the strings around
 * them hold, and a document cut short fails with its own reason. */
START_TEST(structure_and_compact_nodes)
{
    struct body *b = parse("{\"a\":\"[,{\\\"}]\",\"b\":[\"x,y\",\"]\",[]],\"c\":{},"
                           "\"d\":[{\"e\":[1,[2,3]]}]}");
    const struct body_node *r = body_root(b);
    ck_assert_str_eq(body_str(r, "/a"), "[,{\"}]");
    ck_assert_uint_eq(body_array_len(body_get(r, "/b")), 3);
    ck_assert_str_eq(body_str(r, "/b/1"), "]");
    ck_assert_uint_eq(body_object_len(body_get(r, "/c")), 0);
    ck_assert_uint_eq(body_array_len(body_get(r, "/d/0/e/1")), 2);
    body_free(b);

    /* integers keep no text: the dump gives back every form JSON allows */
    static const char nums[] = "[-0,0,-1,9223372036854775807,-9223372036854775808,1.50,1E5,-0.0,"
                               "2.5e-3,true,false,null]";
    struct buf out;
    buf_init(&out, 4096);
    b = parse(nums);
    ck_assert_int_eq(body_dump(body_root(b), &out), 0);
    ck_assert_uint_eq(out.len, strlen(nums));
    ck_assert(memcmp(out.data, nums, out.len) == 0);
    double d = 0;
    int64_t i = 0;
    ck_assert_int_eq(body_num(body_root(b), "/5", &d), 0);
    ck_assert(d == 1.5);
    ck_assert_int_eq(body_int(body_root(b), "/6", &i), 0);
    ck_assert_int_eq(i, 100000);
    ck_assert_int_eq(body_int(body_root(b), "/3", &i), 0);
    ck_assert_int_eq(i, INT64_MAX);
    bool t = false;
    ck_assert_int_eq(body_bool(body_root(b), "/9", &t), 0);
    ck_assert(t);
    body_free(b);
    buf_free(&out);

    static const struct {
        const char *json;
        const char *why;
    } bad[] = {
        {"[[1,2],[3", "unexpected end of input"},
        {"[1,2 3]", "',' or ']' expected"},
        {"[1,]", "unexpected token"},
        {"{\"a\":1,}", "string key expected"},
        {"[1]]", "end of input expected"},
        {"{\"a\":[1,{\"b\":2]}", "',' or '}' expected"},
        {"[\"a\\\"]", "unterminated string"},
    };
    char err[ERR_MAX];
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ck_assert_int_eq(body_parse(bad[k].json, strlen(bad[k].json), &b, err), -EINVAL);
        ck_assert_msg(strstr(err, bad[k].why), "%s: %s", bad[k].json, err);
    }

    /* the deepest document allowed, then a sibling */
    static char deep[2 * 2048 + 16];
    size_t n = 0;
    memset(deep, '[', 2048);
    n = 2048;
    memset(deep + n, ']', 2047);
    n += 2047;
    memcpy(deep + n, ",[1,2,3]]", 9);
    n += 9;
    ck_assert_int_eq(body_parse(deep, n, &b, err), 0);
    ck_assert_uint_eq(body_array_len(body_root(b)), 2);
    ck_assert_uint_eq(body_array_len(body_get(body_root(b), "/1")), 3);
    body_free(b);
    /* one level more: 2049 */
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[n + 1] = ']';
    ck_assert_int_eq(body_parse(deep, n + 2, &b, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "depth"));
}
END_TEST

/* More pending children than the parser holds on the C stack, at several
 * levels at once: each container gets its own back, in order, after the
 * stack has moved to the heap under the ones still open. */
START_TEST(pending_children_past_the_c_stack)
{
    struct buf in;
    buf_init(&in, 1 << 20);
    buf_puts(&in, "{\"head\":[");
    for (int i = 0; i < 700; i++)
        buf_printf(&in, "%s%d", i ? "," : "", i);
    buf_puts(&in, "],\"items\":[");
    for (int i = 0; i < 600; i++) {
        buf_printf(&in, "%s{\"i\":%d,\"s\":\"s%d\",\"l\":[", i ? "," : "", i, i);
        for (int k = 0; k < 300; k++)
            buf_printf(&in, "%s%d", k ? "," : "", i + k);
        buf_puts(&in, "]}");
    }
    buf_puts(&in, "],\"tail\":true}");
    ck_assert_int_eq(buf_error(&in), 0);
    struct body *b = NULL;
    char err[ERR_MAX];
    ck_assert_msg(body_parse(in.data, in.len, &b, err) == 0, "%s", err);
    const struct body_node *r = body_root(b);
    ck_assert_uint_eq(body_object_len(r), 3);
    ck_assert_uint_eq(body_array_len(body_get(r, "/head")), 700);
    ck_assert_uint_eq(body_array_len(body_get(r, "/items")), 600);
    int64_t v = 0;
    char path[64], want[16];
    for (int i = 0; i < 700; i++) {
        snprintf(path, sizeof(path), "/head/%d", i);
        ck_assert_int_eq(body_int(r, path, &v), 0);
        ck_assert_int_eq(v, i);
    }
    for (int i = 0; i < 600; i += 7) {
        const struct body_node *it = body_array_at(body_get(r, "/items"), (size_t)i);
        ck_assert_int_eq(body_int(it, "/i", &v), 0);
        ck_assert_int_eq(v, i);
        snprintf(want, sizeof(want), "s%d", i);
        ck_assert_str_eq(body_str(it, "/s"), want);
        ck_assert_uint_eq(body_array_len(body_get(it, "/l")), 300);
        for (int k = 0; k < 300; k += 13) {
            snprintf(path, sizeof(path), "/l/%d", k);
            ck_assert_int_eq(body_int(it, path, &v), 0);
            ck_assert_int_eq(v, i + k);
        }
    }
    bool t = false;
    ck_assert_int_eq(body_bool(r, "/tail", &t), 0);
    ck_assert(t);
    body_free(b);
    buf_free(&in);
}
END_TEST

/* Parses in, which must be accepted, and returns the body. */
static struct body *parse_buf(const struct buf *in)
{
    struct body *b = NULL;
    char err[ERR_MAX] = "";
    ck_assert_int_eq(buf_error(in), 0);
    int rc = body_parse(in->data, in->len, &b, err);
    ck_assert_msg(rc == 0, "%.200s", err);
    return b;
}

/* The worst shapes for memory, each at BODY_MAX_VALUES or just under it,
 * are accepted; one value more is rejected with its own reason, as bad
 * input (the pipeline dead-letters it), not as running out of memory. */
START_TEST(value_cap)
{
    struct buf in;
    buf_init(&in, 16 << 20);
    int64_t v = 0;

    /* a long array of small values: the root and BODY_MAX_VALUES - 1 */
    buf_putc(&in, '[');
    for (long i = 0; i < BODY_MAX_VALUES - 1; i++)
        buf_puts(&in, i ? ",0" : "0");
    buf_putc(&in, ']');
    struct body *b = parse_buf(&in);
    ck_assert_uint_eq(body_array_len(body_root(b)), BODY_MAX_VALUES - 1);
    body_free(b);
    /* one more */
    buf_truncate(&in, in.len - 1);
    buf_puts(&in, ",0]");
    char err[ERR_MAX] = "";
    ck_assert_int_eq(body_parse(in.data, in.len, &b, err), -EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err, "more than 1000000 JSON values"), "%s", err);
    /* a caller's own cap: none (InfluxDB's answers, the price map), or lower */
    ck_assert_int_eq(body_parse_max(in.data, in.len, 0, &b, err), 0);
    ck_assert_uint_eq(body_array_len(body_root(b)), BODY_MAX_VALUES);
    body_free(b);
    ck_assert_int_eq(body_parse_max("[1,2,3]", 7, 3, &b, err), -EINVAL);
    ck_assert_msg(strstr(err, "more than 3 JSON values"), "%s", err);
    ck_assert_int_eq(body_parse_max("[1,2]", 5, 3, &b, err), 0);
    body_free(b);

    /* many short keys (keys are not values) */
    buf_reset(&in);
    buf_putc(&in, '{');
    for (long i = 0; i < BODY_MAX_VALUES - 1; i++)
        buf_printf(&in, "%s\"%lx\":%ld", i ? "," : "", i, i);
    buf_putc(&in, '}');
    b = parse_buf(&in);
    ck_assert_uint_eq(body_object_len(body_root(b)), BODY_MAX_VALUES - 1);
    ck_assert_int_eq(body_int(body_root(b), "/f423e", &v), 0);
    ck_assert_int_eq(v, 0xf423e);
    body_free(b);

    /* deep nesting, repeated */
    buf_reset(&in);
    buf_putc(&in, '[');
    for (int r = 0; r < 200; r++) {
        if (r)
            buf_putc(&in, ',');
        for (int d = 0; d < 2047; d++)
            buf_putc(&in, '[');
        for (int d = 0; d < 2047; d++)
            buf_putc(&in, ']');
    }
    buf_putc(&in, ']');
    b = parse_buf(&in);
    ck_assert_uint_eq(body_array_len(body_root(b)), 200);
    body_free(b);

    /* a long escaped string */
    buf_reset(&in);
    buf_puts(&in, "{\"s\":\"");
    for (int i = 0; i < 1000000; i++)
        buf_puts(&in, i % 3 ? "\\u00e9" : "\\n");
    buf_puts(&in, "\"}");
    b = parse_buf(&in);
    const char *s = body_str(body_root(b), "/s");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), 1000000 / 3 + 1 + 2 * (1000000 - (1000000 / 3 + 1)));
    ck_assert(memcmp(s, "\n\xc3\xa9\xc3\xa9\n", 6) == 0);
    body_free(b);

    /* huge numbers: one of a million digits, then many long reals */
    buf_reset(&in);
    buf_puts(&in, "[1.");
    for (int i = 0; i < 1000000; i++)
        buf_putc(&in, '0');
    buf_puts(&in, "1");
    for (int i = 0; i < 100000; i++)
        buf_puts(&in, ",-1234567890123456789012345678901234567.5e-300");
    buf_putc(&in, ']');
    b = parse_buf(&in);
    double d = 0;
    ck_assert_int_eq(body_num(body_root(b), "/0", &d), 0);
    ck_assert(d == 1.0);
    ck_assert_uint_eq(body_array_len(body_root(b)), 100001);
    body_free(b);

    /* over the cap inside a document, counted across containers */
    buf_reset(&in);
    buf_puts(&in, "{\"a\":[");
    for (long i = 0; i < BODY_MAX_VALUES / 2; i++)
        buf_puts(&in, i ? ",0" : "0");
    buf_puts(&in, "],\"b\":{");
    for (long i = 0; i < BODY_MAX_VALUES / 2; i++)
        buf_printf(&in, "%s\"%ld\":[]", i ? "," : "", i);
    buf_puts(&in, "}}");
    ck_assert_int_eq(buf_error(&in), 0);
    ck_assert_int_eq(body_parse(in.data, in.len, &b, err), -EINVAL);
    ck_assert_msg(strstr(err, "more than 1000000 JSON values"), "%s", err);
    buf_free(&in);
}
END_TEST

/* The address space this process has mapped now, in bytes, or 0. */
static size_t mapped_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!fp)
        return 0;
    if (fscanf(fp, "%lu", &pages) != 1)
        pages = 0;
    fclose(fp);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Running out of memory is -ENOMEM, never -EINVAL: a body that could not be
 * examined has not been judged (err.h). The address-space limit makes the
 * parser's stack of pending children fail part-way through a large array. Skipped where the
 * limit would hit the runner or the tool instead of the parser (CK_FORK=no,
 * as the valgrind and sanitizer runs use, and ASan's own allocator). */
START_TEST(out_of_memory_is_enomem)
{
#if defined(__SANITIZE_ADDRESS__)
    return; /* ASan aborts on a failed allocation instead of returning NULL */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return;
#endif
#endif
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0)
        return;
    /* 900 000 one-digit elements (under BODY_MAX_VALUES): 1.8 MB of text,
     * 14 MB of pending children, then as much of tree. */
    size_t n = 900000, len = 2 * n + 1;
    char *json = malloc(len);
    ck_assert_ptr_nonnull(json);
    json[0] = '[';
    for (size_t i = 0; i < n; i++) {
        json[2 * i + 1] = '0';
        json[2 * i + 2] = i + 1 < n ? ',' : ']';
    }
    size_t now = mapped_bytes();
    ck_assert_uint_gt(now, 0);
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)(now + ((size_t)4 << 20));
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &low), 0);
    struct body *b = NULL;
    char err[ERR_MAX] = "";
    int rc = body_parse(json, len, &b, err);
    setrlimit(RLIMIT_AS, &old);
    free(json);
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(err, "out of memory"));
}
END_TEST

START_TEST(object_iteration_and_dump)
{
    struct body *b = parse("{\"z\":1,\"a\":[true,null],\"m\":\"x\"}");
    const struct body_node *r = body_root(b);
    ck_assert_uint_eq(body_object_len(r), 3);
    ck_assert_str_eq(body_object_key(r, 0), "z");
    ck_assert_str_eq(body_object_key(r, 2), "m");
    ck_assert_uint_eq(body_array_len(body_object_value(r, 1)), 2);
    struct buf out;
    buf_init(&out, 1024);
    ck_assert_int_eq(body_dump(r, &out), 0);
    ck_assert_str_eq(out.data, "{\"a\":[true,null],\"m\":\"x\",\"z\":1}");
    buf_free(&out);
    /* a full buffer is reported, not a silently cut document */
    buf_init(&out, 10);
    ck_assert_int_eq(body_dump(r, &out), -ENOSPC);
    ck_assert_int_eq(body_dump(NULL, &out), -EINVAL);
    buf_free(&out);
    body_free(b);
}
END_TEST

START_TEST(iso8601)
{
    int64_t ns = 0;
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-25T14:03:11.482Z", &ns), 0);
    ck_assert_int_eq(ns, 1787666591482000000LL);
    ck_assert_int_eq(timeutil_parse_iso8601("2024-07-15T23:33:19.433273+00:00", &ns), 0);
    ck_assert_int_eq(ns, 1721086399433273000LL);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-25T16:03:11+02:00", &ns), 0);
    ck_assert_int_eq(ns, 1787666591000000000LL);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-25 14:03:11", &ns), 0);
    ck_assert_int_eq(ns, 1787666591000000000LL);
    ck_assert_int_eq(timeutil_parse_iso8601("1970-01-01T00:00:00Z", &ns), 0);
    ck_assert_int_eq(ns, 0);
    ck_assert_int_eq(timeutil_parse_iso8601("1969-12-31T23:59:59Z", &ns), -ERANGE);
    ck_assert_int_eq(timeutil_parse_iso8601("2263-01-01T00:00:00Z", &ns), -ERANGE);
    static const char *const bad[] = {"",
                                      "2026-08-25",
                                      "2026-13-01T00:00:00Z",
                                      "2026-08-25T25:00:00Z",
                                      "2026-08-25T14:03:11.Z",
                                      "2026-08-25T14:03:11Zjunk",
                                      "yesterday"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(timeutil_parse_iso8601(bad[i], &ns) == -EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(epoch_conversions)
{
    int64_t ns = 0;
    ck_assert_int_eq(timeutil_from_seconds(1787666591.482, &ns), 0);
    ck_assert_int_eq(ns, 1787666591482000000LL);
    ck_assert_int_eq(timeutil_from_seconds(-1, &ns), -ERANGE);
    ck_assert_int_eq(timeutil_from_units(1787666591482LL, 1000000, &ns), 0);
    ck_assert_int_eq(ns, 1787666591482000000LL);
    ck_assert_int_eq(timeutil_from_units(INT64_MAX / 10, 1000000000, &ns), -ERANGE);
    /* just under INT64_MAX ns is still refused: the identity timestamp adds
     * up to a second to it (Kong started_at, OTLP startTimeUnixNano) */
    ck_assert_int_eq(timeutil_from_units(9223372036854LL, 1000000, &ns), -ERANGE);
    ck_assert_int_eq(timeutil_from_units(INT64_MAX, 1, &ns), -ERANGE);
    ck_assert_int_eq(timeutil_from_units(9223372035LL * 1000, 1000000, &ns), 0);
    char out[40];
    timeutil_format_rfc3339(1787666591482000000LL, out, sizeof(out));
    ck_assert_str_eq(out, "2026-08-25T14:03:11.482Z");
}
END_TEST

START_TEST(base64_roundtrip)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    struct buf b;
    buf_init(&b, 1024);
    for (size_t i = 0; i < 7; i++) {
        buf_reset(&b);
        ck_assert_int_eq(base64_encode(&b, plain[i], strlen(plain[i])), 0);
        ck_assert_str_eq(b.len ? b.data : "", enc[i]);
        buf_reset(&b);
        ck_assert_int_eq(base64_decode(&b, enc[i], strlen(enc[i])), 0);
        ck_assert_str_eq(b.len ? b.data : "", plain[i]);
    }
    /* streaming in odd-sized chunks gives the same text */
    struct base64_stream st;
    base64_stream_init(&st);
    buf_reset(&b);
    const char *msg = "streaming works in any chunks";
    size_t mlen = strlen(msg);
    for (size_t i = 0; i < mlen; i += 2)
        ck_assert_int_eq(base64_stream_feed(&st, &b, msg + i, i + 1 < mlen ? 2 : 1), 0);
    ck_assert_int_eq(base64_stream_finish(&st, &b), 0);
    struct buf d;
    buf_init(&d, 1024);
    ck_assert_int_eq(base64_decode(&d, b.data, b.len), 0);
    ck_assert_str_eq(d.data, msg);
    ck_assert_int_eq(base64_decode(&d, "Zm9", 3), -EINVAL);
    ck_assert_int_eq(base64_decode(&d, "Zm=v", 4), -EINVAL);
    ck_assert_int_eq(base64_decode(&d, "Z!9v", 4), -EINVAL);
    /* a capped output is reported, not silently cut */
    struct buf small;
    buf_init(&small, 5);
    ck_assert_int_eq(base64_encode(&small, "foobar", 6), -ENOSPC);
    ck_assert_int_eq(base64_decode(&small, "Zm9vYmFy", 8), -ENOSPC);
    buf_free(&small);
    buf_free(&d);
    buf_free(&b);
}
END_TEST

START_TEST(buf_cap)
{
    struct buf b;
    buf_init(&b, 8);
    ck_assert_int_eq(buf_puts(&b, "12345678"), 0);
    ck_assert_int_eq(buf_putc(&b, '9'), -ENOSPC);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_int_eq(buf_printf(&b, "%d", 1), -ENOSPC);
    buf_consume(&b, 3);
    ck_assert_str_eq(b.data, "45678");
    buf_free(&b);
    buf_free(&b);
}
END_TEST

Suite *check_body_suite(void);
Suite *check_body_suite(void)
{
    Suite *s = suite_create("body");
    TCase *t = tcase_create("body");
    tcase_add_test(t, pointer_paths);
    tcase_add_test(t, counts_accept_and_refuse);
    tcase_add_test(t, parse_errors);
    tcase_add_test(t, string_scan_finds_every_special_byte);
    tcase_add_test(t, the_document_is_a_copy);
    tcase_add_test(t, reals_match_strtod);
    tcase_add_test(t, escapes_decoded_when_read);
    tcase_add_test(t, escape_errors_keep_their_precedence);
    tcase_add_test(t, escape_fast_path_agrees_with_the_general_one);
    tcase_add_test(t, structure_and_compact_nodes);
    tcase_add_test(t, pending_children_past_the_c_stack);
    tcase_add_test(t, value_cap);
    tcase_add_test(t, out_of_memory_is_enomem);
    tcase_add_test(t, object_iteration_and_dump);
    suite_add_tcase(s, t);
    TCase *u = tcase_create("utils");
    tcase_add_test(u, iso8601);
    tcase_add_test(u, epoch_conversions);
    tcase_add_test(u, base64_roundtrip);
    tcase_add_test(u, buf_cap);
    suite_add_tcase(s, u);
    return s;
}
