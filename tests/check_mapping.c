/* SPDX-License-Identifier: MIT */
/* [mapping]: validation at start-up (every kind of config error, with its
 * FILE:LINE), and events read through it by the pipeline. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "runbin.h"
#include "pipeline_fixture.h"
#include "testutil.h"
#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/mapping.h"
#include "tokenmeter/pipeline.h"

static char dir[64];

static void setup(void)
{
    tu_tmpdir(dir, sizeof(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A config whose [mapping] holds the key/value pairs (NULL-terminated),
 * each with origin "m.ini:<2 + index>". */
static struct config *mapping_config(const char *const *pairs)
{
    char err[ERR_MAX];
    struct config *cfg = config_new();
    for (size_t i = 0; pairs[2 * i]; i++) {
        char origin[32];
        snprintf(origin, sizeof(origin), "m.ini:%zu", i + 2);
        ck_assert_int_eq(config_set(cfg, "mapping", pairs[2 * i], pairs[2 * i + 1], origin, err),
                         0);
    }
    return cfg;
}

#define BASE "match", "/kind", "model", "/model", "input_tokens", "/in"

START_TEST(valid_mapping)
{
    const char *pairs[] = {BASE,    "provider",    "acme",       "time",
                           "/t",    "time_format", "unix_us",    "cost",
                           "/c",    "cost_unit",   "cents",      "input_includes_cache",
                           "false", "org",         "/a~1b/c~0d", NULL};
    struct config *cfg = mapping_config(pairs);
    struct mapping *m = NULL;
    char err[ERR_MAX] = "";
    ck_assert_msg(mapping_new(&cfg->mapping, &m, err) == 0, "%s", err);
    ck_assert_str_eq(m->match, "/kind");
    ck_assert_str_eq(m->model.ptr, "/model");
    ck_assert_ptr_null(m->model.literal);
    ck_assert_str_eq(m->provider.literal, "acme");
    ck_assert_int_eq(m->time_format, MAPPING_TIME_UNIX_US);
    ck_assert_double_eq(m->cost_scale, 0.01);
    ck_assert(!m->input_includes_cache && m->output_includes_reasoning);
    ck_assert_str_eq(m->org.ptr, "/a~1b/c~0d");
    mapping_free(m);
    config_free(cfg);
}
END_TEST

START_TEST(empty_section_is_no_mapping)
{
    struct config *cfg = config_new();
    struct mapping *m = (struct mapping *)1;
    char err[ERR_MAX];
    ck_assert_int_eq(mapping_new(&cfg->mapping, &m, err), 0);
    ck_assert_ptr_null(m);
    config_free(cfg);
}
END_TEST

START_TEST(pointer_syntax)
{
    ck_assert(mapping_pointer_valid(""));
    ck_assert(mapping_pointer_valid("/a/b"));
    ck_assert(mapping_pointer_valid("/a~0~1/0/"));
    ck_assert(mapping_pointer_valid("/gen_ai.usage.input_tokens"));
    ck_assert(!mapping_pointer_valid("a/b"));
    ck_assert(!mapping_pointer_valid("/a~2"));
    ck_assert(!mapping_pointer_valid("/a~"));
    char long_tok[300] = "/";
    memset(long_tok + 1, 'x', 256);
    long_tok[257] = '\0';
    ck_assert(!mapping_pointer_valid(long_tok));
    long_tok[256] = '\0'; /* 255 bytes: still followable */
    ck_assert(mapping_pointer_valid(long_tok));
}
END_TEST

