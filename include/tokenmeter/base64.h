/* SPDX-License-Identifier: MIT */
/*
 * base64 — RFC 4648 standard alphabet with padding, for byte-exact
 * dead-letter records and Telegraf's `data_type = "base64"` bodies.
 */
#ifndef TOKENMETER_BASE64_H
#define TOKENMETER_BASE64_H

#include <stddef.h>

#include "tokenmeter/buf.h"

/* Appends the encoding of len bytes (only read) to the caller's out.
 * Returns 0 or out's sticky error (-ENOSPC, -ENOMEM). */
int base64_encode(struct buf *out, const void *data, size_t len);

/* Streaming encoder: feed any number of chunks, then finish. The state
 * (caller-owned, allocates nothing) carries up to two bytes (three while
 * completing a quantum) between chunks. feed and finish append to the
 * caller's out and return 0 or out's sticky error. */
struct base64_stream {
    unsigned char pending[3];
    size_t npending;
};
void base64_stream_init(struct base64_stream *st);
int base64_stream_feed(struct base64_stream *st, struct buf *out, const void *data, size_t len);
int base64_stream_finish(struct base64_stream *st, struct buf *out);

/* Appends the decoding of len characters (only read) to the caller's out.
 * Whitespace is not allowed. Returns 0, -EINVAL for malformed input (out
 * then holds a partial decoding), or out's sticky error. */
int base64_decode(struct buf *out, const char *text, size_t len);

#endif
