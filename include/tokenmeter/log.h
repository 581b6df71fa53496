/* SPDX-License-Identifier: MIT */
/*
 * log — the only writer of stderr.
 *
 * Lines follow Telegraf's execd convention: a level prefix `E! `, `W! `,
 * `I! ` or `D! ` at the start of the line, one message per line. Telegraf
 * stops reading a child's stderr after a line longer than 64 KiB, so every
 * message is cut to LOG_LINE_MAX bytes, and embedded newlines and control
 * characters are replaced so one message is always one line.
 *
 * A message that repeats (same format string) more than LOG_BURST times in
 * LOG_WINDOW_S seconds is suppressed; the number suppressed is reported once
 * the window ends. This keeps a flood of bad input from flooding Telegraf's
 * log while never hiding that it happened.
 *
 * Never pass a secret (token, password, Authorization header) as an argument.
 * Not async-signal-safe: no signal handler logs (cmd_io.h lists what they
 * do). Arguments are borrowed for the call.
 */
#ifndef TOKENMETER_LOG_H
#define TOKENMETER_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

#define LOG_LINE_MAX 4000
#define LOG_BURST    20
#define LOG_WINDOW_S 60

/* Sets the most verbose level that is written (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Writes one line at `level`. The level is checked before formatting. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes one line without rate limiting (start-up and fatal messages). */
void log_msg_always(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
