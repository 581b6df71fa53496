/* SPDX-License-Identifier: MIT */
#include "tokenmeter/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/log.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/tzday.h"

const char cmd_common_help[] =
    "  -c, --config FILE     configuration file (default $TOKENMETER_CONFIG, else\n"
    "                        " CONFIG_DEFAULT_PATH "; a missing default file is\n"
    "                        fine, a missing named file is not)\n"
    "      --set S.K=VALUE   override one config key, e.g. --set ingest.dedup=tag\n"
    "      --log-level L     error, warn, info (default) or debug\n"
    "      --quiet           only errors on stderr (--log-level error): silent on\n"
    "                        success, for cron jobs and timers\n"
    "  -h, --help            this help\n";

int cmd_common_set(struct cmd_common *c, const char *flag, const char *section_key,
                   const char *value)
{
    if (c->nsets >= CMD_MAX_SETS || c->nowned >= CMD_MAX_SETS) {
        log_msg_always(LOG_LEVEL_ERROR, "too many configuration overrides");
        return -E2BIG;
    }
    size_t n = strlen(section_key) + strlen(value) + 2;
    char *s = malloc(n);
    if (!s) {
        log_msg_always(LOG_LEVEL_ERROR, "out of memory");
        return -ENOMEM;
    }
    snprintf(s, n, "%s=%s", section_key, value);
    c->owned[c->nowned++] = s;
    c->set_flags[c->nsets] = flag;
    c->sets[c->nsets++] = s;
    return 0;
}

void cmd_common_free(struct cmd_common *c)
{
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    c->nowned = 0;
    c->nsets = 0;
}

int cmd_common_option(struct cmd_common *c, int opt, const char *arg)
{
    switch (opt) {
    case 'c':
        c->config_path = arg;
        return 1;
    case 'h':
        c->help = true;
        return 1;
    case CMD_OPT_SET:
        if (c->nsets >= CMD_MAX_SETS) {
            log_msg_always(LOG_LEVEL_ERROR, "too many --set options");
            return -E2BIG;
        }
        c->set_flags[c->nsets] = NULL;
        c->sets[c->nsets++] = arg;
        return 1;
    case CMD_OPT_QUIET:
        log_set_level(LOG_LEVEL_ERROR);
        return 1;
    case CMD_OPT_LOG_LEVEL: {
        enum log_level lvl;
        if (log_parse_level(arg, &lvl) < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "--log-level %s: expected error, warn, info or debug",
                           arg);
            return -EINVAL;
        }
        log_set_level(lvl);
        return 1;
    }
    default:
        return 0;
    }
}

/* One command-line override. A flag's error names the flag as typed
 * ("--dedup"), not the --set it stands for. A time zone is checked here
 * too, so that a mistyped --tz is a usage error like any other bad value;
 * from the file it stays a configuration error, found by the command. */
static int cmd_apply_set(struct config *cfg, const char *flag, const char *assignment,
                         char err[ERR_MAX])
{
    char section[64], key[128], origin[128];
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    int rc;
    if (!flag) {
        rc = config_set_assignment(cfg, assignment, err);
        if (rc < 0 || !dot || !eq || dot > eq)
            return rc;
        snprintf(origin, sizeof(origin), "flag --set %.*s", (int)(eq - assignment), assignment);
    } else {
        /* built by cmd_common_set() from a row of a command's table: "s.k=v" */
        snprintf(section, sizeof(section), "%.*s", (int)(dot - assignment), assignment);
        snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
        snprintf(origin, sizeof(origin), "--%s", flag);
        if ((rc = config_set(cfg, section, key, eq + 1, origin, err)) < 0)
            return rc;
    }
    if (strncmp(assignment, "aggregate.timezone=", 19) == 0 &&
        tzday_zone_valid(cfg->aggregate.timezone) < 0)
        return err_set(err, -EINVAL,
                       "%s: [aggregate] timezone \"%s\" is not a zone of the TZ database (e.g. "
                       "UTC, Europe/Berlin)",
                       origin, cfg->aggregate.timezone);
    return 0;
}

