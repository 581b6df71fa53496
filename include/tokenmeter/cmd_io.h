/* SPDX-License-Identifier: MIT */
/*
 * cmd_io — the I/O discipline shared by the streaming commands (execd,
 * replay, process): signals, the stdout flush policy, EPIPE, the stats
 * point, and bodies too large to hold.
 *
 * Threads and signals, for the whole program:
 *  - tokenmeter is single-threaded. No module takes a lock or uses atomics
 *    for its own state (log.c's level and rate-limit slots, the pipeline's
 *    duplicate cache, the price table are plain globals or plain structs).
 *    libcurl runs with CURLOPT_NOSIGNAL (influx.c), so it raises no SIGALRM;
 *    a threaded resolver inside libcurl touches none of tokenmeter's state.
 *  - main() blocks the four signals below before it does anything else
 *    (and unblocks them for the other commands), so a signal that arrives
 *    while the configuration loads waits for the handlers.
 *  - The only signal handlers are the three below, installed by
 *    cmd_io_open() for execd, process and replay. Each only sets
 *    `volatile sig_atomic_t` flags private to cmd_io.c and touches nothing
 *    else: SIGTERM/SIGINT set the stop flag; SIGUSR1 sets the stats flag;
 *    SIGHUP sets the reload flag and the stats flag (reopen the dead-letter
 *    file and reload the price table, then emit the stats point). The flags are read and cleared in
 *    ordinary code only: cmd_io_stop_requested() and
 *    cmd_io_handle_signals(), which does the reloading and the writing.
 *    SIGPIPE is ignored so a closed stdout shows up as EPIPE and a clear
 *    message instead of a silent death. The other commands (aggregate,
 *    report, retention, check) leave every disposition at its default.
 *  - The four signals are blocked except inside cmd_io_wait_input(), which
 *    waits for input with pselect(2) and them unblocked: a signal is acted
 *    on at once, however it falls relative to the checks of the flags, and
 *    no read(2) or write(2) elsewhere is interrupted by one.
 */
#ifndef TOKENMETER_CMD_IO_H
#define TOKENMETER_CMD_IO_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/cmd.h"
#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/pipeline.h"
#include "tokenmeter/stats.h"

#define CMD_IO_FLUSH_BYTES   (64 * 1024) /* flush at least this often under load */
#define CMD_IO_PATH_MAX      4096
#define CMD_IO_PENDING_EVERY 16 /* waits that found input between two sigpending(2) checks */

struct cmd_io {
    struct config *cfg;        /* owned */
    struct deadletter *dl;     /* owned */
    struct stats stats;        /* the run's counters (the pipeline borrows them) */
    struct pipeline *pipeline; /* owned; borrows cfg, dl and stats; NULL when degraded */
    struct buf out;            /* owned: points not yet written to stdout */
    int out_fd;                /* borrowed: stdout, never closed here */
    sigset_t wait_mask;        /* the signal mask while waiting for input */
    const char *mode;          /* borrowed: the command, the stats point's mode tag */
    char host[256];            /* the stats point's host tag */
    int64_t next_stats_ns;     /* when the periodic stats point is due; 0: never */
    char dl_path[CMD_IO_PATH_MAX];
    bool dl_per_user;     /* the default path was not writable: a per-user one */
    bool input_backlog;   /* the last cmd_io_read() filled its buffer: more may wait */
    unsigned ready_waits; /* cmd_io_wait_input() calls that found input, mod the check */
    char error[ERR_MAX];  /* why cmd_io_open() returned EX_CONFIG */
};

/* A body over max_body_bytes being streamed to the dead-letter file. Each
 * reader (stdin, a spool file, Telegraf's metrics) has its own, so two can
 * be under way at once. Zero-initialise; `stream` is NULL when none is. */
struct cmd_io_oversize {
    struct deadletter_stream *stream; /* owned; free with deadletter_stream_free() */
    char origin[320];
    size_t bytes;
};

/* Loads the config, builds the pipeline (so the whole configuration is
 * validated before any file is opened), opens the dead-letter file and
 * installs the signal handlers. `mode` names the command (static string).
 * With stdout_needed, a stdout that main() found closed or read-only is
 * refused (EX_IOERR). When the dead-letter path is the built-in default
 * and this user cannot write /var/lib/tokenmeter, a per-user path is used
 * (and logged): $XDG_STATE_HOME/tokenmeter/dead-letter.ndjson, else
 * ~/.local/state/tokenmeter/dead-letter.ndjson. `common` is borrowed for
 * the call. Returns EX_OK (io then owns what it holds: release with
 * cmd_io_close()), or an exit code after logging why (EX_CONFIG, with the
 * message also in io->error; EX_CANTCREAT, EX_IOERR, EX_OSERR), with
 * nothing left to release. */
int cmd_io_open(struct cmd_io *io, struct cmd_common *common, const char *mode, bool stdout_needed);

/* For a command that keeps bodies safe while its configuration is unusable
 * (process): opens the dead-letter file named by `partial` (steals it; NULL:
 * the defaults), or the default one when that fails, and installs the
 * signal handlers; there is no pipeline. Returns EX_OK or an exit code
 * after logging why, with nothing left to release. */
