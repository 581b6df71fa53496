/* SPDX-License-Identifier: MIT */
#include "tokenmeter/deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/base64.h"
#include "tokenmeter/body.h"
#include "tokenmeter/timeutil.h"

/* A record holds the body plus its escaping: cap it generously above the
 * largest body the pipeline accepts (1 GiB max_body_bytes, base64 4/3). */
#define DEADLETTER_RECORD_MAX ((size_t)1536 * 1024 * 1024)

struct deadletter {
    int fd;
    char *path;
    struct buf rec;
};

/* A record too large to hold, being built in a private unlinked file. */
struct deadletter_stream {
    int fd;
    struct buf rec; /* encoded bytes not yet written to fd */
    struct base64_stream b64;
};

struct deadletter *deadletter_open(const char *path, char err[ERR_MAX])
{
    struct deadletter *dl = calloc(1, sizeof(*dl));
    if (!dl) {
        snprintf(err, ERR_MAX, "out of memory");
        return NULL;
    }
    dl->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (dl->fd < 0) {
        snprintf(err, ERR_MAX, "cannot open dead-letter file %s: %s", path, strerror(errno));
        free(dl);
        return NULL;
    }
    dl->path = strdup(path);
    buf_init(&dl->rec, DEADLETTER_RECORD_MAX);
    if (!dl->path) {
        snprintf(err, ERR_MAX, "out of memory");
        deadletter_close(dl);
        return NULL;
    }
    return dl;
}

void deadletter_close(struct deadletter *dl)
{
    if (!dl)
        return;
    if (dl->fd >= 0)
        close(dl->fd);
    buf_free(&dl->rec);
    free(dl->path);
    free(dl);
}

const char *deadletter_path(const struct deadletter *dl)
{
    return dl->path;
}

bool deadletter_is_text(const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) /* truncated sequence */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        i += n + 1;
    }
    return true;
}

int deadletter_json_string(struct buf *out, const char *s, size_t len)
{
    int rc = buf_putc(out, '"');
    for (size_t i = 0; rc >= 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            rc = buf_puts(out, "\\\"");
            break;
        case '\\':
            rc = buf_puts(out, "\\\\");
            break;
        case '\n':
            rc = buf_puts(out, "\\n");
            break;
        case '\r':
            rc = buf_puts(out, "\\r");
            break;
        case '\t':
            rc = buf_puts(out, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                rc = buf_printf(out, "\\u%04x", c);
            else
                rc = buf_putc(out, (char)c);
        }
    }
    if (rc >= 0)
        rc = buf_putc(out, '"');
    return rc;
}

static int deadletter_head(struct buf *rec, const char *reason, const char *origin)
{
    char ts[40];
    timeutil_format_rfc3339(timeutil_now_ns(), ts, sizeof(ts));
    buf_reset(rec);
    int rc = buf_printf(rec, "{\"time\":\"%s\",\"reason\":", ts);
    /* Reasons may quote input; keep them valid JSON whatever they hold. */
    size_t rl = strlen(reason);
    if (rc >= 0) {
        if (deadletter_is_text(reason, rl))
            rc = deadletter_json_string(rec, reason, rl);
        else
            rc = buf_puts(rec, "\"(reason not valid UTF-8)\"");
    }
    if (rc >= 0 && origin) {
        rc = buf_puts(rec, ",\"origin\":");
        if (rc >= 0)
            rc = deadletter_json_string(rec, origin, strlen(origin));
    }
    return rc;
}

