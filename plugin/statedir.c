/* SPDX-License-Identifier: MIT */
#include "tokenmeter/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int statedir_adopt(int fd, const char *path)
{
    if (geteuid() != 0)
        return 0;
    char copy[4096];
    if ((size_t)snprintf(copy, sizeof(copy), "%s", path) >= sizeof(copy))
        return -ENAMETOOLONG;
    struct stat dir;
    if (stat(dirname(copy), &dir) < 0)
        return -errno;
    if (dir.st_uid == 0) /* root's directory: root's file */
        return 0;
    return fchown(fd, dir.st_uid, dir.st_gid) < 0 ? -errno : 0;
}

int statedir_open(const char *path, int flags, unsigned mode)
{
    /* O_EXCL tells a file this call made from one that was there (and
     * never follows a link): only the former is adopted. */
    int fd = open(path, flags | O_CREAT | O_EXCL, (mode_t)mode);
    if (fd >= 0) {
        statedir_adopt(fd, path);
        return fd;
    }
    if (errno != EEXIST)
        return -1;
    return open(path, flags | O_CREAT, (mode_t)mode);
}
