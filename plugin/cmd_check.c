/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter check — validates the configuration and probes InfluxDB, one
 * line per probe on stdout ("ok", "FAIL", "warn", "skip" or "info" first),
 * so an operator or a package's postinst sees at once what is wrong, and
 * that data flows: newest point, Telegraf's routing, the store's last day.
 */
#include "tokenmeter/cmd_check.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/influxql.h"
#include "tokenmeter/log.h"
#include "tokenmeter/mapping.h"
#include "tokenmeter/pricing.h"
#include "tokenmeter/retention.h"
#include "tokenmeter/summary_store.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/tzday.h"

static const char check_usage[] =
    "usage: tokenmeter check [options]\n"
    "\n"
    "Validates the configuration and the files it names (token_file, tls_ca,\n"
    "prices, [mapping], the dead-letter directory, the summary store), then\n"
    "probes InfluxDB: reachable (/ping), version and API, credentials, database\n"
    "(1.x) or bucket (2.x), retention as configured, write permitted (an empty\n"
    "write, so no point is added), query permitted. Then it shows that data\n"
    "flows: the age of the newest [ingest] measurement point, that Telegraf's\n"
    "InfluxDB output writes that measurement where tokenmeter reads it, and the\n"
    "store's last aggregated day and run. Lists the models seen in the last\n"
    "lookback_days with cost_source = \"unpriced\", whose prices the price table\n"
    "lacks. The whole command ends within [influxdb] timeout x 3, whatever a\n"
    "server asks (Retry-After).\n"
    "\n"
    "options:\n"
    "      --config-only         validate the configuration and files; no server\n"
    "      --telegraf-config FILE\n"
    "                            the Telegraf file to compare the routing with\n"
    "                            (default: /etc/telegraf/telegraf.d/tokenmeter*.conf)\n"
    "%s"
    "\n"
    "Each line starts with ok, FAIL, warn (worth a look, not a failure), info or\n"
    "skip.\n"
    "\n"
    "exit status: 0 every probe passed; otherwise the first failure's: 69 InfluxDB\n"
    "refused (no such database/bucket, wrong API), 73 store not writable or not a\n"
    "tokenmeter store, 75 unreachable or timed out, 77 credentials rejected, 78\n"
    "configuration error, a file it names unusable, Telegraf writing elsewhere, or\n"
    "retention not as configured (EX_CONFIG: found in a misconfigured state).\n";

#define CHECK_TELEGRAF_GLOB "/etc/telegraf/telegraf.d/tokenmeter*.conf"
#define CHECK_ROUTES_MAX    16

/* ---- Telegraf routing (pure) ---------------------------------------- */

#define CHECK_LIST_MAX 32
#define CHECK_ITEM_MAX 128

/* The InfluxDB output being read, and its measurement filters. */
struct check_block {
    bool active; /* inside [[outputs.influxdb]] or [[outputs.influxdb_v2]] */
    bool in_sub; /* inside one of its sub-tables ([outputs.influxdb.tagpass]) */
    struct cmd_check_route r;
    bool has_pass;
    char pass[CHECK_LIST_MAX][CHECK_ITEM_MAX];
    size_t npass;
    char drop[CHECK_LIST_MAX][CHECK_ITEM_MAX];
    size_t ndrop;
};

/* Reads one TOML string (basic or literal) or bare word at p into out. */
static void check_toml_string(const char *p, const char *end, char *out, size_t cap)
{
    size_t k = 0;
    char quote = *p == '"' || *p == '\'' ? *p++ : 0;
    for (; p < end && k + 1 < cap; p++) {
        if (quote ? *p == quote : (*p == ' ' || *p == '\t' || *p == '#' || *p == '\r'))
            break;
        if (quote == '"' && *p == '\\' && p + 1 < end)
            p++;
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* Reads the strings of a TOML array starting at p ('['), across lines.
 * Returns where it ends (after ']', or the end of text) and counts the
 * newlines passed in *lines. */
static const char *check_toml_list(const char *p, char items[][CHECK_ITEM_MAX], size_t *n,
                                   int *lines)
{
    *n = 0;
    for (p++; *p && *p != ']'; p++) {
        if (*p == '\n')
            (*lines)++;
        else if (*p == '#')
            while (p[1] && p[1] != '\n')
                p++;
        else if (*p == '"' || *p == '\'') {
            const char *close = strchr(p + 1, *p);
            if (!close)
                return p + strlen(p);
            if (*n < CHECK_LIST_MAX)
                check_toml_string(p, close + 1, items[(*n)++], CHECK_ITEM_MAX);
            p = close;
        }
    }
    return *p ? p + 1 : p;
}

static bool check_matches(const char items[][CHECK_ITEM_MAX], size_t n, const char *m)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(items[i], m, 0) == 0)
            return true;
    return false;
}

