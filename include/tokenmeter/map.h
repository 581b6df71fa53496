/* SPDX-License-Identifier: MIT */
/*
 * map — the one hash index: 64-bit hash -> position in the caller's array.
 *
 * The entries themselves live in the caller's own array (grown with vec.h);
 * the map only finds them. That keeps entries contiguous and typed, lets
 * the caller decide what "equal" means (a string key, five columns, or the
 * 64-bit hash alone), and makes the map small: 16 bytes a slot, open
 * addressing with linear probing, grown to stay at most half full, so a
 * lookup is O(1) expected whatever the number of entries.
 *
 * Entries are never removed one at a time (no user needs it); map_clear()
 * empties the index.
 *
 * Use:
 *     uint64_t h = ...;
 *     for (size_t it = map_first(m, h), i; (i = map_next(m, h, &it)) != MAP_NONE;)
 *         if (equal(&items[i], key)) return &items[i];
 *     ... append the new entry at position n, then map_insert(m, h, n) ...
 */
#ifndef TOKENMETER_MAP_H
#define TOKENMETER_MAP_H

#include <stddef.h>
#include <stdint.h>

#define MAP_NONE ((size_t)-1)

struct map {
    uint64_t *hashes; /* owned; per slot */
    size_t *pos;      /* owned; per slot: position + 1, 0 = empty */
    size_t nslots;    /* 0 or a power of two */
    size_t len;       /* positions inserted */
};

/* An empty map; allocates nothing. */
void map_init(struct map *m);

/* Releases the index (not the caller's entries). Accepts a map that was
 * never inserted into; the map is empty and reusable afterwards. */
void map_free(struct map *m);

/* Empties the index, keeping its storage. */
void map_clear(struct map *m);

/* Records that the entry at `pos` has hash `hash`. Several entries may share
 * a hash: map_next() yields each. Returns 0 or -ENOMEM (the map is then
 * unchanged). Makes room for `expect` entries at once when called with
 * map_reserve first; otherwise grows as needed. */
int map_insert(struct map *m, uint64_t hash, size_t pos);

/* Sizes the index for `n` entries in all, so that inserting them never
 * rehashes. Returns 0 or -ENOMEM. */
int map_reserve(struct map *m, size_t n);

/* Starts a probe for `hash`: the iterator to hand to map_next(). */
size_t map_first(const struct map *m, uint64_t hash);

/* The next position recorded with `hash`, or MAP_NONE when there is none
 * left. `it` is advanced. */
size_t map_next(const struct map *m, uint64_t hash, size_t *it);

/* FNV-1a-64 of len bytes continuing from h (start with MAP_HASH_INIT): the
 * hash every map user feeds its keys through. Never returns 0 for
 * MAP_HASH_INIT and non-empty data in practice; 0 is an ordinary value. */
#define MAP_HASH_INIT 0xcbf29ce484222325ULL
uint64_t map_hash(uint64_t h, const void *data, size_t len);

/* map_hash over a NUL-terminated string, with its terminator, so that
 * ("ab","c") and ("a","bc") hash differently when chained. NULL hashes as
 * the empty string. */
uint64_t map_hash_str(uint64_t h, const char *s);

#endif
