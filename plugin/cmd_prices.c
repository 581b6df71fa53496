/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter prices show|update|cost — the price table from the command
 * line (docs/pricing.md).
 *
 * show MODEL: the entry an event of MODEL would be priced with, the lookup
 * step that found it, and its rates. update: fetches a newer LiteLLM map,
 * checks that it loads as a price table, and replaces the file atomically
 * (a temporary file in the same directory, then rename), so a failure at
 * any step leaves the old table in place. cost: prices NDJSON counts read
 * from stdin, one result a line — what the differential test against
 * LiteLLM drives.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/body.h"
#include "tokenmeter/buf.h"
#include "tokenmeter/cmd.h"
#include "tokenmeter/log.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/pricing.h"
#include "tokenmeter/timeutil.h"

#ifndef TOKENMETER_DATADIR
#define TOKENMETER_DATADIR "/usr/local/share/tokenmeter"
#endif

#define PRICES_URL                                                                                 \
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
#define PRICES_MAX  ((size_t)64 * 1024 * 1024)
#define PRICES_LINE ((size_t)1024 * 1024)

static const char prices_usage[] =
    "usage: tokenmeter prices show MODEL [--provider P] [options]\n"
    "       tokenmeter prices update [--url URL] [--output FILE] [--force] [options]\n"
    "       tokenmeter prices cost [options] < counts.ndjson\n"
    "\n"
    "The price table is [ingest] prices, or when that is unset the newer of\n" TOKENMETER_STATEDIR
    "/model_prices.json (written by update) and the\n"
    "snapshot installed as " TOKENMETER_DATADIR "/model_prices.json;\n"
    "[prices] overrides apply.\n"
    "\n"
    "show:   prints the entry an event of MODEL (from provider P) is priced with,\n"
    "        how the lookup found it, and its per-token rates (USD).\n"
    "update: downloads LiteLLM's price map (default " PRICES_URL "),\n"
    "        checks that it loads as a price table and replaces FILE atomically;\n"
    "        on any failure the old file stays. FILE: --output, else [ingest]\n"
    "        prices, else " TOKENMETER_STATEDIR "/model_prices.json, which is\n"
    "        then used instead of the snapshot (unless an upgrade installs a newer\n"
    "        snapshot). The packaged snapshot itself is never replaced unless\n"
    "        --output names it. A running 'tokenmeter execd' rereads it on SIGHUP.\n"
    "cost:   reads one JSON object a line (model, provider, service_tier,\n"
    "        inference_geo, speed, time (the call's start, RFC 3339, for\n"
    "        off-peak rates; default now) and the line-protocol count fields:\n"
    "        input_tokens, output_tokens, ...) and prints its cost in USD, or\n"
    "        'unpriced: WHAT' / 'unknown: COUNT absent' / 'invalid: WHY' (exit\n"
    "        65 at the end; the other lines are still priced).\n"
    "\n"
    "options:\n"
    "      --provider P          the event's provider, for show\n"
    "      --url URL             where update downloads from\n"
    "      --output FILE         the file update replaces\n"
    "      --force               update: replace FILE even with a table of less\n"
    "                            than half its models\n"
    "%s"
    "\n"
    "exit status: 0 done; 1 show: no entry for MODEL; 65 update: the new table\n"
    "has less than half the models of FILE (the old file is kept; --force),\n"
    "cost: a line was invalid;\n"
    "69 update: download or validation failed (the old file is kept); 73\n"
    "update: cannot write FILE;\n"
    "78 configuration or price table invalid; 64 usage (also: update without\n"
    "--output while [ingest] prices names the packaged snapshot).\n";

enum {
    PRICES_OPT_PROVIDER = CMD_OPT_FIRST_LOCAL,
    PRICES_OPT_URL,
    PRICES_OPT_OUTPUT,
    PRICES_OPT_FORCE,
};

struct prices_opts {
    const char *provider;
    const char *url;
    const char *output;
    bool force;
};

static int prices_load(const struct config *cfg, struct pricing **t)
{
    char err[ERR_MAX];
    int rc = pricing_load(cfg->ingest.prices, &cfg->prices, t, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "%s", err);
        return rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
    }
    return EX_OK;
}

