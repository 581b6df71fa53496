/* SPDX-License-Identifier: MIT */
#include "tokenmeter/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/vec.h"

enum config_type {
    CT_STRING,
    CT_INT,
    CT_BOOL,
    CT_SECONDS, /* integer seconds, optional "s", "m" or "h" suffix */
    CT_DEDUP,
    CT_ENCODING,
};

/* One row per key: the table is the schema (redis' static_configs[] idea). */
struct config_key {
    const char *section;
    const char *key;
    enum config_type type;
    size_t offset;
    int64_t min;
    int64_t max;
    const char *def; /* default as text; NULL means unset */
    const char *env; /* environment variable, or NULL */
};

#define OFF(field) offsetof(struct config, field)

static const struct config_key config_keys[] = {
    {"influxdb", "url", CT_STRING, OFF(influxdb.url), 0, 0, "http://127.0.0.1:8086",
     "INFLUXDB_URL"},
    {"influxdb", "database", CT_STRING, OFF(influxdb.database), 0, 0, "tokenmeter",
     "INFLUXDB_DATABASE"},
    {"influxdb", "retention_policy", CT_STRING, OFF(influxdb.retention_policy), 0, 0, NULL, NULL},
    {"influxdb", "org", CT_STRING, OFF(influxdb.org), 0, 0, NULL, "INFLUXDB_ORG"},
    {"influxdb", "bucket", CT_STRING, OFF(influxdb.bucket), 0, 0, NULL, "INFLUXDB_BUCKET"},
    {"influxdb", "token", CT_STRING, OFF(influxdb.token), 0, 0, NULL, "INFLUXDB_TOKEN"},
    {"influxdb", "token_file", CT_STRING, OFF(influxdb.token_file), 0, 0, NULL, NULL},
    {"influxdb", "username", CT_STRING, OFF(influxdb.username), 0, 0, NULL, NULL},
    {"influxdb", "password", CT_STRING, OFF(influxdb.password), 0, 0, NULL, NULL},
    {"influxdb", "timeout", CT_SECONDS, OFF(influxdb.timeout_s), 1, 3600, "30",
     "INFLUXDB_BATCH_QUERY_TIMEOUT"},
    {"influxdb", "retention_days", CT_INT, OFF(influxdb.retention_days), 0, 36500, "30",
     "INFLUXDB_RETENTION_DAYS"},
    {"influxdb", "max_response_bytes", CT_INT, OFF(influxdb.max_response_bytes), 65536, 1073741824,
     "8388608", NULL},
    {"influxdb", "tls_ca", CT_STRING, OFF(influxdb.tls_ca), 0, 0, NULL, NULL},
    {"influxdb", "insecure_skip_verify", CT_BOOL, OFF(influxdb.insecure_skip_verify), 0, 0, "false",
     NULL},

    {"ingest", "measurement", CT_STRING, OFF(ingest.measurement), 0, 0, "llm_usage", NULL},
    {"ingest", "dedup", CT_DEDUP, OFF(ingest.dedup), 0, 0, "timestamp", NULL},
    {"ingest", "dedup_cache", CT_INT, OFF(ingest.dedup_cache), 0, 100000000, "1000000", NULL},
    {"ingest", "dead_letter", CT_STRING, OFF(ingest.dead_letter), 0, 0, CONFIG_DEFAULT_DEAD_LETTER,
     NULL},
    {"ingest", "prices", CT_STRING, OFF(ingest.prices), 0, 0, NULL, NULL},
    {"ingest", "default_org", CT_STRING, OFF(ingest.default_org), 0, 0, NULL, NULL},
    {"ingest", "extra_tags", CT_STRING, OFF(ingest.extra_tags), 0, 0, "", NULL},
    {"ingest", "source", CT_STRING, OFF(ingest.source), 0, 0, "auto", NULL},
    {"ingest", "max_body_bytes", CT_INT, OFF(ingest.max_body_bytes), 1024, 1073741824, "8388608",
     NULL},
    {"ingest", "stats_interval", CT_SECONDS, OFF(ingest.stats_interval_s), 0, 86400, "60", NULL},
    {"ingest", "max_event_age", CT_STRING, OFF(ingest.max_event_age), 0, 0, "off", NULL},
    {"ingest", "otel_agent_spans", CT_BOOL, OFF(ingest.otel_agent_spans), 0, 0, "false", NULL},

    {"process", "webhook_measurement", CT_STRING, OFF(process.webhook_measurement), 0, 0,
     "tokenmeter_webhook", NULL},
    {"process", "body_field", CT_STRING, OFF(process.body_field), 0, 0, "value", NULL},
    {"process", "body_encoding", CT_ENCODING, OFF(process.body_encoding), 0, 0, "string", NULL},
    {"process", "org_tag", CT_STRING, OFF(process.org_tag), 0, 0, "org", NULL},
    {"process", "team_tag", CT_STRING, OFF(process.team_tag), 0, 0, "team", NULL},
    {"process", "user_tag", CT_STRING, OFF(process.user_tag), 0, 0, "user", NULL},

    {"aggregate", "sqlite", CT_STRING, OFF(aggregate.sqlite), 0, 0,
     "/var/lib/tokenmeter/summaries.sqlite", NULL},
    {"aggregate", "timezone", CT_STRING, OFF(aggregate.timezone), 0, 0, "UTC", NULL},
    {"aggregate", "lookback_days", CT_INT, OFF(aggregate.lookback_days), 1, 3660, "3", NULL},
    {"aggregate", "history_days", CT_INT, OFF(aggregate.history_days), 0, 36500, "400", NULL},
    {"aggregate", "write_influx", CT_BOOL, OFF(aggregate.write_influx), 0, 0, "false", NULL},
    {"aggregate", "measurement", CT_STRING, OFF(aggregate.measurement), 0, 0, "llm_usage_daily",
     NULL},
    {"aggregate", "write_database", CT_STRING, OFF(aggregate.write_database), 0, 0, NULL, NULL},
    {"aggregate", "write_retention_policy", CT_STRING, OFF(aggregate.write_retention_policy), 0, 0,
     NULL, NULL},
    {"aggregate", "write_bucket", CT_STRING, OFF(aggregate.write_bucket), 0, 0, NULL, NULL},
};

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_kv_sections[] = {"prices", "mapping", "aliases"};

