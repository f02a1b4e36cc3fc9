/* SPDX-License-Identifier: Apache-2.0 */
/* Processes with real state for the integration tests: each mode keeps state in memory, in
 * pipes, threads or sockets, and reports it to a file, so a test can tell whether a restored
 * process continued exactly where it was dumped. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *report_path;

/* The report file is rewritten whole each time: "key value" lines. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", report_path, (int) getpid());
        FILE *f = fopen(tmp, "we");
        if (!f)
                return;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fclose(f);
        rename(tmp, report_path);
}

static void sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* counter: a number in memory, incremented ten times a second. */
static __attribute__((noreturn)) void mode_counter(void) {
        for (uint64_t i = 1;; i++) {
                report("count %llu\npid %d\n", (unsigned long long) i, (int) getpid());
                sleep_ms(100);
        }
}

/* marker: THREADS threads (the main one included), each trying ten times a second to create
 * MARKER, a path only a privileged process may create (e.g. in /root); the main thread also
 * counts. A checkpoint of it that was edited to grant privilege to any thread proves, by MARKER
 * not existing and the count not moving, that nothing of its restore ever ran. */
static const char *marker_path;

static void try_marker(void) {
        int fd = open(marker_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
                close(fd);
}

static void *marker_thread(void *arg) {
        for (;;) {
                try_marker();
                sleep_ms(100);
        }
        return NULL;
}

static __attribute__((noreturn)) void mode_marker(int threads, const char *marker) {
        marker_path = marker;
        for (int i = 1; i < threads; i++) {
                pthread_t t;
                pthread_create(&t, NULL, marker_thread, NULL);
        }
        for (uint64_t i = 1;; i++) {
                try_marker();
                report("count %llu\npid %d\n", (unsigned long long) i, (int) getpid());
                sleep_ms(100);
        }
}

/* pipe: a child streams consecutive numbers through a pipe; the parent checks each one. */
static int mode_pipe(void) {
        int p[2];
        if (pipe(p) < 0)
                return 1;
        pid_t child = fork();
        if (child < 0)
                return 1;
        if (child == 0) {
                close(p[0]);
                for (uint64_t i = 1;; i++) {
                        if (write(p[1], &i, sizeof(i)) != sizeof(i))
                                _exit(1);
                        sleep_ms(20);
                }
        }
        close(p[1]);
        uint64_t expect = 1, got;
        unsigned errors = 0;
        for (;;) {
                ssize_t n = read(p[0], &got, sizeof(got));
                if (n == 0) {
                        report("received %llu\nerrors %u\neof 1\n", (unsigned long long) expect - 1, errors);
                        return 1;
                }
                if (n != sizeof(got))
                        continue;
                if (got != expect)
                        errors++;
                expect = got + 1;
                report("received %llu\nerrors %u\nchild %d\n", (unsigned long long) got, errors, (int) child);
        }
}

/* memory: threads over a big pseudo-random buffer; SIGUSR1 asks for its checksum. */
static uint8_t *buffer;
static size_t buffer_size;
static volatile sig_atomic_t want_checksum;
static uint64_t thread_ticks[8];

static uint64_t checksum(void) {
        uint64_t h = 1469598103934665603ULL;
        const uint64_t *w = (const uint64_t *) buffer;
        for (size_t i = 0; i < buffer_size / 8; i++)
                h = (h ^ w[i]) * 1099511628211ULL;
        return h;
}

static void *spin(void *arg) {
        uint64_t *t = arg;
        for (;;) {
                __atomic_add_fetch(t, 1, __ATOMIC_RELAXED);
                sleep_ms(10);
        }
        return NULL;
}

static void on_usr1(int sig) {
        want_checksum = 1;
}

static int mode_memory(size_t mib, int threads) {
        buffer_size = mib << 20;
        buffer = malloc(buffer_size);
        if (!buffer)
                return 1;
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < buffer_size / 8; i++) {
                /* xorshift64*: incompressible, reproducible */
                x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
                ((uint64_t *) buffer)[i] = x * 2685821657736338717ULL;
        }
        if (threads > 8)
                threads = 8;
        for (int i = 0; i < threads; i++) {
                pthread_t t;
                pthread_create(&t, NULL, spin, &thread_ticks[i]);
        }
        signal(SIGUSR1, on_usr1);
        uint64_t first = checksum(), current = first, rounds = 0;
        for (;;) {
                if (want_checksum) {
                        want_checksum = 0;
                        current = checksum();
                        rounds++;
                }
                uint64_t ticks = 0;
                for (int i = 0; i < threads; i++)
                        ticks += __atomic_load_n(&thread_ticks[i], __ATOMIC_RELAXED);
                report("initial %016llx\ncurrent %016llx\nrounds %llu\nticks %llu\nthreads %d\n",
                       (unsigned long long) first, (unsigned long long) current, (unsigned long long) rounds,
                       (unsigned long long) ticks, threads);
                sleep_ms(100);
        }
}

