/* SPDX-License-Identifier: MIT */
/*
 * A strict JSON parser that builds a compact, arena-allocated tree.
 *
 * Why not jansson: webhook bodies are parsed once, read at a dozen paths and
 * thrown away. jansson builds hash tables, copies every string through a
 * growing buffer and reads the input a byte at a time through a stream
 * layer; that was two thirds of execd's instructions per event. Here a body
 * is copied once, its strings read (and decoded) in place in that copy, and
 * its tree built into one arena, freed in one go, in one pass: a container's
 * children wait on a stack (on the C stack while few) and move to the arena
 * in one copy when it closes, at their final size, so the tree is at most 8
 * bytes per byte of text (body.h). Objects are short arrays of members
 * searched linearly (webhook objects have tens of keys, and most are never
 * asked for; a source reads a shared object's members once, not once per
 * item).
 *
 * It is as strict as jansson's defaults, which the differential test in
 * tests/check_body_oracle.c checks against jansson itself: RFC 8259 grammar,
 * an object or array at the top, valid UTF-8 (no overlong forms, no encoded
 * surrogates), escapes including surrogate pairs, no NUL in strings (not even
 * as \u0000), integers within int64 ("too big integer" otherwise), finite
 * reals, and at most BODY_MAX_DEPTH levels of nesting. A duplicate key keeps
 * both members; lookups find the last one, as jansson's would.
 */
#include "tokenmeter/body.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenmeter/vec.h"

#if defined(__SSE2__) && !defined(BODY_PORTABLE)
#include <emmintrin.h>
#endif

#define BODY_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
/* Pending children held on the C stack before the heap: 4 KiB, room for
 * every container of a typical webhook (tens of members each). */
#define BODY_STACK_LOCAL 256

/* 16 bytes a value, whatever its type: the memory bound of body.h rests on
 * it. Containers hold their children by value, in one array each. */
struct body_node {
    uint8_t type; /* enum body_type */
    /* BODY_BOOL: the value; BODY_INT: written as "-0"; BODY_STRING: the text
     * still holds escapes, decoded when first read (body_text()) */
    uint8_t flag;
    uint32_t len; /* string bytes, array elements, object members, real lexeme */
    union {
        char *text;                        /* BODY_STRING: NUL-terminated */
        int64_t i;                         /* BODY_INT */
        const char *lexeme;                /* BODY_REAL: as written, NUL-terminated */
        const struct body_node *items;     /* BODY_ARRAY */
        const struct body_member *members; /* BODY_OBJECT */
    } u;
};

/* The key's length is a size_t, the width of a lookup's: the member scan
 * (body_member()) then tests it with one compare against memory. */
struct body_member {
    const char *key; /* NUL-terminated, in the arena */
    size_t klen;
    struct body_node value;
};

struct body_chunk {
    struct body_chunk *next;
    size_t used;
    size_t cap;
    max_align_t data[];
};

struct body {
    struct body_node root;
    struct body_chunk *chunks;
    size_t next_chunk; /* the size of the next chunk (grows to 64 KiB) */
    /* The document, copied once and parsed where it lies: a string's text
     * is its own bytes here, its closing quote overwritten by its NUL, so
     * that no string is allocated or copied again (body_string()). Then
     * BODY_PAD NULs, so that the scans may read a block or an escape's
     * bytes past the end without counting what is left: a NUL fails every
     * test but "special byte" (and is taken for the end then). */
    char text[];
};

#define BODY_CHUNK_MAX 65536
/* The string scan's widest read past a position before the end: a 32-byte
 * block (and an escape's 12 bytes). */
#define BODY_PAD 32

/* ---- arena -------------------------------------------------------------- */

/* Every block the arena hands out is a multiple of this (a real's text is
 * rounded up to it), so each starts aligned with no computation. Nodes and
 * members need a pointer's alignment, no more: padding each small array to
 * max_align_t's size doubled the tree of nested bodies. */
#define BODY_ALIGN _Alignof(struct body_member)

/* body_alloc() when the current chunk is full: a new one, of at least n
 * bytes. */
static void *body_alloc_chunk(struct body *b, size_t n)
{
    /* A small document gets a small arena (the first chunk is sized by
     * body_parse()): an SSE stream holds one parsed body per line, and
     * 64 KiB each made 300 000 tiny lines a gigabyte. Chunks double from
     * there. */
    size_t cap = n > b->next_chunk ? n : b->next_chunk;
    b->next_chunk = b->next_chunk < BODY_CHUNK_MAX / 2 ? b->next_chunk * 2 : BODY_CHUNK_MAX;
    struct body_chunk *c = malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    *c = (struct body_chunk){.next = b->chunks, .used = n, .cap = cap};
    b->chunks = c;
    return c->data;
}

