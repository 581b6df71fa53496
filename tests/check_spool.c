/* SPDX-License-Identifier: MIT */
/*
 * The maildir spool: the directory layer (spool.c) directly, and
 * `execd --spool DIR` through the real binary.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "runbin.h"
#include "testutil.h"
#include "tokenmeter/spool.h"

/* An Anthropic body: no time of its own, so the spool file's mtime is its
 * receive time. */
#define ANTHROPIC_BODY                                                                             \
    "{\"type\":\"message\",\"id\":\"msg_%d\",\"model\":\"claude-x\",\"usage\":"                    \
    "{\"input_tokens\":%d,\"output_tokens\":1}}"

static void write_at(const char *dir, const char *sub, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    tu_write_file(path, text);
}

/* Writes a body the way a sender must: into tmp/, then renamed into new/.
 * The mtime is fixed so the receive time is reproducible. */
static void deliver(const char *dir, const char *name, const char *text, time_t mtime)
{
    char from[512], to[512];
    write_at(dir, "tmp", name, text);
    snprintf(from, sizeof(from), "%s/tmp/%s", dir, name);
    snprintf(to, sizeof(to), "%s/new/%s", dir, name);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, from, ts, 0), 0);
    ck_assert_int_eq(rename(from, to), 0);
}

static bool exists(const char *dir, const char *sub, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    return lstat(path, &st) == 0;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(open_creates_the_layout_and_scan_sorts)
{
    char base[64], dir[128];
    char err[ERR_MAX];
    tu_tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/spool/", base);
    struct spool *sp = NULL;
    ck_assert_int_eq(spool_open(dir, &sp, err), 0);
    ck_assert_ptr_nonnull(sp);
    ck_assert(exists(base, "spool", "tmp"));
    ck_assert(exists(base, "spool", "new"));
    snprintf(dir, sizeof(dir), "%s/spool", base);
    write_at(dir, "new", "20260825T140312.b", "{}");
    write_at(dir, "new", "20260825T140311.a", "{}");
    write_at(dir, "new", ".hidden", "{}");
    write_at(dir, "tmp", "0-not-yet", "{}");
    ck_assert_int_eq(spool_scan(sp), 2);
    ck_assert_str_eq(spool_name(sp, 0), "20260825T140311.a");
    ck_assert_str_eq(spool_name(sp, 1), "20260825T140312.b");
    ck_assert_ptr_null(spool_name(sp, 2));
    ck_assert_int_eq(spool_remove(sp, "20260825T140311.a"), 0);
    ck_assert_int_eq(spool_remove(sp, "20260825T140311.a"), 0); /* already gone is fine */
    ck_assert_int_eq(spool_scan(sp), 1);
    spool_close(sp);
    /* A spool path that is a file cannot be used. */
    snprintf(dir, sizeof(dir), "%s/spool/new/20260825T140312.b", base);
    ck_assert_int_eq(spool_open(dir, &sp, err), -ENOTDIR);
    ck_assert_ptr_null(sp);
    ck_assert_ptr_nonnull(strstr(err, "not a directory"));
    /* mkdir's own error comes back as it is */
    snprintf(dir, sizeof(dir), "%s/no/such/parent", base);
    ck_assert_int_eq(spool_open(dir, &sp, err), -ENOENT);
    ck_assert_ptr_null(sp);
    rm_rf(base);
}
END_TEST

START_TEST(unreadable_entries_are_set_aside)
{
    char base[64], path[256];
    char err[ERR_MAX];
    struct spool_file f;
    tu_tmpdir(base, sizeof(base));
    struct spool *sp = NULL;
    ck_assert_int_eq(spool_open(base, &sp, err), 0);
    snprintf(path, sizeof(path), "%s/new/a-dir", base);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/new/b-link", base);
    ck_assert_int_eq(symlink("/etc/hostname", path), 0);
    snprintf(path, sizeof(path), "%s/new/c-fifo", base);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    write_at(base, "new", "d-file", "{\"x\":1}");
    ck_assert_int_eq(spool_scan(sp), 4);
    ck_assert_int_eq(spool_file_open(sp, "a-dir", &f), -EBADF);
    ck_assert_int_eq(spool_file_open(sp, "b-link", &f), -EBADF);
    ck_assert_int_eq(spool_file_open(sp, "c-fifo", &f), -EBADF);
    ck_assert_int_eq(spool_file_open(sp, "gone", &f), -ENOENT);
    ck_assert(exists(base, "bad", "a-dir"));
    ck_assert(exists(base, "bad", "b-link"));
    ck_assert(exists(base, "bad", "c-fifo"));
    ck_assert_int_eq(spool_file_open(sp, "d-file", &f), 0);
    ck_assert_int_eq(f.size, 7);
    ck_assert_ptr_nonnull(strstr(f.path, "/new/d-file"));
    spool_file_close(&f);
    spool_file_close(&f); /* idempotent */
    ck_assert_int_eq(spool_scan(sp), 1);
    spool_close(sp);
    spool_close(NULL);
    rm_rf(base);
}
END_TEST

/* A file a sender wrote to tmp/ and never renamed is moved to bad/ after
 * 36 hours; younger ones are left for their sender. */
START_TEST(stale_tmp_files_are_set_aside_on_open)
{
    char base[64], path[256];
    char err[ERR_MAX];
    tu_tmpdir(base, sizeof(base));
    struct spool *sp = NULL;
    ck_assert_int_eq(spool_open(base, &sp, err), 0);
    spool_close(sp);
    snprintf(path, sizeof(path), "%s/tmp/old", base);
    tu_write_file(path, "{}");
    struct timespec ts[2] = {{time(NULL) - 37 * 3600, 0}, {time(NULL) - 37 * 3600, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    snprintf(path, sizeof(path), "%s/tmp/fresh", base);
    tu_write_file(path, "{}");
    ck_assert_int_eq(spool_open(base, &sp, err), 0);
    ck_assert(exists(base, "bad", "old"));
    ck_assert(!exists(base, "tmp", "old"));
    ck_assert(exists(base, "tmp", "fresh"));
    ck_assert_int_eq(spool_scan(sp), 0);
    spool_close(sp);
    rm_rf(base);
}
END_TEST

struct spool_run {
    char base[64], spool[128], out[160], err[160], dl[160];
    char *stdout_text, *stderr_text, *dl_text;
    int status;
};

/* Runs `execd --spool --once`: it drains the spool, then exits. */
static void run_spool(struct spool_run *r, const char *max_body)
{
    const char *args[] = {"execd",         "-c",  "/dev/null",        "--spool", r->spool, "--once",
                          "--dead-letter", r->dl, "--max-body-bytes", max_body,  NULL};
    r->status = rb_run(args, NULL, r->out, r->err);
    free(r->stdout_text);
    free(r->stderr_text);
    free(r->dl_text);
    r->stdout_text = tu_read_file(r->out);
    r->stderr_text = tu_read_file(r->err);
    r->dl_text = tu_read_file(r->dl);
    ck_assert_ptr_nonnull(r->stdout_text);
    if (!r->dl_text)
        r->dl_text = strdup("");
}

static void spool_run_init(struct spool_run *r)
{
    memset(r, 0, sizeof(*r));
    tu_tmpdir(r->base, sizeof(r->base));
    snprintf(r->spool, sizeof(r->spool), "%s/spool", r->base);
    snprintf(r->out, sizeof(r->out), "%s/out", r->base);
    snprintf(r->err, sizeof(r->err), "%s/err", r->base);
    snprintf(r->dl, sizeof(r->dl), "%s/dl.ndjson", r->base);
    char err[ERR_MAX];
    struct spool *sp = NULL;
    ck_assert_int_eq(spool_open(r->spool, &sp, err), 0);
    spool_close(sp);
}

static void spool_run_free(struct spool_run *r)
{
    free(r->stdout_text);
    free(r->stderr_text);
    free(r->dl_text);
    rm_rf(r->base);
}

START_TEST(parts_that_are_links_are_refused)
{
    static const char *const parts[] = {"new", "tmp", "bad"};
    char base[64], spool[128], outside[128], path[256], err[ERR_MAX];
    tu_tmpdir(base, sizeof(base));
    snprintf(outside, sizeof(outside), "%s/outside", base);
    ck_assert_int_eq(mkdir(outside, 0700), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(spool, sizeof(spool), "%s/s%zu", base, i);
        ck_assert_int_eq(mkdir(spool, 0700), 0);
        snprintf(path, sizeof(path), "%s/%s", spool, parts[i]);
        ck_assert_int_eq(symlink(outside, path), 0);
        struct spool *sp = NULL;
        ck_assert_int_eq(spool_open(spool, &sp, err), -ENOTDIR);
        ck_assert_ptr_null(sp);
        ck_assert_ptr_nonnull(strstr(err, "not a directory"));
    }
    rm_rf(base);
}
END_TEST

/* A part swapped for a link after the spool was opened changes nothing:
 * the spool keeps working through the directories it checked. */
START_TEST(parts_swapped_after_open_are_not_followed)
{
    char base[64], path[256], moved[256], err[ERR_MAX];
    struct spool_file f;
    tu_tmpdir(base, sizeof(base));
    struct spool *sp = NULL;
    ck_assert_int_eq(spool_open(base, &sp, err), 0);
    write_at(base, "new", "a", "{}");
    snprintf(path, sizeof(path), "%s/new", base);
    snprintf(moved, sizeof(moved), "%s/new-moved", base);
    ck_assert_int_eq(rename(path, moved), 0);
    ck_assert_int_eq(symlink("/etc", path), 0);
    ck_assert_int_eq(spool_scan(sp), 1);
    ck_assert_str_eq(spool_name(sp, 0), "a");
    ck_assert_int_eq(spool_file_open(sp, "hostname", &f), -ENOENT); /* not /etc/hostname */
    ck_assert_int_eq(spool_file_open(sp, "a", &f), 0);
    spool_file_close(&f);
    ck_assert_int_eq(spool_remove(sp, "a"), 0);
    ck_assert(!exists(base, "new-moved", "a"));
    spool_close(sp);
    rm_rf(base);
}
END_TEST

START_TEST(set_aside_never_replaces_an_entry_of_bad)
{
    char base[64], path[256], err[ERR_MAX];
    struct spool_file f;
    tu_tmpdir(base, sizeof(base));
    struct spool *sp = NULL;
    ck_assert_int_eq(spool_open(base, &sp, err), 0);
    write_at(base, "bad", "x", "kept");
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/new/x", base);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_eq(spool_file_open(sp, "x", &f), -EBADF);
        ck_assert(!exists(base, "new", "x"));
    }
    snprintf(path, sizeof(path), "%s/bad/x", base);
    char *kept = tu_read_file(path);
    ck_assert_str_eq(kept, "kept");
    free(kept);
    snprintf(path, sizeof(path), "ls '%s/bad' | grep -c '^x'", base);
    FILE *ls = popen(path, "r");
    int n = 0;
    ck_assert_int_eq(fscanf(ls, "%d", &n), 1);
    pclose(ls);
    ck_assert_int_eq(n, 4);
    spool_close(sp);
    rm_rf(base);
}
END_TEST

START_TEST(execd_spool_drains_in_name_order_and_removes)
{
    struct spool_run r;
    char body[256];
    spool_run_init(&r);
    snprintf(body, sizeof(body), ANTHROPIC_BODY, 2, 20);
    deliver(r.spool, "0002", body, 1756130592);
    snprintf(body, sizeof(body), ANTHROPIC_BODY, 1, 10);
    deliver(r.spool, "0001", body, 1756130591);
    deliver(r.spool, "0003", "{\"not\": \"usage\"}\n", 1756130593);
    /* A JSON array is one body too. */
    deliver(r.spool, "0004",
            "[{\"type\":\"message\",\"id\":\"msg_4\",\"model\":\"m\",\"usage\":{\"input_tokens\":4,"
            "\"output_tokens\":1}},{\"type\":\"message\",\"id\":\"msg_5\",\"model\":\"m\","
            "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}]",
            1756130594);
    char big[3000];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    deliver(r.spool, "0005", big, 1756130595);
    run_spool(&r, "1024");
    ck_assert_int_eq(r.status, 0);
    /* msg_1 before msg_2 (name order, not delivery order); the mtime is the
     * receive time, floored to the second. */
    char *p1 = strstr(r.stdout_text, "event_id=\"msg_1\" 1756130591");
    char *p2 = strstr(r.stdout_text, "event_id=\"msg_2\" 1756130592");
    ck_assert_ptr_nonnull(p1);
    ck_assert_ptr_nonnull(p2);
    ck_assert(p1 < p2);
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "event_id=\"msg_4\" 1756130594"));
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "event_id=\"msg_5\" 1756130594"));
    ck_assert_int_eq(tu_count(r.stdout_text, "\n"), 4);
    /* The bad body byte-exact, the over-size one streamed (base64). */
    ck_assert_ptr_nonnull(
        strstr(r.dl_text, "/new/0003\",\"raw\":\"{\\\"not\\\": \\\"usage\\\"}\\n\""));
    ck_assert_ptr_nonnull(strstr(r.dl_text, "\"reason\":\"body exceeds max_body_bytes (1024)\""));
    ck_assert_ptr_nonnull(strstr(r.dl_text, "/new/0005\",\"raw_base64\":\"eyAg"));
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "%04d", i);
        ck_assert_msg(!exists(r.spool, "new", name), "%s still in the spool", name);
    }
    ck_assert_ptr_nonnull(strstr(r.stderr_text, "I! done: 5 lines, 4 events, 4 written"));
    spool_run_free(&r);
}
END_TEST

