/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/map.h"
#include "tokenmeter/vec.h"

/* A string-keyed table the way map users build one: entries in a vec, the
 * map as their index. */
struct entry {
    char key[24];
    int value;
};

struct table {
    struct entry *items;
    size_t len, cap;
    struct map index;
};

static struct entry *table_find(struct table *t, const char *key)
{
    uint64_t h = map_hash_str(MAP_HASH_INIT, key);
    size_t it = map_first(&t->index, h), i;
    while ((i = map_next(&t->index, h, &it)) != MAP_NONE)
        if (strcmp(t->items[i].key, key) == 0)
            return &t->items[i];
    return NULL;
}

static int table_put(struct table *t, const char *key, int value)
{
    struct entry *e = table_find(t, key);
    if (e) {
        e->value = value;
        return 0;
    }
    int rc = vec_reserve(&t->items, &t->cap, t->len + 1, sizeof(*t->items));
    if (rc < 0)
        return rc;
    snprintf(t->items[t->len].key, sizeof(t->items[t->len].key), "%s", key);
    t->items[t->len].value = value;
    rc = map_insert(&t->index, map_hash_str(MAP_HASH_INIT, key), t->len);
    if (rc < 0)
        return rc;
    t->len++;
    return 0;
}

START_TEST(hash_vectors)
{
    /* Published FNV-1a 64 test vectors. */
    ck_assert_uint_eq(map_hash(MAP_HASH_INIT, "", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(map_hash(MAP_HASH_INIT, "a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(map_hash(MAP_HASH_INIT, "foobar", 6), 0x85944171f73967e8ULL);
    /* chained strings keep their boundaries */
    ck_assert_uint_ne(map_hash_str(map_hash_str(MAP_HASH_INIT, "ab"), "c"),
                      map_hash_str(map_hash_str(MAP_HASH_INIT, "a"), "bc"));
    ck_assert_uint_eq(map_hash_str(MAP_HASH_INIT, NULL), map_hash_str(MAP_HASH_INIT, ""));
}
END_TEST

START_TEST(many_keys_found_and_absent_ones_not)
{
    struct table t = {0};
    map_init(&t.index);
    char key[24];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof(key), "model-%d", i);
        ck_assert_int_eq(table_put(&t, key, i), 0);
    }
    /* overwrite keeps one entry */
    ck_assert_int_eq(table_put(&t, "model-7", -7), 0);
    ck_assert_uint_eq(t.len, 50000);
    ck_assert_uint_eq(t.index.len, 50000);
    ck_assert_uint_le(t.index.len * 2, t.index.nslots); /* at most half full */
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof(key), "model-%d", i);
        struct entry *e = table_find(&t, key);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->value, i == 7 ? -7 : i);
    }
    ck_assert_ptr_null(table_find(&t, "model-50000"));
    ck_assert_ptr_null(table_find(&t, ""));
    map_clear(&t.index);
    ck_assert_ptr_null(table_find(&t, "model-1"));
    map_free(&t.index);
    free(t.items);
}
END_TEST

START_TEST(equal_hashes_are_all_yielded)
{
    struct map m;
    map_init(&m);
    ck_assert_uint_eq(map_next(&m, 42, &(size_t){map_first(&m, 42)}), MAP_NONE);
    ck_assert_int_eq(map_reserve(&m, 100), 0);
    size_t slots = m.nslots;
    for (size_t i = 0; i < 100; i++)
        ck_assert_int_eq(map_insert(&m, i % 3 == 0 ? 42 : i, i), 0);
    ck_assert_uint_eq(m.nslots, slots); /* reserve meant no rehash */
    size_t it = map_first(&m, 42), i, seen = 0, sum = 0;
    while ((i = map_next(&m, 42, &it)) != MAP_NONE) {
        seen++;
        sum += i;
    }
    ck_assert_uint_eq(seen, 34);
    ck_assert_uint_eq(sum, 3 * (33 * 34 / 2));
    ck_assert_int_eq(map_insert(&m, 1, MAP_NONE), -EINVAL);
    map_free(&m);
    map_free(&m); /* a freed map is an empty map */
}
END_TEST

START_TEST(vec_grows_and_refuses_overflow)
{
    int *a = NULL;
    size_t cap = 0;
    ck_assert_int_eq(vec_reserve(&a, &cap, 1, sizeof(*a)), 0);
    ck_assert_uint_eq(cap, 8);
    ck_assert_int_eq(vec_reserve(&a, &cap, 9, sizeof(*a)), 0);
    ck_assert_uint_eq(cap, 16);
    ck_assert_int_eq(vec_reserve(&a, &cap, 1000, sizeof(*a)), 0);
    ck_assert_uint_eq(cap, 1024);
    for (int i = 0; i < 1000; i++)
        a[i] = i;
    int *before = a;
    ck_assert_int_eq(vec_reserve(&a, &cap, (size_t)-1 / 2, sizeof(*a)), -ENOMEM);
    ck_assert_ptr_eq(a, before); /* unchanged on failure */
    ck_assert_uint_eq(cap, 1024);
    ck_assert_int_eq(a[999], 999);
    free(a);
}
END_TEST

Suite *check_map_suite(void);
Suite *check_map_suite(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, hash_vectors);
    tcase_add_test(tc, many_keys_found_and_absent_ones_not);
    tcase_add_test(tc, equal_hashes_are_all_yielded);
    tcase_add_test(tc, vec_grows_and_refuses_overflow);
    suite_add_tcase(s, tc);
    return s;
}
