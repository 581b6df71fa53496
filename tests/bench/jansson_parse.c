/* SPDX-License-Identifier: MIT */
/*
 * The jansson peer of `make bench`: parses every NDJSON line of stdin with
 * json_loadb() and frees it, nothing else (no field is read, nothing is
 * written). What tokenmeter does per event is a superset of this, so the
 * ratio against it says how much of a parse-only loop's cost the whole
 * normalizer takes. Prints "<lines> <parsed>" on stderr.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

int main(void)
{
    char *line = NULL;
    size_t cap = 0, lines = 0, parsed = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        if (line[len - 1] == '\n')
            len--;
        lines++;
        json_error_t err;
        json_t *doc = json_loadb(line, len, 0, &err);
        if (doc)
            parsed++;
        json_decref(doc);
    }
    free(line);
    fprintf(stderr, "%zu %zu\n", lines, parsed);
    return 0;
}