/* n bytes, n a multiple of BODY_ALIGN. */
static inline void *body_alloc(struct body *b, size_t n)
{
    struct body_chunk *c = b->chunks;
    if (c->cap - c->used < n)
        return body_alloc_chunk(b, n);
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* ---- parser ------------------------------------------------------------- */

struct body_parser {
    /* p, end and start are in the body's copy of the document (struct body),
     * read only but by body_writable() */
    const unsigned char *p;
    const unsigned char *end;
    const unsigned char *start;
    struct body *b;
    /* Children of the open containers, innermost last: a container's own
     * are the top ones when it closes, and move to the arena then (in one
     * copy, at their final size). An object's member is two entries, its key
     * (a string node) and its value. The first BODY_STACK_LOCAL entries are
     * body_parse()'s own, on the C stack, so that a small body allocates
     * nothing for them; past that a vec.h array (heap true) takes over. */
    struct body_node *stack;
    size_t top;
    size_t cap;
    bool heap;
    size_t values;     /* parsed so far, against max_values */
    size_t max_values; /* BODY_MAX_VALUES, or the caller's (body_parse_max()) */
    char *err;
    bool failed;
};

static int body_fail(struct body_parser *ps, const char *msg)
{
    if (!ps->failed) {
        err_set(ps->err, -EINVAL, "invalid JSON at byte %zu: %s", (size_t)(ps->p - ps->start), msg);
        ps->failed = true;
    }
    return -EINVAL;
}

/* Out of memory is not a verdict on the document (see err.h): its own code
 * and message, so that the caller stops instead of rejecting the body. */
static int body_oom(struct body_parser *ps)
{
    if (!ps->failed) {
        err_set(ps->err, -ENOMEM, "out of memory parsing JSON at byte %zu",
                (size_t)(ps->p - ps->start));
        ps->failed = true;
    }
    return -ENOMEM;
}

/* The byte at `at` as the body's own, to write: the parser reads the body's
 * copy of the document through const pointers, and only a string's end and
 * its decoding write to it. */
static char *body_writable(const struct body_parser *ps, const unsigned char *at)
{
    return ps->b->text + (at - ps->start);
}

/* The special bytes (body_str_special()) among q[0..16): bit k for q[k].
 * Nearly all of a body's text is plain bytes in long runs, tested a block
 * at a time; a string scan then visits only the bits set, so that an escape
 * costs no new scan of its block. A block may run past the document's end,
 * into the padding after it (struct body): the NUL there is special. */
#if defined(__SSE2__) && !defined(BODY_PORTABLE)
static unsigned body_special_mask(const unsigned char *q)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
    /* One signed compare takes three kinds: with bit 1 flipped, '"' (0x22)
     * is 0x20 and the control bytes stay below it, and bytes from 0x80 up
     * are negative; ' ' becomes 0x22 and nothing else lands below 0x21. */
    __m128i low = _mm_cmpgt_epi8(_mm_set1_epi8(0x21), _mm_xor_si128(v, _mm_set1_epi8(2)));
    __m128i hit = _mm_or_si128(low, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    return (unsigned)_mm_movemask_epi8(hit);
}
#else
/* True for the bytes a string scan must look at: '"', '\\', a control byte,
 * or not ASCII. */
static bool body_str_special(unsigned char c)
{
    return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
}

static unsigned body_special_mask(const unsigned char *q)
{
    /* The "has a zero byte" / "has a byte below n" (n <= 128) word tests
     * are exact as a yes/no answer, not as to which byte: they only let a
     * plain block through without a look at each byte. */
    const uint64_t ones = 0x0101010101010101u;
    uint64_t w[2];
    memcpy(w, q, sizeof(w));
    uint64_t any = 0;
    for (int k = 0; k < 2; k++) {
        const uint64_t quote = w[k] ^ (ones * '"');
        const uint64_t bslash = w[k] ^ (ones * '\\');
        any |= ((w[k] - ones * 0x20) & ~w[k]) | ((quote - ones) & ~quote) |
               ((bslash - ones) & ~bslash) | w[k];
    }
    if (!(any & (ones * 0x80)))
        return 0;
    unsigned bits = 0;
    for (unsigned k = 0; k < 16; k++)
        bits |= (unsigned)body_str_special(q[k]) << k;
    return bits;
}
#endif

/* The index of the lowest bit set in bits (not 0). */
static unsigned body_lowest_bit(uint32_t bits)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctz(bits);
#else
    unsigned k = 0;
    while (!(bits & 1u)) {
        bits >>= 1;
        k++;
    }
    return k;
#endif
}

