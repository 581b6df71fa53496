/* SPDX-License-Identifier: MIT */
#include "tokenmeter/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/log.h"
#include "tokenmeter/timeutil.h"

const char cmd_common_help[] =
    "  -c, --config FILE     configuration file (default $TOKENMETER_CONFIG, else\n"
    "                        " CONFIG_DEFAULT_PATH "; a missing default file is\n"
    "                        fine, a missing named file is not)\n"
    "      --set S.K=VALUE   override one config key, e.g. --set ingest.dedup=tag\n"
    "      --log-level L     error, warn, info (default) or debug\n"
    "      --quiet           only errors on stderr (--log-level error): silent on\n"
    "                        success, for cron jobs and timers\n"
    "  -h, --help            this help\n";

int cmd_common_set(struct cmd_common *c, const char *section_key, const char *value)
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

int cmd_load_config_err(struct cmd_common *c, struct config **out, struct config **partial,
                        char err[ERR_MAX])
{
    int rc = 0;
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
    for (size_t i = 0; i < c->nsets; i++)
        if ((rc = config_set_assignment(cfg, c->sets[i], err)) < 0)
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
    return rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
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
        int opt = getopt_long(g->argc, g->argv, "c:h", g->longopts, NULL);
        *arg = optarg;
        if (opt == -1)
            return CMD_GETOPT_END;
        if (opt == '?' || opt == ':') {
            cmd_usage_error(g->command, "unknown option or missing argument: %s",
                            g->argv[optind - 1]);
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
        if (cmd_common_set(g->common, f->key, f->value ? f->value : optarg) < 0)
            return CMD_GETOPT_ERROR;
    }
}
