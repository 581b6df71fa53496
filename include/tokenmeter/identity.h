/* SPDX-License-Identifier: MIT */
/*
 * identity — where a re-sent event lands in InfluxDB, and the bounded
 * in-process cache that drops repeats before they are written
 * (docs/schema.md, "Identity and deduplication").
 *
 * InfluxDB identifies a point by measurement + tag set + timestamp; a second
 * write with the same identity overwrites the first. In the default
 * `dedup = timestamp` mode the timestamp is the event's time floored to the
 * second plus FNV-1a-64(source ":" event_id) mod 1e9 ns, so a re-send lands
 * on the same point while distinct events collide only if they share a
 * series, a second and a 1-in-1e9 hash slot.
 */
#ifndef TOKENMETER_IDENTITY_H
#define TOKENMETER_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenmeter/map.h"

#define IDENTITY_FNV_OFFSET MAP_HASH_INIT

/* FNV-1a-64 of len bytes, continuing from `h` (start with
 * IDENTITY_FNV_OFFSET): map_hash() under the name the identity rules are
 * stated in. Its values are part of the stored data (timestamps, compacted
 * and body-hash ids) and never change. */
uint64_t identity_fnv1a(uint64_t h, const void *data, size_t len);

/* The duplicate-cache key of a formatted point: FNV-1a-64 of its series
 * (the line up to its first unescaped space), then source ":" event_id,
 * then the 8 bytes of ts when the body gave a time. An event without a body
 * time gets the receive time, which differs between re-sends, so it is
 * keyed on its id alone and the re-send is still caught. */
uint64_t identity_point_key(const char *line, size_t len, const char *source, const char *event_id,
                            bool time_known, int64_t ts);

/* The point timestamp for dedup = timestamp: floor(time_ns / 1e9) * 1e9 +
 * FNV-1a-64(source ":" event_id) mod 1e9. time_ns must be >= 0. */
int64_t identity_timestamp(int64_t time_ns, const char *source, const char *event_id);

/*
 * The duplicate cache: a set-associative table of 64-bit identity keys,
 * IDENTITY_WAYS keys per bucket, each bucket evicting its oldest key when
 * full. Memory is fixed at creation, 8 bytes per slot (identity_cache_bytes),
 * and every operation is O(1).
 *
 * It is deliberately not a struct map (map.h): a map indexes an array that
 * only grows and never forgets, while this cache must stay within the memory
 * fixed at start-up however many events pass, so it forgets the oldest key
 * of a full bucket. A forgotten key only means a late re-send is written
 * again, and InfluxDB overwrites the same point (dedup = timestamp or tag).
 */
#define IDENTITY_WAYS 8

struct identity_cache;

/* Returns a new cache holding at least `capacity` keys (rounded up to a
 * power-of-two number of buckets), or NULL on ENOMEM. capacity 0 returns
 * NULL without error: callers treat a NULL cache as "disabled". */
struct identity_cache *identity_cache_new(size_t capacity);

/* Releases the cache. Accepts NULL. */
void identity_cache_free(struct identity_cache *c);

/* True when `key` was inserted before and not yet evicted; otherwise
 * inserts it (evicting the bucket's oldest key when full) and returns false.
 * A NULL cache never reports a duplicate. */
bool identity_cache_check_insert(struct identity_cache *c, uint64_t key);

/* Bytes of key storage a cache created with `capacity` uses. */
size_t identity_cache_bytes(size_t capacity);

#endif
