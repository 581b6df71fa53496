/* SPDX-License-Identifier: MIT */
#include "tokenmeter/influx.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "tokenmeter/lineproto.h"
#include "tokenmeter/log.h"

#ifndef TOKENMETER_VERSION
#define TOKENMETER_VERSION "0.0.0"
#endif

#define INFLUX_RETRY_AFTER_MAX 30 /* seconds: longer asks are capped */
#define INFLUX_TOKEN_MAX       4096

struct influx {
    CURL *curl;
    struct curl_slist *headers; /* holds the Token header: a secret */
    const struct config_influxdb *cfg;
    char *token;
    uint64_t bytes;
    unsigned requests;
    uint64_t rng;
};

struct influx_response {
    struct body *doc;
};

/* One HTTP exchange's outcome. */
struct influx_http {
    long status;
    struct buf body;
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

int influx_quote(struct buf *b, const char *s, char quote)
{
    int rc = buf_putc(b, quote);
    for (const char *p = s; rc == 0 && *p; p++) {
        if (*p == '\\' || *p == '"' || *p == '\'')
            rc = buf_putc(b, '\\');
        if (rc == 0)
            rc = *p == '\n' ? buf_puts(b, "\\n") : buf_putc(b, *p);
    }
    return rc == 0 ? buf_putc(b, quote) : rc;
}

static int influx_percent_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_append(b, e, 3);
        }
    }
    return rc;
}

int influx_url(struct buf *out, const char *base, const char *path, const char *const *params)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    int rc = buf_append(out, base, bl);
    if (rc == 0)
        rc = buf_puts(out, path);
    char sep = '?';
    for (size_t i = 0; rc == 0 && params && params[i]; i += 2) {
        if (!params[i + 1])
            continue;
        rc = buf_putc(out, sep);
        if (rc == 0)
            rc = buf_puts(out, params[i]);
        if (rc == 0)
            rc = buf_putc(out, '=');
        if (rc == 0)
            rc = influx_percent_encode(out, params[i + 1]);
        sep = '&';
    }
    return rc;
}

int influx_parse_duration(const char *s, int64_t *seconds)
{
    /* Go's Duration.String(): units h, m, s, with fractions and ms/us/ns
     * only below one second, which retention policies never have. */
    const char *p = s;
    int64_t total = 0;
    if (!*p)
        return -EINVAL;
    while (*p) {
        int64_t v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -EINVAL;
            v = v * 10 + (*p++ - '0');
        }
        if (p == start)
            return -EINVAL;
        int64_t mult;
        if (*p == 'h')
            mult = 3600;
        else if (*p == 'm' && p[1] != 's')
            mult = 60;
        else if (*p == 's')
            mult = 1;
        else
            return -EINVAL;
        p++;
        if (v > (INT64_MAX - total) / mult)
            return -EINVAL;
        total += v * mult;
    }
    *seconds = total;
    return 0;
}

/* ---- client --------------------------------------------------------- */