/* Every kind of config error: the message names the line and the key. */
START_TEST(config_errors)
{
    static const struct {
        const char *pairs[12];
        const char *needle;
    } bad[] = {
        {{BASE, "modle", "/m", NULL}, "m.ini:5: [mapping] unknown key \"modle\""},
        {{BASE, "model", "/m2", NULL}, "m.ini:5: [mapping] model given twice (first at m.ini:3)"},
        {{BASE, "id", "request/id", NULL},
         "m.ini:5: [mapping] id = \"request/id\": not a JSON "
         "pointer"},
        {{BASE, "id", "/a~2b", NULL}, "m.ini:5: [mapping] id = \"/a~2b\": not a JSON pointer"},
        {{BASE, "org", "/x~", NULL}, "m.ini:5: [mapping] org = \"/x~\": not a JSON pointer"},
        {{BASE, "org", "", NULL}, "m.ini:5: [mapping] org is empty"},
        {{"model", "/m", "input_tokens", "/in", NULL}, "m.ini:2: [mapping] has no match key"},
        {{"match", "/k", "input_tokens", "/in", NULL}, "m.ini:2: [mapping] has no model key"},
        {{"match", "/k", "model", "/m", "org", "/o", NULL},
         "m.ini:2: [mapping] maps no usage: give input_tokens, output_tokens or cost"},
        {{BASE, "time", "/t", "time_format", "iso", NULL},
         "m.ini:6: [mapping] time_format = \"iso\": expected rfc3339, unix_s, unix_ms"},
        {{BASE, "time_format", "unix_s", NULL},
         "m.ini:5: [mapping] time_format is given "
         "without time"},
        {{BASE, "cost", "/c", "cost_unit", "eur", NULL},
         "m.ini:6: [mapping] cost_unit = \"eur\": expected usd or cents"},
        {{BASE, "cost_unit", "usd", NULL}, "m.ini:5: [mapping] cost_unit is given without cost"},
        {{BASE, "input_includes_cache", "yes", NULL},
         "m.ini:5: [mapping] input_includes_cache = \"yes\": expected true or false"},
        {{BASE, "status_success", "ok", NULL}, "status_success is given without status"},
        {{BASE, "match_value", "", NULL}, "m.ini:5: [mapping] match_value is empty"},
        {{"match", "kind", "model", "/m", "cost", "/c", NULL},
         "m.ini:2: [mapping] match = \"kind\": not a JSON pointer"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config *cfg = mapping_config(bad[i].pairs);
        struct mapping *m = (struct mapping *)1;
        char err[ERR_MAX] = "";
        ck_assert_int_eq(mapping_new(&cfg->mapping, &m, err), -EINVAL);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(err, bad[i].needle), "case %zu: \"%s\" not in: %s", i, bad[i].needle,
                      err);
        config_free(cfg);
    }
}
END_TEST

