/* CSV scanning speed: generates a seeded CSV of N rows (id, name, age, salary, dept), then reads
 * it with tbml_read_csv (header, inferSchema, in one pass) and then with the inferred schema given,
 * on T threads, plain and sealed, and prints MB/s of each. bench/csv_read.sh compares with pandas.read_csv on the same file.
 *   bench_csv_read FILE ROWS THREADS [KEYFILE PASSWORD_FILE]   (writes FILE if it is missing) */
#include "tbml/readers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void generate(const char *path, long rows)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    static const char *depts[] = {"eng",   "sales",   "ops",      "hr",
                                  "legal", "support", "research", "finance"};
    uint64_t x = 42;
    fprintf(f, "id,name,age,salary,dept\n");
    for (long i = 0; i < rows; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(x >> 33);
        fprintf(f, "%ld,name%u,%u,%u.%02u,%s\n", i, r % 100000, 18 + r % 50,
                20000 + (r >> 7) % 180000, r % 100, depts[(r >> 3) % 8]);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: bench_csv_read FILE ROWS THREADS [KEYFILE PASSWORD_FILE]\n");
        return 2;
    }
    if (access(argv[1], F_OK) != 0) generate(argv[1], atol(argv[2]));
    tbml_key_t *key = NULL;
    if (argc == 6) {
        char pw[1024] = {0};
        FILE *f = fopen(argv[5], "r");
        if (!f || !fgets(pw, sizeof(pw), f)) return 1;
        fclose(f);
        size_t n = strcspn(pw, "\r\n");
        if (tbml_keyfile_read(argv[4], pw, n, &key)) {
            fprintf(stderr, "%s\n", tbml_errmsg());
            return 1;
        }
        tbml_wipe(pw, sizeof(pw));
    }
    tbml_pool_t *pool;
    if (tbml_pool_create(atoi(argv[3]), &pool)) return 1;
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.header = 1;
    o.infer_schema = 1;
    o.pool = pool;
    o.key = key;
    tbml_input_t *in;
    if (tbml_input_open(argv[1], key, &in)) {
        fprintf(stderr, "%s\n", tbml_errmsg());
        return 1;
    }
    double mb = (double)tbml_input_size(in) / 1e6;
    tbml_schema schema;
    tbml_schema_init(&schema);
    /* inferSchema (types inferred while reading), then the inferred schema given */
    for (int given = 0; given < 2; given++) {
        double best = 1e9;
        int64_t rows = 0;
        o.schema = given ? &schema : NULL;
        for (int rep = 0; rep < 3; rep++) {
            tbml_table *t;
            double t0 = tbml_now();
            if (tbml_read_csv_input(in, &o, &t)) {
                fprintf(stderr, "%s\n", tbml_errmsg());
                return 1;
            }
            double dt = tbml_now() - t0;
            if (dt < best) best = dt;
            rows = tbml_table_nrows(t);
            if (!given && rep == 0) tbml_schema_copy(&schema, &t->schema);
            tbml_table_free(t);
        }
        printf("%s: %.1f MB, %lld rows, %d threads, %s: best %.3f s = %.0f MB/s\n", argv[1], mb,
               (long long)rows, tbml_pool_size(pool),
               given ? "schema given" : "inferSchema", best, mb / best);
    }
    tbml_schema_clear(&schema);
    tbml_input_close(in);
    tbml_pool_free(pool);
    tbml_key_free(key);
    return 0;
}