static void body_ws_run(struct body_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Skips whitespace. Compact JSON, what most senders write, has none: one
 * compare says so (every whitespace byte is ' ' or below). */
static inline void body_ws(struct body_parser *ps)
{
    if (*ps->p > ' ')
        return;
    body_ws_run(ps);
}

/* Hex digits: 0x100 | value; 0 for any other byte. */
static const unsigned short body_hex[256] = {
    ['0'] = 0x100, ['1'] = 0x101, ['2'] = 0x102, ['3'] = 0x103, ['4'] = 0x104, ['5'] = 0x105,
    ['6'] = 0x106, ['7'] = 0x107, ['8'] = 0x108, ['9'] = 0x109, ['a'] = 0x10a, ['b'] = 0x10b,
    ['c'] = 0x10c, ['d'] = 0x10d, ['e'] = 0x10e, ['f'] = 0x10f, ['A'] = 0x10a, ['B'] = 0x10b,
    ['C'] = 0x10c, ['D'] = 0x10d, ['E'] = 0x10e, ['F'] = 0x10f,
};

/* 1 for a hex digit, and for one that can start a \uXXXX that is no
 * surrogate (all but D): bytes, not body_hex's values, so that testing
 * them needs no more registers than the test. */
#define BODY_HEX_DIGITS                                                                            \
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,        \
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1,        \
    ['B'] = 1, ['C'] = 1, ['E'] = 1, ['F'] = 1
static const unsigned char body_hex_lead[256] = {BODY_HEX_DIGITS};
static const unsigned char body_is_hex[256] = {BODY_HEX_DIGITS, ['d'] = 1, ['D'] = 1};

static int body_hex4(const unsigned char *p, unsigned *out)
{
    unsigned a = body_hex[p[0]], b = body_hex[p[1]], c = body_hex[p[2]], d = body_hex[p[3]];
    if (!(a & b & c & d & 0x100))
        return -EINVAL;
    *out = (a & 0xF) << 12 | (b & 0xF) << 8 | (c & 0xF) << 4 | (d & 0xF);
    return 0;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t body_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    return n;
}

static size_t body_put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* What each one-letter escape stands for (0: not one). */
static const char body_short_escape[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

/* Checks the escape at r (r[0] is '\\', r + 1 < end): returns how many
 * input bytes it takes (2, 6, or 12 for a surrogate pair) with its code
 * point in *cp, or 0 with the reason in *why. */
static size_t body_escape(const unsigned char *r, const unsigned char *end, unsigned *cp,
                          const char **why)
{
    unsigned char e = r[1];
    if (body_short_escape[e]) {
        *cp = (unsigned char)body_short_escape[e];
        return 2;
    }
    if (e != 'u') {
        *why = "invalid escape";
        return 0;
    }
    if (end - r < 6 || body_hex4(r + 2, cp) < 0) {
        *why = "invalid \\u escape";
        return 0;
    }
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo;
        if (end - r < 12 || r[6] != '\\' || r[7] != 'u' || body_hex4(r + 8, &lo) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF) {
            *why = "unpaired UTF-16 surrogate";
            return 0;
        }
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        return 12;
    }
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
        *why = "unpaired UTF-16 surrogate";
        return 0;
    }
    if (*cp == 0) {
        *why = "\\u0000 is not allowed";
        return 0;
    }
    return 6;
}

/* Decodes the escapes of s[0..len), already checked by body_string(), in
 * place (an escape never decodes longer than it was written); returns the
 * decoded length and ends it with a NUL. Runs between escapes move whole. */
