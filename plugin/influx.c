/* SPDX-License-Identifier: MIT */
#include "tokenmeter/influx.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "tokenmeter/base64.h"
#include "tokenmeter/influxql.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"

#ifndef TOKENMETER_VERSION
#define TOKENMETER_VERSION "0.0.0"
#endif

#define INFLUX_RETRY_AFTER_MAX 30 /* seconds: longer asks are capped */
#define INFLUX_TOKEN_MAX       4096

struct influx {
    CURL *curl;                        /* owned; one handle reused for every request */
    struct curl_slist *headers;        /* owned; holds the Token header: a secret */
    const struct config_influxdb *cfg; /* borrowed from the caller of influx_new() */
    char *token;                       /* owned; wiped before it is freed */
    char *basic;                       /* owned: base64 "user:password", a secret to redact */
    size_t response_max;               /* decoded response bytes kept in memory */
    int64_t deadline_ns;               /* CLOCK_MONOTONIC; 0: none beyond each request's */
    uint64_t bytes;                    /* response bytes received */
    unsigned requests;                 /* requests sent, retries included */
    uint64_t rng;                      /* xorshift state for the backoff jitter */
};

/* One HTTP exchange's outcome. */
struct influx_http {
    long status;
    struct buf *body; /* borrowed: the caller's, capped by its max */
    char version[INFLUX_VERSION_MAX];
    long retry_after; /* seconds, -1 when absent */
};

int influx_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return EX_OK;
    case -EAGAIN:
    case -ETIMEDOUT:
        return EX_TEMPFAIL;
    case -EACCES:
        return EX_NOPERM;
    case -ENOENT:
    case -EREMOTEIO:
    case -EPROTO:
        return EX_UNAVAILABLE;
    case -EBADMSG:
        return EX_DATAERR;
    case -EINVAL:
        return EX_CONFIG;
    default:
        return EX_OSERR;
    }
}

/* ---- redaction ------------------------------------------------------ */

#define INFLUX_REDACTED "[redacted]"

static bool influx_is_end(char ch)
{
    return ch == '\0' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '"' ||
           ch == '\'' || ch == ',' || ch == ';' || ch == '&' || ch == '}' || ch == ']' ||
           ch == '\\';
}

/* At `p`: an "Authorization" key followed by ':' or '=' (a header, a JSON
 * member, a query parameter, a Go header map). Returns the bytes up to the
 * value (kept), the value's length in *vlen, or 0 when p holds none. */
static size_t influx_auth_value(const char *p, size_t *vlen)
{
    static const char key[] = "authorization";
    static const char *const schemes[] = {"token ", "bearer ", "basic "};
    size_t i = sizeof(key) - 1;
    if (strncasecmp(p, key, i) != 0)
        return 0;
    while (p[i] == '"' || p[i] == '\'' || p[i] == '\\')
        i++;
    while (p[i] == ' ' || p[i] == '\t')
        i++;
    if (p[i] != ':' && p[i] != '=')
        return 0; /* "authorization failed" is InfluxDB's own words, no secret */
    i++;
    while (p[i] == ' ' || p[i] == '\t' || p[i] == '"' || p[i] == '\'' || p[i] == '[' ||
           p[i] == '\\')
        i++;
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(schemes[k]);
        if (strncasecmp(p + i, schemes[k], n) == 0) {
            i += n;
            break;
        }
    }
    size_t v = 0;
    while (!influx_is_end(p[i + v]))
        v++;
    *vlen = v;
    return i;
}

void influx_redact(char *text, size_t cap, const char *const *secrets)
{
    struct buf out;
    size_t n = strlen(text);
    buf_init(&out, cap ? cap - 1 : 0);
    for (size_t i = 0; i < n;) {
        size_t vlen = 0, keep = influx_auth_value(text + i, &vlen);
        if (keep && vlen) {
            buf_append(&out, text + i, keep);
            buf_puts(&out, INFLUX_REDACTED);
            i += keep + vlen;
            continue;
        }
        size_t hit = 0;
        for (size_t k = 0; secrets && secrets[k] && !hit; k++) {
            size_t sl = strlen(secrets[k]);
            /* a secret of a few bytes would blank out ordinary words */
            if (sl >= 4 && sl <= n - i && memcmp(text + i, secrets[k], sl) == 0)
                hit = sl;
        }
        if (hit) {
            buf_puts(&out, INFLUX_REDACTED);
            i += hit;
        } else {
            buf_putc(&out, text[i++]);
        }
    }
    /* Cut at the cap, as the message was: what fits is already redacted. */
    if (out.data && buf_error(&out) != -ENOMEM)
        snprintf(text, cap, "%s", out.data);
    else if (cap)
        text[0] = '\0';
    buf_free(&out);
}

