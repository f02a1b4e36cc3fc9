/* SPDX-License-Identifier: Apache-2.0 */
/* The benchmark's workload: a process holding N MiB of mixed memory (25% random, 25% zero,
 * 50% text-like, interleaved in 1 MiB stripes), then idle; SIGUSR1 writes a checksum. */

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t *mem;
static size_t size;
static volatile sig_atomic_t want;

static void on_usr1(int sig) {
        want = 1;
}

int main(int argc, char *argv[]) {
        if (argc != 3) {
                fprintf(stderr, "usage: bigmem MIB REPORT\n");
                return 2;
        }
        size = (size_t) atoi(argv[1]) << 20;
        mem = malloc(size);
        if (!mem)
                return 1;
        static const char words[] = "checkpoint restore process memory page image archive stream zstd lz4 ";
        uint64_t x = 0x2545F4914F6CDD1DULL;
        for (size_t stripe = 0; stripe < size >> 20; stripe++) {
                uint8_t *p = mem + (stripe << 20);
                switch (stripe % 4) {
                case 0: /* random */
                        for (size_t i = 0; i < (1 << 20) / 8; i++) {
                                x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
                                ((uint64_t *) p)[i] = x * 2685821657736338717ULL;
                        }
                        break;
                case 1: /* zero, but touched so it is resident */
                        memset(p, 0, 1 << 20);
                        break;
                default: /* text-like */
                        for (size_t i = 0; i < 1 << 20; i++) {
                                x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
                                p[i] = (uint8_t) words[(i + (x & 7)) % (sizeof(words) - 1)];
                        }
                }
        }
        signal(SIGUSR1, on_usr1);
        FILE *f = fopen(argv[2], "we");
        if (f) {
                fprintf(f, "ready %d\n", (int) getpid());
                fclose(f);
        }
        for (;;) {
                pause();
                if (want) {
                        want = 0;
                        uint64_t h = 1469598103934665603ULL;
                        for (size_t i = 0; i < size / 8; i++)
                                h = (h ^ ((uint64_t *) mem)[i]) * 1099511628211ULL;
                        f = fopen(argv[2], "we");
                        if (f) {
                                fprintf(f, "checksum %016llx\n", (unsigned long long) h);
                                fclose(f);
                        }
                }
        }
}
