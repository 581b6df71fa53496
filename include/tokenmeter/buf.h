/* SPDX-License-Identifier: MIT */
/*
 * buf — a growable byte buffer with a hard cap.
 *
 * Every buffer that holds input or output has a ceiling chosen when it is
 * created (curl's dynbuf idea): a hostile body can make a buffer reach its
 * cap, never make the process grow without bound. The data is always
 * NUL-terminated so it can be handed to C string functions, but it may also
 * contain NUL bytes; `len` is authoritative.
 *
 * The first failed append is remembered (curl's dynbuf does the same): every
 * later append is a no-op returning that error, so a formatter may append a
 * whole record and check buf_error() once at the end instead of guarding
 * each call. buf_reset() and buf_free() clear it.
 */
#ifndef TOKENMETER_BUF_H
#define TOKENMETER_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes in use, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard ceiling for len */
    int err;    /* 0, or the first failure (-ENOSPC, -ENOMEM, -EINVAL) */
};

/* Initialises an empty buffer that may hold at most `max` bytes. Allocates
 * nothing. */
void buf_init(struct buf *b, size_t max);

/* Releases the storage; the buffer is empty and reusable afterwards.
 * Accepts a buffer that was never appended to. */
void buf_free(struct buf *b);

/* Empties the buffer and clears its error, keeping its storage for reuse. */
void buf_reset(struct buf *b);

/* The sticky error: 0 while every append since the last reset succeeded,
 * else the first failure's code. */
int buf_error(const struct buf *b);

/* Appends n bytes. Returns 0, -ENOSPC when the cap would be exceeded (the
 * buffer is left unchanged), or -ENOMEM; once an append has failed, returns
 * that error without appending (see buf_error). */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string; same returns as buf_append. */
int buf_puts(struct buf *b, const char *s);

/* Appends one byte; same returns as buf_append. */
int buf_putc(struct buf *b, char c);

/* The slow path of buf_space(): grows b, or records why it cannot. */
char *buf_space_grow(struct buf *b, size_t n);

/* Makes room for n more bytes and returns where they go (borrowed: valid
 * until the next append), for a writer that knows an upper bound of what it
 * will append and fills it in place instead of appending piece by piece.
 * Nothing is appended until buf_commit(). Returns NULL when the room cannot
 * be had: the failure is then b's sticky error (see buf_append).
 * Inline, as buf_commit(): a line-protocol point takes a dozen, and the
 * calls were as much as the work. Room for n bytes and the NUL means within
 * max too (cap <= max + 1), so the common case needs no other check. */
static inline char *buf_space(struct buf *b, size_t n)
{
    if (!b->err && b->cap - b->len > n)
        return b->data + b->len;
    return buf_space_grow(b, n);
}

/* Appends the first n bytes written at buf_space()'s pointer; n is at most
 * what that call asked for. */
static inline void buf_commit(struct buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends printf-formatted text; same returns as buf_append, plus -EINVAL
 * for an encoding error. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Removes the first n bytes (n <= len), shifting the rest down. */
void buf_consume(struct buf *b, size_t n);

/* Truncates to n bytes (n <= len). Keeps the sticky error. */
void buf_truncate(struct buf *b, size_t n);

#endif