/* The binary refuses to start on a bad mapping: exit 78, FILE:LINE said. */
START_TEST(binary_exits_78_on_bad_mapping)
{
    char cfgp[200], out[200], errp[200], dl[200];
    snprintf(cfgp, sizeof(cfgp), "%s/bad.conf", dir);
    snprintf(out, sizeof(out), "%s/out.lp", dir);
    snprintf(errp, sizeof(errp), "%s/err.txt", dir);
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    static const struct {
        const char *conf;
        const char *needle;
    } bad[] = {
        {"[ingest]\nsource = auto\n\n[mapping]\nmatch = /kind\nmodel = /m\ninput_tokens = "
         "usage.in\n",
         "bad.conf:7: [mapping] input_tokens = \"usage.in\": not a JSON pointer"},
        {"[mapping]\nmatch = /kind\nmodel = /m\n", "bad.conf:2: [mapping] maps no usage"},
        {"[mapping]\nmatch = /kind\nmodel = /m\ncost = /c\ncost_unit = pence\n",
         "bad.conf:5: [mapping] cost_unit = \"pence\""},
        {"[mapping]\nmatch = /kind\nmodel = /m\ncost = /c\ntime = /t\ntime_format = epoch\n",
         "bad.conf:6: [mapping] time_format = \"epoch\""},
        {"[mapping]\nmatch = /kind\nmodel = /m\ncost = /c\ntokens = /t\n",
         "bad.conf:5: [mapping] unknown key \"tokens\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tu_write_file(cfgp, bad[i].conf);
        const char *args[] = {"-c", cfgp, "execd", "--dead-letter", dl, NULL};
        ck_assert_int_eq(rb_run(args, NULL, out, errp), 78);
        char *e = tu_read_file(errp);
        ck_assert_msg(strstr(e, bad[i].needle), "case %zu: \"%s\" not in: %s", i, bad[i].needle, e);
        free(e);
    }
}
END_TEST

static void fx_open(struct fixture *fx, const char *const *pairs)
{
    char dl[128];
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    fx_open_config(fx, mapping_config(pairs), dl);
}

/* Each case reads only its own points. */
static void feed_only(struct fixture *fx, const char *json)
{
    buf_reset(&fx->out);
    feed(fx, json);
}

START_TEST(exclusive_input_and_time_formats)
{
    static const struct {
        const char *fmt;
        const char *t;
        const char *ts; /* whole seconds of the point's timestamp */
    } cases[] = {
        {"unix_s", "1787666600.25", " 1787666600"},
        {"unix_ms", "1787666600250", " 1787666600"},
        {"unix_us", "\"1787666600250000\"", " 1787666600"},
        {"unix_ns", "1787666600250000000", " 1787666600"},
        {"rfc3339", "\"2026-08-25T14:03:20.25Z\"", " 1787666600"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *pairs[] = {BASE,         "cached_input_tokens",
                               "/cached",    "cache_write_tokens",
                               "/written",   "input_includes_cache",
                               "false",      "output_tokens",
                               "/out",       "time",
                               "/t",         "time_format",
                               cases[i].fmt, NULL};
        struct fixture fx;
        fx_open(&fx, pairs);
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"kind\":\"u\",\"model\":\"m\",\"in\":10,\"cached\":30,\"written\":5,"
                 "\"out\":2,\"t\":%s}",
                 cases[i].t);
        feed_only(&fx, body);
        want(&fx, "source=mapped");
        want(&fx, "input_tokens=45i,cached_input_tokens=30i,cache_write_tokens=5i,"
                  "output_tokens=2i,total_tokens=47i");
        want(&fx, cases[i].ts);
        fx_close(&fx);
    }
}
END_TEST

START_TEST(bad_values_reject_the_body)
{
    const char *pairs[] = {BASE, "time", "/t", "org", "/org", NULL};
    struct fixture fx;
    fx_open(&fx, pairs);
    feed_only(&fx, "{\"kind\":1,\"model\":\"m\",\"in\":1,\"t\":1787666600}"); /* rfc3339 wanted */
    feed_only(&fx, "{\"kind\":1,\"model\":\"m\",\"in\":-1}");
    feed_only(&fx, "{\"kind\":1,\"model\":\"m\",\"in\":1,\"org\":42}");
    ck_assert_uint_eq(fx.st.rejected, 3);
    ck_assert_uint_eq(fx.st.written, 0);
    fx_close(&fx);
}
END_TEST

START_TEST(status_rules)
{
    const char *pairs[] = {BASE, "status", "/s", NULL};
    static const struct {
        const char *s;
        const char *want;
    } cases[] = {
        {"true", "status=success"},
        {"false", "status=error"},
        {"200", "status=success"},
        {"1", "status=success"},
        {"0", "status=error"},
        {"503", "error_type=\"http_503\""},
        {"\"Success\"", "status=success"},
        {"\"failed\"", "status=error"},
        {"null", "status=success"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture fx;
        fx_open(&fx, pairs);
        char body[128];
        snprintf(body, sizeof(body), "{\"kind\":1,\"model\":\"m\",\"in\":1,\"s\":%s}", cases[i].s);
        feed_only(&fx, body);
        want(&fx, cases[i].want);
        fx_close(&fx);
    }
}
END_TEST

START_TEST(mapping_takes_part_in_detection)
{
    /* A mapping that also claims OpenAI chat bodies makes them ambiguous:
     * rejected, never guessed. */
    const char *pairs[] = {
        "match", "/object", "model", "/model", "input_tokens", "/usage/prompt_tokens", NULL};
    struct fixture fx;
    fx_open(&fx, pairs);
    feed_only(&fx, "{\"object\":\"chat.completion\",\"id\":\"c\",\"model\":\"gpt-4o\","
                   "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}");
    ck_assert_uint_eq(fx.st.rejected, 1);
    /* forced through an envelope, the mapping reads it */
    feed_only(&fx, "{\"tokenmeter\":1,\"source\":\"mapped\",\"body\":{\"object\":\"x\","
                   "\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":7}}}");
    want(&fx, "source=mapped");
    want(&fx, "input_tokens=7i");
    fx_close(&fx);
}
END_TEST

START_TEST(forced_mapped_without_mapping)
{
    struct fixture fx;
    const char *none[] = {NULL};
    fx_open(&fx, none);
    feed_only(&fx, "{\"tokenmeter\":1,\"source\":\"mapped\",\"body\":{\"a\":1}}");
    ck_assert_uint_eq(fx.st.rejected, 1);
    fx_close(&fx);
}
END_TEST

Suite *check_mapping_suite(void);
Suite *check_mapping_suite(void)
{
    Suite *s = suite_create("mapping");
    TCase *tc = tcase_create("mapping");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, valid_mapping);
    tcase_add_test(tc, empty_section_is_no_mapping);
    tcase_add_test(tc, pointer_syntax);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, binary_exits_78_on_bad_mapping);
    tcase_add_test(tc, exclusive_input_and_time_formats);
    tcase_add_test(tc, bad_values_reject_the_body);
    tcase_add_test(tc, status_rules);
    tcase_add_test(tc, mapping_takes_part_in_detection);
    tcase_add_test(tc, forced_mapped_without_mapping);
    suite_add_tcase(s, tc);
    return s;
}
