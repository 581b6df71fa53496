/* SPDX-License-Identifier: MIT */
/*
 * tokenmeter replay FILE — feeds a dead-letter file back through the
 * normalizer (after the config was fixed, say). Bodies that are still
 * rejected go to the configured dead-letter file again, which therefore
 * must not be the file being replayed: move it aside first. A record of
 * kind "metric" (a whole Telegraf metric from process mode) is taken as
 * process takes a metric (cmd_metric.h). With --write-influx the points go
 * to InfluxDB's /write ([influxdb] url, database, retention_policy),
 * where they land on the same identity as any earlier write of the same
 * events: replaying twice stores nothing twice.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/cmd.h"
#include "tokenmeter/cmd_io.h"
#include "tokenmeter/cmd_metric.h"
#include "tokenmeter/influx.h"
#include "tokenmeter/log.h"

static const char replay_usage[] =
    "usage: tokenmeter replay [options] FILE\n"
    "\n"
    "Reads the dead-letter records in FILE and feeds each body through the\n"
    "normalizer again, writing line protocol to stdout. Bodies rejected again are\n"
    "appended to the configured dead-letter file, which must be a different file:\n"
    "  mv /var/lib/tokenmeter/dead-letter.ndjson /tmp/retry.ndjson\n"
    "  pkill -HUP -f 'tokenmeter execd'     # reopen the dead-letter file\n"
    "  tokenmeter replay --write-influx /tmp/retry.ndjson\n"
    "\n"
    "options:\n"
    "      --dead-letter FILE   where bodies rejected again go\n"
    "      --write-influx       write the points to InfluxDB ([influxdb] url, database,\n"
    "                           retention_policy) instead of stdout; each event keeps\n"
    "                           its identity, so replaying twice stores nothing twice\n"
    "%s"
    "\n"
    "exit status: 0 when every record was read, 65 when some record was not a\n"
    "dead-letter record (each one is reported), 66 FILE cannot be opened, 64\n"
    "usage (also: FILE is the configured dead-letter file), 73 the dead-letter\n"
    "file cannot be created, 74 stdout closed, 75 InfluxDB refused or could not\n"
    "be reached (points written before stay; replay again), 78 configuration\n"
    "error.\n";

enum { REPLAY_OPT_DEAD_LETTER = CMD_OPT_FIRST_LOCAL, REPLAY_OPT_WRITE_INFLUX };

#define REPLAY_WRITE_BYTES (1024 * 1024) /* points sent to InfluxDB at a time */

/* Where the points go: stdout (through io->out), or InfluxDB. */
struct replay_sink {
    struct influx *client; /* owned; NULL: stdout */
    struct buf points;     /* --write-influx: points not yet written */
};

/* Sends the points held (all of them, or only once there are enough).
 * Returns 0, or -EAGAIN after logging InfluxDB's error, or io's error. */
static int replay_flush(struct cmd_io *io, struct replay_sink *sk, bool all)
{
    if (!sk->client)
        return io->out.len >= CMD_IO_FLUSH_BYTES || all ? cmd_io_flush(io) : 0;
    if (sk->points.len == 0 || (!all && sk->points.len < REPLAY_WRITE_BYTES))
        return 0;
    char err[ERR_MAX];
    int rc = influx_write(sk->client, NULL, sk->points.data, sk->points.len, err);
    buf_reset(&sk->points);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "replay: writing to InfluxDB: %s", err);
        return rc == -ENOMEM ? rc : -EAGAIN;
    }
    return 0;
}

