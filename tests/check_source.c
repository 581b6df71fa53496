/* SPDX-License-Identifier: MIT */
/* The registry's detection shortcut: struct source.keys is a promise each
 * descriptor makes about its match(); source_members(), the one pass that
 * finds the keys (and LiteLLM's members), must find what body_get() finds. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_fixture.h"
#include "testutil.h"
#include "tokenmeter/body.h"
#include "tokenmeter/config.h"
#include "tokenmeter/source.h"

/* Every key has a name, each its own. */
START_TEST(key_names_distinct)
{
    for (int k = 0; k < SOURCE_KEY_COUNT; k++) {
        const char *name = source_key_name((enum source_key)k);
        ck_assert_ptr_nonnull(name);
        for (int j = 0; j < k; j++)
            ck_assert_str_ne(name, source_key_name((enum source_key)j));
    }
    ck_assert_ptr_null(source_key_name(SOURCE_KEY_COUNT));
}
END_TEST

/* True when obj has a member named by one of the bits in keys. */
static bool has_key(const struct body_node *obj, uint32_t keys)
{
    for (size_t i = 0; i < body_object_len(obj); i++)
        for (int k = 0; k < SOURCE_KEY_COUNT; k++)
            if ((keys & (UINT32_C(1) << k)) &&
                strcmp(body_object_key(obj, i), source_key_name((enum source_key)k)) == 0)
                return true;
    return false;
}

/* Asks every descriptor about every object in n (n included, nested ones
 * too: envelopes, batches and arrays hold documents); returns how many
 * objects some descriptor matched. */
static int check_promise(const struct body_node *n, const char *where)
{
    int matched = 0;
    if (body_type(n) == BODY_OBJECT) {
        for (size_t i = 0; source_at(i); i++) {
            const struct source *s = source_at(i);
            if (!s->match(n))
                continue;
            matched = 1;
            ck_assert_msg(!s->keys || has_key(n, s->keys),
                          "%s: %s (%s) matches an object without any of its keys", where, s->name,
                          s->signature);
        }
        for (size_t i = 0; i < body_object_len(n); i++)
            matched += check_promise(body_object_value(n, i), where);
    }
    for (size_t i = 0; i < body_array_len(n); i++)
        matched += check_promise(body_array_at(n, i), where);
    return matched;
}

/* Checks the promise on every object of text: of each of its lines, or of
 * the whole when by_line is false. Returns how many objects some
 * descriptor matched. */
static int check_text(char *text, const char *path, bool by_line)
{
    int matched = 0, line = 0;
    for (char *p = text, *next; *p; p = next) {
        size_t len = by_line ? strcspn(p, "\n") : strlen(p);
        next = p[len] ? p + len + 1 : p + len;
        line++;
        struct body *b = NULL;
        char err[ERR_MAX];
        if (body_parse(p, len, &b, err) < 0)
            continue; /* rejected bodies are the golden and fuzz tests' business */
        char where[1100];
        snprintf(where, sizeof(where), "%s:%d", path, line);
        matched += check_promise(body_root(b), where);
        body_free(b);
    }
    return matched;
}

/* Every golden case's input (the shapes each source is known to read), and
 * every body the pipeline fuzzer kept (shapes near and between them). */
START_TEST(keys_promise_holds_on_golden_and_fuzz_inputs)
{
    const char *td = getenv("TESTDATA");
    const char *root = td && *td ? td : "tests/data";
    char fuzz[512];
    snprintf(fuzz, sizeof(fuzz), "%s/../fuzz/corpus/fuzz_pipeline", root);
    const struct {
        const char *dir;
        const char *file; /* NDJSON inside each entry, or NULL: the entry is one body */
    } corpora[] = {{root, "input.ndjson"}, {fuzz, NULL}};
    for (size_t c = 0; c < sizeof(corpora) / sizeof(corpora[0]); c++) {
        DIR *d = opendir(corpora[c].dir);
        ck_assert_msg(d != NULL, "%s", corpora[c].dir);
        int matched = 0;
        for (struct dirent *e; (e = readdir(d));) {
            char path[1024];
            if (e->d_name[0] == '.')
                continue; /* ".", ".." (a directory is no file to read) */
            if (corpora[c].file)
                snprintf(path, sizeof(path), "%s/%s/%s", corpora[c].dir, e->d_name,
                         corpora[c].file);
            else
                snprintf(path, sizeof(path), "%s/%s", corpora[c].dir, e->d_name);
            char *text = tu_read_file(path);
            if (!text)
                continue;
            matched += check_text(text, path, corpora[c].file != NULL);
            free(text);
        }
        closedir(d);
        /* the corpus really exercised the promise */
        ck_assert_int_gt(matched, 100);
    }
}
END_TEST

