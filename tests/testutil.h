/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the Check suites (header-only, test code only). */
#ifndef TOKENMETER_TESTUTIL_H
#define TOKENMETER_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh temporary directory path in out (created). */
static inline void tu_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/tm-check-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

/* Writes text to path. */
static inline void tu_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Reads a whole file into a malloc'd NUL-terminated string (caller frees). */
static inline char *tu_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    size_t got = fread(s, 1, (size_t)n, fp);
    s[got] = '\0';
    fclose(fp);
    return s;
}

/* Counts occurrences of needle in hay. */
static inline int tu_count(const char *hay, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + nl, needle))
        n++;
    return n;
}

#endif
