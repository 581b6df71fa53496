/* SPDX-License-Identifier: MIT */
/*
 * cmd_metric — one Telegraf metric that may hold a webhook body, taken the
 * way `tokenmeter process` takes it (docs/operations.md): shared by process
 * and by replay, which feeds dead-letter records of kind "metric" back.
 *
 * A metric is a webhook metric when it has the string field [process]
 * body_field, or when its measurement is [process] webhook_measurement
 * (http_listener_v2's name_override in the shipped Telegraf files). A
 * webhook metric's body is decoded ([process] body_encoding) and normalized
 * with the metric's tags as tenancy defaults; one without a usable body is
 * dead-lettered whole with the reason, never passed on (Telegraf's
 * namedrop would drop it without a word). Every other metric passes
 * through byte for byte.
 */
#ifndef TOKENMETER_CMD_METRIC_H
#define TOKENMETER_CMD_METRIC_H

#include <stdbool.h>
#include <stddef.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/cmd_io.h"
#include "tokenmeter/lineproto.h"

struct cmd_metric {
    struct lineproto_point pt; /* the metric being looked at */
    struct buf body;           /* its decoded body */
};

/* Prepares the scratch space for bodies of up to max_body bytes; allocates
 * nothing yet. Release with cmd_metric_free(). */
void cmd_metric_init(struct cmd_metric *m, size_t max_body);
void cmd_metric_free(struct cmd_metric *m);

/* True when the raw metric may carry a webhook body, judged without
 * parsing it: it names the body field as a string (`field="` after a space
 * or comma) or starts with the webhook measurement. */
bool cmd_metric_may_hold_body(const struct config_process *cp, const char *line, size_t len);

/* Appends a metric unchanged to out, with its newline. Returns 0 or out's
 * error. */
int cmd_metric_pass(struct buf *out, const char *line, size_t len);

/* Handles one complete, non-blank metric (without its '\n'): its points,
 * or the metric itself when it is not a webhook, are appended to out
 * (borrowed; io->out for process); a webhook metric without a usable body
 * is dead-lettered (kind "metric") under `origin`. Returns 0 whatever
 * became of the metric, or a negative errno that ends the command
 * (-ENOMEM, the dead-letter file, out's error). */
int cmd_metric_feed(struct cmd_io *io, struct cmd_metric *m, const char *line, size_t len,
                    const char *origin, struct buf *out);

#endif