static size_t body_decode(char *s, size_t len)
{
    char *w = s;
    const char *r = s, *end = s + len;
    while (r < end) {
        const char *bs = memchr(r, '\\', (size_t)(end - r));
        size_t run = (size_t)((bs ? bs : end) - r);
        memmove(w, r, run);
        w += run;
        r += run;
        if (!bs)
            break;
        unsigned cp = 0;
        const char *why = NULL;
        size_t n = body_escape((const unsigned char *)r, (const unsigned char *)end, &cp, &why);
        if (!n)
            break; /* not reached: body_string() refused the document */
        r += n;
        w += body_put_utf8(w, cp);
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* The input bytes the escape at r takes (r[0] is '\\'), at most up to end,
 * when it is not one of the common ones (body_escape_len()). The first bad
 * escape is kept in *bad with its reason in *why (body_string() reports it
 * only if nothing else is wrong with the string) and taken as two bytes. */
static size_t body_escape_len_slow(const unsigned char *r, const unsigned char *end,
                                   const unsigned char **bad, const char **why)
{
    size_t left = (size_t)(end - r), n = 2;
    unsigned cp;
    if (!*bad && left >= 2 && !(n = body_escape(r, end, &cp, why))) {
        *bad = r;
        n = 2;
    }
    return n < left ? n : left;
}

/* The input bytes the escape at r takes. The common ones are checked
 * inline, \uXXXX first (most of an escape-dense text's escapes: what
 * Python's json.dumps() writes for every non-ASCII character), when it is
 * not NUL, and surrogate pairs; then the one-letter ones. The rest, and any
 * escape within 12 bytes of the end, take the slow path. */
static size_t body_escape_len(const unsigned char *r, const unsigned char *end,
                              const unsigned char **bad, const char **why)
{
    /* Past the end, the padding (struct body) reads as NULs, which fail
     * every test below: what the bytes left cannot hold is judged by the
     * slow path, which counts them. */
    if (r[1] == 'u') {
        /* Not a surrogate (a first digit other than D: its own table) and
         * not \u0000 (one 4-byte compare): by far the most frequent. */
        if ((body_hex_lead[r[2]] & body_is_hex[r[3]] & body_is_hex[r[4]] & body_is_hex[r[5]]) &&
            memcmp(r + 2, "0000", 4) != 0)
            return 6;
        /* A surrogate pair (emoji): a high one, D800-DBFF, then \u and a
         * low one, DC00-DFFF. */
        if ((r[2] | 0x20) == 'd') {
            unsigned h1 = body_hex[r[3]], l0 = body_hex[r[8]], l1 = body_hex[r[9]];
            if ((h1 & 0xC) == 0x8 && (h1 & body_hex[r[4]] & body_hex[r[5]] & 0x100) &&
                r[6] == '\\' && r[7] == 'u' && l0 == 0x10D && (l1 & 0xF) >= 0xC &&
                (l1 & body_hex[r[10]] & body_hex[r[11]] & 0x100))
                return 12;
        }
    } else if (body_short_escape[r[1]]) {
        return 2;
    }
    return body_escape_len_slow(r, end, bad, why);
}

/* Ends the string s..q (q at its closing quote) and puts it in *out, or
 * fails with its first bad escape. */
static int body_string_end(struct body_parser *ps, struct body_node *out, const unsigned char *s,
                           const unsigned char *q, bool esc, const unsigned char *bad,
                           const char *why)
{
    size_t raw = (size_t)(q - s);
    if (raw >= UINT32_MAX)
        return body_fail(ps, "string longer than 4 GiB");
    if (bad) {
        ps->p = bad;
        return body_fail(ps, why);
    }
    /* The text stays where it is, its closing quote now its NUL; the
     * opening quote, before it, says that its escapes are not decoded yet
     * (body_text()). */
    char *o = body_writable(ps, s);
    o[raw] = '\0';
    *out = (struct body_node){.type = BODY_STRING, .flag = esc, .len = (uint32_t)raw, .u.text = o};
    ps->p = q + 1;
    return 0;
}

/* body_string() for any string. Every escape is checked here, so that a document is judged in one
 * pass; as decoding used to report them, an escape's error loses to a control byte, bad UTF-8 or a
 * missing quote anywhere in the string, and the first bad escape wins. */
static int body_string_long(struct body_parser *ps, struct body_node *out)
{
    const unsigned char *s = ++ps->p; /* after the quote */
    const unsigned char *q = s;
    const unsigned char *end = ps->end;
    const unsigned char *bad = NULL; /* the first bad escape */
    const char *why = NULL;
    bool esc = false;
    /* A block of 32 bytes at a time (escape-dense text has a special byte
     * every twenty or so: a wider block is fewer turns of the loop); within
     * it, only its special bytes, lowest first. Whatever one of them takes
     * (an escape, a UTF-8 sequence) is masked off; when it runs past the
     * block, the next block starts where it ends. The NUL after the
     * document ends the scan (a block may run into the padding after it). */
    for (;;) {
        uint32_t bits = body_special_mask(q) | (uint32_t)body_special_mask(q + 16) << 16;
        if (!bits) {
            q += 32;
            continue;
        }
        size_t next = 32;
        while (bits) {
            size_t k = body_lowest_bit(bits), take = 0;
            const unsigned char *r = q + k;
            if (*r == '\\') {
                esc = true;
                take = body_escape_len(r, end, &bad, &why);
                /* A \uXXXX (the most frequent): its 'u' and hex digits are
                 * no special bytes, so there is nothing to mask off, and
                 * when it runs past the block the next block may start in
                 * its digits. */
                if (take == 6) {
                    bits &= bits - 1;
                    continue;
                }
            } else if (*r == '"') {
                return body_string_end(ps, out, s, r, esc, bad, why);
            } else if (*r < 0x20) {
                ps->p = r;
                return body_fail(ps,
                                 r < end ? "control character in a string" : "unterminated string");
            } else if (!(take = body_utf8_len(r, end))) {
                ps->p = r;
                return body_fail(ps, "invalid UTF-8 in a string");
            }
            if (k + take >= 32) {
                next = k + take;
                break;
            }
            bits &= ~(uint32_t)0 << (k + take);
        }
        q += next;
    }
}

/* Parses a string starting at the opening quote into *out (BODY_STRING,
 * its text where it is in the body's copy of the document, NUL-ended; flag
 * set when it holds escapes still to decode, body_text()). Most strings
 * (keys, ids, names) end within their first block with nothing to look at
 * before the quote: those are taken here, the rest by body_string_long().
 * Inline: as a call, the registers body_string_long() needs were saved and
 * restored for every key. */
static inline int body_string(struct body_parser *ps, struct body_node *out)
{
    const unsigned char *s = ps->p + 1;
    {
        unsigned bits = body_special_mask(s);
        size_t k = bits ? body_lowest_bit(bits) : 16;
        if (k < 16 && s[k] == '"') {
            char *o = body_writable(ps, s);
            o[k] = '\0';
            *out = (struct body_node){.type = BODY_STRING, .len = (uint32_t)k, .u.text = o};
            ps->p = s + k + 1;
            return 0;
        }
    }
    return body_string_long(ps, out);
}

/* strtod() of a lexeme when the answer needs no more than one IEEE
 * operation: a decimal mantissa m <= 2^53 and a power of ten 10^|e| <= 10^22
 * are both exact doubles, so m * 10^e or m / 10^-e is correctly rounded,
 * exactly what strtod() returns (Clinger's fast path). Prices, costs and
 * times are all like this. Returns false to leave it to strtod(). */
static bool body_real_fast(const char *lex, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = lex + (*lex == '-');
    uint64_t m = 0;
    int digits = 0, e = 0;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            e = -1; /* counts fraction digits from here on (JSON has one '.') */
            continue;
        }
        if (++digits > 19)
            return false;
        m = m * 10 + (uint64_t)(*p - '0');
        if (e < 0)
            e--;
    }
    if (e < 0)
        e++;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool neg = *p == '-';
        p += *p == '-' || *p == '+';
        int x = 0;
        for (int k = 0; *p; p++, k++) {
            if (k == 4)
                return false;
            x = x * 10 + (*p - '0');
        }
        e += neg ? -x : x;
    }
    if (m > (uint64_t)1 << 53 || e < -22 || e > 22)
        return false;
    double d = e < 0 ? (double)m / pow10[-e] : (double)m * pow10[e];
    *out = *lex == '-' ? -d : d;
    return true;
#else
    (void)lex;
    (void)out;
    return false;
#endif
}