int cmd_io_open_degraded(struct cmd_io *io, struct config *partial, const char *mode);

/* Blocks (how = SIG_BLOCK) or unblocks (SIG_UNBLOCK) SIGTERM, SIGINT,
 * SIGHUP and SIGUSR1; the mask before, when old is not NULL. */
void cmd_io_block_signals(int how, sigset_t *old);

/* When fd is a pipe, waits (at most timeout_ms) until its reader has taken
 * every byte written; returns false if it had not by then. Telegraf closes
 * a child's stdout and stderr pipes as soon as the child exits (Go's
 * cmd.Wait), and whatever it had not read yet is lost; so a command leaves
 * only once its last points (and its summary line) left the pipes. */
#define CMD_IO_DRAIN_MS 2000 /* twice: well inside Telegraf's 5 s before SIGTERM */
bool cmd_io_wait_drained(int fd, int timeout_ms);

/* Flushes, waits for the pipe to drain, tries the dead-letter records held
 * in memory once more, logs the run's counters at I! level and releases
 * everything. `rc` is the loop's result; returns the process exit status
 * for it (EX_IOERR also when held records are lost, logged). */
int cmd_io_close(struct cmd_io *io, int rc);

/* The last thing a streaming command does (main() calls it): when stdout
 * or stderr is a pipe, points both at /dev/null and waits
 * CMD_IO_DETACH_MS. Telegraf's process runner (internal/process) closes
 * the read ends of a child's pipes as soon as the child has exited (Go's
 * cmd.Wait), while its reader goroutines may not have seen EOF yet; each
 * then logs "read |0: file already closed" as an error ("Error reading
 * stderr: ..." for stderr). Closed first, the pipes give the readers their
 * EOF while the child still runs, so a clean stop logs no error. */
#define CMD_IO_DETACH_MS 100
void cmd_io_detach_pipes(void);

/* Waits until fd is readable (1), timeout_ms passes (0; a negative timeout
 * waits for ever), or a signal arrives or the periodic stats point is due
 * (-EINTR: call cmd_io_handle_signals()). The only place the streaming
 * commands' signals are unblocked. */
int cmd_io_wait_input(struct cmd_io *io, int fd, int timeout_ms);

/* Waits for input on fd (cmd_io_wait_input) and reads at most cap bytes
 * of it into chunk. Returns the bytes read, 0 at end of input, -EINTR when
 * a signal arrived or the stats point is due (call
 * cmd_io_handle_signals()), or another negative errno from read(2). Notes
 * whether the read filled chunk, which cmd_io_maybe_flush() and the next
 * wait go by. */
ssize_t cmd_io_read(struct cmd_io *io, int fd, char *chunk, size_t cap);

/* Dead-letters bytes that never became a body the pipeline could see (an
 * unreadable metric, a line cut short by shutdown), counts them as a
 * rejected line and logs the reason. `kind` is the record's kind
 * (deadletter_meta: NULL for a body, "metric" for a Telegraf metric).
 * Returns 0 or -errno. */
int cmd_io_reject_raw(struct cmd_io *io, const char *origin, const char *data, size_t len,
                      const char *kind, const char *reason);

/* True once SIGTERM or SIGINT arrived. */
bool cmd_io_stop_requested(void);

/* Acts on pending signal flags: after SIGHUP reopens the dead-letter file
 * and reloads the price table (a failure is logged and the old file or
 * table kept); retries dead-letter records held in memory; then after
 * SIGHUP or SIGUSR1, or when [ingest] stats_interval has passed, emits the
 * stats point. Returns 0 or a negative errno from writing stdout. */
int cmd_io_handle_signals(struct cmd_io *io);

/* Appends the stats point (tagged with the host and the mode) and flushes;
 * the periodic one is due stats_interval later. Returns 0 or -errno. */
int cmd_io_emit_stats(struct cmd_io *io);

/* Writes buffered points after the last cmd_io_read() emptied the pipe,
 * or when no more input is immediately waiting on in_fd, or when enough has
 * accumulated. Returns 0 or -errno (-EPIPE when the reader went away,
 * logged). */
int cmd_io_maybe_flush(struct cmd_io *io, int in_fd);

/* Writes every buffered point. Returns 0 or -errno. */
int cmd_io_flush(struct cmd_io *io);

/* True when the line holds only spaces, tabs or CR: Telegraf's gather signal. */
bool cmd_io_blank(const char *line, size_t len);

/* A body over max_body_bytes: begins a dead-letter record with the bytes
 * held so far (`held`, then `more`), continues with _append and ends with
 * _end, which also counts the rejection. Return 0 or -errno. */
int cmd_io_oversize_begin(struct cmd_io *io, struct cmd_io_oversize *ov, const char *origin,
                          const struct buf *held, const char *more, size_t more_len);
int cmd_io_oversize_append(struct cmd_io_oversize *ov, const char *data, size_t len);
int cmd_io_oversize_end(struct cmd_io *io, struct cmd_io_oversize *ov);

#endif
