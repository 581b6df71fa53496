/* SPDX-License-Identifier: MIT */
/*
 * Runs the tokenmeter binary under test ($TOKENMETER, else build/tokenmeter)
 * as a child with files for stdin and stdout (test code only, header-only).
 */
#ifndef TOKENMETER_RUNBIN_H
#define TOKENMETER_RUNBIN_H

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The binary under test. */
static inline const char *rb_binary(void)
{
    const char *b = getenv("TOKENMETER");
    return b && *b ? b : "build/tokenmeter";
}

/* Runs the binary with args (NULL-terminated, without argv[0]); stdin from
 * in_path (NULL: /dev/null), stdout to out_path, stderr to err_path (NULL:
 * /dev/null). Returns the exit status, or 128 + signal. */
static inline int rb_run(const char *const *args, const char *in_path, const char *out_path,
                         const char *err_path)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = rb_binary();
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0)
            _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