/* Writes all n bytes; a short write is continued, EINTR retried. */
static int deadletter_write_all(int fd, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Appends the record in dl->rec. The exclusive lock keeps records whole
 * when several processes (execd, process, replay) share the file. */
static int deadletter_flush(struct deadletter *dl)
{
    while (flock(dl->fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -errno;
    int rc = deadletter_write_all(dl->fd, dl->rec.data, dl->rec.len);
    flock(dl->fd, LOCK_UN);
    buf_reset(&dl->rec);
    return rc;
}

/* Appends ,"KEY":"value" when value is set. */
static int deadletter_field(struct buf *b, const char *key, const char *value)
{
    if (!value)
        return 0;
    int rc = buf_printf(b, ",\"%s\":", key);
    return rc < 0 ? rc : deadletter_json_string(b, value, strlen(value));
}

int deadletter_write(struct deadletter *dl, const char *reason, const char *origin,
                     const void *data, size_t len)
{
    return deadletter_write_meta(dl, reason, origin, NULL, data, len);
}

int deadletter_write_meta(struct deadletter *dl, const char *reason, const char *origin,
                          const struct deadletter_meta *meta, const void *data, size_t len)
{
    int rc = deadletter_head(&dl->rec, reason, origin);
    if (rc >= 0) {
        if (deadletter_is_text(data, len)) {
            rc = buf_puts(&dl->rec, ",\"raw\":");
            if (rc >= 0)
                rc = deadletter_json_string(&dl->rec, data, len);
        } else {
            rc = buf_puts(&dl->rec, ",\"raw_base64\":\"");
            if (rc >= 0)
                rc = base64_encode(&dl->rec, data, len);
            if (rc >= 0)
                rc = buf_putc(&dl->rec, '"');
        }
    }
    if (rc >= 0 && meta) {
        rc = deadletter_field(&dl->rec, "org", meta->org);
        if (rc >= 0)
            rc = deadletter_field(&dl->rec, "team", meta->team);
        if (rc >= 0)
            rc = deadletter_field(&dl->rec, "user", meta->user);
        if (rc >= 0 && meta->received_ns >= 0)
            rc = buf_printf(&dl->rec, ",\"received_ns\":%lld", (long long)meta->received_ns);
    }
    if (rc >= 0)
        rc = buf_puts(&dl->rec, "}\n");
    if (rc < 0) {
        buf_reset(&dl->rec);
        return rc;
    }
    return deadletter_flush(dl);
}

/* A streamed record is built in a private, already unlinked file next to
 * the dead-letter file and appended whole at the end, so records written
 * meanwhile (a spool file rejected while a huge stdin line is still
 * arriving) never land inside it. Each stream is its own, so several can be
 * open at once. */
static int deadletter_stream_file(const struct deadletter *dl)
{
    size_t n = strlen(dl->path) + sizeof(".partial.XXXXXX");
    char *tmpl = malloc(n);
    if (!tmpl)
        return -ENOMEM;
    snprintf(tmpl, n, "%s.partial.XXXXXX", dl->path);
    int fd = mkstemp(tmpl);
    if (fd >= 0)
        unlink(tmpl);
    free(tmpl);
    if (fd >= 0)
        return fd;
    FILE *fp = tmpfile(); /* the dead-letter directory refused: try TMPDIR */
    if (!fp)
        return -errno;
    fd = dup(fileno(fp));
    fclose(fp);
    return fd < 0 ? -errno : fd;
}

static int deadletter_stream_spill(struct deadletter_stream *st)
{
    int rc = deadletter_write_all(st->fd, st->rec.data, st->rec.len);
    buf_reset(&st->rec);
    return rc;
}

void deadletter_stream_free(struct deadletter_stream *st)
{
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd); /* already unlinked: nothing is left behind */
    buf_free(&st->rec);
    free(st);
}

int deadletter_stream_begin(struct deadletter *dl, const char *reason, const char *origin,
                            struct deadletter_stream **out)
{
    struct deadletter_stream *st = calloc(1, sizeof(*st));
    *out = NULL;
    if (!st)
        return -ENOMEM;
    buf_init(&st->rec, 1024 * 1024);
    base64_stream_init(&st->b64);
    st->fd = deadletter_stream_file(dl);
    int rc = st->fd < 0 ? st->fd : deadletter_head(&st->rec, reason, origin);
    if (rc >= 0)
        rc = buf_puts(&st->rec, ",\"raw_base64\":\"");
    if (rc >= 0)
        rc = deadletter_stream_spill(st);
    if (rc < 0) {
        deadletter_stream_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int deadletter_stream_append(struct deadletter_stream *st, const void *data, size_t len)
{
    /* in slices, so the encoded text stays within the buffer's cap */
    const char *p = data;
    while (len) {
        size_t n = len < 512 * 1024 ? len : 512 * 1024;
        int rc = base64_stream_feed(&st->b64, &st->rec, p, n);
        if (rc >= 0)
            rc = deadletter_stream_spill(st);
        if (rc < 0)
            return rc;
        p += n;
        len -= n;
    }
    return 0;
}

int deadletter_stream_end(struct deadletter *dl, struct deadletter_stream *st)
{
    int rc = base64_stream_finish(&st->b64, &st->rec);
    if (rc >= 0)
        rc = buf_puts(&st->rec, "\"}\n");
    if (rc >= 0)
        rc = deadletter_stream_spill(st);
    if (rc >= 0 && lseek(st->fd, 0, SEEK_SET) < 0)
        rc = -errno;
    if (rc >= 0) {
        while (flock(dl->fd, LOCK_EX) < 0 && errno == EINTR)
            ;
        char chunk[65536];
        ssize_t n;
        while (rc >= 0 && (n = read(st->fd, chunk, sizeof(chunk))) != 0) {
            if (n < 0)
                rc = errno == EINTR ? 0 : -errno;
            else
                rc = deadletter_write_all(dl->fd, chunk, (size_t)n);
        }
        flock(dl->fd, LOCK_UN);
    }
    deadletter_stream_free(st);
    return rc;
}

static void deadletter_fd_identity(int fd, dev_t *dev, ino_t *ino)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        *dev = st.st_dev;
        *ino = st.st_ino;
    } else {
        *dev = 0;
        *ino = 0;
    }
}

void deadletter_identity(const struct deadletter *dl, dev_t *dev, ino_t *ino)
{
    deadletter_fd_identity(dl->fd, dev, ino);
}

struct deadletter_reader {
    FILE *fp;
    char *line;
    size_t cap;
    long lineno;
    struct deadletter_meta meta; /* of the last record; strings point into owned[] */
    char *owned[3];              /* org, team, user */
};

static void deadletter_meta_clear(struct deadletter_reader *r)
{
    for (size_t i = 0; i < sizeof(r->owned) / sizeof(r->owned[0]); i++) {
        free(r->owned[i]);
        r->owned[i] = NULL;
    }
    r->meta.org = r->meta.team = r->meta.user = NULL;
    r->meta.received_ns = -1;
}

const struct deadletter_meta *deadletter_reader_meta(const struct deadletter_reader *r)
{
    return &r->meta;
}

/* Copies an optional string member of the record; -ENOMEM on failure. */
static int deadletter_meta_str(const struct body_node *root, const char *ptr, char **owned,
                               const char **out)
{
    const char *v = body_str_nonempty(root, ptr);
    if (!v)
        return 0;
    *owned = strdup(v);
    *out = *owned;
    return *owned ? 0 : -ENOMEM;
}

struct deadletter_reader *deadletter_reader_open(const char *path, char err[ERR_MAX])
{
    struct deadletter_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, ERR_MAX, "out of memory");
        return NULL;
    }
    r->meta.received_ns = -1;
    r->fp = fopen(path, "r");
    if (!r->fp) {
        snprintf(err, ERR_MAX, "cannot open %s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    return r;
}

void deadletter_reader_identity(const struct deadletter_reader *r, dev_t *dev, ino_t *ino)
{
    deadletter_fd_identity(fileno(r->fp), dev, ino);
}

void deadletter_reader_close(struct deadletter_reader *r)
{
    if (!r)
        return;
    if (r->fp)
        fclose(r->fp);
    free(r->line);
    deadletter_meta_clear(r);
    free(r);
}

int deadletter_reader_next(struct deadletter_reader *r, struct buf *raw, struct buf *reason,
                           char err[ERR_MAX])
{
    struct body *b = NULL;
    int rc = -EINVAL;
    buf_reset(raw);
    buf_reset(reason);
    deadletter_meta_clear(r);
    ssize_t n;
    do {
        errno = 0;
        n = getline(&r->line, &r->cap, r->fp);
        if (n < 0) {
            if (errno) {
                snprintf(err, ERR_MAX, "read error: %s", strerror(errno));
                return -errno;
            }
            return 0;
        }
        r->lineno++;
    } while (n == 0 || (n == 1 && r->line[0] == '\n'));
    char perr[ERR_MAX];
    if (body_parse(r->line, (size_t)n, &b, perr) < 0) {
        snprintf(err, ERR_MAX, "line %ld: not a dead-letter record: %.900s", r->lineno, perr);
        goto out;
    }
    const struct body_node *root = body_root(b);
    const char *why = body_str(root, "/reason");
    int64_t received = -1;
    if (body_int(root, "/received_ns", &received) == 0 && received >= 0)
        r->meta.received_ns = received;
    if (deadletter_meta_str(root, "/org", &r->owned[0], &r->meta.org) < 0 ||
        deadletter_meta_str(root, "/team", &r->owned[1], &r->meta.team) < 0 ||
        deadletter_meta_str(root, "/user", &r->owned[2], &r->meta.user) < 0) {
        snprintf(err, ERR_MAX, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    const struct body_node *text = body_get(root, "/raw");
    const char *b64 = body_str(root, "/raw_base64");
    if (why && buf_puts(reason, why) < 0)
        goto too_large;
    if (body_type(text) == BODY_STRING) {
        const char *s = body_str(root, "/raw");
        if (buf_puts(raw, s) < 0)
            goto too_large;
    } else if (b64) {
        int drc = base64_decode(raw, b64, strlen(b64));
        if (drc == -ENOSPC)
            goto too_large;
        if (drc < 0) {
            snprintf(err, ERR_MAX, "line %ld: raw_base64 is not valid base64", r->lineno);
            goto out;
        }
    } else {
        snprintf(err, ERR_MAX, "line %ld: record has neither raw nor raw_base64", r->lineno);
        goto out;
    }
    rc = 1;
    goto out;
too_large:
    /* Reported like a malformed record, so the reader goes on with the next. */
    snprintf(err, ERR_MAX, "line %ld: record larger than %zu bytes, skipped", r->lineno, raw->max);
    rc = -EINVAL;
out:
    body_free(b);
    return rc;
}
