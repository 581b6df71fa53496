/* SPDX-License-Identifier: MIT */
/*
 * envelope — the tokenmeter envelope around a webhook body.
 *
 * A sender that cannot put tenancy into the body itself (OpenAI, Anthropic
 * and Gemini responses forwarded as they are) wraps it:
 *
 *     {"tokenmeter":1,"org":"acme","team":"search","user":"u1",
 *      "source":"openai","provider":"deepseek","body":{...} or [...]}
 *
 * "tokenmeter" (the version, only 1) and "body" (an object, an array, or a
 * string holding a stream's raw event text) are required; org, team, user,
 * source, provider, id and model are optional strings, and null or ""
 * counts as absent. The envelope's tenancy outranks both the transport's
 * and the body's own; "source" skips detection among the other shapes;
 * "provider" outranks what the body says or implies (an OpenAI-shaped body
 * from another vendor); "id" and "model" fill what the body lacks (a lone
 * stream event that names neither). See docs/sources.md ("Input forms",
 * "Tenancy").
 *
 * This module only reads and writes the wrapper: what becomes of the inner
 * body is the pipeline's business.
 */
#ifndef TOKENMETER_ENVELOPE_H
#define TOKENMETER_ENVELOPE_H

#include <stdbool.h>

#include "tokenmeter/body.h"
#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"

/* Every pointer is borrowed from the parsed body the envelope was read from
 * and is valid until that body is freed. A zeroed struct is "no envelope". */
struct envelope {
    const char *org;              /* NULL when absent, null or "" */
    const char *team;             /* likewise */
    const char *user;             /* likewise */
    const char *source;           /* a known source name, or NULL: detect */
    const char *provider;         /* NULL when absent, null or "" */
    const char *id;               /* likewise */
    const char *model;            /* likewise */
    const struct body_node *body; /* the inner object, array or string */
};

/* True when root is meant as an envelope: an object with a "tokenmeter"
 * member (whatever its value: a wrong version is an error, not a body). */
bool envelope_detect(const struct body_node *root);

/* Reads the envelope at root into *env. Returns 0, or -EINVAL with the
 * reason in err ("envelope: ..."): a version other than 1, a non-string
 * org/team/user/source/provider/id/model, an unknown source name, a
 * missing body, or an "id" on an array body that is a batch of calls
 * (source_claims_whole() says which arrays are one call). *env is
 * unspecified on failure. */
int envelope_parse(const struct body_node *root, struct envelope *env, char err[ERR_MAX]);

/* True when env says anything about the body inside it (tenancy, source,
 * provider, id or model), so that a part of its body must keep it to be treated the same
 * way again (replay of a dead-lettered array element). */
bool envelope_carries(const struct envelope *env);

/* Appends the envelope's head, `{"tokenmeter":1` followed by its members and
 * `,"body":`, to b; the caller appends the body and the closing `}`.
 * Appends nothing when !envelope_carries(env). Returns 0 or b's sticky
 * error. */
int envelope_write_head(const struct envelope *env, struct buf *b);

#endif
