/* SPDX-License-Identifier: MIT */
/* renameat2(RENAME_NOREPLACE): glibc declares it for _GNU_SOURCE only. */
#define _GNU_SOURCE
#include "tokenmeter/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tokenmeter/log.h"
#include "tokenmeter/statedir.h"
#include "tokenmeter/vec.h"

/* The parts of a spool, each held open by descriptor once checked: a sender
 * who may write DIR can rename a part away and put a symbolic link (or a
 * directory of its own) in its place, but the descriptors keep pointing at
 * the directories that were checked, and every file is reached relative to
 * them (openat, renameat2, unlinkat) with O_NOFOLLOW. */
enum { SPOOL_TMP, SPOOL_NEW, SPOOL_BAD, SPOOL_NPARTS };
static const char *const spool_parts[SPOOL_NPARTS] = {"tmp", "new", "bad"};

struct spool {
    char *dir;
    char **names; /* owned, each owned: the last scan, sorted */
    size_t nnames;
    size_t cap;
    int dir_fd;              /* DIR itself; flock'ed by spool_lock() */
    int fds[SPOOL_NPARTS];   /* DIR/tmp, DIR/new, DIR/bad */
    unsigned long set_aside; /* entries moved to bad/ by this process */
};

/* Formats DIR/SUB[/NAME] into out, for messages and records. */
static void spool_path(const struct spool *sp, int part, const char *name, char *out, size_t cap)
{
    if (name)
        snprintf(out, cap, "%s/%s/%s", sp->dir, spool_parts[part], name);
    else
        snprintf(out, cap, "%s/%s", sp->dir, spool_parts[part]);
}

/* Opens DIR/part (creating it, mode 0770 less the umask: senders may write
 * as a group) and checks that it is a directory of ours: not a symbolic
 * link, owned by whoever owns DIR or by us. Returns 0 or -errno with err
 * set (-ENOTDIR: the name is something else, or not owned as expected). */
static int spool_open_part(struct spool *sp, int part, uid_t owner, char err[ERR_MAX])
{
    char path[SPOOL_PATH_MAX];
    struct stat st;
    spool_path(sp, part, NULL, path, sizeof(path));
    bool made = mkdirat(sp->dir_fd, spool_parts[part], 0770) == 0;
    if (!made && errno != EEXIST) {
        int e = errno;
        return err_set(err, -e, "spool: cannot create directory %s: %s", path, strerror(e));
    }
    int fd = openat(sp->dir_fd, spool_parts[part], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP || e == ENOTDIR)
            return err_set(err, -ENOTDIR,
                           "spool: %s is not a directory (a symbolic link?); refusing the spool",
                           path);
        return err_set(err, -e, "spool: cannot open %s: %s", path, strerror(e));
    }
    if (made) /* made by root: DIR's owner's, as the senders' own parts are */
        statedir_adopt(fd, path);
    /* root's directories are trusted too: no sender can make one */
    if (fstat(fd, &st) < 0 || (st.st_uid != owner && st.st_uid != geteuid() && st.st_uid != 0)) {
        close(fd);
        return err_set(err, -ENOTDIR,
                       "spool: %s is owned by uid %lu, not by the spool's owner (uid %lu), this "
                       "user or root; refusing the spool",
                       path, (unsigned long)st.st_uid, (unsigned long)owner);
    }
    sp->fds[part] = fd;
    return 0;
}

/* Moves an entry we cannot read from DIR/`from` to DIR/bad, under its own
 * name or, when bad/ already has that name, under NAME.N: nothing there is
 * ever replaced. Returns -EBADF ("set aside") even when the move failed
 * (logged): one odd entry must never stop the spool. */
static int spool_set_aside_from(struct spool *sp, int from, const char *name, const char *why)
{
    char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX], to[NAME_MAX + 1];
    spool_path(sp, from, name, src, sizeof(src));
    int rc = -1;
    snprintf(to, sizeof(to), "%s", name);
    for (unsigned i = 1; i <= 1000; i++) {
        rc = renameat2(sp->fds[from], name, sp->fds[SPOOL_BAD], to, RENAME_NOREPLACE);
        if (rc == 0 || errno != EEXIST)
            break;
        /* a sender's name, a time and our count: unique unless bad/ is
         * being filled against us, which the bound ends */
        snprintf(to, sizeof(to), "%.200s.%lld.%ld.%lu", name, (long long)time(NULL), (long)getpid(),
                 ++sp->set_aside);
    }
    spool_path(sp, SPOOL_BAD, to, dst, sizeof(dst));
    if (rc < 0) {
        log_error("spool: %s is %s and cannot be moved to %s: %s; left where it is", src, why, dst,
                  strerror(errno));
        return -EBADF;
    }
    log_warn("spool: %s is %s; moved to %s", src, why, dst);
    return -EBADF;
}