/* Redacts the client's own secrets and any Authorization value in a
 * message about to be logged, returned or stored. */
static void influx_redact_err(const struct influx *c, char err[ERR_MAX])
{
    const char *secrets[4] = {NULL, NULL, NULL, NULL};
    size_t n = 0;
    if (c->token)
        secrets[n++] = c->token;
    if (c->cfg->password)
        secrets[n++] = c->cfg->password;
    if (c->basic)
        secrets[n++] = c->basic;
    influx_redact(err, ERR_MAX, secrets);
}

/* ---- client --------------------------------------------------------- */

static int influx_read_token_file(const char *path, char **out, char err[ERR_MAX])
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return err_set(err, -EINVAL, "[influxdb] token_file %s: %s", path, strerror(errno));
    char *line = calloc(1, INFLUX_TOKEN_MAX + 2);
    int rc;
    if (!line) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (!fgets(line, INFLUX_TOKEN_MAX + 2, fp)) {
        rc = err_set(err, -EINVAL, "[influxdb] token_file %s: empty", path);
        goto out;
    }
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
        line[--n] = '\0';
    if (n == 0 || n > INFLUX_TOKEN_MAX) {
        rc = err_set(err, -EINVAL, "[influxdb] token_file %s: %s", path,
                     n ? "token longer than 4096 bytes" : "first line is empty");
        goto out;
    }
    *out = line;
    line = NULL;
    rc = 0;
out:
    free(line);
    fclose(fp);
    return rc;
}

static bool influx_set(const char *s)
{
    return s && *s;
}

int influx_new(const struct config_influxdb *cfg, struct influx **out, char err[ERR_MAX])
{
    struct influx *c = NULL;
    struct buf hdr;
    int rc = -EINVAL;
    buf_init(&hdr, INFLUX_TOKEN_MAX + 64);
    *out = NULL;
    /* The url is echoed in messages, so it must never carry a secret: a
     * scheme that is not http(s) is refused without printing it, and
     * "user:password@" is refused outright. */
    if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8))) {
        err_set(err, rc, "[influxdb] url: expected http://HOST:PORT or https://...");
        goto out;
    }
    const char *authority = strstr(cfg->url, "://") + 3;
    size_t alen = strcspn(authority, "/?#");
    if (memchr(authority, '@', alen)) {
        err_set(err, rc,
                "[influxdb] url must not hold credentials (user:password@): "
                "use username/password, token or token_file");
        goto out;
    }
    bool has_token = influx_set(cfg->token) || influx_set(cfg->token_file);
    if (has_token && (influx_set(cfg->username) || influx_set(cfg->password))) {
        err_set(err, rc, "[influxdb]: set either token/token_file or username/password, not both");
        goto out;
    }
    if (influx_set(cfg->password) && !influx_set(cfg->username)) {
        err_set(err, rc, "[influxdb] password is set but username is not");
        goto out;
    }
    rc = -ENOMEM;
    c = calloc(1, sizeof(*c));
    if (!c)
        goto out;
    c->cfg = cfg;
    if (influx_set(cfg->token)) {
        c->token = strdup(cfg->token);
        if (!c->token)
            goto out;
    } else if (influx_set(cfg->token_file)) {
        rc = influx_read_token_file(cfg->token_file, &c->token, err);
        if (rc < 0)
            goto out;
    }
    rc = -ENOMEM;
    if (!c->token && influx_set(cfg->username)) {
        /* What curl sends for Basic auth: a server may echo it back. */
        struct buf plain, enc;
        buf_init(&plain, 8192);
        buf_init(&enc, 16384);
        buf_printf(&plain, "%s:%s", cfg->username, cfg->password ? cfg->password : "");
        int b = buf_error(&plain) ? buf_error(&plain) : base64_encode(&enc, plain.data, plain.len);
        if (b == 0 && enc.data) {
            c->basic = strdup(enc.data);
            b = c->basic ? 0 : -ENOMEM;
        }
        if (plain.data)
            memset(plain.data, 0, plain.len);
        buf_free(&plain);
        buf_free(&enc);
        if (b == -ENOMEM)
            goto out;
    }
    c->response_max =
        cfg->max_response_bytes > 0 ? (size_t)cfg->max_response_bytes : INFLUX_RESPONSE_MAX;
    if (c->token) {
        if (buf_printf(&hdr, "Authorization: Token %s", c->token) < 0)
            goto out;
        c->headers = curl_slist_append(NULL, hdr.data);
        if (!c->headers)
            goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto out;
    c->curl = curl_easy_init();
    if (!c->curl)
        goto out;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
    c->rng |= 1;
    *out = c;
    c = NULL;
    rc = 0;
out:
    if (hdr.data)
        memset(hdr.data, 0, hdr.len);
    buf_free(&hdr);
    if (rc == -ENOMEM)
        err_set(err, rc, "out of memory");
    influx_free(c);
    return rc;
}