int cmd_replay_main(int argc, char **argv, struct cmd_common *common)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        {"dead-letter", required_argument, NULL, REPLAY_OPT_DEAD_LETTER},
        {"write-influx", no_argument, NULL, REPLAY_OPT_WRITE_INFLUX},
        {NULL, 0, NULL, 0},
    };
    char err[ERR_MAX];
    struct cmd_io io;
    static const struct cmd_flag flags[] = {
        {REPLAY_OPT_DEAD_LETTER, "ingest.dead_letter", NULL},
    };
    struct cmd_getopt g = {.argc = argc,
                           .argv = argv,
                           .command = "replay",
                           .longopts = longopts,
                           .flags = flags,
                           .nflags = 1,
                           .common = common};
    const char *arg = NULL;
    int opt;
    bool write_influx = false;
    while ((opt = cmd_getopt_next(&g, &arg)) != CMD_GETOPT_END) {
        if (opt == CMD_GETOPT_ERROR)
            return EX_USAGE;
        if (opt == REPLAY_OPT_WRITE_INFLUX)
            write_influx = true;
    }
    if (common->help) {
        printf(replay_usage, cmd_common_help);
        return EX_OK;
    }
    if (argc - optind != 1)
        return cmd_usage_error("replay", "exactly one FILE expected");
    const char *path = argv[optind];
    struct deadletter_reader *r = NULL;
    int rc = deadletter_reader_open(path, &r, err);
    if (rc < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "replay: %s", err);
        return rc == -ENOMEM ? EX_OSERR : EX_NOINPUT;
    }
    int status = cmd_io_open(&io, common, "replay", !write_influx);
    if (status != EX_OK) {
        deadletter_reader_close(r);
        return status;
    }
    struct replay_sink sk = {0};
    buf_init(&sk.points, (size_t)256 * 1024 * 1024);
    if (write_influx && (rc = influx_new(&io.cfg->influxdb, &sk.client, err)) < 0) {
        log_msg_always(LOG_LEVEL_ERROR, "config: %s", err);
        deadletter_reader_close(r);
        cmd_io_close(&io, 0);
        return rc == -ENOMEM ? EX_OSERR : EX_CONFIG;
    }
    dev_t d1, d2;
    ino_t i1, i2;
    deadletter_reader_identity(r, &d1, &i1);
    deadletter_identity(io.dl, &d2, &i2);
    if (d1 == d2 && i1 == i2) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "replay: %s is the configured dead-letter file; move it aside first "
                       "(bodies rejected again are appended to it)",
                       path);
        deadletter_reader_close(r);
        influx_free(sk.client);
        cmd_io_close(&io, 0);
        return EX_USAGE;
    }
    struct buf raw, reason;
    /* Room for what any writer records: process stores whole metrics of up
     * to 2 x max_body_bytes + 64 KiB. Larger records are reported and
     * skipped. */
    buf_init(&raw, (size_t)io.cfg->ingest.max_body_bytes * 4 + 1024 * 1024);
    buf_init(&reason, 4096);
    struct cmd_metric metric;
    cmd_metric_init(&metric, raw.max);
    struct buf *out = sk.client ? &sk.points : &io.out;
    uint64_t record = 0, malformed = 0;
    while (!cmd_io_stop_requested()) {
        int n = deadletter_reader_next(r, &raw, &reason, err);
        if (n == 0)
            break;
        record++;
        if (n == -EINVAL) {
            malformed++;
            log_error("replay: %s: %s", path, err);
            continue;
        }
        if (n < 0) {
            log_msg_always(LOG_LEVEL_ERROR, "replay: %s: %s", path, err);
            rc = n;
            break;
        }
        char origin[400];
        snprintf(origin, sizeof(origin), "replay:%s:%" PRIu64, path, record);
        /* as the body was first treated: the transport's tenancy, and the
         * receive time it had for a body without a time of its own */
        const struct deadletter_meta *m = deadletter_reader_meta(r);
        const char *data = raw.data ? raw.data : "";
        if (m->kind && strcmp(m->kind, "metric") == 0) {
            /* the metric carries its own tags and time */
            rc = cmd_io_blank(data, raw.len)
                     ? 0
                     : cmd_metric_feed(&io, &metric, data, raw.len, origin, out);
        } else {
            struct pipeline_tenancy t = {m->org, m->team, m->user};
            pipeline_set_receive_time(io.pipeline, m->received_ns);
            rc = pipeline_feed_elements(io.pipeline, data, raw.len, origin,
                                        m->org || m->team || m->user ? &t : NULL, m->elements, out);
        }
        if (rc < 0)
            break;
        if ((rc = replay_flush(&io, &sk, false)) < 0)
            break;
        if ((rc = cmd_io_handle_signals(&io)) < 0)
            break;
    }
    if (rc >= 0)
        rc = replay_flush(&io, &sk, true);
    cmd_metric_free(&metric);
    buf_free(&raw);
    buf_free(&reason);
    buf_free(&sk.points);
    influx_free(sk.client);
    deadletter_reader_close(r);
    status = cmd_io_close(&io, rc == -EAGAIN ? 0 : rc);
    if (rc == -EAGAIN && status == EX_OK)
        status = EX_TEMPFAIL;
    if (status == EX_OK && malformed) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "replay: %" PRIu64 " of %" PRIu64 " records were not dead-letter records",
                       malformed, record);
        status = EX_DATAERR;
    }
    return status;
}
