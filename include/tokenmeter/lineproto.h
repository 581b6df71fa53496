/* SPDX-License-Identifier: MIT */
/*
 * lineproto — the one InfluxDB line-protocol writer.
 *
 * Escaping is exact (InfluxDB's "Line protocol" reference,
 * https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/;
 * the schema it carries is docs/schema.md) and safe for both parsers that
 * read our output, InfluxDB's and Telegraf's: no input string can end a
 * line, start a tag or field, or leave a quote.
 *
 *  - newline, CR, tab and form feed become the visible two-character
 *    sequences \n \r \t \f (in string fields the backslash is itself escaped,
 *    so the stored value reads the same); other control bytes are dropped;
 *  - tag keys/values and field keys escape `,` `=` and space; measurements
 *    escape `,` and space; string fields escape `"` and `\`;
 *  - in names (measurement, tags, field keys) a literal backslash is kept only
 *    before an ordinary printable byte; before a separator, another
 *    backslash, a control byte or the end it is dropped, because the two
 *    parsers disagree about backslash pairs and it could hide a separator;
 *  - NaN and infinities are never written; integers carry `i`, never `u`.
 *
 * Values longer than the per-kind limit are cut at a UTF-8 boundary, which
 * keeps every line well under 64 KiB; the functions report that they cut.
 * All writers append to the caller's `b` (strings are only read, never
 * kept) and return 0, 1 when the value was truncated, or b's sticky error
 * (-ENOSPC, -ENOMEM: the line is then incomplete, discard it). A formatter
 * may therefore write a whole line and look at buf_error() once.
 */
#ifndef TOKENMETER_LINEPROTO_H
#define TOKENMETER_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/err.h"

#define LINEPROTO_TAG_MAX    512  /* bytes of input kept per tag value */
#define LINEPROTO_STRING_MAX 4096 /* bytes of input kept per string field */

/* Starts a line with the measurement name. */
int lineproto_measurement(struct buf *b, const char *name);

/* Appends ",key=value". An empty or NULL value becomes "unknown", as does a
 * value that is empty after dropping control bytes. */
int lineproto_tag(struct buf *b, const char *key, const char *value);

/* Field appenders. `*first` is true before the first field of a line and is
 * cleared by the call; it decides between the space and the comma. */
int lineproto_field_int(struct buf *b, bool *first, const char *key, int64_t v);
/* Returns -EDOM (and appends nothing) for NaN or an infinity. */
int lineproto_field_float(struct buf *b, bool *first, const char *key, double v);
int lineproto_field_str(struct buf *b, bool *first, const char *key, const char *v);

/* A tag or field key the program spells itself, with its length: the
 * writers taking one copy it as it is, without the measuring and scanning
 * a key from elsewhere needs (most of what writing a short field costs).
 * Make one only with LINEPROTO_KEY and a string literal of letters, digits
 * and '_', which need no escaping: nothing checks it. */
struct lineproto_key {
    const char *name; /* borrowed; static */
    size_t len;
};

/* An initializer: static const struct lineproto_key k = LINEPROTO_KEY("x"); */
#define LINEPROTO_KEY(lit)                                                                         \
    {                                                                                              \
        "" lit "", sizeof(lit) - 1                                                                 \
    }

/* The writers above with such a key; the same returns. */
int lineproto_tag_key(struct buf *b, struct lineproto_key key, const char *value);
int lineproto_field_int_key(struct buf *b, bool *first, struct lineproto_key key, int64_t v);
int lineproto_field_float_key(struct buf *b, bool *first, struct lineproto_key key, double v);
int lineproto_field_str_key(struct buf *b, bool *first, struct lineproto_key key, const char *v);

/* Ends the line with " <ns>\n". */
int lineproto_end(struct buf *b, int64_t ns);

/* Formats a finite double with the fewest digits that read back exactly,
 * into the caller's out. */
void lineproto_format_float(double v, char out[32]);

/*
 * The reader: one quote-aware parser for line protocol as Telegraf's influx
 * serializer and tokenmeter itself write it. Quoted string field values may
 * contain raw newlines (a JSON body from http_listener_v2), so a "line" ends
 * only at a newline outside a quoted field value.
 */

enum lineproto_type {
    LINEPROTO_FLOAT,
    LINEPROTO_INT,
    LINEPROTO_UINT,
    LINEPROTO_BOOL,
    LINEPROTO_STRING,
};

struct lineproto_tag {
    const char *key; /* unescaped, NUL-terminated, borrowed from the point */
    const char *value;
};

struct lineproto_field {
    const char *key;
    enum lineproto_type type;
    double f;
    int64_t i;
    uint64_t u;
    bool b;
    const char *s; /* LINEPROTO_STRING: unescaped, NUL-terminated */
    size_t slen;   /* may contain NUL bytes only if the input did */
};

#define LINEPROTO_MAX_TAGS   256
#define LINEPROTO_MAX_FIELDS 256

/* A parsed point (caller-owned; usually on the stack). Its strings live in
 * `arena`, owned by the point, and are borrowed by every pointer in it until
 * the next lineproto_parse() or lineproto_point_free(); reuse the struct for
 * the next line (lineproto_point_init once, lineproto_point_free at the
 * end). */
struct lineproto_point {
    const char *measurement;
    struct lineproto_tag tags[LINEPROTO_MAX_TAGS];
    size_t ntags;
    struct lineproto_field fields[LINEPROTO_MAX_FIELDS];
    size_t nfields;
    bool has_time;
    int64_t time_ns;
    struct buf arena;
};

/* Prepares an empty point; allocates nothing. */
void lineproto_point_init(struct lineproto_point *pt);
/* Releases the point's arena (not the struct itself); the point may be
 * initialised again. */
void lineproto_point_free(struct lineproto_point *pt);

/* What the scanners return when the line has not ended yet: a position,
 * not an error. */
#define LINEPROTO_NO_END (-1L)

/* Scans data[0..len) (only read) for the end of the first line: returns the
 * offset of its terminating '\n' (outside quotes), or LINEPROTO_NO_END when
 * the line is not complete yet (more input needed). */
long lineproto_line_end(const char *data, size_t len);

/* The same scan, resumable across chunks of a stream, so a long metric is
 * scanned once however it arrives. Initialise once; feed each chunk: the
 * return is the offset in this chunk of the '\n' that ends the current
 * line (the scanner is then ready for the next line), or -1 when the chunk
 * ended inside the line (LINEPROTO_NO_END; the state is kept for the next
 * chunk). */
struct lineproto_scanner {
    int state;
    bool escaped;
};

void lineproto_scanner_init(struct lineproto_scanner *sc);
long lineproto_scanner_feed(struct lineproto_scanner *sc, const char *data, size_t len);

/* Parses one line (without its '\n'; a trailing '\r' is allowed; only
 * read, never kept) into pt, whose arena holds copies of its strings.
 * Returns 0, 1 for a blank or comment line (pt empty), or with a reason in
 * err (may be NULL): -EINVAL for a line that is not line protocol, -ENOMEM
 * (out of memory: no verdict on the line) or -ENOSPC (a line over 1 GiB). */
int lineproto_parse(const char *line, size_t len, struct lineproto_point *pt, char err[ERR_MAX]);

/* The field named key (borrowed from pt), or NULL. */
const struct lineproto_field *lineproto_point_field(const struct lineproto_point *pt,
                                                    const char *key);

/* The value of the tag named key (borrowed from pt), or NULL. */
const char *lineproto_point_tag(const struct lineproto_point *pt, const char *key);

#endif