void influx_free(struct influx *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    if (c->basic) {
        memset(c->basic, 0, strlen(c->basic));
        free(c->basic);
    }
    free(c);
}

bool influx_is_v2(const struct influx *c)
{
    return influx_set(c->cfg->bucket);
}

const char *influx_query_db(const struct influx *c)
{
    return influx_is_v2(c) ? c->cfg->bucket : c->cfg->database;
}

const struct config_influxdb *influx_config(const struct influx *c)
{
    return c->cfg;
}

uint64_t influx_bytes_received(const struct influx *c)
{
    return c->bytes;
}

unsigned influx_requests(const struct influx *c)
{
    return c->requests;
}

size_t influx_response_max(const struct influx *c)
{
    return c->response_max;
}

static int64_t influx_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void influx_set_deadline(struct influx *c, int64_t seconds)
{
    c->deadline_ns = seconds > 0 ? influx_monotonic_ns() + seconds * 1000000000 : 0;
}

int64_t influx_command_seconds(const struct config_influxdb *cfg)
{
    return cfg->timeout_s * INFLUX_ATTEMPTS;
}

/* ---- HTTP ----------------------------------------------------------- */

static size_t influx_on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    return buf_append(b, ptr, n) == 0 ? n : 0; /* 0 makes curl fail: over the cap */
}

static size_t influx_on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct influx_http *res = ud;
    size_t n = size * nmemb;
    static const char ver[] = "X-Influxdb-Version:";
    static const char ra[] = "Retry-After:";
    char val[INFLUX_VERSION_MAX];
    const char *v = NULL;
    size_t vl = 0;
    bool is_ver = n > sizeof(ver) - 1 && strncasecmp(ptr, ver, sizeof(ver) - 1) == 0;
    bool is_ra = n > sizeof(ra) - 1 && strncasecmp(ptr, ra, sizeof(ra) - 1) == 0;
    if (!is_ver && !is_ra)
        return n;
    v = ptr + (is_ver ? sizeof(ver) : sizeof(ra)) - 1;
    vl = n - (size_t)(v - ptr);
    while (vl > 0 && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= sizeof(val))
        vl = sizeof(val) - 1;
    memcpy(val, v, vl);
    val[vl] = '\0';
    if (is_ver) {
        memcpy(res->version, val, vl + 1);
    } else {
        char *end = NULL;
        long s = strtol(val, &end, 10);
        /* The HTTP-date form is ignored: the backoff applies instead. */
        if (end != val && *end == '\0' && s >= 0)
            res->retry_after = s > INFLUX_RETRY_AFTER_MAX ? INFLUX_RETRY_AFTER_MAX : s;
    }
    return n;
}

/* InfluxDB's own words from an error body: 1.x {"error":...}, 2.x
 * {"message":...}, else the start of the text. */