static const struct config_key *config_find(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].key, key) == 0)
            return &config_keys[i];
    return NULL;
}

static bool config_section_known(const char *section)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(config_keys[i].section, section) == 0)
            return true;
    for (size_t i = 0; i < sizeof(config_kv_sections) / sizeof(config_kv_sections[0]); i++)
        if (strcmp(config_kv_sections[i], section) == 0)
            return true;
    return false;
}

static struct config_kv_list *config_kv_section(struct config *cfg, const char *section)
{
    if (strcmp(section, "prices") == 0)
        return &cfg->prices;
    if (strcmp(section, "mapping") == 0)
        return &cfg->mapping;
    if (strcmp(section, "aliases") == 0)
        return &cfg->aliases;
    return NULL;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -EINVAL;
    *out = (int64_t)v;
    return 0;
}

static int parse_seconds(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -EINVAL;
    int64_t mult = 1;
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60;
    else if (strcmp(end, "h") == 0)
        mult = 3600;
    else if (strcmp(end, "d") == 0)
        mult = 86400;
    else
        return -EINVAL;
    if (v > INT64_MAX / mult)
        return -ERANGE;
    *out = (int64_t)v * mult;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Removes one pair of surrounding double quotes: values are otherwise literal. */
static char *config_unquote(const char *value)
{
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"')
        return strndup(value + 1, n - 2);
    return strdup(value);
}

static int config_apply(struct config *cfg, const struct config_key *k, const char *raw,
                        const char *origin, char err[ERR_MAX])
{
    char *value = config_unquote(raw);
    int rc = -EINVAL;
    if (!value) {
        rc = err_set(err, -ENOMEM, "%s: out of memory", origin);
        goto out;
    }
    void *field = (char *)cfg + k->offset;
    switch (k->type) {
    case CT_STRING: {
        char **slot = field;
        free(*slot);
        *slot = value;
        value = NULL;
        break;
    }
    case CT_INT:
    case CT_SECONDS: {
        int64_t v = 0;
        int prc = k->type == CT_INT ? parse_int(value, &v) : parse_seconds(value, &v);
        if (prc < 0 || v < k->min || v > k->max) {
            err_set(err, rc, "%s: [%s] %s = \"%s\": expected %s between %lld and %lld", origin,
                    k->section, k->key, value, k->type == CT_INT ? "an integer" : "seconds",
                    (long long)k->min, (long long)k->max);
            goto out;
        }
        *(int64_t *)field = v;
        break;
    }
    case CT_BOOL:
        if (parse_bool(value, (bool *)field) < 0) {
            err_set(err, rc, "%s: [%s] %s = \"%s\": expected true or false", origin, k->section,
                    k->key, value);
            goto out;
        }
        break;
    case CT_DEDUP: {
        enum config_dedup *d = field;
        if (strcmp(value, "timestamp") == 0)
            *d = CONFIG_DEDUP_TIMESTAMP;
        else if (strcmp(value, "tag") == 0)
            *d = CONFIG_DEDUP_TAG;
        else if (strcmp(value, "off") == 0)
            *d = CONFIG_DEDUP_OFF;
        else {
            err_set(err, rc, "%s: [%s] %s = \"%s\": expected timestamp, tag or off", origin,
                    k->section, k->key, value);
            goto out;
        }
        break;
    }
    case CT_ENCODING: {
        enum config_encoding *e = field;
        if (strcmp(value, "string") == 0)
            *e = CONFIG_ENCODING_STRING;
        else if (strcmp(value, "base64") == 0)
            *e = CONFIG_ENCODING_BASE64;
        else {
            err_set(err, rc, "%s: [%s] %s = \"%s\": expected string or base64", origin, k->section,
                    k->key, value);
            goto out;
        }
        break;
    }
    }
    rc = 0;
out:
    free(value);
    return rc;
}

static int config_kv_add(struct config_kv_list *l, const char *key, const char *raw,
                         const char *origin)
{
    if (vec_reserve(&l->items, &l->cap, l->len + 1, sizeof(*l->items)) < 0)
        return -ENOMEM;
    struct config_kv *kv = &l->items[l->len];
    kv->key = strdup(key);
    kv->value = config_unquote(raw);
    kv->origin = strdup(origin);
    if (!kv->key || !kv->value || !kv->origin) {
        free(kv->key);
        free(kv->value);
        free(kv->origin);
        return -ENOMEM;
    }
    l->len++;
    return 0;
}

/* The files tokenmeter writes. Refused where they are set, so a flag gets
 * the usage error (64) and a line of the file the configuration error (78),
 * each naming where the value came from:
 *  - empty, or SQLite's ":memory:": no file at all;
 *  - relative, in the file: it would be resolved against the directory each
 *    command starts in, which differs between Telegraf, the aggregate timer
 *    and a shell, so records and summaries would scatter over several files
 *    ("report: no summaries yet" beside a store full of them). On the
 *    command line a relative path is the caller's own choice. */
static int config_written_file_check(const char *section, const char *key, const char *value,
                                     bool from_file, const char *origin, char err[ERR_MAX])
{
    bool sqlite = strcmp(section, "aggregate") == 0 && strcmp(key, "sqlite") == 0;
    bool dead_letter = strcmp(section, "ingest") == 0 && strcmp(key, "dead_letter") == 0;
    if (!sqlite && !dead_letter)
        return 0;
    const char *v = value;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 0)
        return err_set(err, -EINVAL, "%s: [%s] %s is empty: it must name a file", origin, section,
                       key);
    if (sqlite && n == 8 && strncmp(v, ":memory:", 8) == 0)
        return err_set(err, -EINVAL,
                       "%s: [aggregate] sqlite = \":memory:\": must name a file (SQLite would "
                       "keep the summaries in memory and lose them at exit)",
                       origin);
    if (from_file && *v != '/')
        return err_set(err, -EINVAL,
                       "%s: [%s] %s = %s: give an absolute path (a relative one would "
                       "depend on the directory each command is started from)",
                       origin, section, key, value);
    return 0;
}

