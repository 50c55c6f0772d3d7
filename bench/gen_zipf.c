/* A seeded Zipf text corpus for the word-count benchmark and tests: words drawn from a
 * vocabulary of synthetic lower-case words with probability ~ 1/rank (s = 1), about 12 words a
 * line, separated by single spaces (with an occasional double space or tab, so tokenisers must
 * cope with runs of whitespace).
 *   bench_gen_zipf MEGABYTES [SEED] [VOCABULARY] > corpus.txt */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_state;

static uint64_t next(void)
{
    uint64_t z = (g_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_gen_zipf MEGABYTES [SEED] [VOCABULARY]\n");
        return 2;
    }
    double mb = atof(argv[1]);
    g_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    long vocab = argc > 3 ? atol(argv[3]) : 500000;
    if (mb <= 0 || vocab < 1) return 2;
    /* the vocabulary: word i is 1 + (hash(i) % 12) letters, shorter words for frequent ranks */
    char **words = malloc((size_t)vocab * sizeof(char *));
    uint8_t *lens = malloc((size_t)vocab);
    double *cdf = malloc((size_t)vocab * sizeof(double));
    double sum = 0;
    for (long i = 0; i < vocab; i++) {
        uint64_t h = next();
        int len = 1 + (int)(h % 4) + (int)(log2((double)i + 2) * 0.6);
        if (len > 16) len = 16;
        words[i] = malloc((size_t)len + 1);
        for (int k = 0; k < len; k++)
            words[i][k] = (char)('a' + (next() % 26));
        words[i][len] = '\0';
        lens[i] = (uint8_t)len;
        sum += 1.0 / (double)(i + 1);
        cdf[i] = sum;
    }
    for (long i = 0; i < vocab; i++)
        cdf[i] /= sum;
    size_t target = (size_t)(mb * 1e6), written = 0;
    static char buf[1 << 20];
    size_t len = 0;
    int on_line = 0;
    while (written + len < target) {
        double u = (double)(next() >> 11) * 0x1.0p-53;
        long lo = 0, hi = vocab - 1;
        while (lo < hi) {
            long mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (len + 40 > sizeof(buf)) {
            fwrite(buf, 1, len, stdout);
            written += len;
            len = 0;
        }
        if (on_line) {
            uint64_t r = next() % 64;
            buf[len++] = r == 0 ? '\t' : ' ';
            if (r == 1) buf[len++] = ' ';
        }
        memcpy(buf + len, words[lo], lens[lo]);
        len += lens[lo];
        if (++on_line == 12) {
            buf[len++] = '\n';
            on_line = 0;
        }
    }
    if (on_line) buf[len++] = '\n';
    fwrite(buf, 1, len, stdout);
    for (long i = 0; i < vocab; i++)
        free(words[i]);
    free(words);
    free(lens);
    free(cdf);
    return 0;
}
