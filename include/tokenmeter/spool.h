/* SPDX-License-Identifier: MIT */
/*
 * spool — the maildir-style directory that `execd --spool DIR` drains
 * (docs/operations.md), for senders that cannot pipe into Telegraf.
 *
 * A sender writes each body to a file in DIR/tmp and then rename(2)s it
 * into DIR/new, so the reader never sees half a file. The reader takes
 * the files in DIR/new in name order (name files with a sortable time prefix to keep
 * arrival order), one body per file, and removes a file only after its
 * points were written and flushed; a crash in between means the file is
 * read again, and the repeated points land on the same identity.
 *
 * Names starting with '.' are skipped (a sender's own temporaries). An
 * entry that is not a readable regular file (a directory, a symlink, a
 * FIFO, a file without read permission) is moved to DIR/bad with a warning,
 * so it can neither stall the spool nor vanish; a name bad/ already holds
 * gets a unique suffix (NAME.TIME.PID.N), nothing there is replaced, and
 * an entry that cannot be moved is left in place with an error, never
 * stopping the reader. One reader per spool.
 *
 * Senders may be allowed to write DIR itself, so they could put a symbolic
 * link or a directory of their own in place of tmp/, new/ or bad/. The
 * parts are therefore opened once, with O_DIRECTORY | O_NOFOLLOW, and must
 * be owned by DIR's owner, this user or root; every file is then reached
 * relative to those descriptors (openat, renameat2, unlinkat) with
 * O_NOFOLLOW, so nothing outside the spool is ever read, moved or removed.
 */
#ifndef TOKENMETER_SPOOL_H
#define TOKENMETER_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tokenmeter/err.h"

#define SPOOL_SCAN_MAX 100000 /* names taken per scan; the rest wait for the next */
#define SPOOL_PATH_MAX 4096

struct spool;

/* An opened spool file. */
struct spool_file {
    int fd;                    /* owned: close with spool_file_close() */
    off_t size;                /* at open time */
    int64_t mtime_ns;          /* when the sender finished writing it */
    char path[SPOOL_PATH_MAX]; /* DIR/new/NAME, for logs and records */
};

/* Opens the spool at dir, creating dir, dir/tmp, dir/new and dir/bad (mode
 * 0770 less the umask) when missing. Returns 0 with a new spool in *out
 * (owned by the caller: free with spool_close()), or a negative errno with
 * the reason in err and *out NULL: -ENOTDIR when a part is not a directory
 * (a symbolic link, a file) or is owned by someone else than DIR's owner,
 * this user or root, -ENAMETOOLONG, -ENOMEM, or mkdir(2)'s or open(2)'s error
 * (-EACCES, -ENOENT, ...). */
int spool_open(const char *dir, struct spool **out, char err[ERR_MAX]);

/* Takes the spool for this process alone (an exclusive flock on DIR), so
 * two readers never feed the same file twice. Returns 0, -EBUSY when
 * another reader holds it (err says so), or -errno. Released by
 * spool_close(). */
int spool_lock(struct spool *sp, char err[ERR_MAX]);

/* Releases the spool. Accepts NULL. */
void spool_close(struct spool *sp);

/* Lists DIR/new afresh in name order. Returns the number of names (at most
 * SPOOL_SCAN_MAX), or -errno after logging why. */
long spool_scan(struct spool *sp);

/* The i-th name of the last scan (borrowed until the next scan). */
const char *spool_name(const struct spool *sp, size_t i);

/* Opens DIR/new/NAME for reading. Returns 0 with f filled; -ENOENT when the
 * file is gone; -EBADF when the entry was not a readable regular file and
 * was set aside (moved to DIR/bad, or left in place when even that failed;
 * logged); another -errno on failure (logged). */
int spool_file_open(struct spool *sp, const char *name, struct spool_file *f);

/* Closes the descriptor. Accepts a file that was never opened (fd -1). */
void spool_file_close(struct spool_file *f);

/* Removes DIR/new/NAME once its points are safe. Returns 0 (also when it is
 * already gone) or -errno after logging why. */
int spool_remove(struct spool *sp, const char *name);

#endif
