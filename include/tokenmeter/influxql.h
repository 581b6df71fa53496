/* SPDX-License-Identifier: MIT */
/*
 * influxql — the pure text pieces of talking to InfluxDB: InfluxQL literals
 * (quoted identifiers and strings, durations, time ranges) and the
 * percent-encoded query strings of its HTTP API. No I/O: everything here is
 * unit-tested without a server (tests/check_influxql.c).
 *
 * Every value that enters an InfluxQL statement goes through
 * influxql_quote(); statements are then sent by influx.h.
 *
 * The appending functions write into the caller's buffer and return 0 or
 * its sticky error (buf.h): -ENOSPC past the buffer's cap, -ENOMEM.
 */
#ifndef TOKENMETER_INFLUXQL_H
#define TOKENMETER_INFLUXQL_H

#include <stdint.h>

#include "tokenmeter/buf.h"

/* Appends s (borrowed) to b as an InfluxQL literal between `quote`
 * characters: '"' for identifiers, '\'' for strings. Backslash and both
 * quote characters are escaped and a newline becomes \n (InfluxQL's scanner
 * rejects a raw one); other bytes are kept. */
int influxql_quote(struct buf *b, const char *s, char quote);

/* Appends a retention duration of `days` days: "30d", or "INF" for 0
 * (keep forever). */
int influxql_duration(struct buf *b, int64_t days);

/* Appends the condition "time >= FROM AND time < TO" on nanosecond epoch
 * timestamps: the half-open range [from_ns, to_ns). */
int influxql_time_range(struct buf *b, int64_t from_ns, int64_t to_ns);

/* Parses a Go duration as SHOW RETENTION POLICIES prints it ("720h0m0s",
 * "0s", "1h30m0s") into whole seconds. Returns 0, or -EINVAL for anything
 * else (fractions, units below a second, overflow); *seconds is then
 * unchanged. */
int influxql_parse_duration(const char *s, int64_t *seconds);

/* Appends s percent-encoded: every byte but ALPHA / DIGIT / "-._~"
 * becomes %XX (an application/x-www-form-urlencoded value or a URL query
 * value). */
int influxql_percent_encode(struct buf *b, const char *s);

/* Appends base + path + "?k=v&..." with the values percent-encoded.
 * params: key, value pairs ending with a NULL key (borrowed; may be NULL);
 * a NULL value skips its key. Trailing '/'s of base are not doubled. */
int influxql_url(struct buf *b, const char *base, const char *path, const char *const *params);

#endif
