/* SPDX-License-Identifier: MIT */
/*
 * config — the only user of inih.
 *
 * Configuration is built once at start-up, in this order (later wins):
 * built-in defaults, the INI file, the environment, command-line flags.
 * After config_finish() the struct is treated as const by every other
 * module. Unknown sections and keys are errors, and every error names the
 * file, line and key (or the environment variable, or the flag).
 *
 * Values are taken literally after one pair of surrounding double quotes is
 * removed (docs/configuration.md lists every key). Every string in the
 * structs below is owned by the config (NULL when unset); config_free()
 * releases them. Debian's libinih truncates lines at 200 bytes;
 * lines that long are rejected before inih sees them, so long secrets must come from token_file.
 */
#ifndef TOKENMETER_CONFIG_H
#define TOKENMETER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/err.h"

#define CONFIG_DEFAULT_PATH "/etc/tokenmeter/tokenmeter.conf"
#define CONFIG_LINE_MAX     199 /* longest line Debian's inih (r55) reads whole */

enum config_dedup {
    CONFIG_DEDUP_TIMESTAMP = 0, /* identity in the timestamp's nanoseconds */
    CONFIG_DEDUP_TAG,           /* event_id as a tag */
    CONFIG_DEDUP_OFF,           /* event time as is, no in-process dropping */
};

enum config_encoding {
    CONFIG_ENCODING_STRING = 0,
    CONFIG_ENCODING_BASE64,
};

/* A key = value pair of a free-form section ([prices], [mapping], [aliases]), kept with
 * its origin so the module that interprets it can report errors precisely. */
struct config_kv {
    char *key;
    char *value;
    char *origin; /* "FILE:LINE" or "flag --set" */
};

struct config_kv_list {
    struct config_kv *items;
    size_t len;
    size_t cap;
};

struct config_influxdb {
    char *url;
    char *database;
    char *retention_policy;
    char *org;
    char *bucket;
    char *token;
    char *token_file;
    char *username;
    char *password;
    char *tls_ca;
    int64_t timeout_s;
    int64_t retention_days;
    int64_t max_response_bytes;
    bool insecure_skip_verify;
};

struct config_ingest {
    char *measurement;
    enum config_dedup dedup;
    int64_t dedup_cache;
    char *dead_letter;
    char *prices;
    char *default_org;
    char *extra_tags;
    char *source; /* "auto" or a source name forced for every body */
    int64_t max_body_bytes;
    char *max_event_age; /* "off", "retention" or a duration */
    /* Count agent spans' usage (invoke_agent, create_agent) instead of the
     * model calls' (docs/sources.md "Agent traces"). */
    bool otel_agent_spans;
    /* derived from extra_tags by config_finish() */
    bool tag_team;
    bool tag_user;
    /* derived from max_event_age by config_finish(): events older than
     * this many seconds are dead-lettered; 0: no limit */
    int64_t max_event_age_s;
};

struct config_process {
    char *body_field;
    enum config_encoding body_encoding;
    char *org_tag;
    char *team_tag;
    char *user_tag;
};

struct config_aggregate {
    char *sqlite;
    char *timezone;
    int64_t lookback_days;
    int64_t history_days; /* replaced rows kept this long; 0 forever */
    bool write_influx;
    char *measurement;
    char *write_database;
    char *write_retention_policy;
    char *write_bucket;
};

struct config {
    char *path; /* the file that was read, or NULL */
    struct config_influxdb influxdb;
    struct config_ingest ingest;
    struct config_process process;
    struct config_aggregate aggregate;
    struct config_kv_list prices;
    struct config_kv_list mapping;
    struct config_kv_list aliases; /* model = the name reports group it under */
};

/* Returns a new config holding the built-in defaults (owned by the caller:
 * free with config_free()), or NULL when out of memory. */
struct config *config_new(void);

/* Releases the config and everything it owns. Accepts NULL. */
void config_free(struct config *cfg);

/* Every function below returns 0, or a negative errno with one line naming
 * the file and line, the environment variable or the flag, and the key in
 * err: -EINVAL for an unknown section or key, a value of the wrong form or
 * out of range, or a syntax error; -ENOMEM when out of memory; from
 * config_load_file() also the errno of opening or reading the file
 * (-ENOENT, -EACCES, -EIO, ...). Strings are copied: the config owns what
 * it stores, the caller keeps its arguments. */

/* Reads an INI file over the current values. When `must_exist` is false a
 * missing file is not an error (the default path). */
int config_load_file(struct config *cfg, const char *path, bool must_exist, char err[ERR_MAX]);

/* Applies the documented environment variables (INFLUXDB_URL, ...). */
int config_load_env(struct config *cfg, char err[ERR_MAX]);

/* Sets one key as a flag would ("--set ingest.dedup=tag"). `origin` names
 * the flag in messages. */
int config_set(struct config *cfg, const char *section, const char *key, const char *value,
               const char *origin, char err[ERR_MAX]);

/* Parses "section.key=value" and calls config_set(). */
int config_set_assignment(struct config *cfg, const char *assignment, char err[ERR_MAX]);

/* Validates cross-key rules and fills derived values. Call once, after the
 * last config_set(). Returns 0 or -EINVAL. */
int config_finish(struct config *cfg, char err[ERR_MAX]);

#endif
