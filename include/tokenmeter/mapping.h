/* SPDX-License-Identifier: MIT */
/*
 * mapping — the config's [mapping] section: how to read a JSON shape that no
 * built-in source knows, by JSON pointer (RFC 6901), so a gateway can be
 * onboarded without new C code. Documented in docs/sources.md "Custom
 * mappings" (the keys) and docs/configuration.md "[mapping]".
 *
 * The section is validated once at start-up: a bad pointer, an unknown key,
 * a missing required key, a bad time format or cost unit is a config error
 * naming FILE:LINE, never a per-event failure. Events are then read from
 * matching documents by plugin/sources/mapped.c.
 */
#ifndef TOKENMETER_MAPPING_H
#define TOKENMETER_MAPPING_H

#include <stdbool.h>

#include "tokenmeter/body.h"
#include "tokenmeter/config.h"

enum mapping_time_format {
    MAPPING_TIME_RFC3339 = 0, /* an RFC 3339 / ISO 8601 string */
    MAPPING_TIME_UNIX_S,      /* a number (or numeric string) of epoch units */
    MAPPING_TIME_UNIX_MS,
    MAPPING_TIME_UNIX_US,
    MAPPING_TIME_UNIX_NS,
};

/* A string member of the event: read at a JSON pointer, or a constant.
 * Both NULL: not mapped. */
struct mapping_str {
    const char *ptr;
    const char *literal;
};

/* Pointers are borrowed from the config the mapping was built from, which
 * must outlive it. NULL means "not mapped". */
struct mapping {
    const char *match;       /* required: the document is ours when this exists */
    const char *match_value; /* and, when set, is this string */
    const char *id;
    const char *trace_id;
    const char *time;
    enum mapping_time_format time_format;
    struct mapping_str org, team, user, model, provider, finish_reason, error_type;
    const char *status;
    const char *status_success; /* comma-separated success words */
    const char *input_tokens;
    const char *cached_input_tokens;
    const char *cache_write_tokens;
    const char *cache_write_1h_tokens;
    const char *output_tokens;
    const char *reasoning_tokens;
    bool input_includes_cache;      /* default true (OpenAI/OTel convention) */
    bool output_includes_reasoning; /* default true */
    const char *cost;
    double cost_scale; /* 1 for usd, 0.01 for cents */
    const char *latency_ms;
    const char *ttft_ms;
};

/* Builds a mapping from the [mapping] key/values (borrowed: kv and the
 * strings in it must outlive the mapping). Returns 0 with *out NULL when the
 * section is empty, 0 with a new mapping in *out (free with mapping_free()),
 * or -EINVAL / -ENOMEM with "FILE:LINE: [mapping] ..." in err. */
int mapping_new(const struct config_kv_list *kv, struct mapping **out, char err[ERR_MAX]);

/* Releases the mapping (steals it; not the config it borrows from).
 * Accepts NULL. */
void mapping_free(struct mapping *m);

/* True when doc (an object, borrowed for the call) is claimed by the
 * mapping. m may be NULL (no mapping: false). */
bool mapping_match(const struct mapping *m, const struct body_node *doc);

/* True when ptr (only read) is "" or a syntactically valid RFC 6901 pointer
 * whose reference tokens the body accessors can follow (each under 256
 * bytes). */
bool mapping_pointer_valid(const char *ptr);

#endif
