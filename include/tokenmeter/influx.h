/* SPDX-License-Identifier: MIT */
/*
 * influx — the only user of libcurl: a small InfluxDB client over the
 * endpoints 1.x, 2.x and 3.x share: /ping, /query (InfluxQL, epoch=ns; the
 * response is read with influx_query.h) and /write, plus influx_request()
 * for the 2.x calls retention.h makes, and influx_download() (not InfluxDB:
 * the price map `prices update` fetches). Statements are built with
 * influxql.h; nothing here builds InfluxQL or reads a response's meaning.
 *
 * API flavour: the client speaks 2.x ("v2") when [influxdb] bucket is set:
 * writes go to /api/v2/write?org=&bucket=, queries to the v1-compatible
 * /query with db = the bucket (its virtual DBRP mapping). Otherwise it
 * speaks 1.x. `check` compares this with the X-Influxdb-Version header
 * /ping returns.
 *
 * Auth: `token` (or the first line of `token_file`) is sent as
 * "Authorization: Token ..." (2.x, 3.x, 1.8+); otherwise username/password
 * as HTTP Basic (1.x, and a v1 authorization on 2.x). Secrets never reach a
 * log line or an error message: URLs carry none, and messages name only the
 * method and path.
 *
 * Every request has the configured timeout and a response of at most
 * [influxdb] max_response_bytes once decoded (curl accepts gzip, so the
 * bound is on what is kept in memory, not on the wire; the parsed /query
 * tree costs a multiple of it). Network errors, timeouts, 5xx and 429 are
 * retried (INFLUX_ATTEMPTS in all) after an exponential backoff with
 * jitter, or after Retry-After when the server sends one (at most 30 s).
 * A request never outlasts its deadline, timeout x INFLUX_ATTEMPTS from its
 * start, nor the command's (influx_set_deadline()): a wait that would pass
 * it is not made. Other 4xx are final, in particular "400 partial write"
 * (the valid points were written).
 *
 * Every message this module returns or logs has the configured token and
 * password (and the Basic credential built from them) and the value of any
 * "Authorization" header a server echoes replaced by "[redacted]".
 *
 * Functions return 0 or a negative errno code with a message in err:
 *   -EAGAIN     unreachable, 5xx or 429 after the last attempt
 *   -ETIMEDOUT  no answer within the timeout (after the last attempt)
 *   -EACCES     401/403: credentials missing, wrong or not permitted
 *   -ENOENT     404: no such database, bucket or endpoint
 *   -EREMOTEIO  the server refused the request (other 4xx, a statement error
 *               inside a 200 response, partial write)
 *   -EBADMSG    a response that is not what InfluxDB sends
 *   -EPROTO     TLS failure (certificate not verified: see tls_ca)
 *   -EINVAL     a configuration problem (token_file unreadable, ...)
 *   -ENOMEM     out of memory
 * influx_exit_code() maps them to sysexits.h codes.
 */
#ifndef TOKENMETER_INFLUX_H
#define TOKENMETER_INFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/buf.h"
#include "tokenmeter/config.h"
#include "tokenmeter/err.h"
#include "tokenmeter/influx_query.h" /* what influx_query() returns */

#define INFLUX_VERSION_MAX  64
#define INFLUX_ATTEMPTS     3
#define INFLUX_RESPONSE_MAX (8u << 20) /* max_response_bytes when unset (0) */
#define INFLUX_BATCH_LINES  5000       /* lines per /write request */
#define INFLUX_BATCH_BYTES  (4u << 20) /* bytes per /write request */

struct influx;

/* Creates a client from the [influxdb] section (borrowed: it must outlive
 * the client) and reads token_file now. Returns 0 with a new client in
 * *out (free with influx_free()), -EINVAL with err set for a configuration
 * problem, or -ENOMEM. */
int influx_new(const struct config_influxdb *cfg, struct influx **out, char err[ERR_MAX]);

/* Releases the client (and wipes the token it held). Accepts NULL. */
void influx_free(struct influx *c);

/* True when the client speaks the 2.x API (bucket set). */
bool influx_is_v2(const struct influx *c);

/* The database /query reads (borrowed from the config): the bucket in v2
 * mode, else the database. */
const char *influx_query_db(const struct influx *c);

/* The [influxdb] section the client was made from (borrowed). */
const struct config_influxdb *influx_config(const struct influx *c);

