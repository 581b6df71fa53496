/* SPDX-License-Identifier: MIT */
/*
 * Coverage-guided differential fuzzing of body_parse against jansson: for
 * every input both must accept or both refuse, and an accepted document
 * must read the same through body.h as through jansson
 * (tests/body_oracle.h). Any difference aborts, so libFuzzer keeps the input
 * as a finding.
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body_oracle.h"
#include "tokenmeter/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct body *b = NULL;
    char err[ERR_MAX];
    /* A raw NUL byte is invalid anywhere in JSON (RFC 8259: only space, tab,
     * LF and CR are whitespace; control characters in strings are escaped),
     * and body_parse refuses it. jansson's json_loadb accepts one after a
     * number ({"a":1<NUL>}), so its verdict is not the reference here. */
    if (memchr(text, '\0', size)) {
        if (body_parse(text, size, &b, err) == 0) {
            fprintf(stderr, "a raw NUL byte was accepted\n");
            abort();
        }
        return 0;
    }
    json_error_t jerr;
    json_t *j = json_loadb(text, size, 0, &jerr);
    int rc = body_parse(text, size, &b, err);
    if ((j != NULL) != (rc == 0)) {
        fprintf(stderr, "verdicts differ: jansson %s (%s), body %s (%s)\n",
                j ? "accepts" : "refuses", j ? "" : jerr.text, rc == 0 ? "accepts" : "refuses",
                rc == 0 ? "" : err);
        abort();
    }
    if (rc < 0 && rc != -EINVAL) {
        fprintf(stderr, "refusal with code %d, not -EINVAL: %s\n", rc, err);
        abort();
    }
    if (j && !body_oracle_same(body_root(b), j)) {
        fprintf(stderr, "accepted, but read differently\n");
        abort();
    }
    json_decref(j);
    body_free(b);
    return 0;
}
