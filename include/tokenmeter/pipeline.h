/* SPDX-License-Identifier: MIT */
/*
 * pipeline — one webhook body in, line-protocol points out, and exactly one
 * counted outcome for every body (or array element): written, duplicate,
 * ignored, or rejected to the dead-letter file.
 *
 * It holds the steps together and owns none of their rules: envelope.h
 * unwraps the tokenmeter envelope, source.h recognises the document and
 * extracts events, event.h settles each event and formats it as a point,
 * identity.h decides which points repeat earlier ones, deadletter.h keeps
 * what was rejected. What the pipeline itself decides is tenancy precedence
 * (envelope, then transport, then body, then default_org), the id of a body
 * without one, the receive time, pricing, that an event older than
 * [ingest] max_event_age is rejected (InfluxDB would drop its point), and
 * that a document's points are written all or none.
 *
 * The pipeline never touches stdin or stdout: callers hand it bytes and a
 * buffer to append points to, and decide when to flush.
 */
#ifndef TOKENMETER_PIPELINE_H
#define TOKENMETER_PIPELINE_H

#include <stddef.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/stats.h"

struct pipeline;

/* What one event may carry (docs/schema.md, "Limits on reported values").
 * Each is far above any real request (the largest context windows hold about
 * 1e7 tokens; a request at 1e8 tokens and the dearest list price costs well
 * under $100 000) and low enough that a day's sums cannot leave their types:
 * InfluxDB's sum() of int64 token fields wraps only after 2^63 / 2e8 = 4.6e10
 * maximal events in one group and day (over 500 000 a second, all day), and a
 * cost sum can never reach infinity. An event beyond them is rejected with
 * the reason, as is any count or cost that is not a finite number. */
#define PIPELINE_MAX_TOKENS   100000000LL /* each token count of one event */
#define PIPELINE_MAX_COST_USD 100000.0    /* a reported cost, and any cost written */
#define PIPELINE_MAX_MS       1e9         /* latency_ms and ttft_ms (11.6 days) */

/* Tenancy that the transport supplies (process mode: the metric's tags).
 * Any member may be NULL. Strings are borrowed for one pipeline_feed(). */
struct pipeline_tenancy {
    const char *org;
    const char *team;
    const char *user;
};

/* Builds a pipeline into *out (new: free with pipeline_free()) and returns
 * 0; on failure *out is NULL and a negative errno is returned with the
 * reason in err: -ENOMEM, or a config error (-EINVAL, -ENOENT, ...: an
 * unknown [ingest] source, a bad price file, override or mapping, with the
 * file and line or model key). `cfg`, `dl` and `stats` are borrowed and
 * must outlive the pipeline. The price table (`[ingest] prices` + [prices])
 * and the [mapping] source are built here. */
int pipeline_new(const struct config *cfg, struct deadletter *dl, struct stats *stats,
                 struct pipeline **out, char err[ERR_MAX]);

/* Releases the pipeline. Accepts NULL. */
void pipeline_free(struct pipeline *p);

/* Processes one body of len bytes (borrowed for the call). `origin` names
 * it in logs and dead-letter records ("stdin:12", a spool file name);
 * `tenancy` may be NULL. Points are appended to out. Returns 0 whatever
 * became of the body (written, duplicate, ignored or dead-lettered), or a
 * negative errno when the process cannot go on: -ENOMEM (at any step:
 * parsing, extraction, formatting; the body is then neither counted as
 * rejected nor dead-lettered, because it was never judged), the dead-letter
 * file cannot be written, or out reached its cap. */
int pipeline_feed(struct pipeline *p, const char *data, size_t len, const char *origin,
                  const struct pipeline_tenancy *tenancy, struct buf *out);

/* Like pipeline_feed(), for a body that is an array (or an envelope around
 * one): only the elements listed in `elements` ("3,5-9,12", ascending, as a
 * dead-letter record's "elements" member holds them; borrowed) are
 * processed. NULL processes every element. A body with a malformed list is
 * not processed: it is counted as rejected and dead-lettered again with its
 * list and the reason. */
int pipeline_feed_elements(struct pipeline *p, const char *data, size_t len, const char *origin,
                           const struct pipeline_tenancy *tenancy, const char *elements,
                           struct buf *out);

/* The dead-letter bytes one body can cause: the records of its rejected
 * array elements, each by itself, while they add up to at most its size plus
 * this; the rest in one record holding the body once and the list of those
 * elements (docs/operations.md, "Dead-letter file"). */
#define PIPELINE_DEADLETTER_SLACK ((size_t)64 * 1024)

/* The line protocol one body may yield: at most this many times its size,
 * plus 64 KiB (so that any single event fits). A real event's point is a
 * few hundred bytes for a body of as many or more; a shape made of tiny
 * events carrying long tags (a Kong entry of 200 000 calls) would otherwise
 * yield 40 times its size, held in memory until written. A document past it
 * is rejected with the reason (an array's other elements are not). */
#define PIPELINE_POINTS_FACTOR 4

/* Uses `ns` instead of the clock as the receive time of bodies that carry
 * no time of their own (backfills of archived responses; reproducible
 * output). A negative value goes back to the clock. */
void pipeline_set_receive_time(struct pipeline *p, int64_t ns);

/* Uses `ns` instead of the wall clock as "now" when judging an event's age
 * against [ingest] max_event_age (tests); negative: the wall clock. */
void pipeline_set_clock(struct pipeline *p, int64_t ns);

/* Loads the price table again from the config's `prices` file and [prices]
 * overrides (SIGHUP). On success the new table replaces the old one and 0
 * is returned; on failure the old table stays and a negative errno is
 * returned with the reason (file, model key) in err. */
int pipeline_reload_prices(struct pipeline *p, char err[ERR_MAX]);

/* Number of models in the current price table. */
size_t pipeline_price_count(const struct pipeline *p);

/* Records a body that was rejected before it could be parsed (e.g. a line
 * over max_body_bytes that the caller streamed to the dead-letter file
 * itself): counts it and logs the reason. */
void pipeline_count_rejected(struct pipeline *p, const char *origin, const char *reason);

#endif
