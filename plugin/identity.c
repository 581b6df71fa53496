/* SPDX-License-Identifier: MIT */
#include "tokenmeter/identity.h"

#include <stdlib.h>
#include <string.h>

#include "tokenmeter/timeutil.h"

uint64_t identity_fnv1a(uint64_t h, const void *data, size_t len)
{
    return map_hash(h, data, len);
}

/* Length of the series: the line up to its first space not escaped by a
 * backslash. memchr finds the space; backslashes are rare, so the byte
 * loop runs only from the first one (the bytes before it are neither a
 * space nor a backslash, so the loop would have reached it unchanged). */
static size_t identity_series(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    size_t end = sp ? (size_t)(sp - line) : len;
    const char *bs = memchr(line, '\\', end);
    if (!bs)
        return end;
    size_t i = (size_t)(bs - line);
    for (; i < len && line[i] != ' '; i++)
        if (line[i] == '\\')
            i++;
    return i > len ? len : i; /* a backslash ending the line */
}

uint64_t identity_point_key(const char *line, size_t len, const char *source, const char *event_id,
                            bool time_known, int64_t ts)
{
    uint64_t key = identity_fnv1a(IDENTITY_FNV_OFFSET, line, identity_series(line, len));
    key = identity_fnv1a(key, source, strlen(source));
    key = identity_fnv1a(key, ":", 1);
    key = identity_fnv1a(key, event_id, strlen(event_id));
    if (time_known)
        key = identity_fnv1a(key, &ts, sizeof(ts));
    return key;
}

int64_t identity_timestamp(int64_t time_ns, const char *source, const char *event_id)
{
    uint64_t h = identity_fnv1a(IDENTITY_FNV_OFFSET, source, strlen(source));
    h = identity_fnv1a(h, ":", 1);
    h = identity_fnv1a(h, event_id, strlen(event_id));
    int64_t second = time_ns - time_ns % TIMEUTIL_NS_PER_S;
    return second + (int64_t)(h % (uint64_t)TIMEUTIL_NS_PER_S);
}

struct identity_cache {
    size_t nbuckets;     /* power of two */
    unsigned char *next; /* per bucket: the way to overwrite next (FIFO) */
    uint64_t *keys;      /* nbuckets * IDENTITY_WAYS; 0 marks an empty way */
};

static size_t identity_buckets(size_t capacity)
{
    size_t want = (capacity + IDENTITY_WAYS - 1) / IDENTITY_WAYS;
    size_t n = 1;
    while (n < want)
        n <<= 1;
    return n;
}

size_t identity_cache_bytes(size_t capacity)
{
    if (capacity == 0)
        return 0;
    size_t nb = identity_buckets(capacity);
    return nb * IDENTITY_WAYS * sizeof(uint64_t) + nb;
}

/* Touches every page of a table now. Each identity lands on a random page,
 * so otherwise each of the first few thousand events takes the fault of a
 * page's first touch (2 100 pages for the default million identities): a
 * latency tail through the first minutes, for memory the table takes
 * anyway ([ingest] dedup_cache: "8.5 MB fixed"). */
static void identity_prefault(void *p, size_t n)
{
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i += 4096)
        b[i] = 0;
}

struct identity_cache *identity_cache_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    struct identity_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->nbuckets = identity_buckets(capacity);
    c->keys = calloc(c->nbuckets * IDENTITY_WAYS, sizeof(uint64_t));
    c->next = calloc(c->nbuckets, 1);
    if (!c->keys || !c->next) {
        identity_cache_free(c);
        return NULL;
    }
    identity_prefault(c->keys, c->nbuckets * IDENTITY_WAYS * sizeof(uint64_t));
    identity_prefault(c->next, c->nbuckets);
    return c;
}

void identity_cache_free(struct identity_cache *c)
{
    if (!c)
        return;
    free(c->keys);
    free(c->next);
    free(c);
}

bool identity_cache_check_insert(struct identity_cache *c, uint64_t key)
{
    if (!c)
        return false;
    if (key == 0)
        key = 1; /* 0 is the empty marker */
    /* The low bits pick the bucket; FNV's high bits are as good as its low. */
    size_t b = (size_t)((key ^ (key >> 32)) & (c->nbuckets - 1));
    uint64_t *ways = &c->keys[b * IDENTITY_WAYS];
    for (int i = 0; i < IDENTITY_WAYS; i++)
        if (ways[i] == key)
            return true;
    ways[c->next[b]] = key;
    c->next[b] = (unsigned char)((c->next[b] + 1) % IDENTITY_WAYS);
    return false;
}
