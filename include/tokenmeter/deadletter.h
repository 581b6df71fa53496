/* SPDX-License-Identifier: MIT */
/*
 * deadletter — the append-only record of every rejected input
 * (docs/operations.md).
 *
 * One NDJSON record per rejected body, encoded by jansson (compact, members
 * in this order, UTF-8 kept as it is):
 *   {"time":"2026-08-25T14:03:11.482Z","reason":"...","origin":"stdin:12",
 *    "raw":"<the body>"[,"org":..,"team":..,"user":..,"received_ns":..]}
 * `raw` holds the body byte-exact as a JSON string when it is valid UTF-8
 * without NUL bytes; otherwise `raw_base64` holds it base64-encoded. Bytes
 * of origin, org, team or user that are not UTF-8 become U+FFFD; a reason
 * that is not UTF-8 is replaced by "(reason not valid UTF-8)". Each
 * record is appended whole, under an exclusive flock(2) on an O_APPEND
 * descriptor, so records of concurrent writers never interleave; a write
 * that fails part-way (a full disk) is cut back with ftruncate(2), so a
 * record is in the file whole or not at all. A streamed record (a body too
 * large to hold) is built in a private unlinked file and appended whole
 * when it ends. `tokenmeter replay` reads the records back with
 * deadletter_reader_*, and resynchronises after a record cut short by a
 * crash.
 *
 * A failing file does not stop the writer: a record the file refuses
 * (disk full, directory removed, permissions) is held in memory, up to
 * DEADLETTER_HELD_MAX bytes, and written before any newer record as soon
 * as the file takes writes again (deadletter_retry(), or the next record).
 * A file removed under the writer is opened again by its path. Only a
 * record that no longer fits in memory is an error.
 */
#ifndef TOKENMETER_DEADLETTER_H
#define TOKENMETER_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"

struct deadletter;

/* A handle for path without opening the file yet (deadletter_reopen()
 * does), so a command can validate everything else first. Returns 0 with a
 * new handle in *out (owned by the caller: free with deadletter_close()),
 * or -ENOMEM. */
int deadletter_new(const char *path, struct deadletter **out, char err[ERR_MAX]);

/* Opens (creating, mode 0640) the handle's path for appending, replacing
 * the descriptor it had: after SIGHUP, once logrotate or an operator moved
 * the file away. Returns 0, or open(2)'s negative errno with the reason in
 * err (the old descriptor, if any, is kept), or -EINVAL for a path that
 * must not take records: standard output (where line protocol goes),
 * /dev/null, or a file holding binary data (a SQLite store). */
int deadletter_reopen(struct deadletter *dl, char err[ERR_MAX]);

/* deadletter_new() and deadletter_reopen() in one. Returns 0 with a new
 * handle in *out (owned by the caller: free with deadletter_close()), or a
 * negative errno with the reason in err and *out NULL: open(2)'s error
 * (-EACCES, -ENOENT, ...) or -ENOMEM. */
int deadletter_open(const char *path, struct deadletter **out, char err[ERR_MAX]);

/* Records held in memory: at most this many bytes wait for the file. */
#define DEADLETTER_HELD_MAX ((size_t)64 * 1024 * 1024)

/* Writes the held records if the file takes them now. Returns 0 when none
 * is held any more, or the error that still stops them (not fatal). */
int deadletter_retry(struct deadletter *dl);

/* Records held in memory, waiting for the file. */
size_t deadletter_held(const struct deadletter *dl);

/* Writes the file refused since the handle was made (each later written
 * from memory or not). */
uint64_t deadletter_failures(const struct deadletter *dl);

/* Closes the handle; records still held are dropped (check
 * deadletter_held() first). Accepts NULL. */
void deadletter_close(struct deadletter *dl);

/* The path given to deadletter_open() (borrowed). */
const char *deadletter_path(const struct deadletter *dl);

/* What a body had besides its bytes, so that replay treats it the same:
 * the tenancy its transport gave (process mode: the metric's tags) and the
 * receive time given to a body without a time of its own. */
struct deadletter_meta {
    const char *org; /* borrowed; any may be NULL */
    const char *team;
    const char *user;
    int64_t received_ns; /* -1: none */
    /* NULL: raw is a webhook body. "metric": raw is a whole Telegraf metric
     * in line protocol (process mode), replayed as process would take it. */
    const char *kind;
    /* The array elements of the body that the record stands for, as
     * "3,5-9,12" (borrowed; NULL: the whole body): elements past the
     * dead-letter budget of their body, recorded by reference to one copy
     * of it (pipeline.h). Written as "elements". */
    const char *elements;
};