static int body_number(struct body_parser *ps, struct body_node *n)
{
    const unsigned char *s = ps->p, *q = s;
    bool real = false;
    /* The digits' value as they are scanned (it wraps past 19 digits, but
     * is used only for at most 18 characters). The NUL after the document
     * (struct body) ends every digit run: no count of the bytes left. */
    uint64_t digits = 0;
    if (*q == '-')
        q++;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        for (; *q >= '0' && *q <= '9'; q++)
            digits = digits * 10 + (uint64_t)(*q - '0');
    } else {
        return body_fail(ps, "invalid number");
    }
    /* Without an exponent, a real of at most 308 integer digits is below
     * DBL_MAX: no overflow to check for. */
    bool finite = q - s <= 308;
    if (*q == '.') {
        real = true;
        q++;
        if (*q < '0' || *q > '9')
            return body_fail(ps, "invalid number");
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        real = true;
        finite = false;
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (*q < '0' || *q > '9')
            return body_fail(ps, "invalid number");
        while (*q >= '0' && *q <= '9')
            q++;
    }
    size_t len = (size_t)(q - s);
    if (len >= UINT32_MAX)
        return body_fail(ps, "number longer than 4 GiB");
    if (!real && len <= 18) {
        /* At most 18 characters always fit in int64: no copy, no strtoll. */
        int64_t i = (int64_t)digits;
        *n = (struct body_node){
            .type = BODY_INT, .flag = i == 0 && *s == '-', .u.i = *s == '-' ? -i : i};
        ps->p = q;
        return 0;
    }
    if (real) {
        /* Reals keep their text, read again when asked for: the dump must
         * give it back as written, and few are ever read. */
        char *text = body_alloc(ps->b, (len + BODY_ALIGN) / BODY_ALIGN * BODY_ALIGN);
        if (!text)
            return body_oom(ps);
        memcpy(text, s, len);
        text[len] = '\0';
        double d;
        if (!finite && !body_real_fast(text, &d)) {
            errno = 0;
            d = strtod(text, NULL);
            /* Overflow is an error; underflow to a denormal or 0 is not (as
             * in jansson). */
            if (errno == ERANGE && !isfinite(d))
                return body_fail(ps, "real number out of range");
        }
        *n = (struct body_node){.type = BODY_REAL, .len = (uint32_t)len, .u.lexeme = text};
    } else {
        char lex[64];
        if (len >= sizeof(lex))
            return body_fail(ps, "too big integer");
        memcpy(lex, s, len);
        lex[len] = '\0';
        errno = 0;
        long long v = strtoll(lex, NULL, 10);
        if (errno == ERANGE)
            return body_fail(ps, "too big integer");
        /* An integer's text is its decimal form, but for "-0". */
        *n = (struct body_node){.type = BODY_INT, .flag = v == 0 && *s == '-', .u.i = v};
    }
    ps->p = q;
    return 0;
}

/* word is len bytes, at most 5: the padding after the document (struct
 * body) lets them be compared with no count of the bytes left. */
static inline int body_literal(struct body_parser *ps, const char *word, size_t len,
                               enum body_type t, bool bv, struct body_node *n)
{
    if (memcmp(ps->p, word, len) != 0)
        return body_fail(ps, "unexpected token");
    *n = (struct body_node){.type = (uint8_t)t, .flag = bv};
    ps->p += len;
    return 0;
}

static int body_value(struct body_parser *ps, struct body_node *out, int depth);

/* After an element or member: true to go on (a ',' was read), false at the
 * closing byte (read too); -EINVAL otherwise. */
static inline int body_next(struct body_parser *ps, char close)
{
    /* Compact JSON (what most senders write) first: a ',' and no space. */
    if (ps->p[0] == ',' && ps->p[1] > ' ') {
        ps->p++;
        return 1;
    }
    body_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        body_ws(ps);
        return 1;
    }
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    if (ps->p >= ps->end)
        return body_fail(ps, "unexpected end of input");
    return body_fail(ps, close == ']' ? "',' or ']' expected" : "',' or '}' expected");
}

/* body_value(), but a string (most values are) is taken here, without the
 * call: as a function body_value() saves and restores the registers of the
 * container loops inlined in it. */
static inline int body_value_next(struct body_parser *ps, struct body_node *out, int depth)
{
    /* *ps->p is a NUL at the end (struct body); at the cap, body_value()
     * says so */
    if (*ps->p == '"' && ps->values < ps->max_values) {
        ps->values++;
        return body_string(ps, out);
    }
    return body_value(ps, out, depth);
}

/* Makes room for one more pending child: the C-stack part first, then a
 * vec.h array (whose growth is geometric, so n pushes cost O(n)). */
static int body_stack_grow(struct body_parser *ps)
{
    if (ps->heap)
        return vec_reserve(&ps->stack, &ps->cap, ps->top + 1, sizeof(*ps->stack));
    struct body_node *heap = NULL;
    size_t cap = 0;
    if (vec_reserve(&heap, &cap, 2 * ps->top, sizeof(*heap)) < 0)
        return -ENOMEM;
    memcpy(heap, ps->stack, ps->top * sizeof(*heap));
    ps->stack = heap;
    ps->cap = cap;
    ps->heap = true;
    return 0;
}

static inline int body_push(struct body_parser *ps, const struct body_node *n)
{
    if (ps->top == ps->cap && body_stack_grow(ps) < 0)
        return body_oom(ps);
    ps->stack[ps->top++] = *n;
    return 0;
}

/* Reads "key": value onto the stack, as two entries. */
static int body_member_read(struct body_parser *ps, int depth)
{
    struct body_node key, value;
    int rc = body_string(ps, &key);
    if (rc < 0)
        return rc;
    /* Keys are compared on every lookup: decoded now (rarely needed). */
    if (key.flag) {
        key.len = (uint32_t)body_decode(key.u.text, key.len);
        key.flag = 0;
    }
    body_ws(ps);
    if (*ps->p != ':')
        return body_fail(ps, "':' expected");
    ps->p++;
    body_ws(ps);
    if ((rc = body_value_next(ps, &value, depth)) < 0 || (rc = body_push(ps, &key)) < 0)
        return rc;
    return body_push(ps, &value);
}

