/* SPDX-License-Identifier: MIT */
/*
 * vec — the one array-growth helper.
 *
 * tokenmeter keeps its growable arrays as a plain `T *items; size_t len,
 * cap;` triple in the owning struct; this helper is the only place that
 * computes a new capacity and calls realloc for them, so the overflow checks
 * are written once.
 */
#ifndef TOKENMETER_VEC_H
#define TOKENMETER_VEC_H

#include <stddef.h>

/* Makes room for at least `need` elements of `size` bytes in the array whose
 * pointer is at `items_ptr` (a `T **`, passed as void * so any element type
 * fits) and whose capacity is *cap. Grows geometrically (8, 16, 32, ...) so
 * n appends cost O(n). On success *items_ptr and *cap may change and 0 is
 * returned; on failure nothing changes and -ENOMEM is returned (also when
 * need * size would overflow). */
int vec_reserve(void *items_ptr, size_t *cap, size_t need, size_t size);

#endif
