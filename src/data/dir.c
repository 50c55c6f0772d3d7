/* Directories as inputs, as Spark reads the output directory of its writers: the regular files
 * in it whose names do not start with '_' or '.' (so _SUCCESS, .crc files and hidden files are
 * skipped), in name order, read as one table. Subdirectories are not entered (Spark's default,
 * recursiveFileLookup=false, outside partition directories). */
#include "reader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int reader_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tbml_status reader_list_dir(const char *path, char ***out, int *count)
{
    DIR *d = opendir(path);
    if (!d)
        return tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '_' || e->d_name[0] == '.') continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *full = tbml_malloc(len);
        snprintf(full, len, "%s/%s", path, e->d_name);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            tbml_free(full);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = tbml_realloc(names, (size_t)cap * sizeof(char *));
        }
        names[n++] = full;
    }
    closedir(d);
    if (n == 0) {
        tbml_free(names);
        return tbml_error(TBML_E_NOTFOUND,
                          "%s: a directory with no data files (names starting with _ or . are "
                          "skipped)",
                          path);
    }
    qsort(names, (size_t)n, sizeof(char *), name_cmp);
    *out = names;
    *count = n;
    return TBML_OK;
}

void reader_free_list(char **names, int count)
{
    for (int i = 0; i < count; i++)
        tbml_free(names[i]);
    tbml_free(names);
}

tbml_table *reader_concat(tbml_table **tables, int count, const tbml_schema *schema)
{
    tbml_table *t = tbml_table_new(schema);
    int64_t base = 0, rows = 0, *range = NULL;
    int rank = 0, size = 1;
    for (int k = 0; k < count; k++) {
        const tbml_table_ranges *rg = tables[k]->ranges;
        TBML_ASSERT(rg);
        rank = rg->rank;
        size = rg->size;
        range =
            tbml_realloc(range, (size_t)(t->nbatches + tables[k]->nbatches + 1) * sizeof(int64_t));
        for (int64_t b = 0; b < tables[k]->nbatches; b++) {
            tbml_batch *batch = tables[k]->batches[b];
            /* the files' own header names give way to the first file's, as in Spark */
            for (int i = 0; i < schema->nfields && i < batch->schema.nfields; i++) {
                TBML_ASSERT(batch->schema.fields[i].type == schema->fields[i].type);
                tbml_free(batch->schema.fields[i].name);
                batch->schema.fields[i].name = tbml_strdup(schema->fields[i].name);
            }
            range[t->nbatches] = base + rg->range[b];
            tbml_table_append(t, batch);
            tables[k]->batches[b] = NULL;
        }
        base += rg->nranges;
        rows += rg->rows;
        tables[k]->nbatches = 0;
        tbml_table_free(tables[k]);
        tables[k] = NULL;
    }
    /* after the appends, which drop any ranges: the directory's, as one input's */
    tbml_table_ranges *all = tbml_calloc(1, sizeof(*all));
    all->range = range ? range : tbml_malloc(sizeof(int64_t));
    all->nranges = base;
    all->rows = rows;
    all->rank = rank;
    all->size = size;
    t->ranges = all;
    return t;
}
