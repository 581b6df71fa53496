/* SPDX-License-Identifier: MIT */
#include "tokenmeter/base64.h"

#include <errno.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_quantum(struct buf *out, const unsigned char *in, size_t n)
{
    char q[4];
    unsigned v = (unsigned)in[0] << 16 | (n > 1 ? (unsigned)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);
    q[0] = b64_alphabet[(v >> 18) & 63];
    q[1] = b64_alphabet[(v >> 12) & 63];
    q[2] = n > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
    q[3] = n > 2 ? b64_alphabet[v & 63] : '=';
    buf_append(out, q, 4);
}

int base64_encode(struct buf *out, const void *data, size_t len)
{
    struct base64_stream st;
    base64_stream_init(&st);
    base64_stream_feed(&st, out, data, len);
    return base64_stream_finish(&st, out);
}

void base64_stream_init(struct base64_stream *st)
{
    st->npending = 0;
}

int base64_stream_feed(struct base64_stream *st, struct buf *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i = 0;
    /* Complete a quantum left over from the previous chunk first. */
    while (st->npending && i < len) {
        st->pending[st->npending++] = p[i++];
        if (st->npending == 3) {
            st->npending = 0;
            b64_quantum(out, st->pending, 3);
        }
    }
    for (; i + 3 <= len; i += 3)
        b64_quantum(out, p + i, 3);
    while (i < len)
        st->pending[st->npending++] = p[i++];
    return buf_error(out);
}

int base64_stream_finish(struct base64_stream *st, struct buf *out)
{
    if (st->npending)
        b64_quantum(out, st->pending, st->npending);
    st->npending = 0;
    return buf_error(out);
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -EINVAL;
}

int base64_decode(struct buf *out, const char *text, size_t len)
{
    if (len % 4)
        return -EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + (size_t)k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_value(c)) < 0) {
                return -EINVAL;
            }
        }
        unsigned x =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        unsigned char o[3] = {(unsigned char)(x >> 16), (unsigned char)(x >> 8), (unsigned char)x};
        buf_append(out, o, 3 - (size_t)pad);
    }
    return buf_error(out);
}