static void influx_error_text(const struct buf *body, char *out, size_t cap)
{
    struct body *doc = NULL;
    char perr[ERR_MAX];
    out[0] = '\0';
    if (body->len && body_parse_max(body->data, body->len, 0, &doc, perr) == 0) {
        const char *m = body_str(body_root(doc), "/error");
        if (!m)
            m = body_str(body_root(doc), "/message");
        if (m)
            snprintf(out, cap, "%s", m);
    }
    body_free(doc);
    if (!out[0] && body->len)
        snprintf(out, cap, "%.200s", body->data);
}

static void influx_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long influx_backoff_ms(struct influx *c, int attempt)
{
    /* Exponential (500 ms, 1 s, ...) with jitter in [half, full] so that
     * several cron jobs do not retry in lockstep. */
    long base = 500L << (attempt - 1);
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return base / 2 + (long)(c->rng % (uint64_t)(base / 2 + 1));
}

static int influx_setup(struct influx *c, const char *method, const char *url, const char *ctype,
                        const char *data, size_t len, long timeout_ms, struct influx_http *res,
                        struct curl_slist **hdrs, char *curl_err)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    struct curl_slist *l = NULL;
    for (struct curl_slist *p = c->headers; p; p = p->next) {
        struct curl_slist *n = curl_slist_append(l, p->data);
        if (!n)
            goto nomem;
        l = n;
    }
    if (ctype) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        struct curl_slist *n = curl_slist_append(l, ct);
        if (!n)
            goto nomem;
        l = n;
    }
    /* curl sends "Expect: 100-continue" for large bodies; 1.x does not need
     * the extra round trip. */
    struct curl_slist *n = curl_slist_append(l, "Expect:");
    if (!n)
        goto nomem;
    l = n;
    *hdrs = l;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tokenmeter/" TOKENMETER_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, influx_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, res->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, influx_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->cfg->insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->cfg->insecure_skip_verify ? 0L : 2L);
    if (influx_set(c->cfg->tls_ca))
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg->tls_ca);
    if (!c->token && influx_set(c->cfg->username)) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->cfg->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->cfg->password ? c->cfg->password : "");
    }
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data ? data : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(data ? len : 0));
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
nomem:
    curl_slist_free_all(l);
    return -ENOMEM;
}

/* Classifies a transport failure: the return code, and whether it is
 * worth another attempt. */
static int influx_curl_rc(CURLcode cc, bool *retry)
{
    *retry = false;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        *retry = true;
        return -ETIMEDOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CONNECT_ERROR:
        return -EPROTO;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    case CURLE_WRITE_ERROR:
        return -EBADMSG; /* the body outgrew the client's response_max */
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        *retry = true;
        return -EAGAIN;
    }
}

static int influx_http_rc(long status, bool *retry)
{
    *retry = status == 429 || status >= 500;
    if (status >= 200 && status < 300)
        return 0;
    if (*retry)
        return -EAGAIN;
    if (status == 401 || status == 403)
        return -EACCES;
    if (status == 404)
        return -ENOENT;
    return -EREMOTEIO;
}

/* The time left before the request's deadline: its own (timeout x
 * attempts from its start) or the command's, whichever comes first. */
static long influx_remaining_ms(const struct influx *c, int64_t request_deadline)
{
    int64_t d = request_deadline;
    if (c->deadline_ns && c->deadline_ns < d)
        d = c->deadline_ns;
    int64_t left = (d - influx_monotonic_ns()) / 1000000;
    return left > 0 ? (long)left : 0;
}

/* One request with retries. `path` (no query string, no secrets) names the
 * request in messages. res->body receives the response body. Every wait,
 * a server's Retry-After included, ends by the deadline. */
