/* SPDX-License-Identifier: MIT */
#include "tokenmeter/deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenmeter/base64.h"
#include "tokenmeter/body.h"
#include "tokenmeter/log.h"
#include "tokenmeter/map.h"
#include "tokenmeter/statedir.h"
#include "tokenmeter/timeutil.h"
#include "tokenmeter/vec.h"

/* A record holds the body plus its escaping: cap it generously above the
 * largest body the pipeline accepts (1 GiB max_body_bytes, base64 4/3). */
#define DEADLETTER_RECORD_MAX ((size_t)1536 * 1024 * 1024)

/* How every record is encoded: compact, one line, members in the order they
 * were added (docs/operations.md shows that order). jansson keeps UTF-8 as
 * it is and escapes only '"', '\\' and control characters. */
#define DEADLETTER_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

struct deadletter {
    int fd;         /* -1 while the file cannot be opened (records wait in `held`) */
    char *path;     /* owned */
    struct buf rec; /* the record being encoded */
    /* Whole records that could not be written yet, oldest first, each with
     * its newline; written before any newer record (deadletter.h). */
    struct buf held;
    size_t nheld;
    uint64_t failures;
};

/* A record too large to hold, being built in a private unlinked file. */
struct deadletter_stream {
    int fd;
    struct buf rec; /* encoded bytes not yet written to fd */
    struct base64_stream b64;
    size_t size;   /* body bytes appended */
    uint64_t hash; /* their FNV-1a-64 */
};

int deadletter_new(const char *path, struct deadletter **out, char err[ERR_MAX])
{
    *out = NULL;
    struct deadletter *dl = calloc(1, sizeof(*dl));
    if (!dl)
        return err_set(err, -ENOMEM, "out of memory");
    dl->fd = -1;
    buf_init(&dl->rec, DEADLETTER_RECORD_MAX);
    buf_init(&dl->held, DEADLETTER_HELD_MAX);
    if (!(dl->path = strdup(path))) {
        deadletter_close(dl);
        return err_set(err, -ENOMEM, "out of memory");
    }
    *out = dl;
    return 0;
}

/* A path given by mistake must not take records: the file where line
 * protocol goes (--dead-letter /dev/stdout would mix raw bodies into it),
 * /dev/null (every rejected body lost), or a file that is not text (the
 * summary store named twice: records appended to a SQLite file). A record
 * never holds a NUL byte. Returns 0, or -EINVAL with why in err. */
static int deadletter_refuse(int fd, const char *path, char err[ERR_MAX])
{
    struct stat st, other;
    if (fstat(fd, &st) < 0)
        return 0; /* the writes will say what is wrong */
    if (S_ISCHR(st.st_mode) && stat("/dev/null", &other) == 0 && st.st_rdev == other.st_rdev)
        return err_set(err, -EINVAL,
                       "cannot use dead-letter file %s: it is /dev/null, and rejected bodies "
                       "would be lost",
                       path);
    if (fstat(STDOUT_FILENO, &other) == 0 && st.st_dev == other.st_dev && st.st_ino == other.st_ino)
        return err_set(err, -EINVAL,
                       "cannot use dead-letter file %s: it is standard output, where the line "
                       "protocol goes",
                       path);
    if (!S_ISREG(st.st_mode) || st.st_size == 0)
        return 0;
    /* fd is write-only (a FIFO must keep open(2)'s meaning); read the same
     * file through the path, when this user may. */
    char head[512];
    ssize_t n = 0;
    int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (rfd >= 0 && fstat(rfd, &other) == 0 && other.st_dev == st.st_dev &&
        other.st_ino == st.st_ino)
        n = pread(rfd, head, sizeof(head), 0);
    if (rfd >= 0)
        close(rfd);
    if (n > 0 && memchr(head, '\0', (size_t)n))
        return err_set(err, -EINVAL,
                       "cannot use dead-letter file %s: it holds binary data (%s), not "
                       "dead-letter records; is it another file's path (the summary store)?",
                       path,
                       n >= 16 && memcmp(head, "SQLite format 3", 16) == 0 ? "a SQLite database"
                                                                           : "a NUL byte");
    return 0;
}

