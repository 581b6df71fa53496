/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes through the quote-aware line-protocol
 * reader used by `process` and `aggregate --input`. Whatever the input, the
 * framer and the parser must return; a parsed point's strings must lie in
 * its arena.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/lineproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lineproto_point pt;
    char err[ERR_MAX];
    lineproto_point_init(&pt);
    const char *p = (const char *)data;
    size_t left = size;
    while (left) {
        long end = lineproto_line_end(p, left);
        size_t n = end < 0 ? left : (size_t)end;
        if (lineproto_parse(p, n, &pt, err) == 0) {
            for (size_t i = 0; i < pt.nfields; i++)
                if (pt.fields[i].type == LINEPROTO_STRING &&
                    (pt.fields[i].s < pt.arena.data ||
                     pt.fields[i].s + pt.fields[i].slen > pt.arena.data + pt.arena.len))
                    abort();
        }
        if (end < 0)
            break;
        p += n + 1;
        left -= n + 1;
    }
    lineproto_point_free(&pt);
    return 0;
}
