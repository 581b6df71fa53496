/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes as one webhook body through the whole
 * pipeline (parser, detection, every source, escaping, identity, dead
 * letters). Whatever the input, the pipeline must return, and whatever it
 * writes must be whole lines with no byte that could split one.
 * Build and run with `make fuzz` (clang's libFuzzer, ASan+UBSan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/log.h"
#include "tokenmeter/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *fuzz_cfg;
static struct deadletter *fuzz_dl;
static struct pipeline *fuzz_p;
static struct stats fuzz_stats;
static char fuzz_dl_path[] = "/tmp/tm-fuzz-dead-letter-XXXXXX";
static unsigned long fuzz_runs;

/* The dead letters go to a scratch file (tokenmeter refuses /dev/null, where
 * they would be lost), emptied now and then so that a long run stays small,
 * and removed at exit. */
static void fuzz_remove_dl(void)
{
    unlink(fuzz_dl_path);
}

static void fuzz_init(void)
{
    char err[ERR_MAX];
    int fd = mkstemp(fuzz_dl_path);
    if (fd < 0)
        abort();
    close(fd);
    atexit(fuzz_remove_dl);
    log_set_level(LOG_LEVEL_ERROR);
    fuzz_cfg = config_new();
    config_set_assignment(fuzz_cfg, "ingest.extra_tags=team,user", err);
    config_set_assignment(fuzz_cfg, "ingest.dedup_cache=1000", err);
    if (config_finish(fuzz_cfg, err) < 0)
        abort();
    if (deadletter_open(fuzz_dl_path, &fuzz_dl, err) < 0 ||
        pipeline_new(fuzz_cfg, fuzz_dl, &fuzz_stats, &fuzz_p, err) < 0)
        abort();
    pipeline_set_receive_time(fuzz_p, 1787666591000000000LL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_p)
        fuzz_init();
    if (++fuzz_runs % 4096 == 0 && truncate(fuzz_dl_path, 0) < 0)
        abort();
    struct buf out;
    buf_init(&out, 1 << 26);
    uint64_t before =
        fuzz_stats.written + fuzz_stats.duplicates + fuzz_stats.ignored + fuzz_stats.rejected;
    if (pipeline_feed(fuzz_p, (const char *)data, size, "fuzz", NULL, &out) < 0)
        abort();
    uint64_t after =
        fuzz_stats.written + fuzz_stats.duplicates + fuzz_stats.ignored + fuzz_stats.rejected;
    if (after == before) /* every body ends somewhere */
        abort();
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        if (c == '\n')
            lines++;
        else if (c == '\r' || c == '\f' || c == 0)
            abort(); /* a byte a parser could read as a line break */
    }
    if (out.len && out.data[out.len - 1] != '\n')
        abort();
    (void)lines;
    buf_free(&out);
    return 0;
}