/* config_set(), for a value of the file (from_file) or of a flag. */
static int config_set_from(struct config *cfg, const char *section, const char *key,
                           const char *value, bool from_file, const char *origin, char err[ERR_MAX])
{
    /* inih ends a value at " ;" (an inline comment) even inside quotes: an
     * opened quote that does not close is how that shows. The value is not
     * echoed: it may be a secret. */
    size_t vl = strlen(value);
    if (vl && value[0] == '"' && (vl < 2 || value[vl - 1] != '"')) {
        return err_set(err, -EINVAL,
                       "%s: [%s] %s: the value opens a double quote and does not close it (\" ;\" "
                       "starts a comment even inside quotes; put such a secret in token_file)",
                       origin, section, key);
    }
    struct config_kv_list *kvl = config_kv_section(cfg, section);
    if (kvl) {
        if (config_kv_add(kvl, key, value, origin) < 0)
            return err_set(err, -ENOMEM, "%s: out of memory", origin);
        return 0;
    }
    if (!config_section_known(section))
        return err_set(err, -EINVAL, "%s: unknown section [%s]", origin, section);
    const struct config_key *k = config_find(section, key);
    if (!k)
        return err_set(err, -EINVAL, "%s: unknown key \"%s\" in section [%s]", origin, key,
                       section);
    int rc = config_written_file_check(section, key, value, from_file, origin, err);
    return rc < 0 ? rc : config_apply(cfg, k, value, origin, err);
}