static int body_array(struct body_parser *ps, struct body_node *out, int depth)
{
    size_t from = ps->top;
    ps->p++; /* [ */
    body_ws(ps);
    if (*ps->p == ']') {
        ps->p++;
    } else {
        for (int more = 1; more > 0;) {
            struct body_node v;
            int rc = body_value_next(ps, &v, depth);
            if (rc < 0 || (rc = body_push(ps, &v)) < 0)
                return rc;
            if ((more = body_next(ps, ']')) < 0)
                return more;
        }
    }
    /* The children move to the arena at their final size, in one copy. */
    size_t n = ps->top - from;
    struct body_node *items = n ? body_alloc(ps->b, n * sizeof(*items)) : NULL;
    if (n && !items)
        return body_oom(ps);
    if (n)
        memcpy(items, ps->stack + from, n * sizeof(*items));
    ps->top = from;
    *out = (struct body_node){.type = BODY_ARRAY, .len = (uint32_t)n, .u.items = items};
    return 0;
}

static int body_object(struct body_parser *ps, struct body_node *out, int depth)
{
    size_t from = ps->top;
    ps->p++; /* { */
    body_ws(ps);
    if (*ps->p == '}') {
        ps->p++;
    } else {
        for (int more = 1; more > 0;) {
            if (*ps->p != '"')
                return body_fail(ps, ps->p < ps->end ? "string key expected"
                                                     : "unexpected end of input");
            int rc = body_member_read(ps, depth);
            if (rc < 0)
                return rc;
            if ((more = body_next(ps, '}')) < 0)
                return more;
        }
    }
    /* The stack holds (key, value) node pairs; a member is the same bytes
     * but for the key's length, widened (struct body_member). */
    size_t n = (ps->top - from) / 2;
    struct body_member *m = n ? body_alloc(ps->b, n * sizeof(*m)) : NULL;
    if (n && !m)
        return body_oom(ps);
    for (size_t i = 0; i < n; i++) {
        const struct body_node *kv = &ps->stack[from + 2 * i];
        m[i] = (struct body_member){.key = kv[0].u.text, .klen = kv[0].len, .value = kv[1]};
    }
    ps->top = from;
    *out = (struct body_node){.type = BODY_OBJECT, .len = (uint32_t)n, .u.members = m};
    return 0;
}

static int body_value(struct body_parser *ps, struct body_node *out, int depth)
{
    if (ps->p >= ps->end)
        return body_fail(ps, "unexpected end of input");
    if (++ps->values > ps->max_values) {
        if (!ps->failed) {
            err_set(ps->err, -EINVAL, "more than %zu JSON values (at byte %zu)", ps->max_values,
                    (size_t)(ps->p - ps->start));
            ps->failed = true;
        }
        return -EINVAL;
    }
    switch (*ps->p) {
    case '{':
    case '[':
        if (depth >= BODY_MAX_DEPTH)
            return body_fail(ps, "maximum nesting depth reached");
        return *ps->p == '{' ? body_object(ps, out, depth + 1) : body_array(ps, out, depth + 1);
    case '"':
        return body_string(ps, out);
    case 't':
        return body_literal(ps, "true", 4, BODY_BOOL, true, out);
    case 'f':
        return body_literal(ps, "false", 5, BODY_BOOL, false, out);
    case 'n':
        return body_literal(ps, "null", 4, BODY_NULL, false, out);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return body_number(ps, out);
        return body_fail(ps, "unexpected token");
    }
}

int body_parse(const char *data, size_t len, struct body **out, char err[ERR_MAX])
{
    return body_parse_max(data, len, BODY_MAX_VALUES, out, err);
}

int body_parse_max(const char *data, size_t len, size_t max_values, struct body **out,
                   char err[ERR_MAX])
{
    *out = NULL;
    /* One allocation for the body, its copy of the document and the
     * arena's first chunk (a small document gets a small one: an SSE
     * stream holds one parsed body per line). */
    const size_t align = _Alignof(struct body_chunk);
    size_t first = len < (BODY_CHUNK_MAX - 64) / 2 ? 2 * len + 64 : BODY_CHUNK_MAX;
    size_t at = 0;
    struct body *b = NULL;
    if (len < SIZE_MAX - sizeof(*b) - BODY_PAD - align - sizeof(struct body_chunk) - first) {
        at = (sizeof(*b) + len + BODY_PAD + align - 1) / align * align;
        b = malloc(at + sizeof(struct body_chunk) + first);
    }
    if (!b)
        return err_set(err, -ENOMEM, "out of memory parsing JSON");
    struct body_chunk *c = (struct body_chunk *)(void *)((char *)b + at);
    *c = (struct body_chunk){.cap = first};
    b->root = (struct body_node){0};
    b->chunks = c;
    b->next_chunk = first < BODY_CHUNK_MAX / 2 ? first * 2 : BODY_CHUNK_MAX;
    memcpy(b->text, data, len);
    memset(b->text + len, 0, BODY_PAD);
    struct body_parser ps = {.p = (const unsigned char *)b->text,
                             .end = (const unsigned char *)b->text + len,
                             .start = (const unsigned char *)b->text,
                             .b = b,
                             .max_values = max_values ? max_values : SIZE_MAX,
                             .err = err};
    /* Not in ps: its initializer would zero these 4 KiB for every body. */
    struct body_node local[BODY_STACK_LOCAL];
    ps.stack = local;
    ps.cap = BODY_STACK_LOCAL;
    int rc = 0;
    body_ws(&ps);
    if (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '[')) {
        rc = body_fail(&ps, ps.p >= ps.end ? "empty input" : "'[' or '{' expected");
        goto out;
    }
    if (len / 2 >= UINT32_MAX) {
        rc = body_fail(&ps, "document larger than 8 GiB");
        goto out;
    }
    if ((rc = body_value(&ps, &b->root, 0)) < 0)
        goto out;
    body_ws(&ps);
    if (ps.p != ps.end)
        rc = body_fail(&ps, "end of input expected");