int deadletter_reopen(struct deadletter *dl, char err[ERR_MAX])
{
    int fd = statedir_open(dl->path, O_WRONLY | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        return err_set(err, -e, "cannot open dead-letter file %s: %s", dl->path, strerror(e));
    }
    int rc = deadletter_refuse(fd, dl->path, err);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    if (dl->fd >= 0)
        close(dl->fd);
    dl->fd = fd;
    return 0;
}

int deadletter_open(const char *path, struct deadletter **out, char err[ERR_MAX])
{
    int rc = deadletter_new(path, out, err);
    if (rc >= 0 && (rc = deadletter_reopen(*out, err)) < 0) {
        deadletter_close(*out);
        *out = NULL;
    }
    return rc;
}

void deadletter_close(struct deadletter *dl)
{
    if (!dl)
        return;
    if (dl->fd >= 0)
        close(dl->fd);
    buf_free(&dl->rec);
    buf_free(&dl->held);
    free(dl->path);
    free(dl);
}

const char *deadletter_path(const struct deadletter *dl)
{
    return dl->path;
}

/* The length of the UTF-8 sequence at p[i] (1 to 4), or 0 when it is not
 * one: a NUL byte, a truncated or overlong form, a surrogate or a value
 * past U+10FFFF. The same rules as jansson's, so that whatever passes here
 * jansson encodes. */
