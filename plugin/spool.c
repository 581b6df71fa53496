/* SPDX-License-Identifier: MIT */
#include "tokenmeter/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tokenmeter/log.h"
#include "tokenmeter/vec.h"

struct spool {
    char *dir;
    char **names; /* owned, each owned: the last scan, sorted */
    size_t nnames;
    size_t cap;
    int lock_fd; /* DIR itself, flock'ed by spool_lock(); -1 */
};

/* Creates path unless it exists as a directory. Returns 0 or -errno
 * (-ENOTDIR: something else has the name). */
static int spool_mkdir(const char *path, char err[ERR_MAX])
{
    struct stat st;
    /* group-writable (umask permitting): senders may write as a group */
    if (mkdir(path, 0770) == 0)
        return 0;
    int e = errno;
    if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (e == EEXIST)
        return err_set(err, -ENOTDIR, "spool: cannot create directory %s: %s", path,
                       "exists and is not a directory");
    return err_set(err, -e, "spool: cannot create directory %s: %s", path, strerror(e));
}

/* Formats DIR/SUB[/NAME] into out. Returns 0, or -ENAMETOOLONG. */
static int spool_path(const struct spool *sp, const char *sub, const char *name, char *out,
                      size_t cap)
{
    int n = name ? snprintf(out, cap, "%s/%s/%s", sp->dir, sub, name)
                 : snprintf(out, cap, "%s/%s", sp->dir, sub);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Moves an entry we cannot read out of DIR/new, keeping it for the
 * operator. */
static int spool_set_aside_from(struct spool *sp, const char *sub, const char *name,
                                const char *why)
{
    char from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX], err[ERR_MAX];
    if (spool_path(sp, sub, name, from, sizeof(from)) < 0 ||
        spool_path(sp, "bad", NULL, to, sizeof(to)) < 0)
        return -ENAMETOOLONG;
    if (spool_mkdir(to, err) < 0) {
        /* not its errno: -ENOENT and -EBADF mean "gone" and "set aside" to
         * spool_file_open()'s callers */
        log_error("%s", err);
        return -EIO;
    }
    if (spool_path(sp, "bad", name, to, sizeof(to)) < 0)
        return -ENAMETOOLONG;
    if (rename(from, to) < 0) {
        int e = errno;
        log_error("spool: %s is %s and cannot be moved to %s: %s", from, why, to, strerror(e));
        return -e;
    }
    log_warn("spool: %s is %s; moved to %s", from, why, to);
    return -EBADF;
}

static int spool_set_aside(struct spool *sp, const char *name, const char *why)
{
    return spool_set_aside_from(sp, "new", name, why);
}

/* A sender that died between writing DIR/tmp/NAME and renaming it leaves
 * the file there for good. As maildir readers do, such files are cleared
 * after a day and a half — moved to DIR/bad, with a warning, never deleted. */
#define SPOOL_TMP_MAX_AGE_S (36 * 3600)

static void spool_sweep_tmp(struct spool *sp)
{
    char dir[SPOOL_PATH_MAX], path[SPOOL_PATH_MAX];
    if (spool_path(sp, "tmp", NULL, dir, sizeof(dir)) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || spool_path(sp, "tmp", e->d_name, path, sizeof(path)) < 0 ||
            lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || now - st.st_mtime < SPOOL_TMP_MAX_AGE_S)
            continue;
        spool_set_aside_from(sp, "tmp", e->d_name,
                             "older than 36 hours and never moved to new/ (its sender died?)");
    }
    closedir(d);
}

int spool_open(const char *dir, struct spool **out, char err[ERR_MAX])
{
    char path[SPOOL_PATH_MAX];
    int rc = 0;
    *out = NULL;
    struct spool *sp = calloc(1, sizeof(*sp));
    if (sp)
        sp->lock_fd = -1;
    if (!sp || !(sp->dir = strdup(dir))) {
        rc = err_set(err, -ENOMEM, "spool: out of memory");
        goto fail;
    }
    /* Trailing slashes would double up in every path we print. */
    for (size_t n = strlen(sp->dir); n > 1 && sp->dir[n - 1] == '/'; n--)
        sp->dir[n - 1] = '\0';
    if ((rc = spool_mkdir(sp->dir, err)) < 0)
        goto fail;
    static const char *const subs[] = {"tmp", "new"};
    for (size_t i = 0; i < 2; i++) {
        if ((rc = spool_path(sp, subs[i], NULL, path, sizeof(path))) < 0) {
            err_set(err, rc, "spool: directory name too long");
            goto fail;
        }
        if ((rc = spool_mkdir(path, err)) < 0)
            goto fail;
    }
    spool_sweep_tmp(sp);
    *out = sp;
    return 0;
fail:
    spool_close(sp);
    return rc;
}