static int prices_show(const struct config *cfg, const char *model, const char *provider)
{
    struct pricing *t = NULL;
    int status = prices_load(cfg, &t);
    if (status != EX_OK)
        return status;
    size_t step = 0;
    const struct pricing_model *m = pricing_lookup(t, model, provider, &step);
    if (!m && pricing_count(t) == 0) {
        printf("model \"%s\": no price table is loaded ([ingest] prices is unset and no "
               "snapshot is installed); its events are written with cost_source=\"unpriced\"; "
               "name one with --set ingest.prices=FILE (a checkout has data/model_prices.json)\n",
               model);
        pricing_free(t);
        return 1;
    }
    struct pricing_tries tries;
    pricing_tries(t, model, provider, &tries);
    if (!m)
        printf("model \"%s\"%s%s%s: no entry in the price table (%zu models); its events are "
               "written with cost_source=\"unpriced\"\n",
               model, provider ? " (provider " : "", provider ? provider : "", provider ? ")" : "",
               pricing_count(t));
    else
        printf("model \"%s\": entry \"%s\" of %s, found by \"%s\"\n", model, pricing_model_name(m),
               pricing_path(t) ? pricing_path(t) : "[prices]", tries.name[step]);
    printf("lookup order:");
    for (size_t i = 0; i < tries.n; i++)
        printf("%s \"%s\"%s%s", i ? "," : "", tries.name[i],
               tries.checked[i] ? " of provider " : "", tries.checked[i] ? tries.provider : "");
    printf("\n");
    if (!m) {
        pricing_free(t);
        return 1;
    }
    for (size_t i = 0; i < pricing_model_nrates(m); i++) {
        const char *key = NULL;
        double usd = 0;
        pricing_model_rate_at(m, i, &key, &usd);
        printf("  %-56s %.10g\n", key, usd);
    }
    pricing_free(t);
    return EX_OK;
}

/* One line of `prices cost`: the event it describes. */
static int prices_event(const struct body_node *doc, struct event *ev, char err[ERR_MAX])
{
    static const struct {
        const char *ptr;
        size_t off;
    } counts[] = {
        {"/input_tokens", offsetof(struct event, input_tokens)},
        {"/cached_input_tokens", offsetof(struct event, cached_input_tokens)},
        {"/cache_write_tokens", offsetof(struct event, cache_write_tokens)},
        {"/cache_write_1h_tokens", offsetof(struct event, cache_write_1h_tokens)},
        {"/output_tokens", offsetof(struct event, output_tokens)},
        {"/reasoning_tokens", offsetof(struct event, reasoning_tokens)},
        {"/input_audio_tokens", offsetof(struct event, input_audio_tokens)},
        {"/cached_input_audio_tokens", offsetof(struct event, cached_input_audio_tokens)},
        {"/input_image_tokens", offsetof(struct event, input_image_tokens)},
        {"/output_audio_tokens", offsetof(struct event, output_audio_tokens)},
        {"/output_image_tokens", offsetof(struct event, output_image_tokens)},
        {"/web_search_requests", offsetof(struct event, web_search_requests)},
    };
    event_init(ev, "prices");
    ev->model = body_str_nonempty(doc, "/model");
    ev->provider = body_str_nonempty(doc, "/provider");
    ev->service_tier = body_str_nonempty(doc, "/service_tier");
    ev->inference_geo = body_str_nonempty(doc, "/inference_geo");
    ev->speed = body_str_nonempty(doc, "/speed");
    /* The call's start decides off-peak rates: "time" (RFC 3339), else now. */
    const char *when = body_str_nonempty(doc, "/time");
    if (when && timeutil_parse_iso8601(when, &ev->time_ns) < 0)
        return err_set(err, -EINVAL, "time: not an RFC 3339 timestamp");
    if (!when)
        ev->time_ns = timeutil_now_ns();
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int64_t *dst = (int64_t *)((char *)ev + counts[i].off);
        int rc = body_int(doc, counts[i].ptr, dst);
        if (rc == -ENOENT)
            *dst = EVENT_ABSENT;
        else if (rc < 0 || *dst < 0)
            return err_set(err, -EINVAL, "%s: not a non-negative integer", counts[i].ptr + 1);
    }
    return 0;
}