int config_set(struct config *cfg, const char *section, const char *key, const char *value,
               const char *origin, char err[ERR_MAX])
{
    return config_set_from(cfg, section, key, value, false, origin, err);
}

int config_set_assignment(struct config *cfg, const char *assignment, char err[ERR_MAX])
{
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1) {
        /* Only the key is echoed: "influxdb.password:SECRET" holds a secret. */
        size_t kl = strspn(assignment, "abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
        return err_set(err, -EINVAL,
                       "--set \"%.*s%s\": expected SECTION.KEY=VALUE (the rest is not shown: it "
                       "may be a secret)",
                       (int)(kl > 100 ? 100 : kl), assignment, assignment[kl] ? "..." : "");
    }
    char section[64], key[128];
    size_t sl = (size_t)(dot - assignment), kl = (size_t)(eq - dot - 1);
    if (sl >= sizeof(section) || kl >= sizeof(key))
        return err_set(err, -EINVAL, "--set: section or key too long");
    memcpy(section, assignment, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    char origin[256];
    snprintf(origin, sizeof(origin), "flag --set %s.%s", section, key);
    return config_set(cfg, section, key, eq + 1, origin, err);
}

struct config *config_new(void)
{
    struct config *cfg = calloc(1, sizeof(*cfg));
    char err[ERR_MAX];
    if (!cfg)
        return NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (config_keys[i].def &&
            config_apply(cfg, &config_keys[i], config_keys[i].def, "default", err) < 0) {
            config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}

static void config_kv_free(struct config_kv_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
        free(l->items[i].origin);
    }
    free(l->items);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_KEYS; i++)
        if (config_keys[i].type == CT_STRING)
            free(*(char **)((char *)cfg + config_keys[i].offset));
    config_kv_free(&cfg->prices);
    config_kv_free(&cfg->mapping);
    config_kv_free(&cfg->aliases);
    free(cfg->path);
    free(cfg);
}

struct config_parse_state {
    struct config *cfg;
    const char *path;
    const int *lines; /* line number of each handler call, from the pre-scan */
    size_t nlines;
    size_t calls;
    char *err; /* first error, kept: ini_parse() returns only a line number */
    int rc;    /* its code; 0 while there is none */
};

/* Debian's inih (r55) gives the handler no line number. The pre-scan records
 * the line of every key (and continuation) line in file order; inih calls the
 * handler once per such line, in the same order. */
static int config_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_parse_state *st = user;
    int line = st->calls < st->nlines ? st->lines[st->calls] : 0;
    st->calls++;
    char origin[300];
    char err[ERR_MAX];
    snprintf(origin, sizeof(origin), "%s:%d", st->path, line);
    int rc = config_set_from(st->cfg, section, name, value, true, origin, err);
    if (rc < 0) {
        if (!st->rc)
            st->rc = err_set(st->err, rc, "%s", err);
        return 0;
    }
    return 1;
}

/* Rejects lines inih would truncate, before inih silently splits them, and
 * records which lines will reach the handler. Returns 0, -EINVAL, -ENOMEM or
 * the read error (err set). */
static int config_prescan(FILE *fp, const char *path, int **lines_out, size_t *n_out,
                          char err[ERR_MAX])
{
    int *lines = NULL;
    size_t n = 0, cap = 0;
    int line = 1;
    size_t col = 0;
    int first = 0; /* first non-blank byte of the current line, 0 if none yet */
    int c;
    int rc = 0;
    for (;;) {
        c = fgetc(fp);
        if (c == '\n' || c == EOF) {
            if (first && first != ';' && first != '#' && first != '[') {
                if (vec_reserve(&lines, &cap, n + 1, sizeof(*lines)) < 0) {
                    rc = err_set(err, -ENOMEM, "%s: out of memory", path);
                    goto out;
                }
                lines[n++] = line;
            }
            if (c == EOF)
                break;
            line++;
            col = 0;
            first = 0;
            continue;
        }
        if (!first && c != ' ' && c != '\t' && c != '\r')
            first = c;
        if (++col > CONFIG_LINE_MAX) {
            rc = err_set(err, -EINVAL,
                         "%s:%d: line longer than %d bytes (libinih would truncate it); put long "
                         "secrets in token_file",
                         path, line, CONFIG_LINE_MAX);
            goto out;
        }
    }
    if (ferror(fp)) { /* a directory opens, then fails to read (EISDIR) */
        int e = errno ? errno : EIO;
        rc = err_set(err, -e, "%s: cannot read config: %s", path, strerror(e));
        goto out;
    }
    rewind(fp);
    *lines_out = lines;
    *n_out = n;
    lines = NULL;
out:
    free(lines);
    return rc;
}