static int influx_read_token_file(const char *path, char **out, char err[ERR_MAX])
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, ERR_MAX, "[influxdb] token_file %s: %s", path, strerror(errno));
        return -EINVAL;
    }
    char *line = calloc(1, INFLUX_TOKEN_MAX + 2);
    int rc = -ENOMEM;
    if (!line)
        goto out;
    rc = -EINVAL;
    if (!fgets(line, INFLUX_TOKEN_MAX + 2, fp)) {
        snprintf(err, ERR_MAX, "[influxdb] token_file %s: empty", path);
        goto out;
    }
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
        line[--n] = '\0';
    if (n == 0 || n > INFLUX_TOKEN_MAX) {
        snprintf(err, ERR_MAX, "[influxdb] token_file %s: %s", path,
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
        snprintf(err, ERR_MAX, "[influxdb] url: expected http://HOST:PORT or https://...");
        goto out;
    }
    const char *authority = strstr(cfg->url, "://") + 3;
    size_t alen = strcspn(authority, "/?#");
    if (memchr(authority, '@', alen)) {
        snprintf(err, ERR_MAX,
                 "[influxdb] url must not hold credentials (user:password@): "
                 "use username/password, token or token_file");
        goto out;
    }
    bool has_token = influx_set(cfg->token) || influx_set(cfg->token_file);
    if (has_token && (influx_set(cfg->username) || influx_set(cfg->password))) {
        snprintf(err, ERR_MAX,
                 "[influxdb]: set either token/token_file or username/password, not both");
        goto out;
    }
    if (influx_set(cfg->password) && !influx_set(cfg->username)) {
        snprintf(err, ERR_MAX, "[influxdb] password is set but username is not");
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
        snprintf(err, ERR_MAX, "out of memory");
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

uint64_t influx_bytes_received(const struct influx *c)
{
    return c->bytes;
}

unsigned influx_requests(const struct influx *c)
{
    return c->requests;
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
    if (body->len && body_parse(body->data, body->len, &doc, perr) == 0) {
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
                        const char *data, size_t len, struct influx_http *res,
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
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->cfg->timeout_s * 1000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tokenmeter/" TOKENMETER_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, influx_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &res->body);
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
        return -EBADMSG; /* the body outgrew INFLUX_RESPONSE_MAX */
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

/* One request with retries. `path` (no query string, no secrets) names the
 * request in messages. */
static int influx_http(struct influx *c, const char *method, const char *path,
                       const char *const *params, const char *ctype, const char *data, size_t len,
                       struct influx_http *res, char err[ERR_MAX])
{
    struct buf url;
    int rc = 0;
    buf_init(&url, 1u << 20);
    if (influx_url(&url, c->cfg->url, path, params) < 0) {
        snprintf(err, ERR_MAX, "%s %s: request too large", method, path);
        rc = -ENOMEM;
        goto out;
    }
    for (int attempt = 1; attempt <= INFLUX_ATTEMPTS; attempt++) {
        char curl_err[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        bool retry = false;
        buf_reset(&res->body);
        res->status = 0;
        res->retry_after = -1;
        snprintf(res->version, sizeof(res->version), "unknown");
        rc = influx_setup(c, method, url.data, ctype, data, len, res, &hdrs, curl_err);
        if (rc < 0) {
            snprintf(err, ERR_MAX, "out of memory");
            goto out;
        }
        c->requests++;
        CURLcode cc = curl_easy_perform(c->curl);
        curl_slist_free_all(hdrs);
        c->bytes += res->body.len;
        if (cc != CURLE_OK) {
            rc = influx_curl_rc(cc, &retry);
            snprintf(err, ERR_MAX, "InfluxDB %s %s: %s%s%s", method, path, curl_easy_strerror(cc),
                     curl_err[0] ? ": " : "", curl_err);
            if (rc == -EPROTO)
                snprintf(err + strlen(err), ERR_MAX - strlen(err),
                         " (set [influxdb] tls_ca to the CA that signed the server's "
                         "certificate)");
            else if (rc == -EBADMSG && res->body.len >= INFLUX_RESPONSE_MAX)
                snprintf(err, ERR_MAX, "InfluxDB %s %s: response larger than %u bytes", method,
                         path, INFLUX_RESPONSE_MAX);
        } else {
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
            rc = influx_http_rc(res->status, &retry);
            if (rc < 0) {
                char text[300];
                influx_error_text(&res->body, text, sizeof(text));
                snprintf(err, ERR_MAX, "InfluxDB %s %s: HTTP %ld%s%s", method, path, res->status,
                         text[0] ? ": " : "", text);
            }
        }
        if (rc == 0 || !retry || attempt == INFLUX_ATTEMPTS)
            break;
        long ms = res->retry_after >= 0 ? res->retry_after * 1000L : influx_backoff_ms(c, attempt);
        log_warn("%s; retrying in %.1f s (attempt %d of %d)", err, (double)ms / 1000.0, attempt + 1,
                 INFLUX_ATTEMPTS);
        influx_sleep_ms(ms);
    }
out:
    buf_free(&url);
    return rc;
}

static void influx_http_init(struct influx_http *res)
{
    memset(res, 0, sizeof(*res));
    buf_init(&res->body, INFLUX_RESPONSE_MAX);
    res->retry_after = -1;
}

int influx_ping(struct influx *c, char version[INFLUX_VERSION_MAX], char err[ERR_MAX])
{
    struct influx_http res;
    influx_http_init(&res);
    int rc = influx_http(c, "GET", "/ping", NULL, NULL, NULL, 0, &res, err);
    if (rc == 0)
        snprintf(version, INFLUX_VERSION_MAX, "%s", res.version);
    buf_free(&res.body);
    return rc;
}

/* ---- /query --------------------------------------------------------- */

int influx_response_parse(const char *data, size_t len, struct influx_response **out,
                          char err[ERR_MAX])
{
    char perr[ERR_MAX];
    struct body *doc = NULL;
    int rc = -EBADMSG;
    *out = NULL;
    if (body_parse(data, len, &doc, perr) < 0) {
        snprintf(err, ERR_MAX, "InfluxDB /query: response is not JSON: %.900s", perr);
        goto out;
    }
    const struct body_node *root = body_root(doc);
    const char *top = body_str(root, "/error");
    if (top) {
        snprintf(err, ERR_MAX, "InfluxDB /query: %s", top);
        rc = -EREMOTEIO;
        goto out;
    }
    const struct body_node *results = body_get(root, "/results");
    if (body_type(results) != BODY_ARRAY) {
        snprintf(err, ERR_MAX, "InfluxDB /query: response has no \"results\" array");
        goto out;
    }
    /* After a failed statement the rest say only "not executed": report the
     * one with a reason. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < body_array_len(results); i++) {
            const char *e = body_str(body_array_at(results, i), "/error");
            if (e && (pass == 1 || strcmp(e, "not executed") != 0)) {
                snprintf(err, ERR_MAX, "InfluxDB /query: statement %zu: %s", i + 1, e);
                rc = -EREMOTEIO;
                goto out;
            }
        }
    }
    /* InfluxDB cuts a result at [http] max-row-limit and marks it partial:
     * sums from it would replace complete rows with smaller ones. */
    for (size_t i = 0; i < body_array_len(results); i++) {
        const struct body_node *res = body_array_at(results, i);
        bool partial = false;
        for (size_t k = 0; !partial && k < body_array_len(body_get(res, "/series")); k++)
            body_bool(body_array_at(body_get(res, "/series"), k), "/partial", &partial);
        if (!partial)
            body_bool(res, "/partial", &partial);
        if (partial) {
            snprintf(err, ERR_MAX,
                     "InfluxDB /query: statement %zu: the result was cut short (\"partial\": "
                     "InfluxDB's [http] max-row-limit); raise the limit or query fewer days",
                     i + 1);
            rc = -EREMOTEIO;
            goto out;
        }
    }
    rc = -ENOMEM;
    struct influx_response *r = calloc(1, sizeof(*r));
    if (!r)
        goto out;
    r->doc = doc;
    doc = NULL;
    *out = r;
    rc = 0;
out:
    body_free(doc);
    return rc;
}

void influx_response_free(struct influx_response *r)
{
    if (!r)
        return;
    body_free(r->doc);
    free(r);
}

int influx_query(struct influx *c, const char *db, const char *rp, const char *q, bool post,
                 struct influx_response **out, char err[ERR_MAX])
{
    struct influx_http res;
    struct buf form;
    int rc;
    influx_http_init(&res);
    buf_init(&form, 1u << 20);
    *out = NULL;
    const char *rp_param = influx_set(rp) ? rp : NULL;
    if (post) {
        const char *const params[] = {"db", db, "rp", rp_param, "epoch", "ns", NULL};
        rc = buf_puts(&form, "q=");
        if (rc == 0)
            rc = influx_percent_encode(&form, q);
        if (rc < 0) {
            snprintf(err, ERR_MAX, "InfluxDB /query: statement too long");
            goto out;
        }
        rc = influx_http(c, "POST", "/query", params, "application/x-www-form-urlencoded",
                         form.data, form.len, &res, err);
    } else {
        const char *const params[] = {"db", db, "rp", rp_param, "q", q, "epoch", "ns", NULL};
        rc = influx_http(c, "GET", "/query", params, NULL, NULL, 0, &res, err);
    }
    if (rc == 0)
        rc = influx_response_parse(res.body.data ? res.body.data : "", res.body.len, out, err);
out:
    buf_free(&form);
    buf_free(&res.body);
    return rc;
}

size_t influx_response_statements(const struct influx_response *r)
{
    return body_array_len(body_get(body_root(r->doc), "/results"));
}

int influx_response_series(const struct influx_response *r, size_t stmt, size_t i,
                           struct influx_series *s)
{
    const struct body_node *res = body_array_at(body_get(body_root(r->doc), "/results"), stmt);
    const struct body_node *series = body_array_at(body_get(res, "/series"), i);
    if (body_type(series) != BODY_OBJECT)
        return -ENOENT;
    s->name = body_str(series, "/name");
    s->tags = body_get(series, "/tags");
    s->columns = body_get(series, "/columns");
    s->values = body_get(series, "/values");
    if (!s->name)
        s->name = "";
    return 0;
}

size_t influx_series_rows(const struct influx_series *s)
{
    return body_array_len(s->values);
}

int influx_series_column(const struct influx_series *s, const char *name)
{
    size_t n = body_array_len(s->columns);
    for (size_t i = 0; i < n && i < INT32_MAX; i++) {
        const char *col = body_str(body_array_at(s->columns, i), "");
        if (col && strcmp(col, name) == 0)
            return (int)i;
    }
    return -1;
}

const char *influx_series_tag(const struct influx_series *s, const char *key)
{
    size_t n = body_object_len(s->tags);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(body_object_key(s->tags, i), key) == 0) {
            const char *v = body_str(body_object_value(s->tags, i), "");
            return v ? v : "";
        }
    }
    return "";
}

const struct body_node *influx_series_value(const struct influx_series *s, size_t row, int col)
{
    if (col < 0)
        return NULL;
    return body_array_at(body_array_at(s->values, row), (size_t)col);
}

/* ---- /write --------------------------------------------------------- */

static int influx_write_batch(struct influx *c, const struct influx_target *t, const char *data,
                              size_t len, char err[ERR_MAX])
{
    struct influx_http res;
    int rc;
    influx_http_init(&res);
    const struct config_influxdb *cfg = c->cfg;
    if (influx_is_v2(c)) {
        const char *bucket = t && influx_set(t->bucket) ? t->bucket : cfg->bucket;
        const char *const params[] = {"org", cfg->org, "bucket", bucket, "precision", "ns", NULL};
        rc = influx_http(c, "POST", "/api/v2/write", params, "text/plain; charset=utf-8", data, len,
                         &res, err);
    } else {
        const char *db = t && influx_set(t->database) ? t->database : cfg->database;
        const char *rp =
            t && influx_set(t->retention_policy) ? t->retention_policy : cfg->retention_policy;
        const char *const params[] = {"db", db, "rp", influx_set(rp) ? rp : NULL, NULL};
        rc = influx_http(c, "POST", "/write", params, "text/plain; charset=utf-8", data, len, &res,
                         err);
    }
    buf_free(&res.body);
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

/* ---- retention ------------------------------------------------------ */

static int influx_retention_get_v1(struct influx *c, struct influx_retention *r, char err[ERR_MAX])
{
    struct buf q;
    struct influx_response *resp = NULL;
    const char *want = c->cfg->retention_policy;
    int rc;
    buf_init(&q, 4096);
    rc = buf_puts(&q, "SHOW RETENTION POLICIES ON ");
    if (rc == 0)
        rc = influx_quote(&q, c->cfg->database, '"');
    if (rc < 0) {
        snprintf(err, ERR_MAX, "[influxdb] database name too long");
        rc = -EINVAL;
        goto out;
    }
    rc = influx_query(c, NULL, NULL, q.data, false, &resp, err);
    if (rc == -EREMOTEIO && strstr(err, "database not found")) {
        rc = 0; /* r->exists stays false */
        goto out;
    }
    if (rc < 0)
        goto out;
    struct influx_series s;
    if (influx_response_series(resp, 0, 0, &s) < 0)
        goto out;
    int cn = influx_series_column(&s, "name"), cd = influx_series_column(&s, "duration");
    int cdef = influx_series_column(&s, "default");
    if (cn < 0 || cd < 0 || cdef < 0) {
        snprintf(err, ERR_MAX, "InfluxDB: SHOW RETENTION POLICIES: unexpected columns");
        rc = -EBADMSG;
        goto out;
    }
    for (size_t i = 0; i < influx_series_rows(&s); i++) {
        const char *name = body_str(influx_series_value(&s, i, cn), "");
        const char *dur = body_str(influx_series_value(&s, i, cd), "");
        bool is_default = false;
        body_bool(influx_series_value(&s, i, cdef), "", &is_default);
        if (!name || !dur)
            continue;
        if (influx_set(want) ? strcmp(name, want) != 0 : !is_default)
            continue;
        if (influx_parse_duration(dur, &r->seconds) < 0) {
            snprintf(err, ERR_MAX, "InfluxDB: retention policy \"%s\": duration \"%s\"", name, dur);
            rc = -EBADMSG;
            goto out;
        }
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->exists = true;
        break;
    }
out:
    influx_response_free(resp);
    buf_free(&q);
    return rc;
}

static int influx_retention_get_v2(struct influx *c, struct influx_retention *r, char err[ERR_MAX])
{
    struct influx_http res;
    struct body *doc = NULL;
    char perr[ERR_MAX];
    influx_http_init(&res);
    const char *const params[] = {"name", c->cfg->bucket, "org", c->cfg->org, NULL};
    int rc = influx_http(c, "GET", "/api/v2/buckets", params, NULL, NULL, 0, &res, err);
    if (rc < 0)
        goto out;
    rc = -EBADMSG;
    if (body_parse(res.body.data ? res.body.data : "", res.body.len, &doc, perr) < 0) {
        snprintf(err, ERR_MAX, "InfluxDB GET /api/v2/buckets: not JSON: %.900s", perr);
        goto out;
    }
    const struct body_node *buckets = body_get(body_root(doc), "/buckets");
    if (body_type(buckets) != BODY_ARRAY) {
        snprintf(err, ERR_MAX, "InfluxDB GET /api/v2/buckets: no \"buckets\" array");
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < body_array_len(buckets); i++) {
        const struct body_node *b = body_array_at(buckets, i);
        const char *name = body_str(b, "/name");
        const char *id = body_str(b, "/id");
        if (!name || strcmp(name, c->cfg->bucket) != 0 || !id)
            continue;
        /* The ID goes into a path: accept only what InfluxDB issues. */
        if (strlen(id) >= sizeof(r->id) || strspn(id, "0123456789abcdef") != strlen(id)) {
            snprintf(err, ERR_MAX, "InfluxDB GET /api/v2/buckets: unexpected bucket id");
            rc = -EBADMSG;
            goto out;
        }
        snprintf(r->id, sizeof(r->id), "%s", id);
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->exists = true;
        r->seconds = 0;
        const struct body_node *rules = body_get(b, "/retentionRules");
        for (size_t j = 0; j < body_array_len(rules); j++) {
            const char *type = body_str(body_array_at(rules, j), "/type");
            int64_t every = 0;
            if (type && strcmp(type, "expire") == 0 &&
                body_count(body_array_at(rules, j), "/everySeconds", &every) == 0)
                r->seconds = every;
        }
        break;
    }
out:
    body_free(doc);
    buf_free(&res.body);
    return rc;
}

int influx_retention_get(struct influx *c, struct influx_retention *r, char err[ERR_MAX])
{
    memset(r, 0, sizeof(*r));
    return influx_is_v2(c) ? influx_retention_get_v2(c, r, err)
                           : influx_retention_get_v1(c, r, err);
}

static int influx_exec(struct influx *c, const struct buf *q, char err[ERR_MAX])
{
    struct influx_response *resp = NULL;
    int rc = influx_query(c, NULL, NULL, q->data, true, &resp, err);
    influx_response_free(resp);
    return rc;
}

static int influx_retention_apply_v1(struct influx *c, int64_t days, char err[ERR_MAX])
{
    struct influx_retention cur;
    struct buf q;
    const char *db = c->cfg->database;
    const char *want = c->cfg->retention_policy;
    buf_init(&q, 4096);
    memset(&cur, 0, sizeof(cur));
    int rc = influx_retention_get_v1(c, &cur, err);
    if (rc == 0 && !cur.exists) {
        /* A missing RP may mean a missing database: CREATE DATABASE is
         * idempotent and gives a new one "autogen" as its default. */
        rc = buf_puts(&q, "CREATE DATABASE ");
        if (rc == 0)
            rc = influx_quote(&q, db, '"');
        if (rc == 0)
            rc = influx_exec(c, &q, err);
        if (rc == 0)
            rc = influx_retention_get_v1(c, &cur, err);
    }
    if (rc < 0)
        goto out;
    if (!cur.exists && !influx_set(want)) {
        snprintf(err, ERR_MAX,
                 "InfluxDB: database \"%s\" has no default retention policy; set [influxdb] "
                 "retention_policy",
                 db);
        rc = -EREMOTEIO;
        goto out;
    }
    buf_reset(&q);
    rc = buf_puts(&q, cur.exists ? "ALTER RETENTION POLICY " : "CREATE RETENTION POLICY ");
    if (rc == 0)
        rc = influx_quote(&q, cur.exists ? cur.name : want, '"');
    if (rc == 0)
        rc = buf_puts(&q, " ON ");
    if (rc == 0)
        rc = influx_quote(&q, db, '"');
    if (rc == 0)
        rc = days ? buf_printf(&q, " DURATION %" PRId64 "d REPLICATION 1", days)
                  : buf_puts(&q, " DURATION INF REPLICATION 1");
    /* A duration shorter than the shard group duration is refused; give
     * short ones InfluxDB's own choice for new policies. */
    if (rc == 0 && days > 0 && days < 2)
        rc = buf_puts(&q, " SHARD DURATION 1h");
    else if (rc == 0 && days > 0 && days < 7)
        rc = buf_puts(&q, " SHARD DURATION 1d");
    if (rc < 0) {
        snprintf(err, ERR_MAX, "retention statement too long");
        rc = -EINVAL;
        goto out;
    }
    rc = influx_exec(c, &q, err);
out:
    buf_free(&q);
    return rc;
}

static int influx_retention_apply_v2(struct influx *c, int64_t days, char err[ERR_MAX])
{
    struct influx_retention cur;
    struct influx_http res;
    struct buf path, json;
    influx_http_init(&res);
    buf_init(&path, 256);
    buf_init(&json, 256);
    int rc = influx_retention_get_v2(c, (memset(&cur, 0, sizeof(cur)), &cur), err);
    if (rc < 0)
        goto out;
    if (!cur.exists) {
        snprintf(err, ERR_MAX,
                 "InfluxDB: bucket \"%s\" not found in org \"%s\" (create it with "
                 "'influx bucket create')",
                 c->cfg->bucket, c->cfg->org ? c->cfg->org : "");
        rc = -ENOENT;
        goto out;
    }
    if (buf_printf(&path, "/api/v2/buckets/%s", cur.id) < 0 ||
        buf_printf(&json,
                   "{\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":%" PRId64 "}]}",
                   days * 86400) < 0) {
        rc = -ENOMEM;
        snprintf(err, ERR_MAX, "out of memory");
        goto out;
    }
    rc = influx_http(c, "PATCH", path.data, NULL, "application/json", json.data, json.len, &res,
                     err);
out:
    buf_free(&path);
    buf_free(&json);
    buf_free(&res.body);
    return rc;
}

int influx_retention_apply(struct influx *c, int64_t days, char err[ERR_MAX])
{
    return influx_is_v2(c) ? influx_retention_apply_v2(c, days, err)
                           : influx_retention_apply_v1(c, days, err);
}
