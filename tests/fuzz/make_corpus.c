/* Writes the seed corpus: sealed files of assorted sizes and segment sizes under the fuzz key,
 * and key files under the fuzz password with cheap Argon2id parameters.
 *   fuzz_make_corpus tests/fuzz/corpus */
#include "fuzz_key.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int seal_seed(const char *dir, const char *name, uint32_t seg, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/fuzz_sealed/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 1;
    uint8_t buf[4096];
    for (size_t i = 0; i < size; i++)
        buf[i] = (uint8_t)("sealed seed data "[i % 17]);
    tbml_sealed_writer_t *w;
    int bad = tbml_sealed_writer_open(fd, name, fuzz_key(), seg, &w) ||
              tbml_sealed_writer_write(w, buf, size) || tbml_sealed_writer_finish(w);
    tbml_sealed_writer_free(w);
    close(fd);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int bad = seal_seed(dir, "empty", 16, 0) || seal_seed(dir, "one-byte", 16, 1) ||
              seal_seed(dir, "one-segment", 64, 64) || seal_seed(dir, "three-segments", 16, 40) ||
              seal_seed(dir, "many-segments", 32, 300) || seal_seed(dir, "big-segment", 4096, 3000);

    static const char *names[] = {"k", "fuzz-key", "a.b_c-d"};
    for (int i = 0; i < 3 && !bad; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/fuzz_keyfile/%s.key", dir, names[i]);
        unlink(path);
        tbml_key_t *k;
        bad = tbml_key_generate(names[i], &k) ||
              tbml_keyfile_write(path, k, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD),
                                 (tbml_pwhash_params){1, 8 + 8 * (uint32_t)i, 1});
        tbml_key_free(k);
    }
    if (bad) fprintf(stderr, "make_corpus: %s\n", tbml_errmsg());
    return bad;
}
