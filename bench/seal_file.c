/* Seals files for the benchmarks and tests that need sealed copies of their inputs, using only
 * the library (so they do not depend on the CLI's encrypt command):
 *   bench_seal_file KEYFILE PASSWORD_FILE IN OUT
 * creates KEYFILE (key name "datakey", light Argon2 cost: test keys only) if it does not exist,
 * then writes OUT as IN sealed under it, never half-written. */
#include "tbml/io.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static tbml_status read_password(const char *path, char *pw, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f) return tbml_error(TBML_E_IO, "%s: cannot open", path);
    if (!fgets(pw, (int)cap, f)) pw[0] = '\0';
    fclose(f);
    *len = strcspn(pw, "\r\n");
    pw[*len] = '\0';
    return *len ? TBML_OK : tbml_error(TBML_E_PASSWORD, "%s: empty password", path);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_seal_file KEYFILE PASSWORD_FILE IN OUT\n");
        return 2;
    }
    char *pw = tbml_secure_alloc(1024);
    size_t len = 0;
    tbml_key_t *key = NULL;
    tbml_input_t *in = NULL;
    tbml_output_t *out = NULL;
    char *buf = tbml_malloc(1 << 20);
    tbml_status st = read_password(argv[2], pw, 1024, &len);
    if (!st && access(argv[1], F_OK) != 0) {
        tbml_pwhash_params light = {1, 8192, 1};
        st = tbml_key_generate("datakey", &key);
        if (!st) st = tbml_keyfile_write(argv[1], key, pw, len, light);
        tbml_key_free(key);
        key = NULL;
    }
    if (!st) st = tbml_keyfile_read(argv[1], pw, len, &key);
    if (!st) st = tbml_input_open(argv[3], NULL, &in);
    if (!st) st = tbml_output_open(argv[4], key, &out);
    for (uint64_t off = 0; !st;) {
        size_t got;
        st = tbml_input_pread(in, buf, 1 << 20, off, &got);
        if (st || got == 0) break;
        st = tbml_output_write(out, buf, got);
        off += got;
    }
    if (!st) {
        st = tbml_output_commit(out);
        out = NULL;
    }
    tbml_output_abort(out);
    tbml_input_close(in);
    tbml_key_free(key);
    tbml_secure_free(pw, 1024);
    tbml_free(buf);
    if (st) {
        fprintf(stderr, "bench_seal_file: %s\n",
                tbml_errmsg()[0] ? tbml_errmsg() : tbml_strerror(st));
        return 1;
    }
    return 0;
}
