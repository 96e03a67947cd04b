/* bench/read-align.c - what the destination's alignment costs a read() from the page cache.
 *
 *   gcc -O2 -o /tmp/read-align bench/read-align.c
 *   /tmp/read-align FILE OFFSET [BUFFERS]     e.g. a 1 GiB file on tmpfs, offsets 0 5 64
 *
 * Reads FILE in 256 KiB reads into BUFFERS (default 4) rotating buffers, each read landing
 * OFFSET bytes past a page boundary, and prints the CPU seconds it took. On the AMD EPYC VM of
 * 2026-12-02 (no AVX-512): offset 0 0.25 s/GiB, 5 0.72, 9 0.54, 16 0.57, 64 0.19, 2048 0.17;
 * that is why transfer::reading puts DATA payloads on a 64-byte boundary (BENCHMARKS.md). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s FILE OFFSET [BUFFERS]\n", argv[0]); return 2; }
    const long chunk = 256 * 1024, slot = chunk + 4096;
    int off = atoi(argv[2]), nb = argc > 3 ? atoi(argv[3]) : 4;
    if (off < 0 || off > 4096 || nb < 1 || nb > 64) { fprintf(stderr, "bad OFFSET or BUFFERS\n"); return 2; }
    char *b = aligned_alloc(4096, slot * nb);
    if (!b) return 1;
    memset(b, 0, slot * nb);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 1; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    long total = 0, k = 0;
    ssize_t n;
    while ((n = read(fd, b + (k % nb) * slot + off, chunk)) > 0) { total += n; k++; }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("offset %d, %d buffers: %.3f CPU s for %ld bytes (%.3f s/GiB)\n", off, nb, s, total,
           total ? s * (1L << 30) / total : 0.0);
    return 0;
}
