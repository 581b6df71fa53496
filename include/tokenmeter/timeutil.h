/* SPDX-License-Identifier: MIT */
/*
 * timeutil — timestamps as int64 nanoseconds since the Unix epoch.
 *
 * Accepted range is 1970-01-01 up to 2262-04-11 (what int64 nanoseconds and
 * InfluxDB can hold); anything outside is -ERANGE, never wrapped.
 */
#ifndef TOKENMETER_TIMEUTIL_H
#define TOKENMETER_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TIMEUTIL_NS_PER_S 1000000000LL

/* Parses RFC 3339 / ISO 8601 date-times: "2026-08-25T14:03:11.482Z",
 * "2024-07-15T23:33:19.433273+00:00", a space instead of 'T', and a missing
 * zone (taken as UTC). s is only read. Returns 0, -EINVAL or -ERANGE. */
int timeutil_parse_iso8601(const char *s, int64_t *ns);

/* Converts epoch seconds with a fraction (LiteLLM's startTime) to ns,
 * rounded to the microsecond so the result does not depend on the last bits
 * of a double. Returns 0 or -ERANGE. */
int timeutil_from_seconds(double seconds, int64_t *ns);

/* Converts an integer count of `unit_ns`-sized units (1e9 for seconds, 1e6
 * for milliseconds, 1 for ns) to ns. Returns 0 or -ERANGE. */
int timeutil_from_units(int64_t value, int64_t unit_ns, int64_t *ns);

/* The current wall-clock time in ns. */
int64_t timeutil_now_ns(void);

/* Formats ns as RFC 3339 UTC with milliseconds ("2026-08-25T14:03:11.482Z")
 * into the caller's out (cap bytes, at least 32). */
void timeutil_format_rfc3339(int64_t ns, char *out, size_t cap);

#endif
