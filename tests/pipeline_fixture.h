/* SPDX-License-Identifier: MIT */
/*
 * A pipeline with its config, dead-letter file, counters and an output
 * buffer, for the suites that drive bodies through it (test code only).
 * Each suite builds the config it needs and hands it to fx_open_config().
 */
#ifndef TOKENMETER_PIPELINE_FIXTURE_H
#define TOKENMETER_PIPELINE_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/pipeline.h"

/* The receive time of bodies without their own: 2026-08-25T14:03:11Z. */
#define FX_RECEIVE_NS 1787666591000000000LL

struct fixture {
    struct config *cfg;
    struct deadletter *dl;
    struct stats st;
    struct pipeline *p;
    struct buf out;
};

/* Finishes cfg (taken over: fx_close() frees it) and builds the pipeline,
 * with its dead letters in dlpath. */
static inline void fx_open_config(struct fixture *fx, struct config *cfg, const char *dlpath)
{
    char err[ERR_MAX];
    memset(fx, 0, sizeof(*fx));
    fx->cfg = cfg;
    ck_assert_msg(config_finish(cfg, err) == 0, "%s", err);
    ck_assert_msg(deadletter_open(dlpath, &fx->dl, err) == 0, "%s", err);
    ck_assert_msg(pipeline_new(cfg, fx->dl, &fx->st, &fx->p, err) == 0, "%s", err);
    pipeline_set_receive_time(fx->p, FX_RECEIVE_NS);
    buf_init(&fx->out, 1 << 22);
}

static inline void fx_close(struct fixture *fx)
{
    pipeline_free(fx->p);
    deadletter_close(fx->dl);
    config_free(fx->cfg);
    buf_free(&fx->out);
}

/* fx_open_config() with the dead letters in a new temporary directory,
 * whose path is written to dir (at least 64 bytes); fx_close_tmp() closes
 * and removes it. */
static inline void fx_open_tmp(struct fixture *fx, struct config *cfg, char dir[64])
{
    char dl[128];
    snprintf(dir, 64, "/tmp/tm-check-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(dl, sizeof(dl), "%s/dl.ndjson", dir);
    fx_open_config(fx, cfg, dl);
}

static inline void fx_close_tmp(struct fixture *fx, const char *dir)
{
    char cmd[128];
    fx_close(fx);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Feeds one body; its points are appended to fx->out. */
static inline void feed(struct fixture *fx, const char *json)
{
    ck_assert_int_eq(pipeline_feed(fx->p, json, strlen(json), "test:1", NULL, &fx->out), 0);
}

/* The output must (not) contain needle. */
static inline void want(const struct fixture *fx, const char *needle)
{
    ck_assert_msg(fx->out.len && strstr(fx->out.data, needle), "missing \"%s\" in:\n%s", needle,
                  fx->out.len ? fx->out.data : "(nothing)");
}

static inline void want_not(const struct fixture *fx, const char *needle)
{
    ck_assert_msg(!fx->out.len || !strstr(fx->out.data, needle), "unexpected \"%s\" in:\n%s",
                  needle, fx->out.data);
}

#endif
