/*
 * runner: time several commands side by side, alternating, without a shell.
 *
 * Build:  cc -O2 -o runner bench/runner.c
 *
 * Usage:  runner [-n ROUNDS] [-w WARMUP] [-b BASELINE] [--tsv FILE] [--json FILE] [--show-output]
 *                COMMAND...
 *
 * where each COMMAND is
 *
 *         --name NAME [--expect CODE|any] [--setup] [--env KEY=VALUE]... -- ARGV... [---]
 *
 * ARGV runs as is, through fork and execvp (no shell), with stdin from /dev/null and stdout and
 * stderr to /dev/null (unless --show-output). It ends at the next "--name" or at "---" (write "---"
 * after an ARGV that itself holds the word "--name").
 *
 * Each round runs every command once, in the order given: so a pair (lock, then unlock) is written
 * as two commands, one after the other, and each is timed on its own. WARMUP rounds (default 10)
 * run first and are not counted; then ROUNDS rounds (default 200) are measured.
 *
 *   -n ROUNDS       measured rounds (default 200)
 *   -w WARMUP       warm-up rounds, not counted (default 10)
 *   -b BASELINE     the NAME whose medians the ratios divide by (default: the first timed command)
 *   --tsv FILE      also write the results as TSV (a header line, then one line a command); "-" is
 *                   stdout
 *   --json FILE     also write them as one JSON document; "-" is stdout
 *   --show-output   let the commands write to this terminal (default: /dev/null)
 *   --quiet         no table on stdout (with --tsv or --json)
 *
 *   --name NAME     starts a command; NAME is a word for the table (no tabs or quotes)
 *   --expect CODE   the exit status each run must have (default 0); "any" checks nothing.
 *                   A run killed by a signal, or with another status, stops the runner at once:
 *                   it names the command and round on stderr and exits 3.
 *   --setup         run this command every round, in its place, but do not time or report it
 *                   (e.g. "rm -f state.json" before a first lock, or a deregister after it)
 *   --env KEY=VALUE set a variable in this command's environment (repeatable)
 *
 * Measures, for each run: wall time from just before fork to the return of wait4
 * (CLOCK_MONOTONIC), and the child's peak resident set (wait4's ru_maxrss, KiB, as GNU time -v
 * reports it). Note that a forked child's peak counts the runner's own pages until the exec;
 * the table's first line gives the runner's own peak, the floor under every figure.
 *
 * Output: a table on stdout: command, runs, median, p95 (nearest rank), min, max wall time (ms),
 * median and max peak RSS (KiB), and each median wall time and median RSS over the baseline's.
 * TSV columns:  name runs median_ms p95_ms min_ms max_ms mean_ms rss_median_kib rss_max_kib
 *               ratio rss_ratio
 * JSON: {"rounds":N,"warmup":N,"baseline":"NAME","runner_rss_kib":N,
 *        "commands":[{"name":..,"argv":[..],"runs":N,"median_ms":..,"p95_ms":..,"min_ms":..,
 *                     "max_ms":..,"mean_ms":..,"rss_median_kib":..,"rss_max_kib":..,
 *                     "ratio":..,"rss_ratio":..}]}
 *
 * Exit status: 0 when all runs went as expected, 2 on a usage error, 3 when a run had an
 * unexpected status (or could not be started).
 *
 * Example:
 *   runner -n 200 -w 10 -b flock --tsv out.tsv \
 *     --name flock -- flock -n /tmp/f true \
 *     --name lock -- bsup lock k \
 *     --name unlock -- bsup unlock k
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

struct command {
    const char* name;
    char** argv;       /* NULL-terminated, points into the runner's argv */
    char** envs;       /* KEY=VALUE strings, envc of them */
    int envc;
    int expect;        /* -1: any */
    int setup;         /* run but do not time or report */
    double* wall_ms;   /* one per measured run */
    long* rss_kib;
    int runs;
};

static void usage(const char* message) {
    fprintf(stderr, "runner: %s\n", message);
    fprintf(stderr, "usage: runner [-n ROUNDS] [-w WARMUP] [-b BASELINE] [--tsv FILE] "
                    "[--json FILE] [--show-output] [--quiet]\n"
                    "              --name NAME [--expect CODE|any] [--setup] [--env K=V]... -- "
                    "ARGV... [---] ...\n"
                    "(see the comment at the top of bench/runner.c)\n");
    exit(2);
}

