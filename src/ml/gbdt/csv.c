/* Training data from CSV files (plain or sealed): the data module's reader does the parsing;
 * this file picks the label, insists that every feature is a number, and reports the first bad
 * value with its file, line and column. */
#include "gbdt_internal.h"
#include "tbml/readers.h"

#include <string.h>
#include <strings.h>

static int numeric(tbml_type t)
{
    return t == TBML_TYPE_INT64 || t == TBML_TYPE_DOUBLE || t == TBML_TYPE_BOOL;
}

tbml_status tbml_gbdt_read_csv(const char *path, const tbml_key_t *key, const char *label,
                               tbml_pool_t *pool, tbml_gbdt_matrix **out)
{
    tbml_status ret;
    tbml_table *t = NULL, *t2 = NULL;
    tbml_schema all_double;
    tbml_schema_init(&all_double);
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.header = 1;
    o.infer_schema = 1;
    o.mode = TBML_MODE_FAILFAST;
    o.key = key;
    o.pool = pool;
    if ((ret = tbml_read_csv(path, &o, &t))) goto out;
    const tbml_schema *s = &t->schema;
    if (s->nfields < 2) {
        ret =
            tbml_error(TBML_E_FORMAT,
                       "%s: needs a header and at least two columns (features and a label)", path);
        goto out;
    }
    if (!label) label = s->fields[s->nfields - 1].name;
    int ly = -1;
    for (int c = 0; c < s->nfields && ly < 0; c++)
        if (strcasecmp(s->fields[c].name, label) == 0) ly = c;
    if (ly < 0) {
        ret = tbml_error(TBML_E_NOTFOUND, "%s: no label column '%s' in the header", path, label);
        goto out;
    }
    int all_numeric = 1;
    for (int c = 0; c < s->nfields; c++)
        all_numeric &= numeric(s->fields[c].type);
    if (!all_numeric) {
        /* read again as all doubles: the reader stops at the first bad value with line and
         * column, which inference alone does not give */
        for (int c = 0; c < s->nfields; c++)
            tbml_schema_add(&all_double, s->fields[c].name, TBML_TYPE_DOUBLE, 1);
        o.schema = &all_double;
        o.infer_schema = 0;
        if ((ret = tbml_read_csv(path, &o, &t2))) goto out;
        tbml_table_free(t);
        t = t2;
        t2 = NULL;
    }
    ret = tbml_gbdt_matrix_from_table(t, t->schema.fields[ly].name, path, out);
out:
    tbml_table_free(t);
    tbml_table_free(t2);
    tbml_schema_clear(&all_double);
    return ret;
}

void tbml_gbdt_split(int64_t n, double train_fraction, uint64_t seed, int64_t *perm,
                     int64_t *ntrain)
{
    /* Fisher-Yates from the last element down, j = splitmix64 mod (i + 1): easy to redo in
     * another language (tests/gbdt/xgboost_reference.py reads the rows we write instead). */
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        int64_t j = (int64_t)(z % (uint64_t)(i + 1));
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    int64_t k = (int64_t)(train_fraction * (double)n + 0.5);
    *ntrain = k < 0 ? 0 : k > n ? n : k;
}
