/* SPDX-License-Identifier: MIT */
/* The tokenmeter envelope on its own: what is an envelope, what it must
 * hold, what counts as absent, and the head written back for array
 * elements (docs/sources.md). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "tokenmeter/body.h"
#include "tokenmeter/envelope.h"

static struct body *parsed;

static const struct body_node *parse(const char *json)
{
    char err[ERR_MAX];
    body_free(parsed);
    parsed = NULL;
    ck_assert_msg(body_parse(json, strlen(json), &parsed, err) == 0, "%s", err);
    return body_root(parsed);
}

static void teardown(void)
{
    body_free(parsed);
    parsed = NULL;
}

START_TEST(detect_needs_the_tokenmeter_member)
{
    ck_assert(envelope_detect(parse("{\"tokenmeter\":1,\"body\":{}}")));
    /* a wrong version is still meant as an envelope: an error, not a body */
    ck_assert(envelope_detect(parse("{\"tokenmeter\":\"x\"}")));
    ck_assert(!envelope_detect(parse("{\"org\":\"a\",\"body\":{}}")));
    ck_assert(!envelope_detect(parse("[{\"tokenmeter\":1}]")));
}
END_TEST

START_TEST(parse_reads_tenancy_source_and_body)
{
    char err[ERR_MAX];
    struct envelope env;
    const struct body_node *root =
        parse("{\"tokenmeter\":1,\"org\":\"acme\",\"team\":\"search\",\"user\":\"u1\","
              "\"source\":\"openai\",\"body\":[{\"id\":\"x\"}]}");
    ck_assert_int_eq(envelope_parse(root, &env, err), 0);
    ck_assert_str_eq(env.org, "acme");
    ck_assert_str_eq(env.team, "search");
    ck_assert_str_eq(env.user, "u1");
    ck_assert_str_eq(env.source, "openai");
    ck_assert_ptr_eq(env.body, body_get(root, "/body"));
    ck_assert_int_eq(body_type(env.body), BODY_ARRAY);
    ck_assert(envelope_carries(&env));
}
END_TEST

START_TEST(null_and_empty_members_are_absent)
{
    char err[ERR_MAX];
    struct envelope env;
    ck_assert_int_eq(envelope_parse(parse("{\"tokenmeter\":1,\"org\":null,\"team\":\"\","
                                          "\"source\":null,\"body\":{\"a\":1}}"),
                                    &env, err),
                     0);
    ck_assert_ptr_null(env.org);
    ck_assert_ptr_null(env.team);
    ck_assert_ptr_null(env.user);
    ck_assert_ptr_null(env.source);
    ck_assert_int_eq(body_type(env.body), BODY_OBJECT);
    ck_assert(!envelope_carries(&env));
}
END_TEST

/* Envelopes that must be refused, each with the words its reason must hold. */
static const struct {
    const char *json;
    const char *reason;
} bad[] = {
    {"{\"tokenmeter\":2,\"body\":{}}", "\"tokenmeter\" must be 1"},
    {"{\"tokenmeter\":\"one\",\"body\":{}}", "\"tokenmeter\" must be 1"},
    {"{\"tokenmeter\":1.5,\"body\":{}}", "\"tokenmeter\" must be 1"},
    {"{\"tokenmeter\":1,\"org\":5,\"body\":{}}", "\"org\" must be a string"},
    {"{\"tokenmeter\":1,\"team\":[],\"body\":{}}", "\"team\" must be a string"},
    {"{\"tokenmeter\":1,\"user\":{},\"body\":{}}", "\"user\" must be a string"},
    {"{\"tokenmeter\":1,\"source\":true,\"body\":{}}", "\"source\" must be a string"},
    {"{\"tokenmeter\":1,\"source\":\"nosuch\",\"body\":{}}", "unknown source \"nosuch\""},
    {"{\"tokenmeter\":1}", "\"body\" must be a JSON object, array or string"},
    {"{\"tokenmeter\":1,\"body\":5}", "\"body\" must be a JSON object, array or string"},
    {"{\"tokenmeter\":1,\"body\":null}", "\"body\" must be a JSON object, array or string"},
    {"{\"tokenmeter\":1,\"provider\":7,\"body\":{}}", "\"provider\" must be a string"},
};

START_TEST(parse_refuses_with_reason)
{
    char err[ERR_MAX] = "";
    struct envelope env;
    ck_assert_int_eq(envelope_parse(parse(bad[_i].json), &env, err), -EINVAL);
    ck_assert_msg(strstr(err, bad[_i].reason) != NULL, "want \"%s\" in \"%s\"", bad[_i].reason,
                  err);
    ck_assert_msg(strncmp(err, "envelope: ", 10) == 0, "%s", err);
}
END_TEST

START_TEST(head_keeps_members_in_order_and_escaped)
{
    char err[ERR_MAX];
    struct envelope env;
    ck_assert_int_eq(envelope_parse(parse("{\"source\":\"litellm\",\"user\":\"a\\\"b\","
                                          "\"tokenmeter\":1,\"org\":\"o\",\"body\":{}}"),
                                    &env, err),
                     0);
    struct buf b;
    buf_init(&b, 1024);
    ck_assert_int_eq(envelope_write_head(&env, &b), 0);
    ck_assert_str_eq(b.data, "{\"tokenmeter\":1,\"org\":\"o\",\"user\":\"a\\\"b\","
                             "\"source\":\"litellm\",\"body\":");
    buf_free(&b);
}
END_TEST

START_TEST(head_is_empty_without_members)
{
    struct envelope env;
    memset(&env, 0, sizeof(env));
    struct buf b;
    buf_init(&b, 1024);
    ck_assert_int_eq(envelope_write_head(&env, &b), 0);
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

START_TEST(head_reports_the_buffer_cap)
{
    struct envelope env = {.org = "an organisation with a long name"};
    struct buf b;
    buf_init(&b, 16);
    ck_assert_int_eq(envelope_write_head(&env, &b), -ENOSPC);
    buf_free(&b);
}
END_TEST

Suite *check_envelope_suite(void);
Suite *check_envelope_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *t = tcase_create("envelope");
    tcase_add_checked_fixture(t, NULL, teardown);
    tcase_add_test(t, detect_needs_the_tokenmeter_member);
    tcase_add_test(t, parse_reads_tenancy_source_and_body);
    tcase_add_test(t, null_and_empty_members_are_absent);
    tcase_add_loop_test(t, parse_refuses_with_reason, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(t, head_keeps_members_in_order_and_escaped);
    tcase_add_test(t, head_is_empty_without_members);
    tcase_add_test(t, head_reports_the_buffer_cap);
    suite_add_tcase(s, t);
    return s;
}