/* Appends one record (or holds it, see above). `origin` may be NULL; every
 * argument is borrowed. Returns 0, -ENOMEM, -ENOSPC (a record over 1.5
 * GiB), or write(2)'s error when the record cannot even be held. */
int deadletter_write(struct deadletter *dl, const char *reason, const char *origin,
                     const void *data, size_t len);

/* The same, recording meta (may be NULL) as "org", "team", "user" and
 * "received_ns" members. */
int deadletter_write_meta(struct deadletter *dl, const char *reason, const char *origin,
                          const struct deadletter_meta *meta, const void *data, size_t len);

/* A record whose body is too large to hold in memory, streamed: begin,
 * any number of appends, then end (which appends the record whole and
 * frees the stream) or deadletter_stream_free() to discard it. Streams are
 * independent: records written meanwhile, streamed or not, land before it.
 * The body is stored as raw_base64. Apart from "time", the record is byte
 * for byte what deadletter_write() writes for a body that is not text: its
 * head is jansson's encoding of the same members. Of a body over
 * DEADLETTER_PREFIX_MAX bytes only that prefix is kept, followed by
 * "raw_size" (the body's size) and "raw_fnv1a64" (its FNV-1a-64, 16 hex
 * digits): a 1 GiB line costs a record of about 88 KiB, and such a record
 * is never replayed (deadletter_reader_next() says why). */
#define DEADLETTER_PREFIX_MAX ((size_t)64 * 1024)
struct deadletter_stream;

/* Returns 0 with a new stream in *out (owned by the caller until
 * deadletter_stream_end() or deadletter_stream_free()), or -errno. */
int deadletter_stream_begin(struct deadletter *dl, const char *reason, const char *origin,
                            struct deadletter_stream **out);
int deadletter_stream_append(struct deadletter_stream *st, const void *data, size_t len);
/* Steals st: it is freed whatever the result. Returns 0 or -errno (a
 * streamed record too large to hold is not kept when the file refuses it). */
int deadletter_stream_end(struct deadletter *dl, struct deadletter_stream *st);
/* Discards an unfinished stream. Accepts NULL. */
void deadletter_stream_free(struct deadletter_stream *st);

/* True when len bytes are valid UTF-8 without NUL bytes. */
bool deadletter_is_text(const void *data, size_t len);

/* Appends s as a JSON string literal (with quotes), encoded by jansson as
 * the records are. Returns 0, -EINVAL when s is not text in the sense of
 * deadletter_is_text(), -ENOMEM, or out's error. */
int deadletter_json_string(struct buf *out, const char *s, size_t len);

struct deadletter_reader;

/* Opens a dead-letter file for reading. Returns 0 with a new reader in *out
 * (owned by the caller: free with deadletter_reader_close()), or a negative
 * errno (fopen(3)'s, or -ENOMEM) with the reason in err and *out NULL. */
int deadletter_reader_open(const char *path, struct deadletter_reader **out, char err[ERR_MAX]);

/* Reads the next record's body into raw (reset first) and its reason into
 * reason (reset first). Returns 1 for a record, 0 at end of file, -EINVAL
 * for a malformed record or one larger than raw's cap (err names the line;
 * reading may continue: a record glued to the end of a cut one is returned
 * by the next call), -ENOMEM, or another negative errno for an I/O error. */
int deadletter_reader_next(struct deadletter_reader *r, struct buf *raw, struct buf *reason,
                           char err[ERR_MAX]);

/* The meta of the record last read (borrowed: valid until the next
 * deadletter_reader_next()); members absent from it are NULL / -1. */
const struct deadletter_meta *deadletter_reader_meta(const struct deadletter_reader *r);

/* The device and inode of the reader's file, to refuse replaying a file
 * into itself. */
void deadletter_reader_identity(const struct deadletter_reader *r, dev_t *dev, ino_t *ino);
void deadletter_identity(const struct deadletter *dl, dev_t *dev, ino_t *ino);

/* Closes the reader. Accepts NULL. */
void deadletter_reader_close(struct deadletter_reader *r);

#endif
