/* SPDX-License-Identifier: MIT */
/*
 * peak_rss OUT CMD [ARG...]: runs CMD (stdin and stdout inherited, stderr to
 * /dev/null) and writes "<peak RSS in KiB> <exit status>" to the file OUT.
 *
 * Why not wait4() from the Python benchmark itself: Linux carries the RSS
 * high-water mark across exec, so a child spawned by a big Python process
 * reports the parent's peak. This launcher is small, and it fork()s a copy
 * of itself (not vfork) before the exec, so the figure is the command's own.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss OUT CMD [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        return 1;
    FILE *out = fopen(argv[1], "w");
    if (!out)
        return 1;
    fprintf(out, "%ld %d\n", ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128);
    return fclose(out) == 0 ? 0 : 1;
}
