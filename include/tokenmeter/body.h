/* SPDX-License-Identifier: MIT */
/*
 * body — a parsed webhook body behind a small, path-based accessor interface.
 *
 * Sources ask for values by JSON pointer (RFC 6901, e.g. "/usage/prompt_tokens")
 * and never walk the parse tree themselves. The tree is body.c's own: a
 * strict one-pass parser into one arena, checked against jansson by
 * tests/check_body_oracle.c (jansson is a test dependency only). Because
 * sources see only this interface, the tree can change again (a scanner that
 * extracts only the paths asked for) without touching a single source.
 *
 * Nodes are borrowed from their body: valid until body_free() of the body
 * they came from. Strings returned are borrowed the same way and are valid
 * UTF-8 without NUL bytes (the parser rejects anything else). A string with
 * escapes is checked when parsed but decoded, in place, when first read
 * (most are never read): a body is read by one thread at a time.
 *
 * Memory bound (docs/operations.md, "execd"): a document of len bytes takes
 * a copy of itself (len + 32 bytes: strings are parsed, and later decoded,
 * in place there) and at most 8 * len bytes of tree (plus at most 64 KiB of
 * arena slack; a small document gets a small arena, so many small ones stay
 * small), whatever its shape: every value is a 16-byte node and takes at
 * least 2 bytes of text (an object member, 32 bytes, takes at least 5). While
 * parsing, the children of the containers still open wait on a stack (16
 * bytes each, a member 32) and move to the tree when their container
 * closes: at most 8 * len bytes live, so at most 24 * len allocated at the
 * peak of its geometric growth (the array it outgrows included), and, as
 * BODY_MAX_VALUES caps the values, never more than 48 MiB; it is freed
 * before body_parse() returns. Nothing else grows with the document: no
 * per-value allocation. What is not representable in this layout is
 * rejected with its reason (-EINVAL): a string of 4 GiB or more, a document
 * of 8 GiB or more, more than BODY_MAX_VALUES values.
 */
#ifndef TOKENMETER_BODY_H
#define TOKENMETER_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"

/* The most values (scalars and containers; object keys are not counted) a
 * document may hold: past it body_parse() fails with -EINVAL and "more than
 * 1000000 JSON values". It bounds the parser's memory whatever the body
 * length allowed (max_body_bytes goes up to 1 GiB), and no usage webhook
 * comes near it: an 8 MiB batch of LiteLLM or OTLP events spends 10 or
 * more bytes a value (a key, quotes, punctuation), about 800 000 at most,
 * while the shapes that go past it (arrays of bare zeros, empty strings or
 * containers) carry nothing a source reads. */
#define BODY_MAX_VALUES 1000000

struct body;      /* a parsed document; owns every node in it */
struct body_node; /* a value inside a body (opaque, borrowed) */

enum body_type {
    BODY_ABSENT = 0, /* no such path (or a NULL node) */
    BODY_NULL,
    BODY_BOOL,
    BODY_INT,
    BODY_REAL,
    BODY_STRING,
    BODY_ARRAY,
    BODY_OBJECT,
};

/* Parses len bytes of JSON (an object or an array at the top level); data
 * is only read, never kept. On success returns 0 and a new body in *out
 * (free with body_free()). On failure *out is NULL, err (may be NULL) holds
 * one line, and the return is -EINVAL for a document that is not acceptable
 * JSON (including nesting beyond the parser's depth limit and invalid
 * UTF-8), or -ENOMEM when memory ran out: that says nothing about the
 * document and must not be reported as bad input (see err.h). */
int body_parse(const char *data, size_t len, struct body **out, char err[ERR_MAX]);

/* body_parse() with the caller's cap on values instead of BODY_MAX_VALUES
 * (0: none beyond the structural bound above). For documents that are not
 * webhook bodies and whose length the caller already bounds: InfluxDB's
 * answers (max_response_bytes, which an operator may raise for long ranges)
 * and the price map. */
int body_parse_max(const char *data, size_t len, size_t max_values, struct body **out,
                   char err[ERR_MAX]);

/* Releases a body (steals it) and every node borrowed from it. Accepts
 * NULL. */
void body_free(struct body *b);

/* Borrowed: the top-level value. */
const struct body_node *body_root(const struct body *b);

/* Borrowed: the value at JSON pointer `ptr` below `n` ("" is n itself), or
 * NULL when any step is missing. JSON null is a node, not NULL. */
const struct body_node *body_get(const struct body_node *n, const char *ptr);

/* The type of n (BODY_ABSENT for NULL). */
enum body_type body_type(const struct body_node *n);

/* The string at ptr (borrowed from the body), or NULL when absent, null or
 * not a string. */
const char *body_str(const struct body_node *n, const char *ptr);

/* Like body_str() (borrowed), but returns NULL for the empty string too. */
const char *body_str_nonempty(const struct body_node *n, const char *ptr);

/* A non-negative integer at ptr: a JSON integer, an integral real, or a
 * string of decimal digits (OTLP and some gateways send counts as strings).
 * Returns 0, -ENOENT when absent or null, -EINVAL when not an integer,
 * -ERANGE when negative or above INT64_MAX. */
int body_count(const struct body_node *n, const char *ptr, int64_t *out);

/* A signed integer at ptr (JSON integer, integral real or decimal string).
 * Same returns as body_count() except that negative values are allowed
 * (-ERANGE below INT64_MIN). */
int body_int(const struct body_node *n, const char *ptr, int64_t *out);

/* A finite number at ptr: integer, real or numeric string.
 * Returns 0, -ENOENT when absent or null, -EINVAL otherwise. */
int body_num(const struct body_node *n, const char *ptr, double *out);

/* A boolean at ptr. Returns 0, -ENOENT, or -EINVAL. */
int body_bool(const struct body_node *n, const char *ptr, bool *out);

/* True when the path exists and is not null. */
bool body_has(const struct body_node *n, const char *ptr);

/* Elements of an array node (0 for anything else) and the i-th (borrowed
 * from the body; NULL past the end). */
size_t body_array_len(const struct body_node *n);
const struct body_node *body_array_at(const struct body_node *n, size_t i);

/* Members of an object node: count, and the i-th key and value (borrowed
 * from the body; NULL past the end), in document order. */
size_t body_object_len(const struct body_node *n);
const char *body_object_key(const struct body_node *n, size_t i);
const struct body_node *body_object_value(const struct body_node *n, size_t i);

/* Appends compact JSON for n (borrowed) to the caller's out, keys sorted, so
 * equal documents give equal bytes. Returns 0, -EINVAL when n is NULL,
 * -ENOMEM, or out's sticky error (-ENOSPC, -ENOMEM; the appended text is
 * then incomplete). */
int body_dump(const struct body_node *n, struct buf *out);

#endif
