/* SPDX-License-Identifier: MIT */
/*
 * statedir — files tokenmeter creates where a service user keeps its
 * state (/var/lib/tokenmeter, owned by Telegraf's user).
 *
 * An operator who runs a command as root (`echo ... | sudo tokenmeter
 * execd`, `sudo tokenmeter aggregate`) would otherwise leave a dead-letter
 * file, a summary store or its lock owned by root, mode 0640: the service
 * user could no longer open them, and ingest or the daily aggregation
 * would stop at its next start. A file root creates there is therefore
 * given the owner and group of the directory that holds it.
 */
#ifndef TOKENMETER_STATEDIR_H
#define TOKENMETER_STATEDIR_H

/* fd was just created (O_CREAT | O_EXCL, or mkdir) at path. When this
 * process runs as root and path's directory belongs to another user, gives
 * fd that directory's owner and group; otherwise does nothing. Returns 0
 * or a negative errno (stat or fchown failed; the file is still usable by
 * root). */
int statedir_adopt(int fd, const char *path);

/* open(path, flags | O_CREAT, mode) that adopts (statedir_adopt()) the
 * file when this call created it. Returns the descriptor or -1 with errno
 * set, as open(2). */
int statedir_open(const char *path, int flags, unsigned mode);

#endif
