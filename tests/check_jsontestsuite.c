/* SPDX-License-Identifier: MIT */
/*
 * body.c against JSONTestSuite (Nicolas Seriot, MIT; the test_parsing files
 * are kept as data in tests/data/jsontestsuite/ with their license):
 * every y_ document accepted and every n_ document refused, except the
 * documented choices below; and the i_ (implementation-defined) ones each
 * with the verdict body.c chose, so that a change of choice is seen. body.c
 * makes jansson's default choices (json_loadb with no flags), so the two
 * parsers, which the differential tests hold to the same verdicts, agree:
 *
 * - A document is an object or an array. A lone scalar is refused: a
 *   webhook body that is a bare string or number carries no usage.
 * - \u0000 is refused in strings and keys: strings become C strings in
 *   line protocol, tags and SQL, where a NUL would cut them.
 * - An integer beyond int64 and a real beyond double are refused rather
 *   than rounded: a token count that cannot be held exactly must not be
 *   summed as if it were.
 * - Invalid UTF-8, lone or reversed surrogate escapes, UTF-16 and BOMs are
 *   refused: everything a body says ends up in line protocol and JSON
 *   records, which must stay valid UTF-8 (the pipeline strips a UTF-8 BOM
 *   before parsing; nothing sends UTF-16).
 * - Nesting deeper than the parser's limit is refused; 500 levels are
 *   within it.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tokenmeter/body.h"

/* y_ cases refused by choice (see above). */
static const char *const y_refused[] = {
    "y_object_escaped_null_in_key.json",
    "y_string_null_escape.json",
    "y_string_space.json",
    "y_structure_lonely_false.json",
    "y_structure_lonely_int.json",
    "y_structure_lonely_negative_real.json",
    "y_structure_lonely_null.json",
    "y_structure_lonely_string.json",
    "y_structure_lonely_true.json",
    "y_structure_string_empty.json",
};

/* The i_ cases body.c accepts; every other i_ case is refused. */
static const char *const i_accepted[] = {
    "i_number_double_huge_neg_exp.json",
    "i_number_real_underflow.json",
    "i_structure_500_nested_arrays.json",
};

static bool listed(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s", path);
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap);
    ck_assert_ptr_nonnull(data);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            data = realloc(data, cap);
            ck_assert_ptr_nonnull(data);
        }
    }
    fclose(fp);
    *len = n;
    return data;
}

START_TEST(every_case_has_the_expected_verdict)
{
    const char *root = getenv("TESTDATA");
    ck_assert_ptr_nonnull(root);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/jsontestsuite", root);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s", dir);
    int counts[3] = {0, 0, 0}; /* y, n, i */
    int failures = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        char kind = name[0];
        if ((kind != 'y' && kind != 'n' && kind != 'i') || name[1] != '_')
            continue;
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        size_t len;
        char *data = read_all(path, &len);
        struct body *b = NULL;
        char err[ERR_MAX];
        int rc = body_parse(data, len, &b, err);
        bool want =
            kind == 'y'
                ? !listed(y_refused, sizeof(y_refused) / sizeof(*y_refused), name)
                : kind == 'i' && listed(i_accepted, sizeof(i_accepted) / sizeof(*i_accepted), name);
        if ((rc == 0) != want) {
            fprintf(stderr, "jsontestsuite: %s %s, expected %s (%s)\n", name,
                    rc == 0 ? "accepted" : "refused", want ? "accepted" : "refused",
                    rc == 0 ? "" : err);
            failures++;
        }
        /* A refusal is a clean one: the parse error code, never a crash or
         * an out-of-memory. */
        if (rc < 0)
            ck_assert_int_eq(rc, -EINVAL);
        counts[kind == 'y' ? 0 : kind == 'n' ? 1 : 2]++;
        body_free(b);
        free(data);
    }
    closedir(d);
    ck_assert_int_eq(failures, 0);
    /* All of the suite was there (95 y_, 188 n_, 35 i_ at the commit kept). */
    ck_assert_int_eq(counts[0], 95);
    ck_assert_int_eq(counts[1], 188);
    ck_assert_int_eq(counts[2], 35);
}
END_TEST

Suite *check_jsontestsuite_suite(void);
Suite *check_jsontestsuite_suite(void)
{
    Suite *s = suite_create("jsontestsuite");
    TCase *tc = tcase_create("jsontestsuite");
    tcase_add_test(tc, every_case_has_the_expected_verdict);
    suite_add_tcase(s, tc);
    return s;
}