/* tcp: a server on 127.0.0.1:port that answers each line with "pong <n>\n", and, in the same
 * process tree, a client holding one established connection that pings ten times a second. */
static int serve(int ls) {
        for (;;) {
                int c = accept(ls, NULL, NULL);
                if (c < 0)
                        continue;
                if (fork() == 0) {
                        close(ls);
                        char buf[256];
                        uint64_t n = 0;
                        ssize_t k;
                        while ((k = read(c, buf, sizeof(buf))) > 0) {
                                int l = snprintf(buf, sizeof(buf), "pong %llu\n", (unsigned long long) ++n);
                                if (write(c, buf, (size_t) l) != l)
                                        break;
                        }
                        _exit(0);
                }
                close(c);
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}

static int mode_tcp(int port) {
        int ls = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (ls < 0 || bind(ls, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(ls, 16) < 0)
                return 1;
        pid_t server = fork();
        if (server == 0)
                _exit(serve(ls));
        close(ls);

        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *) &a, sizeof(a)) < 0)
                return 1;
        uint64_t pongs = 0;
        unsigned errors = 0;
        for (;;) {
                char buf[256];
                if (write(c, "ping\n", 5) != 5) {
                        errors++;
                        report("pongs %llu\nerrors %u\nbroken 1\n", (unsigned long long) pongs, errors);
                        return 1;
                }
                ssize_t k = read(c, buf, sizeof(buf) - 1);
                if (k <= 0) {
                        report("pongs %llu\nerrors %u\nbroken 1\n", (unsigned long long) pongs, errors);
                        return 1;
                }
                buf[k] = 0;
                unsigned long long n = 0;
                if (sscanf(buf, "pong %llu", &n) != 1 || n != pongs + 1)
                        errors++;
                pongs = n;
                report("pongs %llu\nerrors %u\nserver %d\n", (unsigned long long) pongs, errors, (int) server);
                sleep_ms(100);
        }
}

/* inspect: what `checkpoint inspect` must find: FILE open for writing, a unix socket listening
 * on SOCKET, a TCP socket listening on 127.0.0.1:7190, MIB MiB of memory written to, THREADS
 * threads (the main one included). */
static __attribute__((noreturn)) void mode_inspect(const char *file, const char *sock, size_t mib, int threads) {
        int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
        unlink(sock);
        if (fd < 0 || s < 0 || bind(s, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(s, 4) < 0)
                exit(1);
        int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(7190),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (t < 0 || bind(t, (struct sockaddr *) &in, sizeof(in)) < 0 || listen(t, 4) < 0)
                exit(1);
        buffer_size = mib << 20;
        buffer = malloc(buffer_size);
        if (!buffer)
                exit(1);
        memset(buffer, 0x5a, buffer_size);
        for (int i = 1; i < threads && i <= 8; i++) {
                pthread_t th;
                pthread_create(&th, NULL, spin, &thread_ticks[i - 1]);
        }
        for (;;) {
                report("pid %d\nfd %d\nsocket %d\ntcp %d\n", (int) getpid(), fd, s, t);
                sleep_ms(100);
        }
}

/* lock: holds an exclusive flock on PATH (created) and counts ten times a second; the report
 * says whether the lock is still held (a second open file description cannot take it). */
static __attribute__((noreturn)) void mode_lock(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                exit(1);
        for (uint64_t i = 1;; i++) {
                int probe = open(path, O_RDWR | O_CLOEXEC);
                bool held = probe >= 0 && flock(probe, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
                if (probe >= 0)
                        close(probe);
                report("count %llu\nheld %d\n", (unsigned long long) i, held);
                sleep_ms(100);
        }
}

int main(int argc, char *argv[]) {
        if (argc < 3) {
                fprintf(stderr, "usage: workload REPORT counter|pipe|memory MIB THREADS|tcp PORT|marker THREADS PATH|"
                                "inspect FILE SOCKET MIB THREADS|lock PATH\n");
                return 2;
        }
        report_path = argv[1];
        const char *mode = argv[2];
        if (!strcmp(mode, "counter"))
                mode_counter();
        if (!strcmp(mode, "pipe"))
                return mode_pipe();
        if (!strcmp(mode, "memory") && argc == 5)
                return mode_memory((size_t) atoi(argv[3]), atoi(argv[4]));
        if (!strcmp(mode, "tcp") && argc == 4)
                return mode_tcp(atoi(argv[3]));
        if (!strcmp(mode, "inspect") && argc == 7)
                mode_inspect(argv[3], argv[4], (size_t) atoi(argv[5]), atoi(argv[6]));
        if (!strcmp(mode, "lock") && argc == 4)
                mode_lock(argv[3]);
        if (!strcmp(mode, "marker") && argc == 5)
                mode_marker(atoi(argv[3]), argv[4]);
        fprintf(stderr, "workload: unknown mode %s\n", mode);
        return 2;
}
