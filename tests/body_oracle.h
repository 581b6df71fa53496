/* SPDX-License-Identifier: MIT */
/*
 * The reading rule shared by the differential tests of body.c against
 * jansson (tests/check_body_oracle.c and tests/fuzz/fuzz_body.c): a body
 * node "reads like" a jansson value when body.h's accessors return the same
 * type and value jansson holds, recursively. Test code only.
 */
#ifndef TOKENMETER_TESTS_BODY_ORACLE_H
#define TOKENMETER_TESTS_BODY_ORACLE_H

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tokenmeter/body.h"

/* True when the body node reads like the jansson value. */
static inline bool body_oracle_same(const struct body_node *n, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        return body_type(n) == BODY_NULL;
    case JSON_TRUE:
    case JSON_FALSE: {
        bool v;
        return body_bool(n, "", &v) == 0 && v == json_is_true(j);
    }
    case JSON_INTEGER: {
        int64_t v;
        return body_type(n) == BODY_INT && body_int(n, "", &v) == 0 &&
               v == (int64_t)json_integer_value(j);
    }
    case JSON_REAL: {
        double v;
        return body_type(n) == BODY_REAL && body_num(n, "", &v) == 0 &&
               (v == json_real_value(j) || (isnan(v) && isnan(json_real_value(j))));
    }
    case JSON_STRING: {
        const char *s = body_str(n, "");
        return s && strlen(s) == json_string_length(j) &&
               memcmp(s, json_string_value(j), json_string_length(j)) == 0;
    }
    case JSON_ARRAY:
        if (body_array_len(n) != json_array_size(j) || body_type(n) != BODY_ARRAY)
            return false;
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!body_oracle_same(body_array_at(n, i), json_array_get(j, i)))
                return false;
        return true;
    case JSON_OBJECT: {
        if (body_type(n) != BODY_OBJECT || body_object_len(n) < json_object_size(j))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            /* The last member of that name (jansson keeps the last of
             * duplicate keys), found by the members themselves: body_get's
             * pointers are for the short keys sources ask for. */
            const struct body_node *m = NULL;
            for (size_t i = body_object_len(n); i-- > 0 && !m;)
                if (strcmp(body_object_key(n, i), k) == 0)
                    m = body_object_value(n, i);
            bool ok = body_oracle_same(m, v);
            if (!ok)
                return false;
        }
        return true;
    }
    }
    return false;
}

#endif