int cmd_load_config_err(struct cmd_common *c, struct config **out, struct config **partial,
                        char err[ERR_MAX])
{
    int rc = 0;
    bool usage = false; /* a value typed on the command line is wrong */
    struct config *cfg = config_new();
    *out = NULL;
    if (partial)
        *partial = NULL;
    if (!cfg) {
        err_set(err, -ENOMEM, "out of memory");
        return EX_OSERR;
    }
    /* -c, else $TOKENMETER_CONFIG (named: must exist), else the default
     * path (may be missing). The variable lets a test suite or a second
     * instance keep away from the system's config without a flag on every
     * command. */
    const char *env = getenv("TOKENMETER_CONFIG");
    const char *named = c->config_path ? c->config_path : env && *env ? env : NULL;
    const char *path = named ? named : CONFIG_DEFAULT_PATH;
    if ((rc = config_load_file(cfg, path, named != NULL, err)) < 0)
        goto fail;
    if ((rc = config_load_env(cfg, err)) < 0)
        goto fail;
    /* Past a bad one the others are still applied: the partial config of a
     * degraded process must honour a --dead-letter that follows a typo. */
    for (size_t i = 0; i < c->nsets; i++) {
        char e[ERR_MAX];
        int src = cmd_apply_set(cfg, c->set_flags[i], c->sets[i], rc < 0 ? e : err);
        if (src == -ENOMEM || (src < 0 && rc == 0)) {
            rc = src;
            usage = src == -EINVAL;
        }
    }
    if (rc < 0)
        goto fail;
    if ((rc = config_finish(cfg, err)) < 0)
        goto fail;
    *out = cfg;
    return EX_OK;
fail:
    if (partial && rc != -ENOMEM) {
        *partial = cfg;
        cfg = NULL;
    }
    config_free(cfg);
    return rc == -ENOMEM ? EX_OSERR : usage ? EX_USAGE : EX_CONFIG;
}

int cmd_load_config(struct cmd_common *c, struct config **out)
{
    char err[ERR_MAX];
    int status = cmd_load_config_err(c, out, NULL, err);
    if (status != EX_OK)
        log_msg_always(LOG_LEVEL_ERROR, "config: %s", err);
    return status;
}

int cmd_parse_time(const char *s, int64_t *ns)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!errno && end != s && *end == '\0' && v >= 0) {
        *ns = (int64_t)v;
        return 0;
    }
    return timeutil_parse_iso8601(s, ns) == 0 ? 0 : -EINVAL;
}

int cmd_usage_error(const char *command, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_msg_always(LOG_LEVEL_ERROR, "%s: %s; try 'tokenmeter %s --help'", command, msg, command);
    return EX_USAGE;
}

size_t cmd_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 31), lb = strnlen(b, 31);
    size_t row[32];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The long option nearest to word ("--dead-leter"), or NULL when none is
 * within two edits. */
static const char *cmd_nearest_option(const struct option *longopts, const char *word)
{
    const char *near = NULL;
    size_t best = 3;
    for (const struct option *o = longopts; o && o->name && strncmp(word, "--", 2) == 0; o++) {
        size_t d = cmd_distance(word + 2, o->name);
        if (d < best) {
            best = d;
            near = o->name;
        }
    }
    return near;
}

void cmd_getopt_error(const char *command, int opt, char **argv, const struct option *longopts)
{
    /* getopt's own message (opterr) would lack the E! prefix of every other
     * line on stderr. optind is past the offending word; a short option,
     * perhaps inside a cluster ("-xc"), is named by optopt. */
    char word[64];
    const char *w = argv[optind - 1];
    if (strncmp(w, "--", 2) != 0 && optopt > ' ' && optopt < 127)
        snprintf(word, sizeof(word), "-%c", optopt);
    else
        snprintf(word, sizeof(word), "%.*s", (int)strcspn(w, "="), w);
    char msg[128];
    if (opt == ':')
        snprintf(msg, sizeof(msg), "option %s needs an argument", word);
    else if (cmd_nearest_option(longopts, word))
        snprintf(msg, sizeof(msg), "unknown option %s (did you mean --%s?)", word,
                 cmd_nearest_option(longopts, word));
    else
        snprintf(msg, sizeof(msg), "unknown option %s", word);
    if (command)
        cmd_usage_error(command, "%s", msg);
    else
        log_msg_always(LOG_LEVEL_ERROR, "%s; try 'tokenmeter --help'", msg);
}

int cmd_getopt_next(struct cmd_getopt *g, const char **arg)
{
    if (!g->started) {
        /* 0, not 1: main() parsed with "+" (stop at the command); glibc
         * re-reads the option string only when optind is 0, so options may
         * again follow operands here. */
        optind = 0;
        opterr = 0;
        g->started = true;
    }
    for (;;) {
        int opt = getopt_long(g->argc, g->argv, ":c:h", g->longopts, NULL);
        *arg = optarg;
        if (opt == -1)
            return CMD_GETOPT_END;
        if (opt == '?' || opt == ':') {
            cmd_getopt_error(g->command, opt, g->argv, g->longopts);
            return CMD_GETOPT_ERROR;
        }
        int handled = cmd_common_option(g->common, opt, optarg);
        if (handled < 0)
            return CMD_GETOPT_ERROR;
        if (handled)
            continue;
        const struct cmd_flag *f = NULL;
        for (size_t i = 0; i < g->nflags && !f; i++)
            if (g->flags[i].opt == opt)
                f = &g->flags[i];
        if (!f)
            return opt;
        const char *name = NULL;
        for (const struct option *o = g->longopts; o->name && !name; o++)
            if (o->val == opt)
                name = o->name;
        if (cmd_common_set(g->common, name, f->key, f->value ? f->value : optarg) < 0)
            return CMD_GETOPT_ERROR;
    }
}