static int prices_cost(const struct config *cfg)
{
    struct pricing *t = NULL;
    int status = prices_load(cfg, &t);
    if (status != EX_OK)
        return status;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        char err[ERR_MAX];
        struct body *doc = NULL;
        struct event ev;
        int rc = (size_t)n > PRICES_LINE ? err_set(err, -EINVAL, "line longer than 1 MiB")
                                         : body_parse(line, (size_t)n, &doc, err);
        if (rc == 0)
            rc = prices_event(body_root(doc), &ev, err);
        if (rc == -ENOMEM) {
            body_free(doc);
            log_msg_always(LOG_LEVEL_ERROR, "stdin:%ld: %s", lineno, err);
            status = EX_OSERR;
            break;
        }
        if (rc < 0) {
            /* One result a line, in order: a bad line says so in its place,
             * the lines after it are still priced, and the exit status is
             * 65. */
            body_free(doc);
            log_msg_always(LOG_LEVEL_ERROR, "stdin:%ld: %s", lineno, err);
            printf("invalid: %s\n", err);
            status = EX_DATAERR;
            continue;
        }
        const struct pricing_model *m = pricing_lookup(t, ev.model, ev.provider, NULL);
        const char *missing = NULL;
        double usd = 0;
        char num[32];
        rc = m ? pricing_cost(m, &ev, &usd, &missing) : -ENOENT;
        if (rc == 0) {
            lineproto_format_float(usd, num); /* the digits the point would carry */
            printf("%s\n", num);
        } else if (rc == -ENODATA) {
            printf("unknown: %s absent\n",
                   ev.input_tokens == EVENT_ABSENT ? "input_tokens" : "output_tokens");
        } else {
            printf("unpriced: %s\n", m ? missing : "model");
        }
        body_free(doc);
    }
    free(line);
    pricing_free(t);
    return status;
}

/* Writes data to a new temporary file beside `path`; its name in tmp. */
static int prices_write_temp(const char *path, const struct buf *b, char *tmp, size_t cap,
                             char err[ERR_MAX])
{
    if ((size_t)snprintf(tmp, cap, "%s.tmp.XXXXXX", path) >= cap)
        return err_set(err, -ENAMETOOLONG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        tmp[0] = '\0';
        return err_set(err, -e, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(e));
    }
    int rc = 0;
    for (size_t off = 0; off < b->len && rc == 0;) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno != EINTR)
            rc = -errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (rc == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        err_set(err, rc, "%s: %s", tmp, strerror(-rc));
    return rc;
}

