/* SPDX-License-Identifier: MIT */
/*
 * cmd_check — `tokenmeter check`, and the one pure part it has: reading a
 * Telegraf configuration file to find where Telegraf writes a measurement,
 * so that check can compare it with where tokenmeter reads.
 *
 * Only what the shipped fragments (the .conf files in telegraf/) use is understood:
 * [[outputs.influxdb]] (database, retention_policy; Telegraf's default
 * database is "telegraf") and [[outputs.influxdb_v2]] (bucket), each with
 * optional namepass/namedrop lists (globs). Sub-tables such as
 * [outputs.influxdb.tagpass] are skipped.
 */
#ifndef TOKENMETER_CMD_CHECK_H
#define TOKENMETER_CMD_CHECK_H

#include <stddef.h>

/* One Telegraf output that would receive the measurement. */
struct cmd_check_route {
    char output[24];            /* "influxdb" or "influxdb_v2" */
    char database[256];         /* 1.x database, or 2.x bucket ("" when unset) */
    char retention_policy[256]; /* 1.x; "" for the database's default */
    int line;                   /* the [[outputs...]] line */
};

/* Reads the NUL-terminated text of a Telegraf config (borrowed) and fills
 * out (the caller's, max entries) with the InfluxDB outputs whose
 * namepass/namedrop let `measurement` through. Returns how many there are
 * (more than max when out was too small). */
size_t cmd_check_telegraf_routes(const char *text, const char *measurement,
                                 struct cmd_check_route *out, size_t max);

#endif
