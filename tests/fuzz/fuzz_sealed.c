/* libFuzzer target for the sealed-file reader: untrusted bytes go through inspect, the seekable
 * reader (sequential, pread, segment) and the pipe reader, under a fixed key so that valid seeds
 * get past the header. Invariants: no crash, no out-of-range `got`, and every byte handed out
 * equals what the other read paths hand out for the same offset. Then the input is sealed and
 * unsealed as plaintext, which must round-trip exactly. */
#include "fuzz_key.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_OUT (1u << 20) /* read at most this much plaintext per input */

static int mem_fd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0) __builtin_trap();
    if (size && tbml_write_all(fd, data, size, "fuzz")) __builtin_trap();
    if (lseek(fd, 0, SEEK_SET) != 0) __builtin_trap();
    return fd;
}

/* Reads up to MAX_OUT bytes sequentially; returns how many, or -1 on a rejection. */
static long read_seq(tbml_sealed_reader_t *r, uint8_t *out)
{
    size_t total = 0;
    while (total < MAX_OUT) {
        size_t got = 0, want = MAX_OUT - total < 777 ? MAX_OUT - total : 777;
        if (tbml_sealed_reader_read(r, out + total, want, &got)) return -1;
        if (got > want) __builtin_trap();
        if (got == 0) break;
        total += got;
    }
    return (long)total;
}

static void check_reader(const uint8_t *data, size_t size)
{
    tbml_key_t *key = fuzz_key();
    uint8_t *seq = malloc(MAX_OUT), *ra = malloc(MAX_OUT);
    long nseq = -1;

    int fd = mem_fd(data, size);
    tbml_sealed_reader_t *r = NULL;
    tbml_sealed_info opened = {0};
    int ok = 0;
    if (tbml_sealed_reader_open(fd, "fuzz.sealed", key, &r) == TBML_OK) {
        const tbml_sealed_info *info = tbml_sealed_reader_info(r);
        opened = *info;
        ok = 1;
        if (info->nsegments == 0 || info->length > size) __builtin_trap();
        nseq = read_seq(r, seq);
        /* random access agrees with the sequential read wherever both succeed */
        size_t got = 0;
        size_t want = info->length < MAX_OUT ? (size_t)info->length : MAX_OUT;
        if (tbml_sealed_reader_pread(r, ra, want, 0, &got) == TBML_OK) {
            if (got != want) __builtin_trap();
            if (nseq >= 0 && ((size_t)nseq != want || memcmp(seq, ra, got) != 0)) __builtin_trap();
        }
        for (uint64_t i = 0; i < info->nsegments && i < 4 && info->segment_size <= MAX_OUT; i++) {
            if (tbml_sealed_reader_segment(r, i, ra, &got) == TBML_OK && nseq >= 0 &&
                (uint64_t)nseq >= i * info->segment_size + got &&
                memcmp(ra, seq + i * info->segment_size, got) != 0)
                __builtin_trap();
        }
        tbml_sealed_reader_free(r);
    }
    /* inspect sees the same header and length without the key */
    char path[64];
    tbml_sealed_info info;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    tbml_status ist = tbml_sealed_inspect(path, &info);
    if (ok &&
        (ist != TBML_OK || info.length != opened.length || info.nsegments != opened.nsegments ||
         info.segment_size != opened.segment_size || strcmp(info.key_name, opened.key_name)))
        __builtin_trap();
    close(fd);

    /* the pipe reader accepts exactly what the file reader accepts (small inputs fit the pipe) */
    if (size <= 60000) {
        int p[2];
        if (pipe(p) != 0) __builtin_trap();
        if (size && write(p[1], data, size) != (ssize_t)size) __builtin_trap();
        close(p[1]);
        if (tbml_sealed_reader_open(p[0], "fuzz.pipe", key, &r) == TBML_OK) {
            long npipe = read_seq(r, ra);
            if (nseq >= 0 && nseq < (long)MAX_OUT &&
                (npipe != nseq || memcmp(seq, ra, (size_t)nseq) != 0))
                __builtin_trap();
            tbml_sealed_reader_free(r);
        }
        close(p[0]);
    }
    free(seq);
    free(ra);
}

/* The input as plaintext: seal with a segment size taken from its first byte, then unseal. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    uint32_t seg = TBML_SEAL_SEGMENT_MIN + (size ? data[0] : 0);
    int fd = memfd_create("fuzz-rt", MFD_CLOEXEC);
    tbml_sealed_writer_t *w;
    if (tbml_sealed_writer_open(fd, "rt", fuzz_key(), seg, &w)) __builtin_trap();
    size_t half = size / 3;
    if (tbml_sealed_writer_write(w, data, half) ||
        tbml_sealed_writer_write(w, data + half, size - half) || tbml_sealed_writer_finish(w))
        __builtin_trap();
    tbml_sealed_writer_free(w);
    if (lseek(fd, 0, SEEK_SET) != 0) __builtin_trap();
    tbml_sealed_reader_t *r;
    if (tbml_sealed_reader_open(fd, "rt", fuzz_key(), &r)) __builtin_trap();
    uint8_t *out = malloc(size + 1);
    size_t got = 0;
    if (tbml_sealed_reader_pread(r, out, size + 1, 0, &got) || got != size ||
        memcmp(out, data, size))
        __builtin_trap();
    free(out);
    tbml_sealed_reader_free(r);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)tbml_sealed_probe(data, size);
    check_reader(data, size);
    if (size <= 65536) check_round_trip(data, size);
    return 0;
}