START_TEST(execd_spool_rereading_a_file_gives_the_same_point)
{
    /* A crash between flushing and removing means the file is read again
     * by the next run: its points must land on the same identity. */
    struct spool_run r;
    char body[256];
    spool_run_init(&r);
    snprintf(body, sizeof(body), ANTHROPIC_BODY, 7, 70);
    deliver(r.spool, "0007", body, 1756130597);
    run_spool(&r, "8388608");
    ck_assert_int_eq(r.status, 0);
    char *first = strdup(r.stdout_text);
    ck_assert_int_eq(tu_count(first, "\n"), 1);
    deliver(r.spool, "0007", body, 1756130597);
    run_spool(&r, "8388608");
    ck_assert_str_eq(r.stdout_text, first);
    free(first);
    spool_run_free(&r);
}
END_TEST

START_TEST(execd_spool_keeps_a_file_whose_points_were_not_flushed)
{
    /* stdout's reader is gone: the write fails with EPIPE, the run ends
     * with 74, and the file stays for the next run. */
    struct spool_run r;
    char body[256];
    spool_run_init(&r);
    snprintf(body, sizeof(body), ANTHROPIC_BODY, 8, 80);
    deliver(r.spool, "0008", body, 1756130598);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int err = open(r.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, 0);
        dup2(fds[1], 1);
        dup2(err, 2);
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        execl(rb_binary(), rb_binary(), "execd", "-c", "/dev/null", "--spool", r.spool, "--once",
              "--dead-letter", r.dl, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    close(fds[1]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 74);
    ck_assert(exists(r.spool, "new", "0008"));
    r.stderr_text = tu_read_file(r.err);
    ck_assert_ptr_nonnull(strstr(r.stderr_text, "EPIPE"));
    spool_run_free(&r);
}
END_TEST

START_TEST(execd_spool_answers_gather_signals_and_refuses_files)
{
    struct spool_run r;
    char in[192];
    spool_run_init(&r);
    /* stdin: a gather signal (blank line) and one NDJSON body. */
    snprintf(in, sizeof(in), "%s/in", r.base);
    tu_write_file(in, "\n{\"type\":\"message\",\"id\":\"msg_9\",\"model\":\"m\",\"usage\":{"
                      "\"input_tokens\":9,\"output_tokens\":1}}\n");
    const char *args[] = {"execd",         "-c", "/dev/null", "--spool", r.spool,
                          "--dead-letter", r.dl, NULL};
    r.status = rb_run(args, in, r.out, r.err);
    ck_assert_int_eq(r.status, 0);
    r.stdout_text = tu_read_file(r.out);
    ck_assert_ptr_nonnull(strstr(r.stdout_text, ",mode=execd lines=0i,"));
    ck_assert_ptr_nonnull(strstr(r.stdout_text, "event_id=\"msg_9\""));
    /* FILE arguments and --spool do not mix. */
    const char *bad[] = {"execd",         "-c", "/dev/null", "--spool", r.spool,
                         "--dead-letter", r.dl, in,          NULL};
    ck_assert_int_eq(rb_run(bad, NULL, r.out, r.err), 64);
    const char *once[] = {"execd", "-c", "/dev/null", "--once", NULL};
    ck_assert_int_eq(rb_run(once, NULL, r.out, r.err), 64);
    /* One reader at a time: while another holds the spool, exit 75. */
    char err[ERR_MAX];
    struct spool *other = NULL;
    ck_assert_int_eq(spool_open(r.spool, &other, err), 0);
    ck_assert_int_eq(spool_lock(other, err), 0);
    deliver(r.spool, "0001", "{}", 1787666591);
    run_spool(&r, "1048576");
    ck_assert_int_eq(r.status, 75);
    ck_assert_ptr_nonnull(strstr(r.stderr_text, "being drained by another tokenmeter"));
    ck_assert(exists(r.spool, "new", "0001")); /* untouched */
    spool_close(other);
    run_spool(&r, "1048576");
    ck_assert_int_eq(r.status, 0);
    ck_assert(!exists(r.spool, "new", "0001"));
    spool_run_free(&r);
}
END_TEST

Suite *check_spool_suite(void);
Suite *check_spool_suite(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("spool");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, open_creates_the_layout_and_scan_sorts);
    tcase_add_test(tc, unreadable_entries_are_set_aside);
    tcase_add_test(tc, stale_tmp_files_are_set_aside_on_open);
    tcase_add_test(tc, parts_that_are_links_are_refused);
    tcase_add_test(tc, parts_swapped_after_open_are_not_followed);
    tcase_add_test(tc, set_aside_never_replaces_an_entry_of_bad);
    tcase_add_test(tc, execd_spool_drains_in_name_order_and_removes);
    tcase_add_test(tc, execd_spool_rereading_a_file_gives_the_same_point);
    tcase_add_test(tc, execd_spool_keeps_a_file_whose_points_were_not_flushed);
    tcase_add_test(tc, execd_spool_answers_gather_signals_and_refuses_files);
    suite_add_tcase(s, tc);
    return s;
}
