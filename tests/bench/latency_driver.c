/* SPDX-License-Identifier: MIT */
/*
 * latency_driver LINES RATE CMD_A [ARG...] -- CMD_B [ARG...]
 *
 * Sends each line of the file LINES through two programs, one event at a
 * time, and times each round trip: write the line to the program's stdin,
 * read its stdout until one whole line came back. Event i goes to A at the
 * i-th slot of RATE per second and to B half a slot later, so both see the
 * same machine at the same moments and a noisy neighbour hits both alike.
 *
 * Why C and not the Python loop the other benchmarks use: the interpreter's
 * own select/read/sleep cost 20-30 µs per event and much of the tail; here
 * the floor (B is `cat`) is the pipes and the scheduler, close to what
 * Telegraf's Go reader sees.
 *
 * The first event of each program is its start-up (loading the price map,
 * for tokenmeter) and is reported apart, not among the timed events.
 * Output, for tests/bench/bench_latency.py to summarise:
 *   first A|B <ns>       the first event's round trip
 *   A|B <ns>             one timed round trip each
 *   lost A|B <count>     events whose line never came back within 5 s
 *   faults A|B <count>   minor page faults after the first event
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct child {
    const char *name;
    pid_t pid;
    int in, out; /* its stdin (we write), its stdout (we read) */
    char pending[1 << 17];
    size_t have;
    long lost;
    long faults_after_first;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int spawn(struct child *c, char **argv)
{
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0)
        return -1;
    /* our ends must not leak into the other child, or its stdin never
     * sees EOF when we close ours */
    fcntl(to[1], F_SETFD, FD_CLOEXEC);
    fcntl(from[0], F_SETFD, FD_CLOEXEC);
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    c->in = to[1];
    c->out = from[0];
    return 0;
}

static long minor_faults(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ")": state ppid pgrp session tty_nr tpgid flags minflt */
    long v = -1;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %ld", &v) != 1)
        return -1;
    return v;
}

/* One round trip; returns its duration in ns, or -1 when no line came back. */
static int64_t round_trip(struct child *c, const char *line, size_t len)
{
    int64_t t0 = now_ns();
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(c->in, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    for (;;) {
        char *nl = memchr(c->pending, '\n', c->have);
        if (nl) {
            int64_t t1 = now_ns();
            size_t used = (size_t)(nl + 1 - c->pending);
            memmove(c->pending, nl + 1, c->have - used);
            c->have -= used;
            return t1 - t0;
        }
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        if (c->have == sizeof(c->pending) || poll(&p, 1, 5000) != 1)
            return -1;
        ssize_t r = read(c->out, c->pending + c->have, sizeof(c->pending) - c->have);
        if (r <= 0)
            return -1;
        c->have += (size_t)r;
    }
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void timed(struct child *c, int first, const char *line, size_t len)
{
    int64_t d = round_trip(c, line, len);
    if (d < 0)
        c->lost++;
    else
        printf("%s%s %lld\n", first ? "first " : "", c->name, (long long)d);
    if (first)
        c->faults_after_first = minor_faults(c->pid);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: latency_driver LINES RATE CMD_A [ARG...] -- CMD_B [ARG...]\n");
        return 2;
    }
    int sep = 0;
    for (int i = 3; i < argc; i++)
        if (strcmp(argv[i], "--") == 0)
            sep = i;
    double rate = strtod(argv[2], NULL);
    FILE *lines = fopen(argv[1], "r");
    if (!sep || sep == 3 || sep == argc - 1 || rate <= 0 || !lines) {
        fprintf(stderr, "latency_driver: bad arguments or unreadable %s\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    argv[sep] = NULL;
    static struct child a = {.name = "A"}, b = {.name = "B"};
    if (spawn(&a, argv + 3) < 0 || spawn(&b, argv + sep + 1) < 0) {
        perror("latency_driver: spawn");
        return 1;
    }
    int64_t period = (int64_t)(1e9 / rate);
    int64_t slot = now_ns();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    for (long i = 0; (len = getline(&line, &cap, lines)) > 0; i++) {
        slot += period;
        sleep_until(slot);
        timed(&a, i == 0, line, (size_t)len);
        sleep_until(slot + period / 2);
        timed(&b, i == 0, line, (size_t)len);
    }
    struct child *both[] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        struct child *c = both[k];
        long end = minor_faults(c->pid);
        printf("lost %s %ld\n", c->name, c->lost);
        if (end >= 0 && c->faults_after_first >= 0)
            printf("faults %s %ld\n", c->name, end - c->faults_after_first);
        close(c->in);
        waitpid(c->pid, NULL, 0);
    }
    free(line);
    fclose(lines);
    return 0;
}