/* Is path the package's snapshot (by name, link or hard link)? */
static bool prices_is_snapshot(const char *path)
{
    struct stat a, b;
    return strcmp(path, pricing_default_path()) == 0 ||
           (stat(path, &a) == 0 && stat(pricing_default_path(), &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino);
}

/* The file update replaces: --output, else [ingest] prices, else the
 * updated copy in the state directory, which the loader prefers to the
 * snapshot. Never the package's snapshot unless --output names it: the
 * package manager owns it (an upgrade replaces it, `dpkg --verify` flags
 * it). Returns NULL after logging when [ingest] prices names it. */
static const char *prices_update_path(const struct config *cfg, const struct prices_opts *o)
{
    if (o->output)
        return o->output;
    if (!cfg->ingest.prices || !*cfg->ingest.prices)
        return pricing_updated_path();
    if (!prices_is_snapshot(cfg->ingest.prices))
        return cfg->ingest.prices;
    log_msg_always(LOG_LEVEL_ERROR,
                   "prices update: [ingest] prices names the packaged snapshot %s, which the "
                   "package manager owns and an upgrade replaces; unset [ingest] prices (update "
                   "then writes %s, used in its place), or name the file with --output FILE",
                   pricing_default_path(), pricing_updated_path());
    return NULL;
}

/* A download that loads but holds a fraction of the table it replaces (a
 * wrong URL, a partial map) would leave most models unpriced from the next
 * SIGHUP on: refused unless --force. A current file that does not load is
 * replaced. Returns 0 or -EEXIST with err set. */
static int prices_shrinks(const char *path, size_t fresh, const char *url, char err[ERR_MAX])
{
    struct pricing *old = NULL;
    char lerr[ERR_MAX];
    int rc = 0;
    if (access(path, F_OK) == 0 && pricing_load(path, NULL, &old, lerr) == 0 &&
        fresh < pricing_count(old) / 2)
        rc = err_set(err, -EEXIST,
                     "%s holds %zu models, %s only %zu: refusing to drop more than half (a "
                     "wrong URL or a partial map?); --force replaces it anyway",
                     path, pricing_count(old), url, fresh);
    pricing_free(old);
    return rc;
}

static int prices_update(const struct config *cfg, const struct prices_opts *o)
{
    const char *url = o->url ? o->url : PRICES_URL;
    const char *path = prices_update_path(cfg, o);
    if (!path)
        return EX_USAGE;
    char err[ERR_MAX], tmp[4096] = "";
    struct buf b;
    struct pricing *t = NULL;
    int status = EX_OK, rc;
    buf_init(&b, PRICES_MAX);
    if ((rc = influx_download(url, &b, err)) < 0) {
        status = rc == -ENOMEM ? EX_OSERR : EX_UNAVAILABLE;
        goto fail;
    }
    if ((rc = prices_write_temp(path, &b, tmp, sizeof(tmp), err)) < 0) {
        status = EX_CANTCREAT;
        goto fail;
    }
    /* The new file must load as a price table before it replaces the old. */
    char lerr[ERR_MAX];
    if ((rc = pricing_load(tmp, NULL, &t, lerr)) < 0 || pricing_count(t) == 0) {
        err_set(err, rc < 0 ? rc : -EINVAL, "%s: not a usable price table: %s", url,
                rc < 0 ? lerr : "no per-token model in it");
        status = rc == -ENOMEM ? EX_OSERR : EX_UNAVAILABLE;
        goto fail;
    }
    if (!o->force && (rc = prices_shrinks(path, pricing_count(t), url, err)) < 0) {
        status = EX_DATAERR;
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        err_set(err, -e, "%s: cannot replace: %s", path, strerror(e));
        status = EX_CANTCREAT;
        goto fail;
    }
    printf("prices: %zu models from %s written to %s\n"
           "A running 'tokenmeter execd' rereads its price table on SIGHUP: send it\n"
           "'kill -HUP PID' (PID of the tokenmeter execd process), or restart Telegraf.\n",
           pricing_count(t), url, path);
    goto out;
fail:
    if (tmp[0])
        unlink(tmp);
    log_msg_always(LOG_LEVEL_ERROR, "prices update: %s; %s is unchanged", err, path);
out:
    pricing_free(t);
    buf_free(&b);
    return status;
}

int cmd_prices_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"provider", required_argument, NULL, PRICES_OPT_PROVIDER},
        {"url", required_argument, NULL, PRICES_OPT_URL},
        {"output", required_argument, NULL, PRICES_OPT_OUTPUT},
        {"force", no_argument, NULL, PRICES_OPT_FORCE},
        {NULL, 0, NULL, 0},
    };
    struct prices_opts o = {NULL, NULL, NULL, false};
    struct cmd_getopt g = {
        .argc = argc, .argv = argv, .command = "prices", .longopts = longopts, .common = common};
    const char *arg = NULL;
    int opt;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
        if (opt == PRICES_OPT_PROVIDER)
            o.provider = arg;
        else if (opt == PRICES_OPT_URL)
            o.url = arg;
        else if (opt == PRICES_OPT_OUTPUT)
            o.output = arg;
        else if (opt == PRICES_OPT_FORCE)
            o.force = true;
    }
    if (common->help) {
        printf(prices_usage, cmd_common_help);
        return EX_OK;
    }
    int nargs = argc - optind;
    const char *sub = nargs > 0 ? argv[optind] : "";
    bool show = strcmp(sub, "show") == 0;
    if (!(show && nargs == 2) &&
        !(!show && nargs == 1 && (strcmp(sub, "update") == 0 || strcmp(sub, "cost") == 0)))
        return cmd_usage_error("prices", "expected 'show MODEL', 'update' or 'cost'");
    struct config *cfg = NULL;
    int status = cmd_load_config(common, &cfg);
    if (status != EX_OK)
        return status;
    if (show)
        status = prices_show(cfg, argv[optind + 1], o.provider);
    else if (strcmp(sub, "update") == 0)
        status = prices_update(cfg, &o);
    else
        status = prices_cost(cfg);
    config_free(cfg);
    return status;
}