static size_t check_block_end(const struct check_block *b, const char *m,
                              struct cmd_check_route *out, size_t max, size_t n)
{
    if (!b->active || (b->has_pass && !check_matches(b->pass, b->npass, m)) ||
        check_matches(b->drop, b->ndrop, m))
        return n;
    if (n < max)
        out[n] = b->r;
    return n + 1;
}

/* A key = value line of the current output. Returns where the next line
 * starts (a list may span lines). */
static const char *check_block_key(struct check_block *b, const char *s, const char *eol,
                                   int *lines)
{
    const char *eq = memchr(s, '=', (size_t)(eol - s));
    if (!eq)
        return eol;
    size_t kl = (size_t)(eq - s);
    while (kl > 0 && (s[kl - 1] == ' ' || s[kl - 1] == '\t'))
        kl--;
    const char *v = eq + 1;
    while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
    bool v2 = strcmp(b->r.output, "influxdb_v2") == 0;
#define CHECK_KEY(name) (kl == sizeof(name) - 1 && strncmp(s, name, kl) == 0)
    if ((CHECK_KEY("namepass") || CHECK_KEY("namedrop")) && v < eol && *v == '[') {
        bool pass = CHECK_KEY("namepass");
        const char *end =
            check_toml_list(v, pass ? b->pass : b->drop, pass ? &b->npass : &b->ndrop, lines);
        b->has_pass |= pass;
        const char *nl = strchr(end, '\n');
        return nl ? nl : end + strlen(end);
    }
    if (v2 ? CHECK_KEY("bucket") : CHECK_KEY("database"))
        check_toml_string(v, eol, b->r.database, sizeof(b->r.database));
    else if (!v2 && CHECK_KEY("retention_policy"))
        check_toml_string(v, eol, b->r.retention_policy, sizeof(b->r.retention_policy));
#undef CHECK_KEY
    return eol;
}

size_t cmd_check_telegraf_routes(const char *text, const char *measurement,
                                 struct cmd_check_route *out, size_t max)
{
    struct check_block b;
    size_t n = 0;
    int line = 1;
    memset(&b, 0, sizeof(b));
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        const char *s = p;
        while (s < eol && (*s == ' ' || *s == '\t'))
            s++;
        int lines = 0;
        if (s < eol && *s == '[') {
            char hdr[128], sub1[64], sub2[64];
            size_t k = 0;
            for (const char *q = s; q < eol && *q != '#' && k + 1 < sizeof(hdr); q++)
                if (*q != ' ' && *q != '\t' && *q != '\r')
                    hdr[k++] = *q;
            hdr[k] = '\0';
            snprintf(sub1, sizeof(sub1), "[outputs.%s.", b.r.output);
            snprintf(sub2, sizeof(sub2), "[[outputs.%s.", b.r.output);
            bool v1 = strcmp(hdr, "[[outputs.influxdb]]") == 0;
            bool v2 = strcmp(hdr, "[[outputs.influxdb_v2]]") == 0;
            if (b.active &&
                (strncmp(hdr, sub1, strlen(sub1)) == 0 || strncmp(hdr, sub2, strlen(sub2)) == 0)) {
                b.in_sub = true;
            } else {
                n = check_block_end(&b, measurement, out, max, n);
                memset(&b, 0, sizeof(b));
                if (v1 || v2) {
                    b.active = true;
                    b.r.line = line;
                    snprintf(b.r.output, sizeof(b.r.output), "%s", v1 ? "influxdb" : "influxdb_v2");
                    if (v1) /* Telegraf's own default */
                        snprintf(b.r.database, sizeof(b.r.database), "telegraf");
                }
            }
        } else if (b.active && !b.in_sub && s < eol && *s != '#') {
            eol = check_block_key(&b, s, eol, &lines);
        }
        line += 1 + lines;
        p = *eol ? eol + 1 : eol;
    }
    return check_block_end(&b, measurement, out, max, n);
}

