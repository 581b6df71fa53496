/* SPDX-License-Identifier: MIT */
#include "tokenmeter/cmd_metric.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/base64.h"
#include "tokenmeter/log.h"
#include "tokenmeter/pipeline.h"

void cmd_metric_init(struct cmd_metric *m, size_t max_body)
{
    lineproto_point_init(&m->pt);
    buf_init(&m->body, max_body);
}

void cmd_metric_free(struct cmd_metric *m)
{
    lineproto_point_free(&m->pt);
    buf_free(&m->body);
}

/* True when line starts with the measurement `name` (then ',' or ' '). */
static bool cmd_metric_named(const char *line, size_t len, const char *name)
{
    size_t nl = name ? strlen(name) : 0;
    return nl && len > nl && memcmp(line, name, nl) == 0 && (line[nl] == ',' || line[nl] == ' ');
}

bool cmd_metric_may_hold_body(const struct config_process *cp, const char *line, size_t len)
{
    if (cmd_metric_named(line, len, cp->webhook_measurement))
        return true;
    size_t fl = strlen(cp->body_field);
    for (size_t at = 1; at + fl + 1 < len; at++) {
        if ((line[at - 1] == ' ' || line[at - 1] == ',') &&
            memcmp(line + at, cp->body_field, fl) == 0 && line[at + fl] == '=' &&
            line[at + fl + 1] == '"')
            return true;
    }
    return false;
}

int cmd_metric_pass(struct buf *out, const char *line, size_t len)
{
    buf_append(out, line, len);
    buf_putc(out, '\n');
    return buf_error(out);
}

/* The tag named by a [process] *_tag key, or NULL (an empty key disables). */
static const char *cmd_metric_tag(const struct lineproto_point *pt, const char *name)
{
    if (!name || !*name)
        return NULL;
    return lineproto_point_tag(pt, name);
}

int cmd_metric_feed(struct cmd_io *io, struct cmd_metric *m, const char *line, size_t len,
                    const char *origin, struct buf *out)
{
    const struct config_process *cp = &io->cfg->process;
    char err[ERR_MAX], reason[ERR_MAX + 64];
    int prc = lineproto_parse(line, len, &m->pt, err);
    if (prc == -ENOMEM) { /* fatal (err.h): the metric was not judged */
        log_msg_always(LOG_LEVEL_ERROR, "%s: %s", origin, err);
        return prc;
    }
    if (prc < 0 && !cmd_metric_may_hold_body(cp, line, len)) {
        /* Not ours, even if our reader cannot read it (Telegraf's is the
         * judge of other metrics): pass it on untouched. */
        log_debug("%s: passed through unread: %s", origin, err);
        return cmd_metric_pass(out, line, len);
    }
    if (prc < 0) {
        snprintf(reason, sizeof(reason), "not line protocol: %s", err);
        return cmd_io_reject_raw(io, origin, line, len, "metric", reason);
    }
    if (prc > 0) /* a comment */
        return cmd_metric_pass(out, line, len);
    const struct lineproto_field *f = lineproto_point_field(&m->pt, cp->body_field);
    bool webhook = strcmp(m->pt.measurement, cp->webhook_measurement) == 0;
    if (!webhook && (!f || f->type != LINEPROTO_STRING))
        return cmd_metric_pass(out, line, len); /* not a webhook: not ours to change */
    if (!f || f->type != LINEPROTO_STRING) {
        snprintf(reason, sizeof(reason), "webhook metric without a string field \"%.100s\"%s",
                 cp->body_field, f ? " (the field is not a string)" : "");
        return cmd_io_reject_raw(io, origin, line, len, "metric", reason);
    }
    const char *body = f->s;
    size_t blen = f->slen;
    if (cp->body_encoding == CONFIG_ENCODING_BASE64) {
        buf_reset(&m->body);
        int rc = base64_decode(&m->body, f->s, f->slen);
        if (rc == -EINVAL) {
            snprintf(reason, sizeof(reason), "field \"%.40s\" is not valid base64", cp->body_field);
            return cmd_io_reject_raw(io, origin, line, len, "metric", reason);
        }
        if (rc < 0)
            return rc;
        body = m->body.data ? m->body.data : "";
        blen = m->body.len;
    }
    struct pipeline_tenancy t = {
        .org = cmd_metric_tag(&m->pt, cp->org_tag),
        .team = cmd_metric_tag(&m->pt, cp->team_tag),
        .user = cmd_metric_tag(&m->pt, cp->user_tag),
    };
    /* Telegraf stamped the metric when the request arrived: a better
     * receive time for bodies without their own than our clock. */
    pipeline_set_receive_time(io->pipeline, m->pt.has_time ? m->pt.time_ns : -1);
    int rc = pipeline_feed(io->pipeline, body, blen, origin, &t, out);
    return rc < 0 ? rc : 0;
}
