/* SPDX-License-Identifier: MIT */
#include "tokenmeter/envelope.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tokenmeter/deadletter.h"
#include "tokenmeter/source.h"

/* The optional members as JSON pointers (the key is what follows '/'), in
 * the order the head is written back. */
#define ENVELOPE_NMEMBERS 7
static const char *const envelope_ptrs[ENVELOPE_NMEMBERS] = {
    "/org", "/team", "/user", "/source", "/provider", "/id", "/model"};

bool envelope_detect(const struct body_node *root)
{
    return body_type(root) == BODY_OBJECT && body_has(root, "/tokenmeter");
}

int envelope_parse(const struct body_node *root, struct envelope *env, char err[ERR_MAX])
{
    memset(env, 0, sizeof(*env));
    int64_t version = 0;
    if (body_int(root, "/tokenmeter", &version) < 0 || version != 1)
        return err_set(err, -EINVAL, "envelope: \"tokenmeter\" must be 1 (the only version)");
    const char **dst[ENVELOPE_NMEMBERS] = {&env->org,      &env->team, &env->user, &env->source,
                                           &env->provider, &env->id,   &env->model};
    for (size_t i = 0; i < ENVELOPE_NMEMBERS; i++) {
        enum body_type t = body_type(body_get(root, envelope_ptrs[i]));
        if (t != BODY_ABSENT && t != BODY_NULL && t != BODY_STRING)
            return err_set(err, -EINVAL, "envelope: \"%s\" must be a string", envelope_ptrs[i] + 1);
        *dst[i] = body_str_nonempty(root, envelope_ptrs[i]);
    }
    if (env->source && !source_name_known(env->source))
        return err_set(err, -EINVAL, "envelope: unknown source \"%.64s\"", env->source);
    env->body = body_get(root, "/body");
    /* A string body is a stream's raw text (server-sent events): only a
     * source that reads streams whole can claim it. */
    enum body_type bt = body_type(env->body);
    if (bt != BODY_OBJECT && bt != BODY_ARRAY && bt != BODY_STRING)
        return err_set(err, -EINVAL, "envelope: \"body\" must be a JSON object, array or string");
    /* Every call of a batch would get the one id, and all but the first
     * would be dropped as re-sends. */
    if (env->id && bt == BODY_ARRAY && !source_claims_whole(env->body))
        return err_set(err, -EINVAL,
                       "envelope: \"id\" names one call, but the array body is a batch");
    return 0;
}

bool envelope_carries(const struct envelope *env)
{
    return env->org || env->team || env->user || env->source || env->provider || env->id ||
           env->model;
}

int envelope_write_head(const struct envelope *env, struct buf *b)
{
    if (!envelope_carries(env))
        return 0;
    const char *const values[ENVELOPE_NMEMBERS] = {env->org,      env->team, env->user, env->source,
                                                   env->provider, env->id,   env->model};
    buf_puts(b, "{\"tokenmeter\":1");
    for (size_t i = 0; i < ENVELOPE_NMEMBERS; i++) {
        if (!values[i])
            continue;
        buf_printf(b, ",\"%s\":", envelope_ptrs[i] + 1);
        deadletter_json_string(b, values[i], strlen(values[i]));
    }
    buf_puts(b, ",\"body\":");
    return buf_error(b);
}
