/*
 * isobench-dirtier: a writable working set rewritten at a set rate, the memory workload of
 * isobench's migration suite (Clark et al. 2005 call the set that is rewritten faster than it can
 * be sent the writable working set; past the link rate this is their "diabolical" workload).
 *
 *   isobench-dirtier WWS_MIB RATE_MIB_S STATS_FILE
 *
 * It maps WWS_MIB MiB, writes every page once (so the set is resident and not zero), then every
 * 10 ms slice writes one 8-byte word into the next RATE_MIB_S * 256 / 100 pages of the set,
 * round-robin: a page counts as dirtied whether one word or all of it changed (QEMU's dirty
 * bitmap is per page). RATE_MIB_S 0 means as fast as it can. Once a second, and when it ends on
 * SIGTERM or SIGINT, it writes its progress to STATS_FILE as one line of JSON (written to a
 * temporary file and renamed, so a reader never sees half of it):
 *
 *   {"wws_mib":64,"rate_mib_s":32,"page_bytes":4096,"elapsed_s":3.00,"pages_written":24576,
 *    "last_second_mib_s":32.00,"late_slices":0,"running":true}
 *
 * `late_slices` counts slices that ended after their deadline: the host could not reach the
 * rate (under TCG, or with its vCPUs throttled by auto-converge). Exit codes: 0 after a signal,
 * 2 for bad arguments, 1 for a system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SLICE_NS 10000000L /* 10 ms: fine enough for QEMU's ~1 s dirty-rate windows */
#define STATS_EVERY_NS 1000000000L

static volatile sig_atomic_t stopping = 0;

static void on_signal(int signal_number) {
    (void)signal_number;
    stopping = 1;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static int parse_count(const char *text, long *value) {
    char *end = NULL;
    errno = 0;
    long parsed = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || parsed < 0) return -1;
    *value = parsed;
    return 0;
}

static int write_stats(const char *path, long wws_mib, long rate_mib_s, long page_bytes, double elapsed_s,
                       uint64_t pages_written, double last_second_mib_s, uint64_t late_slices, int running) {
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary) return -1;
    FILE *file = fopen(temporary, "w");
    if (!file) return -1;
    fprintf(file,
            "{\"wws_mib\":%ld,\"rate_mib_s\":%ld,\"page_bytes\":%ld,\"elapsed_s\":%.3f,\"pages_written\":%llu,"
            "\"last_second_mib_s\":%.2f,\"late_slices\":%llu,\"running\":%s}\n",
            wws_mib, rate_mib_s, page_bytes, elapsed_s, (unsigned long long)pages_written, last_second_mib_s,
            (unsigned long long)late_slices, running ? "true" : "false");
    if (fclose(file) != 0) return -1;
    return rename(temporary, path);
}

int main(int argc, char **argv) {
    long wws_mib, rate_mib_s;
    if (argc != 4 || parse_count(argv[1], &wws_mib) != 0 || parse_count(argv[2], &rate_mib_s) != 0 || wws_mib < 1) {
        fprintf(stderr, "usage: isobench-dirtier WWS_MIB RATE_MIB_S STATS_FILE (WWS_MIB >= 1; RATE_MIB_S 0 = as fast as possible)\n");
        return 2;
    }
    const char *stats_path = argv[3];
    long page_bytes = sysconf(_SC_PAGESIZE);
    size_t bytes = (size_t)wws_mib * 1024 * 1024;
    size_t pages = bytes / (size_t)page_bytes;
    unsigned char *set = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (set == MAP_FAILED) {
        perror("isobench-dirtier: mmap");
        return 1;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    uint64_t stamp = 1;
    for (size_t page = 0; page < pages; page++) *(volatile uint64_t *)(set + page * (size_t)page_bytes) = stamp;

    /* Pages per 10 ms slice; 0 = unlimited (the whole set per slice, no sleep). */
    uint64_t per_slice = rate_mib_s == 0 ? pages : ((uint64_t)rate_mib_s * 1024 * 1024 / (uint64_t)page_bytes) / 100;
    if (rate_mib_s > 0 && per_slice == 0) per_slice = 1;
    size_t next_page = 0;
    uint64_t pages_written = 0, late_slices = 0, pages_at_last_stats = 0;
    int64_t started = now_ns(), deadline = started, last_stats = started;
    double last_second_mib_s = 0;

    while (!stopping) {
        stamp++;
        for (uint64_t written = 0; written < per_slice; written++) {
            *(volatile uint64_t *)(set + next_page * (size_t)page_bytes) = stamp;
            if (++next_page == pages) next_page = 0;
        }
        pages_written += per_slice;
        int64_t now = now_ns();
        if (rate_mib_s > 0) {
            deadline += SLICE_NS;
            if (now > deadline) {
                late_slices++;
                deadline = now; /* do not try to catch up: the rate is a ceiling, not a debt */
            } else {
                struct timespec pause = { (time_t)((deadline - now) / 1000000000L), (long)((deadline - now) % 1000000000L) };
                while (nanosleep(&pause, &pause) != 0 && errno == EINTR && !stopping) {}
                now = now_ns();
            }
        }
        if (now - last_stats >= STATS_EVERY_NS) {
            double seconds = (double)(now - last_stats) / 1e9;
            last_second_mib_s = (double)(pages_written - pages_at_last_stats) * (double)page_bytes / 1048576.0 / seconds;
            pages_at_last_stats = pages_written;
            last_stats = now;
            if (write_stats(stats_path, wws_mib, rate_mib_s, page_bytes, (double)(now - started) / 1e9, pages_written,
                            last_second_mib_s, late_slices, 1) != 0) {
                perror("isobench-dirtier: writing the stats file");
                return 1;
            }
        }
    }
    if (write_stats(stats_path, wws_mib, rate_mib_s, page_bytes, (double)(now_ns() - started) / 1e9, pages_written,
                    last_second_mib_s, late_slices, 0) != 0) {
        perror("isobench-dirtier: writing the stats file");
        return 1;
    }
    return 0;
}