/* Response body bytes received and requests sent so far (for reports). */
uint64_t influx_bytes_received(const struct influx *c);
unsigned influx_requests(const struct influx *c);

/* The largest decoded response body a request keeps. */
size_t influx_response_max(const struct influx *c);

/* A command's own deadline: no request, retry or wait of this client goes
 * on past `seconds` from now (0 or less: none beyond each request's). */
void influx_set_deadline(struct influx *c, int64_t seconds);

/* How long one request may take at most, retries and waits included: the
 * timeout times INFLUX_ATTEMPTS. */
int64_t influx_command_seconds(const struct config_influxdb *cfg);

/* Replaces in text (NUL-terminated, cap bytes; edited in place) every
 * occurrence of each string of `secrets` (a NULL-terminated list, borrowed;
 * NULL members end it, strings under 4 bytes are skipped) and the value of
 * every "Authorization" key followed by ':' or '=' (a header, a JSON
 * member, a parameter; a "Token ", "Bearer " or "Basic " scheme is kept)
 * with "[redacted]". The result is cut at cap like the original. */
void influx_redact(char *text, size_t cap, const char *const *secrets);

/* GET /ping. On success copies X-Influxdb-Version (or "unknown") into
 * version (the caller's). */
int influx_ping(struct influx *c, char version[INFLUX_VERSION_MAX], char err[ERR_MAX]);

/* Runs InfluxQL q (one or more statements separated by ';') against db
 * (NULL: none) and rp (NULL or "": the default); all borrowed. `post`
 * sends it as a form body, as CREATE/ALTER need. On success *out is a new
 * response (free with influx_query_free()); on failure *out is NULL. A
 * statement error in a 200 response is -EREMOTEIO with InfluxDB's text in
 * err (influx_query_parse()). */
int influx_query(struct influx *c, const char *db, const char *rp, const char *q, bool post,
                 struct influx_query_result **out, char err[ERR_MAX]);

/* Where /write sends points: a database (and retention policy) in 1.x, a
 * bucket (and org) in 2.x. NULL or "" members take the client's configured
 * ones. Borrowed by the calls that take it. */
struct influx_target {
    const char *database;
    const char *retention_policy;
    const char *bucket;
};

/* Writes len bytes of line protocol (whole lines; borrowed) in batches of
 * INFLUX_BATCH_LINES lines / INFLUX_BATCH_BYTES bytes. Stops at the first
 * failed batch; earlier batches stay written. t may be NULL. */
int influx_write(struct influx *c, const struct influx_target *t, const char *lines, size_t len,
                 char err[ERR_MAX]);

/* Sends an empty /write to the target: it answers whether the target
 * exists and the credentials may write there, without writing a point. */
int influx_write_probe(struct influx *c, const struct influx_target *t, char err[ERR_MAX]);

/* One request to an endpoint with no function of its own here (the 2.x
 * /api/v2/buckets calls of retention.c), with the timeout, auth and
 * retries of every request. path: no query string and no secret (it names
 * the request in messages); params: as influxql_url(); ctype, data, len:
 * the request body (NULL, NULL, 0 for none); all borrowed. The response
 * body replaces the contents of the caller's `body`, whose cap bounds it
 * (influx_response_max() is the client's own). */
int influx_request(struct influx *c, const char *method, const char *path,
                   const char *const *params, const char *ctype, const char *data, size_t len,
                   struct buf *body, char err[ERR_MAX]);

/* The sysexits.h code for a return of this module: EX_TEMPFAIL for
 * -EAGAIN/-ETIMEDOUT, EX_NOPERM for -EACCES, EX_UNAVAILABLE for -ENOENT,
 * -EREMOTEIO and -EPROTO, EX_DATAERR for -EBADMSG, EX_CONFIG for -EINVAL,
 * EX_OSERR otherwise. */
int influx_exit_code(int rc);

/* Downloads url (http or https; redirects to https only; at most 120 s;
 * gzip accepted) into b, whose cap bounds what is kept (-EFBIG past it).
 * Needs no client: `tokenmeter prices update` calls it without an
 * [influxdb] section. Returns 0, or -ENOMEM, -EFBIG, or -EIO for a network
 * error or an HTTP status other than 200, with err naming the URL (which
 * carries no secret). */
int influx_download(const char *url, struct buf *b, char err[ERR_MAX]);

#endif