/* A member with a null value still counts as present: match() decides. */
START_TEST(null_key_still_asks_match)
{
    struct body *b = NULL;
    char err[ERR_MAX];
    const char *doc = "{\"call_type\":null,\"litellm_call_id\":\"c1\",\"status\":\"success\","
                      "\"startTime\":1}";
    ck_assert_int_eq(body_parse(doc, strlen(doc), &b, err), 0);
    const struct source *s = source_detect(body_root(b), NULL, err);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->name, "litellm");
    body_free(b);
}
END_TEST

/* source_members() gives what body_get() gives for each name. */
START_TEST(members_match_body_get)
{
    static const char *const names[] = {"a", "A",  "ab", "abc", "b", "", "\xc3\xa9t\xc3\xa9",
                                        "!", "aa", "zz"};
    enum { N = sizeof(names) / sizeof(names[0]) };
    const char *doc = "{\"ab\":1,\"A\":2,\"a\":3,\"ab\":4,\"\":5,\"\\u00e9t\\u00e9\":6,"
                      "\"abcd\":7,\"!\":8,\"a\\u0061\":9,\"z\":10,\"B\":11}";
    struct body *b = NULL;
    char err[ERR_MAX];
    ck_assert_int_eq(body_parse(doc, strlen(doc), &b, err), 0);
    const struct body_node *out[N];
    source_members(body_root(b), names, N, out);
    for (size_t k = 0; k < N; k++) {
        char ptr[32];
        snprintf(ptr, sizeof(ptr), "/%s", names[k]);
        ck_assert_msg(out[k] == body_get(body_root(b), ptr), "member \"%s\"", names[k]);
    }
    int64_t v = 0;
    ck_assert_int_eq(body_int(out[2], "", &v), 0);
    ck_assert_int_eq(v, 4); /* the last of the duplicates */
    ck_assert_ptr_null(out[3]);
    ck_assert_ptr_null(out[9]);
    /* not an object: nothing */
    source_members(body_get(body_root(b), "/a"), names, N, out);
    for (size_t k = 0; k < N; k++)
        ck_assert_ptr_null(out[k]);
    body_free(b);
}
END_TEST

/* Every member LiteLLM's payload is read for (found in one pass, see
 * litellm_extract), each with a value that shows in the point. */
START_TEST(litellm_reads_every_member)
{
    struct fixture fx;
    char dir[64];
    fx_open_tmp(&fx, config_new(), dir);
    feed(&fx, "{\"id\":\"chatcmpl-1\",\"litellm_call_id\":\"call-9\",\"trace_id\":\"tr-1\","
              "\"call_type\":\"litellm.aembedding\",\"status\":\"failure\","
              "\"error_information\":{\"error_code\":\"429\"},\"model\":\"gpt-4o\","
              "\"custom_llm_provider\":\"azure\",\"startTime\":1787666591.5,"
              "\"endTime\":1787666593.0,\"completionStartTime\":1787666592.0,\"stream\":true,"
              "\"prompt_tokens\":10,\"completion_tokens\":5,\"response_cost\":0.5,"
              "\"response_cost_failure_debug_info\":{\"e\":1},\"metadata\":{"
              "\"user_api_key_org_id\":\"o1\",\"usage_object\":{\"prompt_tokens_details\":{"
              "\"cached_tokens\":2},\"completion_tokens_details\":{\"reasoning_tokens\":1}}},"
              "\"response\":{\"choices\":[{\"finish_reason\":\"length\"}]}}");
    static const char *const wanted[] = {
        "model=gpt-4o,org=o1,provider=azure,source=litellm,status=error ",
        "input_tokens=10i,cached_input_tokens=2i,output_tokens=5i,reasoning_tokens=1i,",
        "latency_ms=1500,ttft_ms=500,",
        "cost_source=\"unpriced\"",
        "operation=\"embeddings\",event_id=\"chatcmpl-1:call-9\",trace_id=\"tr-1\","
        "finish_reason=\"length\",error_type=\"429\" 1787666591",
    };
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        want(&fx, wanted[i]);
    fx_close_tmp(&fx, dir);
}
END_TEST

Suite *check_source_suite(void);
Suite *check_source_suite(void)
{
    Suite *s = suite_create("source");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, key_names_distinct);
    tcase_add_test(tc, keys_promise_holds_on_golden_and_fuzz_inputs);
    tcase_add_test(tc, null_key_still_asks_match);
    tcase_add_test(tc, members_match_body_get);
    tcase_add_test(tc, litellm_reads_every_member);
    suite_add_tcase(s, tc);
    return s;
}
