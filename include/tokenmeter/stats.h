/* SPDX-License-Identifier: MIT */
/*
 * stats — outcome counters and the `tokenmeter_stats` point.
 *
 * Every input body ends in exactly one of: its events written, found to be
 * duplicates, ignored (a body that holds no event), or rejected. For a
 * stream of single-event bodies, lines = written + duplicates + ignored +
 * rejected; for arrays each element is counted on its own. The point is
 * written on a gather signal (a blank stdin line, SIGUSR1, SIGHUP) and every
 * [ingest] stats_interval in the long-running modes (cmd_io.h).
 */
#ifndef TOKENMETER_STATS_H
#define TOKENMETER_STATS_H

#include <stdint.h>

#include "tokenmeter/buf.h"

struct stats {
    uint64_t lines;      /* bodies read (lines, spool files, metrics) */
    uint64_t events;     /* normalized events extracted */
    uint64_t written;    /* points written */
    uint64_t duplicates; /* events dropped by the duplicate cache */
    uint64_t ignored;    /* bodies or elements holding no event */
    uint64_t rejected;   /* bodies or elements dead-lettered */
    uint64_t unpriced;   /* events written without a cost */
    uint64_t truncated;  /* strings cut to keep lines short */
    uint64_t bytes;      /* input bytes */
    /* the dead-letter file's health (deadletter.h), copied in before the
     * point is written */
    uint64_t dead_letter_failures; /* writes it refused */
    uint64_t dead_letter_held;     /* records waiting in memory */
};

#define STATS_MEASUREMENT "tokenmeter_stats"

/* Appends the stats point (one line, ns timestamp) to out (borrowed),
 * tagged host=`host` and mode=`mode` (either may be NULL or empty: no
 * such tag), so that the counters of several hosts and commands written
 * to one database never add up into one series. Returns 0, or out's
 * sticky error (-ENOSPC, -ENOMEM) with no part of the point left in out. */
int stats_format_point(const struct stats *s, const char *host, const char *mode, int64_t now_ns,
                       struct buf *out);

#endif
