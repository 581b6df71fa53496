/* SPDX-License-Identifier: MIT */
#include "tokenmeter/vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vec_reserve(void *items_ptr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    if (size == 0 || need > SIZE_MAX / size)
        return -ENOMEM;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > SIZE_MAX / size)
        ncap = need;
    /* The caller's pointer is a T *, not a void *: copy it through bytes
     * rather than dereferencing it as void ** (strict aliasing). */
    void *old;
    memcpy(&old, items_ptr, sizeof(old));
    void *p = realloc(old, ncap * size);
    if (!p)
        return -ENOMEM;
    memcpy(items_ptr, &p, sizeof(p));
    *cap = ncap;
    return 0;
}