/* ---- the command ----------------------------------------------------- */

struct check_state {
    int status; /* the first failure's exit code */
};

static void check_line(struct check_state *st, int code, const char *probe, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum { CHECK_SKIP = -1, CHECK_INFO = -2, CHECK_WARN = -3 };

/* code: 0 ok, CHECK_SKIP, CHECK_INFO, CHECK_WARN, > 0 a failure with that
 * exit code. */
static void check_line(struct check_state *st, int code, const char *probe, const char *fmt, ...)
{
    va_list ap;
    const char *word = code == 0            ? "ok  "
                       : code == CHECK_SKIP ? "skip"
                       : code == CHECK_INFO ? "info"
                       : code == CHECK_WARN ? "warn"
                                            : "FAIL";
    printf("%s %s: ", word, probe);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (code > 0 && st->status == EX_OK)
        st->status = code;
}

static bool check_set(const char *s)
{
    return s && *s;
}

/* The database list of SHOW DATABASES holds name? */
static bool check_has_database(const struct influx_query_result *r, const char *name)
{
    struct influx_query_series s;
    for (size_t i = 0; influx_query_series_at(r, 0, i, &s) == 0; i++)
        for (size_t row = 0; row < influx_query_rows(&s); row++) {
            const char *n = body_str(influx_query_value(&s, row, 0), "");
            if (n && strcmp(n, name) == 0)
                return true;
        }
    return false;
}

static void check_database(struct check_state *st, struct influx *c, const struct config *cfg)
{
    struct influx_query_result *r = NULL;
    char err[ERR_MAX];
    const char *db = influx_query_db(c);
    int rc = influx_query(c, NULL, NULL, "SHOW DATABASES", false, &r, err);
    if (rc < 0) {
        check_line(st, influx_exit_code(rc), "auth", "%s", err);
        check_line(st, CHECK_SKIP, "database", "not checked");
        return;
    }
    if (check_set(cfg->influxdb.token) || check_set(cfg->influxdb.token_file))
        check_line(st, 0, "auth", "token accepted");
    else if (check_set(cfg->influxdb.username))
        check_line(st, 0, "auth", "user \"%s\" accepted", cfg->influxdb.username);
    else
        check_line(st, 0, "auth", "no credentials configured, none required");
    if (check_has_database(r, db))
        check_line(st, 0, "database", "\"%s\" exists", db);
    else
        check_line(st, EX_UNAVAILABLE, "database",
                   "\"%s\" not found (Telegraf's outputs.influxdb creates it, or run "
                   "'tokenmeter retention apply')",
                   db);
    influx_query_free(r);
}

static void check_unpriced(struct check_state *st, struct influx *c, const struct config *cfg)
{
    struct buf q, list, item;
    struct influx_query_result *r = NULL;
    char err[ERR_MAX];
    buf_init(&q, 4096);
    buf_init(&list, 2048);
    buf_init(&item, 512);
    buf_puts(&q, "SELECT count(\"cost_source\") AS \"n\" FROM ");
    influxql_quote(&q, cfg->ingest.measurement, '"');
    buf_printf(&q,
               " WHERE time >= now() - %" PRId64 "d AND \"cost_source\" = 'unpriced'"
               " GROUP BY \"model\"",
               cfg->aggregate.lookback_days);
    int rc = buf_error(&q);
    if (rc < 0)
        err_set(err, rc, "the unpriced-models query is too long");
    else
        rc = influx_query(c, influx_query_db(c), cfg->influxdb.retention_policy, q.data, false, &r,
                          err);
    if (rc < 0) {
        check_line(st, influx_exit_code(rc), "query", "%s", err);
        goto out;
    }
    check_line(st, 0, "query", "query permitted on \"%s\"", influx_query_db(c));
    struct influx_query_series s;
    for (size_t i = 0; influx_query_series_at(r, 0, i, &s) == 0; i++) {
        int64_t count = 0;
        body_int(influx_query_value(&s, 0, influx_query_column(&s, "n")), "", &count);
        buf_reset(&item);
        buf_printf(&item, "%s%s (%" PRId64 ")", list.len ? ", " : "", influx_query_tag(&s, "model"),
                   count);
        /* Room is kept for the ", ..." that says the list goes on. */
        if (buf_error(&item) || list.len + item.len + 5 > list.max) {
            buf_puts(&list, list.len ? ", ..." : "...");
            break;
        }
        buf_append(&list, item.data, item.len);
    }
    if (buf_error(&item) == -ENOMEM || buf_error(&list) == -ENOMEM) {
        check_line(st, EX_OSERR, "unpriced models", "out of memory");
        goto out;
    }
    check_line(st, CHECK_INFO, "unpriced models",
               list.len ? "%s in the last %" PRId64 " days; add their prices ([ingest] prices or "
                          "[prices])"
                        : "none in the last %.0s%" PRId64 " days",
               list.len ? list.data : "", cfg->aggregate.lookback_days);
out:
    influx_query_free(r);
    buf_free(&q);
    buf_free(&list);
    buf_free(&item);
}

static void check_version(struct check_state *st, struct influx *c, const char *version)
{
    bool v1 = version[0] == '1' || strncmp(version, "v1", 2) == 0;
    bool v2 = version[0] == '2' || strncmp(version, "v2", 2) == 0;
    if (influx_is_v2(c) && v1)
        check_line(st, EX_UNAVAILABLE, "version",
                   "InfluxDB %s is 1.x, but [influxdb] bucket is set (2.x API): unset bucket",
                   version);
    else if (!influx_is_v2(c) && v2)
        check_line(st, EX_UNAVAILABLE, "version",
                   "InfluxDB %s is 2.x: set [influxdb] bucket and org to use its API", version);
    else
        check_line(st, 0, "version", "InfluxDB %s, using the %s API", version,
                   influx_is_v2(c) ? "2.x" : "1.x");
}

/* A file the commands create or append to: writable, or its directory is.
 * `fail` is the code when it is not, `then` what follows from it. A
 * missing directory is said so, with how the packages create it. */
static void check_writable(struct check_state *st, int fail, const char *probe, const char *path,
                           const char *then)
{
    char *copy = strdup(path);
    if (!copy) {
        check_line(st, EX_OSERR, probe, "out of memory");
        return;
    }
    const char *dir = dirname(copy);
    bool exists = access(path, F_OK) == 0;
    struct stat fst, dst;
    /* root may write anything: what matters is whether the directory's
     * owner (the user the service runs as) still can. */
    if (exists && geteuid() == 0 && stat(path, &fst) == 0 && stat(dir, &dst) == 0 &&
        dst.st_uid != 0 && fst.st_uid != dst.st_uid &&
        !(fst.st_gid == dst.st_gid && (fst.st_mode & S_IWGRP)) && !(fst.st_mode & S_IWOTH))
        check_line(st, EX_CANTCREAT, probe,
                   "%s belongs to uid %lu, its directory to uid %lu, the user the service runs "
                   "as: a run as root made it? give it back: chown %lu:%lu %s",
                   path, (unsigned long)fst.st_uid, (unsigned long)dst.st_uid,
                   (unsigned long)dst.st_uid, (unsigned long)dst.st_gid, path);
    else if (exists ? access(path, W_OK) == 0 : access(dir, W_OK) == 0)
        check_line(st, 0, probe, "%s writable", path);
    else if (!exists && errno == ENOENT)
        check_line(st, fail, probe,
                   "%s not writable: its directory %s does not exist (create it for the user "
                   "Telegraf runs as: install -d -o telegraf -g telegraf -m 0750 %s); %s",
                   path, dir, dir, then);
    else
        check_line(st, fail, probe, "%s not writable: %s; %s", path, strerror(errno), then);
    free(copy);
}

/* execd and process exit 73 at start when they cannot open the dead-letter
 * file, unless it is the built-in default and they do not run as root:
 * then they use a per-user file (docs/operations.md). The probe says which
 * will happen, so a FAIL here is a FAIL of ingest. */
static void check_dead_letter(struct check_state *st, const char *path)
{
    bool per_user = strcmp(path, CONFIG_DEFAULT_DEAD_LETTER) == 0 && geteuid() != 0;
    check_writable(st, per_user ? CHECK_WARN : EX_CANTCREAT, "dead letter", path,
                   per_user ? "execd and process run as this user would write "
                              "$XDG_STATE_HOME/tokenmeter/dead-letter.ndjson (else "
                              "~/.local/state/tokenmeter/) instead"
                            : "execd and process would refuse to start (exit 73)");
}

/* The store: writable, a tokenmeter store when it exists, and what it
 * last holds. */
static void check_store(struct check_state *st, const struct config *cfg)
{
    const char *path = cfg->aggregate.sqlite;
    char err[ERR_MAX], day[SUMMARY_DAY_LEN], outcome[ERR_MAX], finished[32];
    struct summary_store *store = NULL;
    if (summary_store_path_check(path, err) < 0) {
        check_line(st, EX_CANTCREAT, "store", "%s", err);
        return;
    }
    check_writable(st, EX_CANTCREAT, "store", path, "aggregate would fail (exit 73)");
    if (access(path, F_OK) < 0) {
        check_line(st, CHECK_INFO, "last aggregated", "no store yet (run 'tokenmeter aggregate')");
        return;
    }
    int rc = summary_store_open(path, true, &store, err);
    if (rc == 0)
        rc = summary_store_last(store, cfg->aggregate.timezone, day, outcome, finished, err);
    summary_store_close(store);
    if (rc < 0) {
        check_line(st, rc == -EAGAIN ? EX_TEMPFAIL : EX_CANTCREAT, "last aggregated", "%s", err);
        return;
    }
    if (!day[0])
        check_line(st, CHECK_INFO, "last aggregated", "no day stored for %s yet",
                   cfg->aggregate.timezone);
    else
        check_line(st, CHECK_INFO, "last aggregated", "%s (%s)", day, cfg->aggregate.timezone);
    if (outcome[0])
        check_line(st,
                   strcmp(outcome, "ok") == 0 || strncmp(outcome, "ok:", 3) == 0 ? 0 : CHECK_WARN,
                   "last run", "%s: %.600s", finished, outcome);
}

/* The files the configuration names, read the way the commands read them. */
static void check_files(struct check_state *st, const struct config *cfg)
{
    char err[ERR_MAX];
    struct pricing *prices = NULL;
    struct mapping *mapping = NULL;
    int rc = pricing_load(cfg->ingest.prices, &cfg->prices, &prices, err);
    if (rc < 0)
        check_line(st, rc == -ENOMEM ? EX_OSERR : EX_CONFIG, "prices", "%s", err);
    else if (pricing_path(prices)) /* [ingest] prices, or the shipped snapshot */
        check_line(st, 0, "prices", "%zu models from %s and [prices]", pricing_count(prices),
                   pricing_path(prices));
    else
        check_line(st, CHECK_INFO, "prices",
                   "%zu models from [prices] only (no price file: [ingest] prices is empty, or "
                   "unset and neither %s nor the snapshot %s exists); events of other models "
                   "without a reported cost are unpriced",
                   pricing_count(prices), pricing_updated_path(), pricing_default_path());
    pricing_free(prices);
    rc = mapping_new(&cfg->mapping, &mapping, err);
    if (rc < 0)
        check_line(st, rc == -ENOMEM ? EX_OSERR : EX_CONFIG, "mapping", "%s", err);
    mapping_free(mapping);
    if (check_set(cfg->influxdb.tls_ca) && access(cfg->influxdb.tls_ca, R_OK) < 0)
        check_line(st, EX_CONFIG, "tls_ca", "%s: %s", cfg->influxdb.tls_ca, strerror(errno));
    check_dead_letter(st, cfg->ingest.dead_letter);
    if (cfg->ingest.max_event_age_s > 0)
        check_line(st, 0, "event age",
                   "events older than %" PRId64 " h are dead-lettered ([ingest] max_event_age)",
                   cfg->ingest.max_event_age_s / 3600);
    else
        check_line(st, CHECK_INFO, "event age",
                   "[ingest] max_event_age = off: an event older than the retention policy is "
                   "accepted and InfluxDB drops it without a word (set it to retention)");
}

/* Where Telegraf writes the measurement, against where tokenmeter reads. */
static void check_routing(struct check_state *st, const struct config *cfg, const char *file)
{
    glob_t g;
    memset(&g, 0, sizeof(g));
    if (!file) {
        if (glob(CHECK_TELEGRAF_GLOB, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
            check_line(st, CHECK_SKIP, "routing",
                       "no Telegraf fragment at " CHECK_TELEGRAF_GLOB " (--telegraf-config FILE)");
            globfree(&g);
            return;
        }
        file = g.gl_pathv[0];
    }
    const char *db =
        check_set(cfg->influxdb.bucket) ? cfg->influxdb.bucket : cfg->influxdb.database;
    const char *rp = check_set(cfg->influxdb.bucket) ? "" : cfg->influxdb.retention_policy;
    const char *m = cfg->ingest.measurement;
    struct buf text;
    struct cmd_check_route routes[CHECK_ROUTES_MAX];
    buf_init(&text, 4u << 20);
    FILE *fp = fopen(file, "r");
    char chunk[8192];
    size_t got;
    while (fp && (got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        buf_append(&text, chunk, got);
    if (!fp || ferror(fp) || buf_error(&text)) {
        check_line(st, EX_CONFIG, "routing", "%s: %s", file,
                   !fp || ferror(fp) ? strerror(errno) : "too large");
        goto out;
    }
    size_t n = cmd_check_telegraf_routes(text.data ? text.data : "", m, routes, CHECK_ROUTES_MAX);
    if (n > CHECK_ROUTES_MAX)
        n = CHECK_ROUTES_MAX;
    if (n == 0) {
        check_line(st, EX_CONFIG, "routing", "%s: no InfluxDB output takes \"%s\"", file, m);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cmd_check_route *r = &routes[i];
        if (strcmp(r->database, db) == 0 && strcmp(r->retention_policy, rp ? rp : "") == 0) {
            check_line(st, 0, "routing",
                       "Telegraf writes \"%s\" to \"%s\"%s%s%s, where tokenmeter reads (%s:%d)", m,
                       db, rp && *rp ? " policy \"" : "", rp && *rp ? rp : "",
                       rp && *rp ? "\"" : "", file, r->line);
            goto out;
        }
    }
    check_line(st, EX_CONFIG, "routing",
               "Telegraf writes \"%s\" to \"%s\"%s%s (outputs.%s, %s:%d), but tokenmeter reads "
               "\"%s\"%s%s: set [influxdb] database/retention_policy (or bucket) to match",
               m, routes[0].database, routes[0].retention_policy[0] ? " policy " : "",
               routes[0].retention_policy, routes[0].output, file, routes[0].line, db,
               rp && *rp ? " policy " : "", rp && *rp ? rp : "");
out:
    if (fp)
        fclose(fp);
    buf_free(&text);
    globfree(&g);
}

/* The newest point of the measurement: data reaches the database tokenmeter reads. */
static void check_data(struct check_state *st, struct influx *c, const struct config *cfg)
{
    struct buf q;
    struct influx_query_result *r = NULL;
    struct influx_query_series s;
    char err[ERR_MAX], when[32];
    int64_t t = 0;
    buf_init(&q, 4096);
    buf_puts(&q, "SELECT last(\"cost_source\") FROM ");
    influxql_quote(&q, cfg->ingest.measurement, '"');
    int rc = buf_error(&q);
    if (rc < 0)
        err_set(err, rc, "the newest-point query is too long");
    else
        rc = influx_query(c, influx_query_db(c), cfg->influxdb.retention_policy, q.data, false, &r,
                          err);
    if (rc < 0) {
        check_line(st, influx_exit_code(rc), "newest point", "%s", err);
    } else if (influx_query_series_at(r, 0, 0, &s) < 0 || influx_query_rows(&s) == 0 ||
               body_int(influx_query_value(&s, 0, influx_query_column(&s, "time")), "", &t) < 0) {
        check_line(st, CHECK_WARN, "newest point",
                   "no \"%s\" point in \"%s\" yet: is Telegraf writing here (see routing)?",
                   cfg->ingest.measurement, influx_query_db(c));
    } else {
        int64_t age = (timeutil_now_ns() - t) / 1000000000;
        timeutil_format_rfc3339(t, when, sizeof(when));
        check_line(st, age > cfg->aggregate.lookback_days * 86400 ? CHECK_WARN : 0, "newest point",
                   "\"%s\" at %s, %" PRId64 "h%02" PRId64 "m ago", cfg->ingest.measurement, when,
                   age / 3600, age % 3600 / 60);
    }
    influx_query_free(r);
    buf_free(&q);
}

enum { CHECK_OPT_CONFIG_ONLY = CMD_OPT_FIRST_LOCAL, CHECK_OPT_TELEGRAF };

int cmd_check_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"config-only", no_argument, NULL, CHECK_OPT_CONFIG_ONLY},
        {"telegraf-config", required_argument, NULL, CHECK_OPT_TELEGRAF},
        {NULL, 0, NULL, 0},
    };
    struct check_state st = {EX_OK};
    struct config *cfg = NULL;
    struct influx *c = NULL;
    char err[ERR_MAX], version[INFLUX_VERSION_MAX], line[1024];
    struct cmd_getopt g = {
        .argc = argc, .argv = argv, .command = "check", .longopts = longopts, .common = common};
    const char *arg = NULL, *telegraf = NULL;
    bool config_only = false;
    int opt;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
        if (opt == CHECK_OPT_CONFIG_ONLY)
            config_only = true;
        else if (opt == CHECK_OPT_TELEGRAF)
            telegraf = arg;
    }
    if (optind < argc)
        return cmd_usage_error("check", "unexpected argument \"%s\"", argv[optind]);
    if (common->help) {
        printf(check_usage, cmd_common_help);
        return EX_OK;
    }
    int status = cmd_load_config(common, &cfg);
    if (status != EX_OK) {
        check_line(&st, status, "config", "invalid (the error is above)");
        return status;
    }
    int rc = influx_new(&cfg->influxdb, &c, err);
    if (rc < 0) {
        check_line(&st, EX_CONFIG, "config", "%s", err);
        goto out;
    }
    /* One deadline for the whole command: a server's Retry-After never
     * makes check take minutes. */
    influx_set_deadline(c, influx_command_seconds(&cfg->influxdb));
    if (tzday_zone_valid(cfg->aggregate.timezone) < 0) {
        check_line(&st, EX_CONFIG, "config",
                   "[aggregate] timezone \"%s\" is not a zone of the TZ "
                   "database",
                   cfg->aggregate.timezone);
        goto out;
    }
    check_line(&st, 0, "config", "%s", cfg->path ? cfg->path : "built-in defaults (no file)");
    check_files(&st, cfg);
    check_routing(&st, cfg, telegraf);
    if (config_only) {
        check_line(&st, CHECK_SKIP, "influxdb", "--config-only: no server probed");
        goto store;
    }
    rc = influx_ping(c, version, err);
    if (rc < 0) {
        check_line(&st, influx_exit_code(rc), "reachable", "%s", err);
        check_line(&st, CHECK_SKIP, "influxdb", "the other probes need a reachable server");
        goto store;
    }
    check_line(&st, 0, "reachable", "%s answered /ping", cfg->influxdb.url);
    check_version(&st, c, version);
    if (!influx_is_v2(c))
        check_database(&st, c, cfg);
    rc = retention_check(c, line, sizeof(line));
    if (influx_is_v2(c) && rc != -EACCES)
        check_line(&st, 0, "auth", "token accepted");
    check_line(&st,
               rc == 0   ? 0
               : rc == 1 ? EX_CONFIG
                         : influx_exit_code(rc),
               "retention", "%s", line);
    struct influx_target t = {NULL, NULL, NULL};
    rc = influx_write_probe(c, &t, err);
    if (rc < 0)
        check_line(&st, influx_exit_code(rc), "write", "%s", err);
    else
        check_line(&st, 0, "write", "write permitted to \"%s\"", influx_query_db(c));
    if (cfg->aggregate.write_influx) {
        const struct config_aggregate *a = &cfg->aggregate;
        struct influx_target w = {a->write_database, a->write_retention_policy, a->write_bucket};
        rc = influx_write_probe(c, &w, err);
        check_line(&st, rc < 0 ? influx_exit_code(rc) : 0, "write summaries", "%s",
                   rc < 0 ? err : "write permitted to the llm_usage_daily target");
    }
    check_unpriced(&st, c, cfg);
    check_data(&st, c, cfg);
store:
    check_store(&st, cfg);
out:
    influx_free(c);
    config_free(cfg);
    return st.status;
}
