/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "tokenmeter/identity.h"
#include "tokenmeter/map.h"

START_TEST(fnv1a_vectors)
{
    /* Published FNV-1a 64 test vectors. */
    ck_assert_uint_eq(identity_fnv1a(IDENTITY_FNV_OFFSET, "", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(identity_fnv1a(IDENTITY_FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(identity_fnv1a(IDENTITY_FNV_OFFSET, "foobar", 6), 0x85944171f73967e8ULL);
    /* continuing a hash equals hashing the concatenation */
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, "foo", 3);
    ck_assert_uint_eq(identity_fnv1a(h, "bar", 3), 0x85944171f73967e8ULL);
    /* any length, in one call or a byte at a time */
    const char *text = "the quick brown fox jumps over the lazy dog";
    for (size_t n = 0; n <= strlen(text); n++) {
        uint64_t bytewise = IDENTITY_FNV_OFFSET;
        for (size_t i = 0; i < n; i++)
            bytewise = identity_fnv1a(bytewise, text + i, 1);
        ck_assert_uint_eq(identity_fnv1a(IDENTITY_FNV_OFFSET, text, n), bytewise);
    }
    /* one FNV-1a in the program: the map's */
    ck_assert_uint_eq(IDENTITY_FNV_OFFSET, MAP_HASH_INIT);
    ck_assert_uint_eq(identity_fnv1a(h, "bar", 3), map_hash(h, "bar", 3));
}
END_TEST

START_TEST(point_key_rule)
{
    const char *line = "m,org=a\\ b,source=x f=1i 5\n";
    size_t len = strlen(line);
    int64_t ts = 5;
    /* the series is everything up to the first unescaped space */
    const char *series = "m,org=a\\ b,source=x";
    uint64_t want = identity_fnv1a(IDENTITY_FNV_OFFSET, series, strlen(series));
    want = identity_fnv1a(want, "x:e1", 4);
    ck_assert_uint_eq(identity_point_key(line, len, "x", "e1", false, ts), want);
    ck_assert_uint_eq(identity_point_key(line, len, "x", "e1", true, ts),
                      identity_fnv1a(want, &ts, sizeof(ts)));
    /* fields do not take part; the series, source and id do */
    const char *other_fields = "m,org=a\\ b,source=x f=2i 5\n";
    ck_assert_uint_eq(identity_point_key(other_fields, strlen(other_fields), "x", "e1", false, ts),
                      want);
    const char *other_series = "m,org=c\\ b,source=x f=1i 5\n";
    ck_assert_uint_ne(identity_point_key(other_series, len, "x", "e1", false, ts), want);
    ck_assert_uint_ne(identity_point_key(line, len, "x", "e2", false, ts), want);
    /* the time only counts when the body gave one */
    ck_assert_uint_eq(identity_point_key(line, len, "x", "e1", false, ts + 1), want);
    ck_assert_uint_ne(identity_point_key(line, len, "x", "e1", true, ts + 1),
                      identity_point_key(line, len, "x", "e1", true, ts));
}
END_TEST

/* The series as the rule states it, a byte at a time. */
static size_t series_reference(const char *line, size_t len)
{
    size_t i = 0;
    for (; i < len && line[i] != ' '; i++)
        if (line[i] == '\\')
            i++;
    return i > len ? len : i;
}

/* Escaped spaces and backslashes in every place, no space at all, a
 * backslash ending the line: the key hashes the series the rule names. */
START_TEST(point_key_series_edges)
{
    static const char *const lines[] = {
        "m f=1i",
        "m\\ x f=1i",
        "m,t=a\\\\ b f=1i",
        "m,t=a\\",
        "m,t=a\\\\",
        "m,t=\\ \\  f",
        "nospace",
        "",
        "\\",
        " leading",
        "m,t=a\\ b\\ c,u=d e=1",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        size_t len = strlen(lines[i]);
        uint64_t want =
            identity_fnv1a(IDENTITY_FNV_OFFSET, lines[i], series_reference(lines[i], len));
        want = identity_fnv1a(want, "s:e", 3);
        ck_assert_msg(identity_point_key(lines[i], len, "s", "e", false, 0) == want, "%s",
                      lines[i]);
    }
}
END_TEST

START_TEST(timestamp_rule)
{
    int64_t t = 1787666591482113000LL; /* 2026-08-25T14:03:11.482113Z */
    int64_t ts = identity_timestamp(t, "openrouter", "gen-1");
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, "openrouter:gen-1", 16);
    ck_assert_int_eq(ts, 1787666591000000000LL + (int64_t)(h % 1000000000ULL));
    /* the same event at another sub-second time lands on the same point */
    ck_assert_int_eq(identity_timestamp(t + 400000000, "openrouter", "gen-1"), ts);
    /* another source or id moves it */
    ck_assert_int_ne(identity_timestamp(t, "litellm", "gen-1"), ts);
    ck_assert_int_ne(identity_timestamp(t, "openrouter", "gen-2"), ts);
    /* within the second */
    ck_assert_int_ge(ts, 1787666591000000000LL);
    ck_assert_int_lt(ts, 1787666592000000000LL);
}
END_TEST

START_TEST(cache_detects_repeats)
{
    struct identity_cache *c = identity_cache_new(1000);
    ck_assert_ptr_nonnull(c);
    ck_assert(!identity_cache_check_insert(c, 42));
    ck_assert(identity_cache_check_insert(c, 42));
    ck_assert(!identity_cache_check_insert(c, 0)); /* 0 is a legal key */
    ck_assert(identity_cache_check_insert(c, 0));
    identity_cache_free(c);
    /* disabled cache never reports a duplicate */
    ck_assert_ptr_null(identity_cache_new(0));
    ck_assert(!identity_cache_check_insert(NULL, 42));
    ck_assert(!identity_cache_check_insert(NULL, 42));
    identity_cache_free(NULL);
}
END_TEST

START_TEST(cache_evicts_oldest_with_fixed_memory)
{
    /* 8 keys: one bucket of IDENTITY_WAYS ways */
    size_t cap = IDENTITY_WAYS;
    ck_assert_uint_eq(identity_cache_bytes(cap), IDENTITY_WAYS * 8 + 1);
    struct identity_cache *c = identity_cache_new(cap);
    for (uint64_t k = 1; k <= IDENTITY_WAYS; k++)
        ck_assert(!identity_cache_check_insert(c, k << 32));
    for (uint64_t k = 1; k <= IDENTITY_WAYS; k++)
        ck_assert(identity_cache_check_insert(c, k << 32));
    /* a ninth key evicts the oldest (the first) and nothing else */
    ck_assert(!identity_cache_check_insert(c, (uint64_t)99 << 32));
    ck_assert(!identity_cache_check_insert(c, (uint64_t)1 << 32));
    ck_assert(identity_cache_check_insert(c, (uint64_t)3 << 32));
    identity_cache_free(c);
}
END_TEST

START_TEST(cache_capacity_holds_recent_keys)
{
    /* With 100k keys inserted into a 1M cache, every key is still found; the
     * memory is what --help states: 8 bytes per identity plus a byte per
     * bucket. */
    size_t cap = 1000000;
    ck_assert_uint_eq(identity_cache_bytes(cap), 131072 * 8 * 8 + 131072);
    struct identity_cache *c = identity_cache_new(cap);
    int missing = 0;
    for (uint64_t i = 0; i < 100000; i++)
        identity_cache_check_insert(c, identity_fnv1a(IDENTITY_FNV_OFFSET, &i, sizeof(i)));
    for (uint64_t i = 0; i < 100000; i++)
        if (!identity_cache_check_insert(c, identity_fnv1a(IDENTITY_FNV_OFFSET, &i, sizeof(i))))
            missing++;
    ck_assert_int_eq(missing, 0);
    identity_cache_free(c);
}
END_TEST

Suite *check_identity_suite(void);
Suite *check_identity_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *t = tcase_create("identity");
    tcase_add_test(t, fnv1a_vectors);
    tcase_add_test(t, point_key_rule);
    tcase_add_test(t, point_key_series_edges);
    tcase_add_test(t, timestamp_rule);
    tcase_add_test(t, cache_detects_repeats);
    tcase_add_test(t, cache_evicts_oldest_with_fixed_memory);
    tcase_add_test(t, cache_capacity_holds_recent_keys);
    suite_add_tcase(s, t);
    return s;
}