out:
    if (ps.heap)
        free(ps.stack);
    if (rc < 0) {
        body_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void body_free(struct body *b)
{
    if (!b)
        return;
    /* all but the last chunk, the first, which is part of b */
    for (struct body_chunk *c = b->chunks, *next; c->next; c = next) {
        next = c->next;
        free(c);
    }
    free(b);
}

const struct body_node *body_root(const struct body *b)
{
    return &b->root;
}

/* The value of a real (its text was checked finite when parsed). */
static double body_real(const struct body_node *n)
{
    double d;
    return body_real_fast(n->u.lexeme, &d) ? d : strtod(n->u.lexeme, NULL);
}

/* ---- accessors ---------------------------------------------------------- */

/* The last member named key[0..klen) (jansson keeps the last duplicate). */
static const struct body_node *body_member(const struct body_node *obj, const char *key,
                                           size_t klen)
{
    for (size_t i = obj->len; i-- > 0;) {
        const struct body_member *m = &obj->u.members[i];
        /* length and first byte inline: most members differ there */
        if (m->klen == klen &&
            (klen == 0 || (m->key[0] == key[0] && memcmp(m->key + 1, key + 1, klen - 1) == 0)))
            return &m->value;
    }
    return NULL;
}

const struct body_node *body_get(const struct body_node *n, const char *ptr)
{
    if (!n || !ptr)
        return NULL;
    const char *p = ptr;
    while (*p) {
        if (*p != '/')
            return NULL;
        p++;
        /* One (vectorised) scan finds the token's end or its first escape;
         * only a token with an escape is scanned again for its end. A hand
         * loop was slower: tokens are 15 bytes on average, 5 instructions a
         * byte, where strcspn() spends 48 on the whole token. */
        size_t tl = strcspn(p, "/~");
        bool tilde = p[tl] == '~';
        if (tilde)
            tl += strcspn(p + tl, "/");
        const char *key = p;
        size_t kl = tl;
        char tok[256];
        if (tilde) {
            /* decode ~1 -> /, ~0 -> ~ (RFC 6901); most tokens have neither */
            kl = 0;
            for (size_t i = 0; i < tl; i++) {
                if (kl + 1 >= sizeof(tok))
                    return NULL;
                if (p[i] == '~' && i + 1 < tl && (p[i + 1] == '0' || p[i + 1] == '1')) {
                    tok[kl++] = p[i + 1] == '0' ? '~' : '/';
                    i++;
                } else {
                    tok[kl++] = p[i];
                }
            }
            key = tok;
        }
        if (n->type == BODY_OBJECT) {
            n = body_member(n, key, kl);
        } else if (n->type == BODY_ARRAY) {
            size_t idx = 0;
            if (kl == 0 || kl > 9 || (kl > 1 && key[0] == '0'))
                return NULL;
            for (size_t i = 0; i < kl; i++) {
                if (key[i] < '0' || key[i] > '9')
                    return NULL;
                idx = idx * 10 + (size_t)(key[i] - '0');
            }
            if (idx >= n->len)
                return NULL;
            n = &n->u.items[idx];
        } else {
            return NULL;
        }
        if (!n)
            return NULL;
        p += tl;
    }
    return n;
}

enum body_type body_type(const struct body_node *n)
{
    return n ? (enum body_type)n->type : BODY_ABSENT;
}

/* The text of a string node and its length (len may be NULL). A text with
 * escapes is decoded in place the first time it is read; the byte before
 * it says whether it has been (body_string()). */
static const char *body_text(const struct body_node *n, size_t *len)
{
    char *t = n->u.text;
    if (!n->flag) {
        if (len)
            *len = n->len;
        return t;
    }
    if (t[-1]) {
        body_decode(t, n->len);
        t[-1] = 0;
    }
    if (len)
        *len = strlen(t);
    return t;
}

const char *body_str(const struct body_node *n, const char *ptr)
{
    const struct body_node *v = body_get(n, ptr);
    return v && v->type == BODY_STRING ? body_text(v, NULL) : NULL;
}

const char *body_str_nonempty(const struct body_node *n, const char *ptr)
{
    const char *s = body_str(n, ptr);
    return s && *s ? s : NULL;
}

/* Parses an optionally signed run of decimal digits, nothing else. */
static int body_parse_decimal(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (!*p)
        return -EINVAL;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -ERANGE;
        *out = (int64_t)v;
    }
    return 0;
}