static int influx_http(struct influx *c, const char *method, const char *path,
                       const char *const *params, const char *ctype, const char *data, size_t len,
                       struct influx_http *res, char err[ERR_MAX])
{
    struct buf url;
    int rc = 0;
    int64_t deadline = influx_monotonic_ns() + influx_command_seconds(c->cfg) * (int64_t)1000000000;
    buf_init(&url, 1u << 20);
    if (influxql_url(&url, c->cfg->url, path, params) < 0) {
        rc = err_set(err, -ENOMEM, "%s %s: request too large", method, path);
        goto out;
    }
    for (int attempt = 1; attempt <= INFLUX_ATTEMPTS; attempt++) {
        char curl_err[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        bool retry = false;
        long left = influx_remaining_ms(c, deadline);
        long timeout_ms = (long)c->cfg->timeout_s * 1000L;
        if (left <= 0) {
            if (attempt == 1)
                rc = err_set(err, -ETIMEDOUT, "InfluxDB %s %s: the command's deadline passed",
                             method, path);
            break;
        }
        buf_reset(res->body);
        res->status = 0;
        res->retry_after = -1;
        snprintf(res->version, sizeof(res->version), "unknown");
        rc = influx_setup(c, method, url.data, ctype, data, len,
                          left < timeout_ms ? left : timeout_ms, res, &hdrs, curl_err);
        if (rc < 0) {
            err_set(err, rc, "out of memory");
            goto out;
        }
        c->requests++;
        CURLcode cc = curl_easy_perform(c->curl);
        curl_slist_free_all(hdrs);
        c->bytes += res->body->len;
        if (cc != CURLE_OK) {
            rc = influx_curl_rc(cc, &retry);
            if (rc == -EBADMSG && buf_error(res->body) == -ENOSPC)
                /* The decoded size counts (curl accepts gzip): a few KB on
                 * the wire must not become gigabytes here. */
                err_set(err, rc,
                        "InfluxDB %s %s: the response is larger than %zu bytes once decoded "
                        "([influxdb] max_response_bytes); ask for fewer days, or raise it",
                        method, path, res->body->max);
            else
                err_set(err, rc, "InfluxDB %s %s: %s%s%s%s", method, path, curl_easy_strerror(cc),
                        curl_err[0] ? ": " : "", curl_err,
                        rc == -EPROTO ? " (set [influxdb] tls_ca to the CA that signed the "
                                        "server's certificate)"
                                      : "");
        } else {
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
            rc = influx_http_rc(res->status, &retry);
            if (rc < 0) {
                char text[300];
                influx_error_text(res->body, text, sizeof(text));
                err_set(err, rc, "InfluxDB %s %s: HTTP %ld%s%s", method, path, res->status,
                        text[0] ? ": " : "", text);
            }
        }
        influx_redact_err(c, err);
        if (rc == 0 || !retry || attempt == INFLUX_ATTEMPTS)
            break;
        long ms = res->retry_after >= 0 ? res->retry_after * 1000L : influx_backoff_ms(c, attempt);
        left = influx_remaining_ms(c, deadline);
        if (ms >= left) {
            log_warn("%s; not retrying: waiting %.1f s would pass the deadline (%.1f s left)", err,
                     (double)ms / 1000.0, (double)left / 1000.0);
            break;
        }
        log_warn("%s; retrying in %.1f s (attempt %d of %d)", err, (double)ms / 1000.0, attempt + 1,
                 INFLUX_ATTEMPTS);
        influx_sleep_ms(ms);
    }
out:
    buf_free(&url);
    return rc;
}

int influx_request(struct influx *c, const char *method, const char *path,
                   const char *const *params, const char *ctype, const char *data, size_t len,
                   struct buf *body, char err[ERR_MAX])
{
    struct influx_http res = {.body = body, .retry_after = -1};
    return influx_http(c, method, path, params, ctype, data, len, &res, err);
}

int influx_ping(struct influx *c, char version[INFLUX_VERSION_MAX], char err[ERR_MAX])
{
    struct buf body;
    struct influx_http res = {.body = &body, .retry_after = -1};
    buf_init(&body, c->response_max);
    int rc = influx_http(c, "GET", "/ping", NULL, NULL, NULL, 0, &res, err);
    if (rc == 0)
        snprintf(version, INFLUX_VERSION_MAX, "%s", res.version);
    buf_free(&body);
    return rc;
}

/* ---- /query --------------------------------------------------------- */

int influx_query(struct influx *c, const char *db, const char *rp, const char *q, bool post,
                 struct influx_query_result **out, char err[ERR_MAX])
{
    struct buf body, form;
    int rc;
    buf_init(&body, c->response_max);
    buf_init(&form, 1u << 20);
    *out = NULL;
    const char *rp_param = influx_set(rp) ? rp : NULL;
    if (post) {
        const char *const params[] = {"db", db, "rp", rp_param, "epoch", "ns", NULL};
        buf_puts(&form, "q=");
        rc = influxql_percent_encode(&form, q);
        if (rc < 0) {
            err_set(err, rc, "InfluxDB /query: statement too long");
            goto out;
        }
        rc = influx_request(c, "POST", "/query", params, "application/x-www-form-urlencoded",
                            form.data, form.len, &body, err);
    } else {
        const char *const params[] = {"db", db, "rp", rp_param, "q", q, "epoch", "ns", NULL};
        rc = influx_request(c, "GET", "/query", params, NULL, NULL, 0, &body, err);
    }
    if (rc == 0) {
        rc = influx_query_parse(body.data ? body.data : "", body.len, out, err);
        if (rc < 0)
            influx_redact_err(c, err); /* a statement error may quote what was sent */
    }
out:
    buf_free(&form);
    buf_free(&body);
    return rc;
}

/* ---- /write --------------------------------------------------------- */

static int influx_write_batch(struct influx *c, const struct influx_target *t, const char *data,
                              size_t len, char err[ERR_MAX])
{
    static const char ctype[] = "text/plain; charset=utf-8";
    const struct config_influxdb *cfg = c->cfg;
    struct buf body;
    int rc;
    buf_init(&body, c->response_max);
    if (influx_is_v2(c)) {
        const char *bucket = t && influx_set(t->bucket) ? t->bucket : cfg->bucket;
        const char *const params[] = {"org", cfg->org, "bucket", bucket, "precision", "ns", NULL};
        rc = influx_request(c, "POST", "/api/v2/write", params, ctype, data, len, &body, err);
    } else {
        const char *db = t && influx_set(t->database) ? t->database : cfg->database;
        const char *rp =
            t && influx_set(t->retention_policy) ? t->retention_policy : cfg->retention_policy;
        const char *const params[] = {"db", db, "rp", influx_set(rp) ? rp : NULL, NULL};
        rc = influx_request(c, "POST", "/write", params, ctype, data, len, &body, err);
    }
    buf_free(&body);
    return rc;
}

int influx_write(struct influx *c, const struct influx_target *t, const char *lines, size_t len,
                 char err[ERR_MAX])
{
    size_t start = 0, pos = 0, nlines = 0;
    while (pos < len) {
        long e = lineproto_line_end(lines + pos, len - pos);
        size_t next = e < 0 ? len : pos + (size_t)e + 1;
        if (nlines > 0 && (nlines == INFLUX_BATCH_LINES || next - start > INFLUX_BATCH_BYTES)) {
            int rc = influx_write_batch(c, t, lines + start, pos - start, err);
            if (rc < 0)
                return rc;
            start = pos;
            nlines = 0;
        }
        nlines++;
        pos = next;
    }
    if (pos > start)
        return influx_write_batch(c, t, lines + start, pos - start, err);
    return 0;
}

int influx_write_probe(struct influx *c, const struct influx_target *t, char err[ERR_MAX])
{
    return influx_write_batch(c, t, "", 0, err);
}

static size_t influx_on_download(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    return buf_append(b, data, size * nmemb) == 0 ? size * nmemb : 0;
}

int influx_download(const char *url, struct buf *b, char err[ERR_MAX])
{
    char curl_err[CURL_ERROR_SIZE] = "";
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return err_set(err, -ENOMEM, "libcurl initialisation failed");
    CURL *h = curl_easy_init();
    if (!h) {
        curl_global_cleanup();
        return err_set(err, -ENOMEM, "out of memory");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tokenmeter/" TOKENMETER_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, influx_on_download);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    int rc = 0;
    if (buf_error(b) == -ENOMEM)
        rc = err_set(err, -ENOMEM, "out of memory");
    else if (buf_error(b))
        rc = err_set(err, -EFBIG, "%s: larger than %zu MiB", url, b->max >> 20);
    else if (cc != CURLE_OK)
        rc = err_set(err, -EIO, "%s: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(cc));
    else if (code != 200)
        rc = err_set(err, -EIO, "%s: HTTP %ld", url, code);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return rc;
}
