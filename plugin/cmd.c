/* SPDX-License-Identifier: MIT */
#include "tokenmeter/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/log.h"
#include "tokenmeter/timeutil.h"

const char cmd_common_help[] =
    "  -c, --config FILE     configuration file (default " CONFIG_DEFAULT_PATH ";\n"
    "                        a missing default file is fine, a missing named file is not)\n"
    "      --set S.K=VALUE   override one config key, e.g. --set ingest.dedup=tag\n"
    "      --log-level L     error, warn, info (default) or debug\n"
    "  -h, --help            this help\n";

int cmd_common_set(struct cmd_common *c, const char *section_key, const char *value)
{
    if (c->nsets >= CMD_MAX_SETS || c->nowned >= CMD_MAX_SETS) {
        log_msg_always(LOG_LEVEL_ERROR, "too many configuration overrides");
        return -1;
    }
    size_t n = strlen(section_key) + strlen(value) + 2;
    char *s = malloc(n);
    if (!s) {
        log_msg_always(LOG_LEVEL_ERROR, "out of memory");
        return -1;
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
            return -1;
        }
        c->sets[c->nsets++] = arg;
        return 1;
    case CMD_OPT_LOG_LEVEL: {
        enum log_level lvl;
        if (log_parse_level(arg, &lvl) < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "--log-level %s: expected error, warn, info or debug",
                           arg);
            return -1;
        }
        log_set_level(lvl);
        return 1;
    }
    default:
        return 0;
    }
}

int cmd_load_config(struct cmd_common *c, struct config **out)
{
    char err[CONFIG_ERR_MAX];
    struct config *cfg = config_new();
    *out = NULL;
    if (!cfg) {
        log_msg_always(LOG_LEVEL_ERROR, "out of memory");
        return EX_OSERR;
    }
    const char *path = c->config_path ? c->config_path : CONFIG_DEFAULT_PATH;
    if (config_load_file(cfg, path, c->config_path != NULL, err) < 0)
        goto fail;
    if (config_load_env(cfg, err) < 0)
        goto fail;
    for (size_t i = 0; i < c->nsets; i++)
        if (config_set_assignment(cfg, c->sets[i], err) < 0)
            goto fail;
    if (config_finish(cfg, err) < 0)
        goto fail;
    *out = cfg;
    return EX_OK;
fail:
    log_msg_always(LOG_LEVEL_ERROR, "config: %s", err);
    config_free(cfg);
    return EX_CONFIG;
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