static int spool_set_aside(struct spool *sp, const char *name, const char *why)
{
    return spool_set_aside_from(sp, SPOOL_NEW, name, why);
}

/* A directory stream over a part, from the start (fdopendir takes the
 * descriptor it is given: a duplicate, so the part stays open). NULL with
 * errno set on failure. */
static DIR *spool_list(const struct spool *sp, int part)
{
    int fd = dup(sp->fds[part]);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    rewinddir(d); /* the duplicate shares the offset of the last listing */
    return d;
}

/* A sender that died between writing DIR/tmp/NAME and renaming it leaves
 * the file there for good. As maildir readers do, such files are cleared
 * after a day and a half — moved to DIR/bad, with a warning, never deleted. */
#define SPOOL_TMP_MAX_AGE_S (36 * 3600)

static void spool_sweep_tmp(struct spool *sp)
{
    DIR *d = spool_list(sp, SPOOL_TMP);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' ||
            fstatat(sp->fds[SPOOL_TMP], e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode) || now - st.st_mtime < SPOOL_TMP_MAX_AGE_S)
            continue;
        spool_set_aside_from(sp, SPOOL_TMP, e->d_name,
                             "older than 36 hours and never moved to new/ (its sender died?)");
    }
    closedir(d);
}

int spool_open(const char *dir, struct spool **out, char err[ERR_MAX])
{
    int rc = 0;
    struct stat st;
    *out = NULL;
    struct spool *sp = calloc(1, sizeof(*sp));
    if (sp) {
        sp->dir_fd = -1;
        for (int i = 0; i < SPOOL_NPARTS; i++)
            sp->fds[i] = -1;
    }
    if (!sp || !(sp->dir = strdup(dir))) {
        rc = err_set(err, -ENOMEM, "spool: out of memory");
        goto fail;
    }
    /* Trailing slashes would double up in every path we print. */
    for (size_t n = strlen(sp->dir); n > 1 && sp->dir[n - 1] == '/'; n--)
        sp->dir[n - 1] = '\0';
    if (strlen(sp->dir) > SPOOL_PATH_MAX - NAME_MAX - 8) {
        rc = err_set(err, -ENAMETOOLONG, "spool: directory name too long");
        goto fail;
    }
    /* DIR itself is the operator's choice (it may be reached through a
     * link); only its parts are checked. */
    bool made = mkdir(sp->dir, 0770) == 0;
    if (!made && errno != EEXIST) {
        int e = errno;
        rc = err_set(err, -e, "spool: cannot create directory %s: %s", sp->dir, strerror(e));
        goto fail;
    }
    sp->dir_fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd < 0 || fstat(sp->dir_fd, &st) < 0) {
        int e = errno;
        rc = err_set(err, -e, "spool: cannot open directory %s: %s", sp->dir,
                     e == ENOTDIR ? "exists and is not a directory" : strerror(e));
        goto fail;
    }
    if (made && statedir_adopt(sp->dir_fd, sp->dir) == 0 && fstat(sp->dir_fd, &st) < 0) {
        rc = err_set(err, -errno, "spool: %s: %s", sp->dir, strerror(errno));
        goto fail;
    }
    for (int i = 0; i < SPOOL_NPARTS; i++)
        if ((rc = spool_open_part(sp, i, st.st_uid, err)) < 0)
            goto fail;
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
    if (flock(sp->dir_fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
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
    if (sp->dir_fd >= 0)
        close(sp->dir_fd);
    for (int i = 0; i < SPOOL_NPARTS; i++)
        if (sp->fds[i] >= 0)
            close(sp->fds[i]);
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
    spool_path(sp, SPOOL_NEW, NULL, path, sizeof(path));
    DIR *d = spool_list(sp, SPOOL_NEW);
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
    spool_path(sp, SPOOL_NEW, name, f->path, sizeof(f->path));
    /* O_NONBLOCK: a FIFO dropped into the spool must not hang us. */
    int fd = openat(sp->fds[SPOOL_NEW], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
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
    if (unlinkat(sp->fds[SPOOL_NEW], name, 0) < 0 && errno != ENOENT) {
        int e = errno;
        char path[SPOOL_PATH_MAX];
        spool_path(sp, SPOOL_NEW, name, path, sizeof(path));
        log_msg_always(LOG_LEVEL_ERROR, "spool: cannot remove %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}
