/* Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer, so every
 * corpus file runs as an ordinary test in every build (ASan included). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        size_t cap = 1 << 16, n = 0, k;
        uint8_t *buf = malloc(cap);
        while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
            n += k;
            if (n == cap) buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        printf("%s: ok (%zu bytes)\n", argv[i], n);
    }
    return 0;
}
