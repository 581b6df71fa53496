/* SPDX-License-Identifier: MIT */
#include "tokenmeter/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Plain globals: the program is single-threaded and no signal handler logs
 * (cmd_io.h). The level is set once at start-up; the rate-limit table is
 * the logger's own state. */
static enum log_level log_max_level = LOG_LEVEL_INFO;

struct log_slot {
    const char *fmt; /* identity of the message: its format string */
    time_t window_start;
    unsigned count;
    unsigned suppressed;
};

#define LOG_SLOTS 64
static struct log_slot log_slots[LOG_SLOTS];

static const char *const log_prefix[] = {"E! ", "W! ", "I! ", "D! "};

void log_set_level(enum log_level level)
{
    log_max_level = level;
}

int log_parse_level(const char *name, enum log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void log_write_line(enum log_level level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX + 8];
    size_t pre = strlen(log_prefix[level]);
    memcpy(line, log_prefix[level], pre);
    int n = vsnprintf(line + pre, LOG_LINE_MAX - pre, fmt, ap);
    if (n < 0)
        return;
    size_t len = pre + ((size_t)n < LOG_LINE_MAX - pre ? (size_t)n : LOG_LINE_MAX - pre - 1);
    /* One message, one line: Telegraf splits on '\n'. */
    for (size_t i = pre; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            line[i] = ' ';
    }
    line[len++] = '\n';
    /* A single write keeps the line whole even if another process shares
     * the pipe. A failed stderr write has nowhere to be reported. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

/* Returns true when the message may be written now; reports suppressed
 * repeats of the same message when its window closes. */
static bool log_admit(const char *fmt)
{
    time_t now = time(NULL);
    size_t h = ((size_t)fmt >> 4) % LOG_SLOTS;
    struct log_slot *s = &log_slots[h];
    if (s->fmt != fmt || now - s->window_start >= LOG_WINDOW_S) {
        if (s->fmt && s->suppressed) {
            char buf[160];
            snprintf(buf, sizeof(buf), "W! %u similar messages suppressed in the last %d s\n",
                     s->suppressed, LOG_WINDOW_S);
            ssize_t w = write(STDERR_FILENO, buf, strlen(buf));
            (void)w;
        }
        s->fmt = fmt;
        s->window_start = now;
        s->count = 0;
        s->suppressed = 0;
    }
    if (s->count < LOG_BURST) {
        s->count++;
        return true;
    }
    s->suppressed++;
    return false;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_max_level || !log_admit(fmt))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write_line(level, fmt, ap);
    va_end(ap);
}

void log_msg_always(enum log_level level, const char *fmt, ...)
{
    if (level > log_max_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write_line(level, fmt, ap);
    va_end(ap);
}
