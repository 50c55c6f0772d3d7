/* Generates a HIGGS-shaped regression data set for bench/gbdt.sh: 28 float features (21
 * "low-level" ones: momenta, angles, flags; 7 "high-level" ones derived from them, as HIGGS's
 * invariant masses are) and a noisy nonlinear target. Seeded, so every run makes the same file.
 *
 * usage: bench_gen_higgs_like OUT NROWS [SEED]
 * OUT is raw little-endian float32, row-major, 29 values a row: the 28 features, then the label
 * (numpy: np.fromfile(OUT, '<f4').reshape(-1, 29)). */
#include "tbml/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t g_s;
static double unif(void)
{
    uint64_t z = (g_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void)
{
    return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT NROWS [SEED]\n", argv[0]);
        return 2;
    }
    long long n = atoll(argv[2]);
    g_s = argc > 3 ? strtoull(argv[3], NULL, 10) : 20261127;
    FILE *f = fopen(argv[1], "wb");
    if (!f || n <= 0) {
        fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[1]);
        return 1;
    }
    float row[29];
    for (long long r = 0; r < n; r++) {
        double pt[5], eta[5], phi[5];
        int k = 0;
        for (int j = 0; j < 5; j++) {
            pt[j] = -log(unif()) * (1.0 + 0.3 * j); /* exponential momenta */
            eta[j] = normal() * 1.2;
            phi[j] = (unif() * 2 - 1) * 3.14159265;
            row[k++] = (float)pt[j];
            row[k++] = (float)eta[j];
            if (j < 4) row[k++] = (float)phi[j];
        }
        /* 19 so far; two b-tag like flags */
        row[k++] = (float)(unif() < 0.3 ? 2.17 : 0.0);
        row[k++] = (float)(unif() < 0.5 ? 1.0 : 0.0);
        /* 7 derived "masses" */
        for (int j = 0; j < 7; j++) {
            int a = j % 5, b = (j + 2) % 5;
            double m2 = 2 * pt[a] * pt[b] * (cosh(eta[a] - eta[b]) - cos(phi[a] - phi[b]));
            row[k++] = (float)sqrt(fabs(m2) + 0.01 * unif());
        }
        double y = 0.8 * tanh(row[21] - 1.5) + 0.5 * sin(row[1]) * (row[0] > 1.0) +
                   0.3 * log1p(row[24]) - 0.4 * (row[19] > 1.0) * row[3] +
                   0.2 * row[22] * (row[20] > 0.5) + 0.3 * normal();
        row[28] = (float)y;
        if (fwrite(row, sizeof(float), 29, f) != 29) {
            fprintf(stderr, "%s: write failed\n", argv[0]);
            return 1;
        }
    }
    if (fclose(f) != 0) return 1;
    return 0;
}