int config_load_file(struct config *cfg, const char *path, bool must_exist, char err[ERR_MAX])
{
    int rc;
    int *lines = NULL;
    size_t nlines = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int e = errno;
        if (e == ENOENT && !must_exist)
            return 0;
        return err_set(err, -e, "%s: cannot open config: %s", path, strerror(e));
    }
    if ((rc = config_prescan(fp, path, &lines, &nlines, err)) < 0)
        goto out;
    struct config_parse_state st = {
        .cfg = cfg, .path = path, .lines = lines, .nlines = nlines, .err = err};
    int line = ini_parse_file(fp, config_handler, &st);
    if (st.rc < 0) {
        rc = st.rc; /* err already names file:line and key */
        goto out;
    }
    if (line > 0) {
        rc = err_set(err, -EINVAL, "%s:%d: syntax error (expected [section] or key = value)", path,
                     line);
        goto out;
    }
    if (line < 0) {
        /* inih's -2 is its own allocation failing; -1 cannot happen with a
         * FILE * already open. */
        rc = line == -2 ? err_set(err, -ENOMEM, "%s: out of memory", path)
                        : err_set(err, -EIO, "%s: cannot read config", path);
        goto out;
    }
    free(cfg->path);
    cfg->path = strdup(path);
    if (!cfg->path)
        rc = err_set(err, -ENOMEM, "%s: out of memory", path);
out:
    free(lines);
    fclose(fp);
    return rc;
}

int config_load_env(struct config *cfg, char err[ERR_MAX])
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key *k = &config_keys[i];
        if (!k->env)
            continue;
        const char *v = getenv(k->env);
        if (!v || !*v)
            continue;
        char origin[100];
        snprintf(origin, sizeof(origin), "environment %s", k->env);
        int rc = config_apply(cfg, k, v, origin, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* InfluxDB drops a point older than its retention policy's duration
 * without a word: max_event_age lets ingest refuse it visibly. "retention"
 * is [influxdb] retention_days less an hour for the time a point spends in
 * Telegraf's buffer. */
static int config_event_age(struct config *cfg, char err[ERR_MAX])
{
    const char *v = cfg->ingest.max_event_age ? cfg->ingest.max_event_age : "off";
    int64_t s = 0;
    if (strcmp(v, "off") == 0)
        s = 0;
    else if (strcmp(v, "retention") == 0)
        s = cfg->influxdb.retention_days > 0 ? cfg->influxdb.retention_days * 86400 - 3600 : 0;
    else if (parse_seconds(v, &s) < 0 || s > (int64_t)36500 * 86400)
        return err_set(err, -EINVAL,
                       "[ingest] max_event_age = \"%s\": expected off, retention, or a duration "
                       "(e.g. 30d, 720h)",
                       v);
    cfg->ingest.max_event_age_s = s;
    return 0;
}

int config_finish(struct config *cfg, char err[ERR_MAX])
{
    struct config_ingest *in = &cfg->ingest;
    in->tag_team = false;
    in->tag_user = false;
    /* extra_tags is a comma-separated list; only team and user exist. */
    const char *p = in->extra_tags ? in->extra_tags : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 4 && strncmp(p, "team", 4) == 0)
            in->tag_team = true;
        else if (n == 4 && strncmp(p, "user", 4) == 0)
            in->tag_user = true;
        else if (n > 0)
            return err_set(err, -EINVAL,
                           "[ingest] extra_tags: unknown tag \"%.*s\" (allowed: team, user)",
                           (int)n, p);
        p = e;
    }
    if (!in->measurement || !*in->measurement)
        return err_set(err, -EINVAL, "[ingest] measurement must not be empty");
    if (!in->dead_letter || !*in->dead_letter)
        return err_set(err, -EINVAL, "[ingest] dead_letter must name a file");
    if (!cfg->process.body_field || !*cfg->process.body_field)
        return err_set(err, -EINVAL, "[process] body_field must not be empty");
    return config_event_age(cfg, err);
}