static int parse_int(const char* text, const char* what) {
    char* end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 100000000) {
        char message[256];
        snprintf(message, sizeof message, "%s must be a number >= 0, not '%s'", what, text);
        usage(message);
    }
    return (int)value;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static int cmp_long(const void* a, const void* b) {
    long x = *(const long*)a, y = *(const long*)b;
    return (x > y) - (x < y);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int show_output = 0;

/* Runs one command; returns 0 if its status is as expected. */
static int run_once(const struct command* c, const char* round, double* wall, long* rss) {
    double start = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "runner: cannot fork for '%s': %s\n", c->name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (!show_output) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2) close(null);
            }
        } else {
            int null = open("/dev/null", O_RDONLY);
            if (null >= 0) {
                dup2(null, 0);
                if (null > 0) close(null);
            }
        }
        for (int i = 0; i < c->envc; i++) {
            putenv(c->envs[i]);
        }
        execvp(c->argv[0], c->argv);
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "runner: wait4 for '%s': %s\n", c->name, strerror(errno));
            return -1;
        }
    }
    *wall = now_ms() - start;
    *rss = usage.ru_maxrss;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "runner: '%s' (%s) was killed by signal %d\n", c->name, round,
                WTERMSIG(status));
        return -1;
    }
    int code = WEXITSTATUS(status);
    if (c->expect >= 0 && code != c->expect) {
        fprintf(stderr, "runner: '%s' (%s) exited %d, expected %d%s\n", c->name, round,
                code, c->expect, code == 127 ? " (127: could it be started? is it on PATH?)" : "");
        return -1;
    }
    return 0;
}

struct stats {
    double median, p95, min, max, mean;
    long rss_median, rss_max;
};

static struct stats summarize(const struct command* c) {
    struct stats s = {0};
    int n = c->runs;
    if (n == 0) return s;
    double* w = malloc(sizeof(double) * (size_t)n);
    long* r = malloc(sizeof(long) * (size_t)n);
    memcpy(w, c->wall_ms, sizeof(double) * (size_t)n);
    memcpy(r, c->rss_kib, sizeof(long) * (size_t)n);
    qsort(w, (size_t)n, sizeof(double), cmp_double);
    qsort(r, (size_t)n, sizeof(long), cmp_long);
    s.median = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
    int rank = (int)((95LL * n + 99) / 100); /* nearest rank: ceil(0.95 n) */
    s.p95 = w[rank - 1];
    s.min = w[0];
    s.max = w[n - 1];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += w[i];
    s.mean = sum / n;
    s.rss_median = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
    s.rss_max = r[n - 1];
    free(w);
    free(r);
    return s;
}