static size_t deadletter_utf8_seq(const unsigned char *p, size_t len, size_t i)
{
    unsigned char c = p[i];
    size_t n;
    uint32_t cp;
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 1;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len - i <= n) /* truncated sequence */
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if ((p[i + k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n + 1;
}

bool deadletter_is_text(const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0, n; i < len; i += n)
        if ((n = deadletter_utf8_seq(p, len, i)) == 0)
            return false;
    return true;
}

/* A jansson string of s, whose bytes that are not UTF-8 (a spool file's
 * name, a tag from a request header) each become U+FFFD: a record stays one
 * valid JSON line. New reference, or NULL when out of memory. */
static json_t *deadletter_text(const char *s)
{
    size_t len = strlen(s);
    if (deadletter_is_text(s, len))
        return json_stringn_nocheck(s, len);
    const unsigned char *p = (const unsigned char *)s;
    struct buf b;
    buf_init(&b, len * 3 + 1);
    for (size_t i = 0, n; i < len; i += n) {
        if ((n = deadletter_utf8_seq(p, len, i)) != 0) {
            buf_append(&b, s + i, n);
        } else {
            buf_puts(&b, "\xEF\xBF\xBD");
            n = 1;
        }
    }
    json_t *j = buf_error(&b) ? NULL : json_stringn_nocheck(b.data ? b.data : "", b.len);
    buf_free(&b);
    return j;
}

/* Adds key: s to obj when s is set (see deadletter_text). Returns 0 or
 * -ENOMEM. */
static int deadletter_set_text(json_t *obj, const char *key, const char *s)
{
    if (!s)
        return 0;
    return json_object_set_new(obj, key, deadletter_text(s)) < 0 ? -ENOMEM : 0;
}

static int deadletter_dump_cb(const char *p, size_t n, void *data)
{
    return buf_append(data, p, n) < 0 ? -1 : 0;
}

/* Appends jansson's encoding of json to out. Returns 0, out's error
 * (-ENOSPC, -ENOMEM), or -ENOMEM when jansson itself ran out. */
static int deadletter_dump(const json_t *json, size_t flags, struct buf *out)
{
    if (json_dump_callback(json, deadletter_dump_cb, out, flags) == 0)
        return 0;
    return buf_error(out) < 0 ? buf_error(out) : -ENOMEM;
}

int deadletter_json_string(struct buf *out, const char *s, size_t len)
{
    if (!deadletter_is_text(s, len))
        return -EINVAL;
    json_t *j = json_stringn_nocheck(s, len);
    int rc = j ? deadletter_dump(j, DEADLETTER_JSON_FLAGS | JSON_ENCODE_ANY, out) : -ENOMEM;
    json_decref(j);
    return rc;
}

/* The members every record starts with: time, reason and origin (if any).
 * New reference, or NULL when out of memory. */
static json_t *deadletter_head(const char *reason, const char *origin)
{
    char ts[40];
    timeutil_format_rfc3339(timeutil_now_ns(), ts, sizeof(ts));
    /* Reasons may quote input; keep them valid JSON whatever they hold. */
    if (!deadletter_is_text(reason, strlen(reason)))
        reason = "(reason not valid UTF-8)";
    json_t *rec = json_pack("{s:s, s:s}", "time", ts, "reason", reason);
    if (rec && deadletter_set_text(rec, "origin", origin) < 0) {
        json_decref(rec);
        rec = NULL;
    }
    return rec;
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

/* Appends n bytes whole or not at all: the exclusive lock keeps records of
 * several processes (execd, process, replay) from interleaving, and a write
 * that fails part-way (a full disk) is cut back to where it started, so the
 * next record never lands glued to half of this one. */
static int deadletter_append_whole(int fd, const char *p, size_t n)
{
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -errno;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc >= 0 && (rc = deadletter_write_all(fd, p, n)) < 0 && S_ISREG(st.st_mode)) {
        int trc = ftruncate(fd, st.st_size);
        (void)trc; /* nothing better to do: the reader resynchronises */
    }
    flock(fd, LOCK_UN);
    return rc;
}

/* A file removed under us (rm, a careless rotation) still takes writes
 * that nobody will ever read: open the path again first. Returns 0 or the
 * errno of the reopen. */
static int deadletter_check_file(struct deadletter *dl)
{
    struct stat st;
    if (dl->fd >= 0 && fstat(dl->fd, &st) == 0 && st.st_nlink > 0)
        return 0;
    char err[ERR_MAX];
    return deadletter_reopen(dl, err);
}

/* Writes the held records, oldest first, as far as the file takes them.
 * Returns 0 when none is left held, or the error that stopped it. */
static int deadletter_write_held(struct deadletter *dl)
{
    int rc = 0;
    while (dl->nheld) {
        const char *nl = memchr(dl->held.data, '\n', dl->held.len);
        size_t n = (size_t)(nl - dl->held.data) + 1;
        if ((rc = deadletter_append_whole(dl->fd, dl->held.data, n)) < 0)
            return rc;
        buf_consume(&dl->held, n);
        dl->nheld--;
    }
    return 0;
}

int deadletter_retry(struct deadletter *dl)
{
    if (!dl->nheld)
        return 0;
    size_t before = dl->nheld;
    int rc = deadletter_check_file(dl);
    if (rc >= 0)
        rc = deadletter_write_held(dl);
    if (dl->nheld < before && !dl->nheld)
        log_msg_always(LOG_LEVEL_INFO,
                       "dead-letter file %s writable again: %zu held records written", dl->path,
                       before);
    return rc;
}

/* Appends the record in dl->rec, or holds it when the file refuses it. */
static int deadletter_flush(struct deadletter *dl)
{
    int rc = deadletter_check_file(dl);
    if (rc >= 0)
        rc = deadletter_write_held(dl);
    if (rc >= 0 && (rc = deadletter_append_whole(dl->fd, dl->rec.data, dl->rec.len)) >= 0)
        goto out;
    dl->failures++;
    if (buf_append(&dl->held, dl->rec.data, dl->rec.len) < 0) {
        log_msg_always(LOG_LEVEL_ERROR,
                       "cannot write dead-letter file %s: %s; %zu records already held in memory "
                       "(%zu bytes, the most there is room for)",
                       dl->path, strerror(-rc), dl->nheld, dl->held.len);
        dl->held.err = 0; /* what is held stays; only this record could not be */
        goto out;
    }
    dl->nheld++;
    log_error("cannot write dead-letter file %s: %s; the record is held in memory and retried "
              "(%zu held)",
              dl->path, strerror(-rc), dl->nheld);
    rc = 0;
out:
    buf_reset(&dl->rec);
    return rc;
}

size_t deadletter_held(const struct deadletter *dl)
{
    return dl->nheld;
}

uint64_t deadletter_failures(const struct deadletter *dl)
{
    return dl->failures;
}

int deadletter_write(struct deadletter *dl, const char *reason, const char *origin,
                     const void *data, size_t len)
{
    return deadletter_write_meta(dl, reason, origin, NULL, data, len);
}

/* The body's JSON string: the body itself when it is text, else its base64
 * text (dl->rec is the scratch space for it). New reference, or NULL with
 * the reason in *rc (-ENOMEM, -ENOSPC). */
static json_t *deadletter_body(struct deadletter *dl, const void *data, size_t len, bool text,
                               int *rc)
{
    json_t *j;
    if (text) {
        j = json_stringn_nocheck(data, len);
    } else {
        buf_reset(&dl->rec);
        if ((*rc = base64_encode(&dl->rec, data, len)) < 0)
            return NULL;
        j = json_stringn_nocheck(dl->rec.data ? dl->rec.data : "", dl->rec.len);
        buf_reset(&dl->rec);
    }
    *rc = j ? 0 : -ENOMEM;
    return j;
}

int deadletter_write_meta(struct deadletter *dl, const char *reason, const char *origin,
                          const struct deadletter_meta *meta, const void *data, size_t len)
{
    int rc = -ENOMEM;
    json_t *rec = deadletter_head(reason, origin);
    if (!rec)
        goto out;
    bool text = deadletter_is_text(data, len);
    json_t *body = deadletter_body(dl, data, len, text, &rc);
    if (!body)
        goto out;
    rc = -ENOMEM;
    if (json_object_set_new(rec, text ? "raw" : "raw_base64", body) < 0)
        goto out;
    if (meta) {
        if (deadletter_set_text(rec, "kind", meta->kind) < 0 ||
            deadletter_set_text(rec, "org", meta->org) < 0 ||
            deadletter_set_text(rec, "team", meta->team) < 0 ||
            deadletter_set_text(rec, "user", meta->user) < 0)
            goto out;
        if (meta->received_ns >= 0 &&
            json_object_set_new(rec, "received_ns", json_integer(meta->received_ns)) < 0)
            goto out;
        if (deadletter_set_text(rec, "elements", meta->elements) < 0)
            goto out;
    }
    buf_reset(&dl->rec);
    rc = deadletter_dump(rec, DEADLETTER_JSON_FLAGS, &dl->rec);
    buf_putc(&dl->rec, '\n');
    if (rc >= 0)
        rc = buf_error(&dl->rec);
    if (rc >= 0)
        rc = deadletter_flush(dl);
out:
    buf_reset(&dl->rec);
    json_decref(rec);
    return rc;
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
    int rc = buf_error(&st->rec);
    if (rc >= 0)
        rc = deadletter_write_all(st->fd, st->rec.data, st->rec.len);
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
    int rc;
    json_t *head = NULL;
    *out = NULL;
    struct deadletter_stream *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    buf_init(&st->rec, 1024 * 1024);
    base64_stream_init(&st->b64);
    st->hash = MAP_HASH_INIT;
    if ((st->fd = deadletter_stream_file(dl)) < 0) {
        rc = st->fd;
        goto out;
    }
    /* The head is jansson's encoding of the same members a held record
     * starts with, its closing brace taken off: the two kinds of record
     * differ only in how the body reaches the file. */
    rc = -ENOMEM;
    if (!(head = deadletter_head(reason, origin)))
        goto out;
    if ((rc = deadletter_dump(head, DEADLETTER_JSON_FLAGS, &st->rec)) < 0)
        goto out;
    buf_truncate(&st->rec, st->rec.len - 1); /* the '}' */
    buf_puts(&st->rec, ",\"raw_base64\":\"");
    if ((rc = deadletter_stream_spill(st)) < 0)
        goto out;
    *out = st;
    st = NULL;
out:
    json_decref(head);
    deadletter_stream_free(st);
    return rc;
}

int deadletter_stream_append(struct deadletter_stream *st, const void *data, size_t len)
{
    /* Only a prefix is kept; the size and hash still cover every byte. */
    st->hash = map_hash(st->hash, data, len);
    size_t keep = st->size < DEADLETTER_PREFIX_MAX ? DEADLETTER_PREFIX_MAX - st->size : 0;
    st->size += len;
    if (len > keep)
        len = keep;
    /* in slices, so the encoded text stays within the buffer's cap */
    const char *p = data;
    while (len) {
        size_t n = len < 512 * 1024 ? len : 512 * 1024;
        base64_stream_feed(&st->b64, &st->rec, p, n);
        int rc = deadletter_stream_spill(st);
        if (rc < 0)
            return rc;
        p += n;
        len -= n;
    }
    return 0;
}

/* Copies the rest of fd to the end of the dead-letter file, whole or not at
 * all (see deadletter_append_whole). */
static int deadletter_append_file(int dfd, int fd)
{
    while (flock(dfd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -errno;
    struct stat st;
    int rc = fstat(dfd, &st) < 0 ? -errno : 0;
    char chunk[65536];
    ssize_t n;
    while (rc >= 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0)
            rc = errno == EINTR ? 0 : -errno;
        else
            rc = deadletter_write_all(dfd, chunk, (size_t)n);
    }
    if (rc < 0 && S_ISREG(st.st_mode)) {
        int trc = ftruncate(dfd, st.st_size);
        (void)trc;
    }
    flock(dfd, LOCK_UN);
    return rc;
}

int deadletter_stream_end(struct deadletter *dl, struct deadletter_stream *st)
{
    base64_stream_finish(&st->b64, &st->rec);
    if (st->size > DEADLETTER_PREFIX_MAX)
        buf_printf(&st->rec, "\",\"raw_size\":%zu,\"raw_fnv1a64\":\"%016llx\"}\n", st->size,
                   (unsigned long long)st->hash);
    else
        buf_puts(&st->rec, "\"}\n");
    int rc = deadletter_stream_spill(st);
    if (rc >= 0 && lseek(st->fd, 0, SEEK_SET) < 0)
        rc = -errno;
    if (rc >= 0)
        rc = deadletter_check_file(dl);
    if (rc >= 0)
        rc = deadletter_write_held(dl);
    if (rc >= 0)
        rc = deadletter_append_file(dl->fd, st->fd);
    if (rc < 0)
        dl->failures++;
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
    size_t len;    /* of the line */
    size_t resume; /* > 0: a record glued after a cut one starts here in line */
    long lineno;
    struct deadletter_meta meta; /* of the last record; strings point into owned[] */
    char *owned[5];              /* org, team, user, kind, elements */
};

static void deadletter_meta_clear(struct deadletter_reader *r)
{
    for (size_t i = 0; i < sizeof(r->owned) / sizeof(r->owned[0]); i++) {
        free(r->owned[i]);
        r->owned[i] = NULL;
    }
    r->meta.org = r->meta.team = r->meta.user = r->meta.kind = r->meta.elements = NULL;
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

int deadletter_reader_open(const char *path, struct deadletter_reader **out, char err[ERR_MAX])
{
    *out = NULL;
    struct deadletter_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return err_set(err, -ENOMEM, "out of memory");
    r->meta.received_ns = -1;
    r->fp = fopen(path, "r");
    if (!r->fp) {
        int e = errno;
        free(r);
        return err_set(err, -e, "cannot open %s: %s", path, strerror(e));
    }
    *out = r;
    return 0;
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

/* Reads the next line (with its newline) into r->line, NUL-terminated,
 * and counts it. A line over max bytes is read through to its end without
 * being held (replay stays within its memory whatever the file holds) and
 * gives -E2BIG. Byte by byte, so that a stray NUL cannot hide a newline.
 * Returns the length, 0 at end of file, -ENOMEM or -errno. */
static ssize_t deadletter_read_line(struct deadletter_reader *r, size_t max)
{
    size_t len = 0;
    bool any = false, over = false;
    int ch;
    errno = 0;
    while ((ch = getc_unlocked(r->fp)) != EOF) {
        any = true;
        if (!over && len + 2 > r->cap &&
            vec_reserve(&r->line, &r->cap, len + 2 < 65536 ? 65536 : len + 2, 1) < 0)
            return -ENOMEM;
        if (!over)
            r->line[len++] = (char)ch;
        over = over || len > max;
        if (ch == '\n')
            break;
    }
    if (ch == EOF && ferror(r->fp))
        return errno ? -errno : -EIO;
    if (!any)
        return 0;
    r->lineno++;
    if (over)
        return -E2BIG;
    r->line[len] = '\0';
    return (ssize_t)len;
}

/* Where, after the start of a line that is not a record, the next record
 * begins: a record cut short (a crash in the middle of a write, or a file
 * written before records were cut back on a failed write) has the next
 * record glued to it. Inside a record '{"time":"' cannot occur (its quotes
 * would be escaped), so it marks a record's start. 0 when there is none. */
static size_t deadletter_glued(const char *line, size_t len, size_t from)
{
    static const char mark[] = "{\"time\":\"";
    for (size_t i = from + 1; i + sizeof(mark) - 1 <= len; i++)
        if (line[i] == '{' && memcmp(line + i, mark, sizeof(mark) - 1) == 0)
            return i;
    return 0;
}

/* The next line that is not blank into r->line (r->len), at most max
 * bytes (a longer one is skipped, -EINVAL). Returns 1, 0 at end of file,
 * or -errno with err set. */
static int deadletter_reader_line(struct deadletter_reader *r, size_t max, char err[ERR_MAX])
{
    ssize_t n;
    do {
        n = deadletter_read_line(r, max);
        if (n == -E2BIG)
            return err_set(err, -EINVAL, "line %ld: record larger than %zu bytes, skipped",
                           r->lineno, max);
        if (n == -ENOMEM)
            return err_set(err, -ENOMEM, "out of memory");
        if (n < 0)
            return err_set(err, (int)n, "read error: %s", strerror((int)-n));
        if (n == 0)
            return 0;
    } while (n == 1 && r->line[0] == '\n');
    r->len = (size_t)n;
    return 1;
}

int deadletter_reader_next(struct deadletter_reader *r, struct buf *raw, struct buf *reason,
                           char err[ERR_MAX])
{
    struct body *b = NULL;
    int rc = -EINVAL;
    buf_reset(raw);
    buf_reset(reason);
    deadletter_meta_clear(r);
    /* A record holds at most twice its body as escaped text (4/3 as
     * base64), plus its other members. */
    size_t max = raw->max > (SIZE_MAX - 65536) / 2 ? SIZE_MAX / 2 : raw->max * 2 + 65536;
    size_t at = r->resume;
    r->resume = 0;
    if (!at && (rc = deadletter_reader_line(r, max, err)) <= 0)
        return rc;
    rc = -EINVAL;
    char perr[ERR_MAX];
    int prc = body_parse(r->line + at, r->len - at, &b, perr);
    if (prc == -ENOMEM) {
        rc = err_set(err, prc, "out of memory");
        goto out;
    }
    if (prc < 0) {
        size_t next = deadletter_glued(r->line, r->len, at);
        if (next) {
            r->resume = next;
            err_set(err, rc,
                    "line %ld: a record cut short (%zu bytes), skipped; the record glued to it "
                    "is read next",
                    r->lineno, next - at);
        } else {
            err_set(err, rc, "line %ld: not a dead-letter record: %.900s", r->lineno, perr);
        }
        goto out;
    }
    const struct body_node *root = body_root(b);
    const char *why = body_str(root, "/reason");
    int64_t received = -1;
    if (body_int(root, "/received_ns", &received) == 0 && received >= 0)
        r->meta.received_ns = received;
    if (deadletter_meta_str(root, "/org", &r->owned[0], &r->meta.org) < 0 ||
        deadletter_meta_str(root, "/team", &r->owned[1], &r->meta.team) < 0 ||
        deadletter_meta_str(root, "/user", &r->owned[2], &r->meta.user) < 0 ||
        deadletter_meta_str(root, "/kind", &r->owned[3], &r->meta.kind) < 0 ||
        deadletter_meta_str(root, "/elements", &r->owned[4], &r->meta.elements) < 0) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    const struct body_node *text = body_get(root, "/raw");
    const char *b64 = body_str(root, "/raw_base64");
    if (why)
        buf_puts(reason, why);
    int64_t size = 0;
    if (body_count(root, "/raw_size", &size) == 0) {
        err_set(err, rc,
                "line %ld: holds only the first bytes of a %" PRId64
                "-byte body (over max_body_bytes when received): not replayable",
                r->lineno, size);
        goto out;
    }
    if (body_type(text) == BODY_STRING) {
        buf_puts(raw, body_str(root, "/raw"));
    } else if (b64) {
        if (base64_decode(raw, b64, strlen(b64)) == -EINVAL) {
            err_set(err, rc, "line %ld: raw_base64 is not valid base64", r->lineno);
            goto out;
        }
    } else {
        err_set(err, rc, "line %ld: record has neither raw nor raw_base64", r->lineno);
        goto out;
    }
    rc = buf_error(raw) < 0 ? buf_error(raw) : buf_error(reason);
    if (rc == -ENOSPC) /* reported like a malformed record: reading goes on */
        rc = err_set(err, -EINVAL, "line %ld: record larger than %zu bytes, skipped", r->lineno,
                     raw->max);
    else if (rc < 0)
        err_set(err, rc, "out of memory");
    else
        rc = 1;
out:
    body_free(b);
    return rc;
}
