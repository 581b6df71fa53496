/* SPDX-License-Identifier: MIT */
/*
 * err — the one error convention of tokenmeter.
 *
 * Every function that can fail returns 0 on success or a negative errno
 * value (-EINVAL bad input, -ENOMEM out of memory, -EIO / -ENOENT / ... from
 * the system, -ENOSPC a cap was reached). Where a caller needs to tell a
 * person what went wrong, the function also takes `char err[ERR_MAX]` and
 * fills it with one line (no newline, no secret) — curl's
 * CURL_ERROR_SIZE idea: one size for every message, so a message can be
 * handed on from module to module without being cut again.
 *
 * Out of memory is the same everywhere: the function returns -ENOMEM and
 * the command that called it stops with EX_OSERR (71). It is never turned
 * into a dead-letter record or a "bad input" outcome: a body that could not
 * be examined for lack of memory has not been judged.
 */
#ifndef TOKENMETER_ERR_H
#define TOKENMETER_ERR_H

#define ERR_MAX 1024

/* Formats one message into err (may be NULL: the message is dropped) and
 * returns `code` unchanged, so that a failing path reads
 * `return err_set(err, -EINVAL, "...", ...);`. */
int err_set(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