static void spool_forget(struct spool *sp)
{
    for (size_t i = 0; i < sp->nnames; i++)
        free(sp->names[i]);
    sp->nnames = 0;
}

int spool_lock(struct spool *sp, char err[ERR_MAX])
{
    sp->lock_fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->lock_fd < 0) {
        int e = errno;
        return err_set(err, -e, "spool: cannot open %s: %s", sp->dir, strerror(e));
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(sp->lock_fd);
        sp->lock_fd = -1;
        if (e != EWOULDBLOCK)
            return err_set(err, -e, "spool: cannot lock %s: %s", sp->dir, strerror(e));
        return err_set(err, -EBUSY,
                       "spool: %s is being drained by another tokenmeter; one reader at a time",
                       sp->dir);
    }
    return 0;
}

void spool_close(struct spool *sp)
{
    if (!sp)
        return;
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    spool_forget(sp);
    free(sp->names);
    free(sp->dir);
    free(sp);
}

static int spool_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long spool_scan(struct spool *sp)
{
    char path[SPOOL_PATH_MAX];
    long rc = 0;
    spool_forget(sp);
    if (spool_path(sp, "new", NULL, path, sizeof(path)) < 0)
        return -ENAMETOOLONG;
    DIR *d = opendir(path);
    if (!d) {
        rc = -errno;
        log_error("spool: cannot read %s: %s", path, strerror(errno));
        return rc;
    }
    struct dirent *de;
    errno = 0;
    while (sp->nnames < SPOOL_SCAN_MAX && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (vec_reserve(&sp->names, &sp->cap, sp->nnames + 1, sizeof(*sp->names)) < 0) {
            rc = -ENOMEM;
            goto out;
        }
        if (!(sp->names[sp->nnames] = strdup(de->d_name))) {
            rc = -ENOMEM;
            goto out;
        }
        sp->nnames++;
        errno = 0;
    }
    if (errno) {
        rc = -errno;
        log_error("spool: reading %s: %s", path, strerror(errno));
    }
out:
    closedir(d);
    if (rc < 0) {
        spool_forget(sp);
        return rc;
    }
    if (sp->nnames > 1) /* qsort wants a non-NULL base even for 0 items */
        qsort(sp->names, sp->nnames, sizeof(*sp->names), spool_cmp);
    return (long)sp->nnames;
}

const char *spool_name(const struct spool *sp, size_t i)
{
    return i < sp->nnames ? sp->names[i] : NULL;
}

int spool_file_open(struct spool *sp, const char *name, struct spool_file *f)
{
    struct stat st;
    f->fd = -1;
    if (spool_path(sp, "new", name, f->path, sizeof(f->path)) < 0) {
        log_error("spool: file name too long: %.200s", name);
        return -ENAMETOOLONG;
    }
    /* O_NONBLOCK: a FIFO dropped into the spool must not hang us. */
    int fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        if (e == ELOOP)
            return spool_set_aside(sp, name, "a symbolic link");
        if (e == EACCES)
            return spool_set_aside(sp, name, "not readable");
        log_error("spool: cannot open %s: %s", f->path, strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return spool_set_aside(sp, name, "not a regular file");
    }
    /* Back to blocking reads for a regular file (O_NONBLOCK has no effect on
     * them, but keep the descriptor plain). */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    f->fd = fd;
    f->size = st.st_size;
    f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

void spool_file_close(struct spool_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

int spool_remove(struct spool *sp, const char *name)
{
    char path[SPOOL_PATH_MAX];
    if (spool_path(sp, "new", name, path, sizeof(path)) < 0)
        return -ENAMETOOLONG;
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        log_msg_always(LOG_LEVEL_ERROR, "spool: cannot remove %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}