int body_int(const struct body_node *n, const char *ptr, int64_t *out)
{
    const struct body_node *v = body_get(n, ptr);
    if (!v || v->type == BODY_NULL)
        return -ENOENT;
    switch (v->type) {
    case BODY_INT:
        *out = v->u.i;
        return 0;
    case BODY_REAL: {
        double d = body_real(v);
        if (!isfinite(d) || d != floor(d))
            return -EINVAL;
        /* 2^63 is exactly representable; anything at or above it overflows. */
        if (d >= 9223372036854775808.0 || d < -9223372036854775808.0)
            return -ERANGE;
        *out = (int64_t)d;
        return 0;
    }
    case BODY_STRING:
        return body_parse_decimal(body_text(v, NULL), out);
    default:
        return -EINVAL;
    }
}

int body_count(const struct body_node *n, const char *ptr, int64_t *out)
{
    int64_t v = 0;
    int rc = body_int(n, ptr, &v);
    if (rc < 0)
        return rc;
    if (v < 0)
        return -ERANGE;
    *out = v;
    return 0;
}

int body_num(const struct body_node *n, const char *ptr, double *out)
{
    const struct body_node *v = body_get(n, ptr);
    if (!v || v->type == BODY_NULL)
        return -ENOENT;
    if (v->type == BODY_INT) {
        *out = (double)v->u.i;
        return 0;
    }
    if (v->type == BODY_REAL) {
        *out = body_real(v);
        return 0;
    }
    if (v->type == BODY_STRING) {
        char *end = NULL;
        errno = 0;
        const char *t = body_text(v, NULL);
        double d = strtod(t, &end);
        if (errno || end == t || *end || !isfinite(d))
            return -EINVAL;
        *out = d;
        return 0;
    }
    return -EINVAL;
}

int body_bool(const struct body_node *n, const char *ptr, bool *out)
{
    const struct body_node *v = body_get(n, ptr);
    if (!v || v->type == BODY_NULL)
        return -ENOENT;
    if (v->type != BODY_BOOL)
        return -EINVAL;
    *out = v->flag;
    return 0;
}

bool body_has(const struct body_node *n, const char *ptr)
{
    const struct body_node *v = body_get(n, ptr);
    return v && v->type != BODY_NULL;
}

size_t body_array_len(const struct body_node *n)
{
    return n && n->type == BODY_ARRAY ? n->len : 0;
}

const struct body_node *body_array_at(const struct body_node *n, size_t i)
{
    return i < body_array_len(n) ? &n->u.items[i] : NULL;
}

size_t body_object_len(const struct body_node *n)
{
    return n && n->type == BODY_OBJECT ? n->len : 0;
}

const char *body_object_key(const struct body_node *n, size_t i)
{
    return i < body_object_len(n) ? n->u.members[i].key : NULL;
}

const struct body_node *body_object_value(const struct body_node *n, size_t i)
{
    return i < body_object_len(n) ? &n->u.members[i].value : NULL;
}

/* ---- canonical dump ----------------------------------------------------- */

/* Appends s as a JSON string; a failure is left in out's sticky error. */
static void body_dump_string(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        buf_append(out, esc, n);
    }
    buf_append(out, s + run, len - run);
    buf_putc(out, '"');
}

static int body_member_cmp(const void *a, const void *b)
{
    const struct body_member *x = *(const struct body_member *const *)a;
    const struct body_member *y = *(const struct body_member *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Appends n to out. Returns 0, -ENOMEM, or -EINVAL for an absent node;
 * append failures are left in out's sticky error. */
static int body_dump_node(const struct body_node *n, struct buf *out)
{
    int rc = 0;
    switch (n->type) {
    case BODY_ABSENT:
        return -EINVAL;
    case BODY_NULL:
        buf_puts(out, "null");
        return 0;
    case BODY_BOOL:
        buf_puts(out, n->flag ? "true" : "false");
        return 0;
    case BODY_INT:
        if (n->flag)
            buf_puts(out, "-0");
        else
            buf_printf(out, "%" PRId64, n->u.i);
        return 0;
    case BODY_REAL:
        buf_append(out, n->u.lexeme, n->len);
        return 0;
    case BODY_STRING: {
        size_t len = 0;
        const char *t = body_text(n, &len);
        body_dump_string(out, t, len);
        return 0;
    }
    case BODY_ARRAY:
        buf_putc(out, '[');
        for (size_t i = 0; rc == 0 && !buf_error(out) && i < n->len; i++) {
            if (i)
                buf_putc(out, ',');
            rc = body_dump_node(&n->u.items[i], out);
        }
        buf_putc(out, ']');
        return rc;
    case BODY_OBJECT: {
        /* Keys sorted, so equal documents give equal bytes. */
        const struct body_member **order = malloc((n->len ? n->len : 1) * sizeof(*order));
        if (!order)
            return -ENOMEM;
        for (size_t i = 0; i < n->len; i++)
            order[i] = &n->u.members[i];
        qsort(order, n->len, sizeof(*order), body_member_cmp);
        buf_putc(out, '{');
        for (size_t i = 0; rc == 0 && !buf_error(out) && i < n->len; i++) {
            if (i)
                buf_putc(out, ',');
            body_dump_string(out, order[i]->key, order[i]->klen);
            buf_putc(out, ':');
            rc = body_dump_node(&order[i]->value, out);
        }
        free(order);
        buf_putc(out, '}');
        return rc;
    }
    }
    return -EINVAL;
}

int body_dump(const struct body_node *n, struct buf *out)
{
    if (!n)
        return -EINVAL;
    int rc = body_dump_node(n, out);
    return rc < 0 ? rc : buf_error(out);
}