static void json_string(FILE* out, const char* text) {
    fputc('"', out);
    for (const unsigned char* p = (const unsigned char*)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(out, "\\u%04x", *p);
        } else {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

static FILE* open_output(const char* path) {
    if (strcmp(path, "-") == 0) return stdout;
    FILE* out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "runner: cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return out;
}

static void close_output(FILE* out) {
    if (out != stdout) fclose(out);
    else fflush(out);
}

int main(int argc, char** argv) {
    int rounds = 200, warmup = 10, quiet = 0;
    const char *baseline = NULL, *tsv_path = NULL, *json_path = NULL;
    struct command* commands = calloc((size_t)argc, sizeof(struct command));
    int count = 0;
    int i = 1;

    while (i < argc && strcmp(argv[i], "--name") != 0) {
        const char* a = argv[i];
        if (strcmp(a, "-n") == 0 && i + 1 < argc) {
            rounds = parse_int(argv[++i], "-n");
        } else if (strcmp(a, "-w") == 0 && i + 1 < argc) {
            warmup = parse_int(argv[++i], "-w");
        } else if (strcmp(a, "-b") == 0 && i + 1 < argc) {
            baseline = argv[++i];
        } else if (strcmp(a, "--tsv") == 0 && i + 1 < argc) {
            tsv_path = argv[++i];
        } else if (strcmp(a, "--json") == 0 && i + 1 < argc) {
            json_path = argv[++i];
        } else if (strcmp(a, "--show-output") == 0) {
            show_output = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage("times commands side by side");
        } else {
            char message[256];
            snprintf(message, sizeof message, "unknown option '%s' (or a missing value)", a);
            usage(message);
        }
        i++;
    }
    while (i < argc) {
        /* argv[i] is "--name" */
        if (i + 1 >= argc) usage("--name needs a value");
        struct command* c = &commands[count++];
        c->name = argv[i + 1];
        c->envs = calloc((size_t)argc, sizeof(char*));
        i += 2;
        while (i < argc && strcmp(argv[i], "--") != 0) {
            if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
                c->expect = strcmp(argv[i + 1], "any") == 0 ? -1 : parse_int(argv[i + 1], "--expect");
                i += 2;
            } else if (strcmp(argv[i], "--setup") == 0) {
                c->setup = 1;
                i++;
            } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc && strchr(argv[i + 1], '=')) {
                c->envs[c->envc++] = argv[i + 1];
                i += 2;
            } else {
                char message[256];
                snprintf(message, sizeof message,
                         "command '%s': unknown option '%s' before '--' (or a missing value)",
                         c->name, argv[i]);
                usage(message);
            }
        }
        if (i >= argc) usage("a command needs '-- ARGV...'");
        i++; /* "--" */
        int start = i;
        while (i < argc && strcmp(argv[i], "--name") != 0 && strcmp(argv[i], "---") != 0) i++;
        if (i == start) usage("a command's ARGV is empty");
        int n = i - start;
        c->argv = calloc((size_t)n + 1, sizeof(char*));
        memcpy(c->argv, &argv[start], sizeof(char*) * (size_t)n);
        if (i < argc && strcmp(argv[i], "---") == 0) i++;
        c->wall_ms = calloc((size_t)rounds + 1, sizeof(double));
        c->rss_kib = calloc((size_t)rounds + 1, sizeof(long));
    }
    if (count == 0) usage("no command given");
    if (rounds == 0) usage("-n must be at least 1");

    int base = -1;
    for (int k = 0; k < count; k++) {
        if (commands[k].setup) continue;
        if (baseline ? strcmp(commands[k].name, baseline) == 0 : base < 0) base = k;
    }
    if (base < 0) usage(baseline ? "-b names no timed command" : "every command is --setup");

    for (int round = 0; round < warmup + rounds; round++) {
        int measured = round >= warmup;
        for (int k = 0; k < count; k++) {
            struct command* c = &commands[k];
            double wall;
            long rss;
            char label[64];
            snprintf(label, sizeof label, "%s round %d", measured ? "measured" : "warm-up",
                     measured ? round - warmup + 1 : round + 1);
            if (run_once(c, label, &wall, &rss) != 0) {
                fprintf(stderr, "runner: stopped\n");
                return 3;
            }
            if (measured && !c->setup) {
                c->wall_ms[c->runs] = wall;
                c->rss_kib[c->runs] = rss;
                c->runs++;
            }
        }
    }

    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    struct stats* s = calloc((size_t)count, sizeof(struct stats));
    for (int k = 0; k < count; k++) s[k] = summarize(&commands[k]);
    struct stats b = s[base];

    if (!quiet) {
        printf("%d rounds after %d warm-up, alternating; ratios over '%s'; runner's own peak RSS "
               "%ld KiB\n",
               rounds, warmup, commands[base].name, self.ru_maxrss);
        printf("%-24s %5s %9s %9s %9s %9s %10s %10s %7s %7s\n", "command", "runs", "median_ms",
               "p95_ms", "min_ms", "max_ms", "rss_med_k", "rss_max_k", "x_time", "x_rss");
        for (int k = 0; k < count; k++) {
            if (commands[k].setup) continue;
            printf("%-24s %5d %9.3f %9.3f %9.3f %9.3f %10ld %10ld %7.2f %7.2f\n", commands[k].name,
                   commands[k].runs, s[k].median, s[k].p95, s[k].min, s[k].max, s[k].rss_median,
                   s[k].rss_max, s[k].median / b.median,
                   (double)s[k].rss_median / (double)b.rss_median);
        }
        fflush(stdout);
    }
    if (tsv_path) {
        FILE* out = open_output(tsv_path);
        fprintf(out, "name\truns\tmedian_ms\tp95_ms\tmin_ms\tmax_ms\tmean_ms\trss_median_kib\t"
                     "rss_max_kib\tratio\trss_ratio\n");
        for (int k = 0; k < count; k++) {
            if (commands[k].setup) continue;
            fprintf(out, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%ld\t%ld\t%.3f\t%.3f\n",
                    commands[k].name, commands[k].runs, s[k].median, s[k].p95, s[k].min, s[k].max,
                    s[k].mean, s[k].rss_median, s[k].rss_max, s[k].median / b.median,
                    (double)s[k].rss_median / (double)b.rss_median);
        }
        close_output(out);
    }
    if (json_path) {
        FILE* out = open_output(json_path);
        fprintf(out, "{\"rounds\":%d,\"warmup\":%d,\"baseline\":", rounds, warmup);
        json_string(out, commands[base].name);
        fprintf(out, ",\"runner_rss_kib\":%ld,\"commands\":[", self.ru_maxrss);
        int first = 1;
        for (int k = 0; k < count; k++) {
            if (commands[k].setup) continue;
            fprintf(out, "%s{\"name\":", first ? "" : ",");
            first = 0;
            json_string(out, commands[k].name);
            fprintf(out, ",\"argv\":[");
            for (char** a = commands[k].argv; *a; a++) {
                if (a != commands[k].argv) fputc(',', out);
                json_string(out, *a);
            }
            fprintf(out,
                    "],\"runs\":%d,\"median_ms\":%.3f,\"p95_ms\":%.3f,\"min_ms\":%.3f,"
                    "\"max_ms\":%.3f,\"mean_ms\":%.3f,\"rss_median_kib\":%ld,\"rss_max_kib\":%ld,"
                    "\"ratio\":%.3f,\"rss_ratio\":%.3f}",
                    commands[k].runs, s[k].median, s[k].p95, s[k].min, s[k].max, s[k].mean,
                    s[k].rss_median, s[k].rss_max, s[k].median / b.median,
                    (double)s[k].rss_median / (double)b.rss_median);
        }
        fprintf(out, "]}\n");
        close_output(out);
    }
    return 0;
}
