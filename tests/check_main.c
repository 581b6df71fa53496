/* SPDX-License-Identifier: MIT */
/*
 * The one Check runner. Suites are found by the Makefile: every
 * tests/check_<name>.c defines `Suite *check_<name>_suite(void)`, and
 * build/.../check_suites.inc lists them, so adding a test file needs no edit
 * here.
 */
#include <check.h>
#include <stdlib.h>

#define CHECK_SUITE(name) Suite *name##_suite(void);
#include "check_suites.inc"
#undef CHECK_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define CHECK_SUITE(name) srunner_add_suite(sr, name##_suite());
#include "check_suites.inc"
#undef CHECK_SUITE
    srunner_run_all(sr, CK_ENV);
    int nrun = srunner_ntests_run(sr);
    int nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (nrun == 0)
        return EXIT_FAILURE; /* a filter that selects nothing is a failure */
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
