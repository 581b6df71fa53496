/* SPDX-License-Identifier: MIT */
#include "tokenmeter/map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void map_init(struct map *m)
{
    m->hashes = NULL;
    m->pos = NULL;
    m->nslots = 0;
    m->len = 0;
}

void map_free(struct map *m)
{
    free(m->hashes);
    free(m->pos);
    map_init(m);
}

void map_clear(struct map *m)
{
    if (m->pos)
        memset(m->pos, 0, m->nslots * sizeof(*m->pos));
    m->len = 0;
}

static void map_place(uint64_t *hashes, size_t *pos, size_t nslots, uint64_t hash, size_t p1)
{
    size_t i = (size_t)(hash ^ (hash >> 32)) & (nslots - 1);
    while (pos[i])
        i = (i + 1) & (nslots - 1);
    hashes[i] = hash;
    pos[i] = p1;
}

int map_reserve(struct map *m, size_t n)
{
    if (n > SIZE_MAX / 4)
        return -ENOMEM;
    size_t want = 16;
    while (want < n * 2)
        want *= 2;
    if (want <= m->nslots)
        return 0;
    uint64_t *hashes = malloc(want * sizeof(*hashes));
    size_t *pos = calloc(want, sizeof(*pos));
    if (!hashes || !pos) {
        free(hashes);
        free(pos);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->nslots; i++)
        if (m->pos[i])
            map_place(hashes, pos, want, m->hashes[i], m->pos[i]);
    free(m->hashes);
    free(m->pos);
    m->hashes = hashes;
    m->pos = pos;
    m->nslots = want;
    return 0;
}

int map_insert(struct map *m, uint64_t hash, size_t pos)
{
    if (pos == MAP_NONE)
        return -EINVAL;
    if ((m->len + 1) * 2 > m->nslots) {
        int rc = map_reserve(m, m->len + 1 > m->len * 2 ? m->len + 1 : m->len * 2);
        if (rc < 0)
            return rc;
    }
    map_place(m->hashes, m->pos, m->nslots, hash, pos + 1);
    m->len++;
    return 0;
}

size_t map_first(const struct map *m, uint64_t hash)
{
    return m->nslots ? (size_t)(hash ^ (hash >> 32)) & (m->nslots - 1) : 0;
}

size_t map_next(const struct map *m, uint64_t hash, size_t *it)
{
    if (!m->nslots)
        return MAP_NONE;
    for (size_t i = *it; m->pos[i]; i = (i + 1) & (m->nslots - 1)) {
        if (m->hashes[i] == hash) {
            *it = (i + 1) & (m->nslots - 1);
            return m->pos[i] - 1;
        }
    }
    return MAP_NONE;
}

#define MAP_FNV_PRIME 0x100000001b3ULL

uint64_t map_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i = 0;
    /* Four bytes per loop test: FNV-1a is a chain of multiplies, one per
     * byte, and the loop's own compare and branch were as many
     * instructions again. */
    for (; i + 4 <= len; i += 4) {
        h = (h ^ p[i]) * MAP_FNV_PRIME;
        h = (h ^ p[i + 1]) * MAP_FNV_PRIME;
        h = (h ^ p[i + 2]) * MAP_FNV_PRIME;
        h = (h ^ p[i + 3]) * MAP_FNV_PRIME;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * MAP_FNV_PRIME;
    return h;
}

uint64_t map_hash_str(uint64_t h, const char *s)
{
    if (!s)
        s = "";
    return map_hash(h, s, strlen(s) + 1);
}
