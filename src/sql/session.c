/* Sessions and DataFrames: the public face of the SQL engine (include/tbml/sql.h). A session
 * owns the pool, the temporary views and the settings. A DataFrame is a planned query with its
 * own arena; DataFrame operations compose SQL text around their parent's, so the DataFrame API
 * and SQL share one parser, planner and executor. Views over files are read when created (the
 * readers of src/data/), with the key of a sealed file from the session's key callback. */
#include "sql_int.h"
#include "tbml/app.h"
#include "tbml/readers.h"
#include "tbml/show.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tbml_session {
    tbml_pool_t *pool;
    int nthreads, nparts, serialize;
    int64_t broadcast_threshold;
    sql_view **views;
    int nviews, capviews;
    /* tables of dropped or replaced views: a DataFrame planned earlier may still scan them */
    tbml_table **graveyard;
    int ngrave, capgrave;
    int anon;
    tbml_sql_key_fn key_fn;
    void *key_ctx;
    tbml_sql_progress_fn progress_fn;
    void *progress_ctx;
    const void *exchange; /* sql_exchange_backend; NULL: the local one */
    tbml_comm_t *comm;    /* distributed run; NULL: this process alone */
    /* memory budget of hash aggregates: spark.executor.memory (shared by the threads) or
     * tbml.sql.aggMemory (bytes per aggregating task); 0 = no limit */
    int64_t executor_memory, agg_memory;
    int64_t spill_files, spill_bytes; /* updated atomically by the aggregating threads */
    int64_t file_range; /* spark.sql.files.maxPartitionBytes: bytes per input range; 0: 4 MiB */
};

struct tbml_df {
    tbml_session_t *s;
    char *sql; /* the query, for composing DataFrame operations */
    sql_arena arena;
    sql_ctx cx;
    sql_plan *plan;     /* a query */
    tbml_table *result; /* a command's listing (SHOW TABLES, DESCRIBE, EXPLAIN, or empty) */
};

tbml_status tbml_session_create(int nthreads, tbml_session_t **out)
{
    tbml_pool_t *pool;
    tbml_status st = tbml_pool_create(nthreads, &pool);
    if (st) return st;
    tbml_session_t *s = tbml_calloc(1, sizeof(*s));
    s->pool = pool;
    s->nthreads = tbml_pool_size(pool);
    s->nparts = 200; /* Spark's spark.sql.shuffle.partitions */
    s->broadcast_threshold = 10 * 1024 * 1024;
    *out = s;
    return TBML_OK;
}

/* Frees a view's name and text; its table is freed or buried by the caller. */
static void view_free(sql_view *v)
{
    if (!v) return;
    tbml_free(v->name);
    tbml_free(v->sql);
    tbml_free(v);
}

void tbml_session_free(tbml_session_t *s)
{
    if (!s) return;
    for (int i = 0; i < s->nviews; i++) {
        tbml_table_free(s->views[i]->table);
        view_free(s->views[i]);
    }
    tbml_free(s->views);
    for (int i = 0; i < s->ngrave; i++)
        tbml_table_free(s->graveyard[i]);
    tbml_free(s->graveyard);
    tbml_pool_free(s->pool);
    tbml_free(s);
}

int tbml_session_threads(const tbml_session_t *s)
{
    return s->nthreads;
}

tbml_status tbml_session_set_conf(tbml_session_t *s, const char *key, const char *value)
{
    char *end;
    if (strcmp(key, "spark.sql.shuffle.partitions") == 0) {
        long v = strtol(value, &end, 10);
        if (*value == '\0' || *end || v < 1 || v > 4096)
            return tbml_error(TBML_E_ARG, "%s must be 1 to 4096, not '%s'", key, value);
        s->nparts = (int)v;
    } else if (strcmp(key, "spark.sql.autoBroadcastJoinThreshold") == 0) {
        int64_t size;
        long long v = strtoll(value, &end, 10);
        if (*value && !*end) {
            size = v < 0 ? -1 : v;
        } else {
            /* "10MB", "1g": JVM-style sizes */
            double d = strtod(value, &end);
            char u = (char)tolower((unsigned char)*end);
            double mul = u == 'k'   ? 1024.0
                         : u == 'm' ? 1048576.0
                         : u == 'g' ? 1073741824.0
                         : u == 'b' ? 1
                                    : 0;
            if (end == value || mul == 0 || d < 0)
                return tbml_error(TBML_E_ARG, "%s must be a size in bytes or -1, not '%s'", key,
                                  value);
            size = (int64_t)(d * mul);
        }
        s->broadcast_threshold = size;
    } else if (strcmp(key, "tbml.sql.exchange") == 0) {
        if (strcmp(value, "local") == 0)
            s->serialize = 0;
        else if (strcmp(value, "serialize") == 0)
            s->serialize = 1;
        else
            return tbml_error(TBML_E_ARG, "%s must be local or serialize, not '%s'", key, value);
    } else if (strcmp(key, "spark.executor.memory") == 0 ||
               strcmp(key, "tbml.sql.aggMemory") == 0) {
        int64_t size;
        if (tbml_memory_parse(value, &size) || size < 0)
            return tbml_error(TBML_E_ARG, "%s must be a size such as 512m or 4g, not '%s'", key,
                              value);
        if (key[0] == 's')
            s->executor_memory = size;
        else
            s->agg_memory = size;
    } else if (strcmp(key, "spark.sql.files.maxPartitionBytes") == 0) {
        int64_t size;
        long long v = strtoll(value, &end, 10);
        if (*value && !*end) /* a plain number is bytes, as Spark reads this one */
            size = v;
        else if (tbml_memory_parse(value, &size))
            size = 0;
        if (size < 1)
            return tbml_error(TBML_E_ARG, "%s must be a size such as 128m, not '%s'", key, value);
        s->file_range = size;
    } else if (strncmp(key, "spark.", 6) != 0) {
        return tbml_error(TBML_E_ARG, "unknown setting '%s'", key);
    }
    return TBML_OK;
}

void tbml_session_set_key_lookup(tbml_session_t *s, tbml_sql_key_fn fn, void *ctx)
{
    s->key_fn = fn;
    s->key_ctx = ctx;
}

void tbml_session_set_progress(tbml_session_t *s, tbml_sql_progress_fn fn, void *ctx)
{
    s->progress_fn = fn;
    s->progress_ctx = ctx;
}

/* ---- internals for the planner and executor ---- */
static int view_index(const tbml_session_t *s, const char *name)
{
    for (int i = 0; i < s->nviews; i++)
        if (strcasecmp(s->views[i]->name, name) == 0) return i;
    return -1;
}

sql_view *sql_session_find_view(tbml_session_t *s, const char *name)
{
    int i = view_index(s, name);
    return i < 0 ? NULL : s->views[i];
}

char *sql_session_view_names(tbml_session_t *s)
{
    size_t n = 1;
    for (int i = 0; i < s->nviews; i++)
        n += strlen(s->views[i]->name) + 2;
    char *r = tbml_malloc(n);
    r[0] = '\0';
    for (int i = 0; i < s->nviews; i++) {
        if (strncmp(s->views[i]->name, "__", 2) == 0) continue; /* DataFrames' own views */
        if (r[0]) strcat(r, ", ");
        strcat(r, s->views[i]->name);
    }
    return r;
}

tbml_pool_t *sql_session_pool(tbml_session_t *s)
{
    return s->pool;
}
int sql_session_partitions(tbml_session_t *s)
{
    return s->nparts;
}
int64_t sql_session_broadcast_threshold(tbml_session_t *s)
{
    return s->broadcast_threshold;
}
int sql_session_serialize(tbml_session_t *s)
{
    return s->serialize;
}
int64_t sql_session_agg_memory(tbml_session_t *s)
{
    if (s->agg_memory > 0) return s->agg_memory;
    /* as Spark gives each running task its share of the executor's memory */
    return s->executor_memory > 0 ? s->executor_memory / (s->nthreads > 0 ? s->nthreads : 1) : 0;
}
void sql_session_note_spill(tbml_session_t *s, int64_t files, int64_t bytes)
{
    __atomic_fetch_add(&s->spill_files, files, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->spill_bytes, bytes, __ATOMIC_RELAXED);
}
void tbml_session_spill_stats(const tbml_session_t *s, int64_t *files, int64_t *bytes)
{
    if (files) *files = __atomic_load_n(&s->spill_files, __ATOMIC_RELAXED);
    if (bytes) *bytes = __atomic_load_n(&s->spill_bytes, __ATOMIC_RELAXED);
}
const void *sql_session_exchange(tbml_session_t *s)
{
    return s->exchange;
}
void tbml_session_set_comm(tbml_session_t *s, tbml_comm_t *c)
{
    s->comm = c;
}

tbml_comm_t *sql_session_comm(tbml_session_t *s)
{
    return s->comm;
}

void sql_session_set_exchange(tbml_session_t *s, const void *backend)
{
    s->exchange = backend;
}

void sql_session_progress(tbml_session_t *s, int stage, int nstages, int64_t rows, int64_t bytes,
                          int done)
{
    if (s->progress_fn) s->progress_fn(s->progress_ctx, stage, nstages, rows, bytes, done);
}

static void bury(tbml_session_t *s, tbml_table *t)
{
    if (!t) return;
    if (s->ngrave == s->capgrave) {
        s->capgrave = s->capgrave ? s->capgrave * 2 : 8;
        s->graveyard = tbml_realloc(s->graveyard, (size_t)s->capgrave * sizeof(*s->graveyard));
    }
    s->graveyard[s->ngrave++] = t;
}

static tbml_status put_view(tbml_session_t *s, const char *name, tbml_table *table, const char *sql,
                            int replace)
{
    int i = view_index(s, name);
    if (i >= 0 && !replace) {
        tbml_table_free(table);
        return tbml_error(TBML_E_ARG, "temporary view '%s' already exists (use CREATE OR REPLACE)",
                          name);
    }
    sql_view *v = tbml_calloc(1, sizeof(*v));
    v->name = tbml_strdup(name);
    v->table = table;
    v->sql = sql ? tbml_strdup(sql) : NULL;
    if (i >= 0) {
        bury(s, s->views[i]->table);
        view_free(s->views[i]);
        s->views[i] = v;
        return TBML_OK;
    }
    if (s->nviews == s->capviews) {
        s->capviews = s->capviews ? s->capviews * 2 : 8;
        s->views = tbml_realloc(s->views, (size_t)s->capviews * sizeof(*s->views));
    }
    s->views[s->nviews++] = v;
    return TBML_OK;
}

tbml_status tbml_session_register(tbml_session_t *s, const char *name, tbml_table *table,
                                  int replace)
{
    return put_view(s, name, table, NULL, replace);
}

tbml_status tbml_session_drop(tbml_session_t *s, const char *name)
{
    int i = view_index(s, name);
    if (i < 0) return tbml_error(TBML_E_NOTFOUND, "temporary view '%s' not found", name);
    bury(s, s->views[i]->table);
    view_free(s->views[i]);
    memmove(&s->views[i], &s->views[i + 1], (size_t)(s->nviews - i - 1) * sizeof(*s->views));
    s->nviews--;
    return TBML_OK;
}

/* ---- statements ---- */
static tbml_df_t *df_new(tbml_session_t *s)
{
    tbml_df_t *d = tbml_calloc(1, sizeof(*d));
    d->s = s;
    d->cx.s = s;
    d->cx.a = &d->arena;
    return d;
}

void tbml_df_free(tbml_df_t *df)
{
    if (!df) return;
    sql_ctx_release(&df->cx);
    tbml_table_free(df->result);
    tbml_free(df->sql);
    tbml_free(df);
}

static tbml_table *string_table(int ncols, const char *const *names)
{
    tbml_schema sc;
    tbml_schema_init(&sc);
    for (int i = 0; i < ncols; i++)
        tbml_schema_add(&sc, names[i], TBML_TYPE_STRING, 1);
    tbml_table *t = tbml_table_new(&sc);
    tbml_table_append(t, tbml_batch_new(&sc, 0));
    tbml_schema_clear(&sc);
    return t;
}

static void add_row(tbml_table *t, const char *const *vals)
{
    tbml_batch *b = t->batches[0];
    for (int i = 0; i < b->schema.nfields; i++)
        tbml_column_append_str(&b->cols[i], vals[i], strlen(vals[i]));
    tbml_batch_seal(b);
}

/* A view's key file, loaded on rank 0 and shared with the other ranks (one Argon2id, not one a
 * rank): every rank creates every view, in the same order. */
typedef struct {
    tbml_session_t *s;
    const char *keyfile;
} view_key;

static tbml_status load_view_key(void *arg, tbml_key_t **out)
{
    view_key *v = arg;
    return v->s->key_fn(v->s->key_ctx, v->keyfile, out);
}
static tbml_status create_view_using(tbml_session_t *s, const ast_stmt *st, const char *src)
{
    const char *path = NULL, *keyfile = NULL;
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.pool = s->pool;
    o.chunk_size = (size_t)s->file_range;
    /* distributed: each rank reads its share of the ranges (tbml_table_ranges) */
    if (s->comm && tbml_comm_size(s->comm) > 1) o.comm = s->comm;
    tbml_status ret;
    for (int i = 0; i < st->nopts; i++) {
        const char *k = st->opt_keys[i], *v = st->opt_vals[i];
        if (strcasecmp(k, "path") == 0)
            path = v;
        else if (strcasecmp(k, "key") == 0)
            keyfile = v;
        else if ((ret = tbml_read_options_set(&o, k, v)))
            return sql_error_at(ret, src, st->pos, "%s", tbml_errmsg());
    }
    const char *fmt = st->format;
    int kind = strcasecmp(fmt, "json") == 0   ? 0
               : strcasecmp(fmt, "csv") == 0  ? 1
               : strcasecmp(fmt, "text") == 0 ? 2
                                              : -1;
    if (kind < 0)
        return sql_error_at(TBML_E_UNSUPPORTED, src, st->pos,
                            "data source '%s' is not supported (json, csv, text)", fmt);
    if (!path)
        return sql_error_at(TBML_E_ARG, src, st->pos,
                            "CREATE TEMP VIEW %s USING %s needs OPTIONS (path '...')", st->name,
                            fmt);
    if (sql_session_find_view(s, st->name) && !st->replace) {
        if (st->if_exists) return TBML_OK;
        return tbml_error(TBML_E_ARG, "temporary view '%s' already exists (use CREATE OR REPLACE)",
                          st->name);
    }
    tbml_key_t *key = NULL;
    if (keyfile) {
        if (!s->key_fn)
            return tbml_error(TBML_E_KEY, "view %s: no way to load key file %s in this session",
                              st->name, keyfile);
        view_key vk = {s, keyfile};
        if ((ret = tbml_comm_share_key(s->comm, load_view_key, &vk, &key))) return ret;
        o.key = key;
    }
    tbml_table *t = NULL;
    ret = kind == 0   ? tbml_read_json(path, &o, &t)
          : kind == 1 ? tbml_read_csv(path, &o, &t)
                      : tbml_read_text(path, &o, &t);
    tbml_key_free(key);
    if (ret) return ret;
    return put_view(s, st->name, t, NULL, 1);
}

static tbml_status run_stmt(tbml_session_t *s, const char *sql, tbml_df_t **out)
{
    tbml_df_t *d = df_new(s);
    d->cx.src = sql;
    ast_stmt *st;
    tbml_status ret = sql_parse(&d->arena, sql, &st);
    if (ret) goto fail;
    switch (st->kind) {
    case ST_QUERY:
        if ((ret = sql_plan_query(&d->cx, st->query, &d->plan))) goto fail;
        d->sql = tbml_malloc((size_t)(st->query_end - st->query_pos) + 1);
        memcpy(d->sql, sql + st->query_pos, (size_t)(st->query_end - st->query_pos));
        d->sql[st->query_end - st->query_pos] = '\0';
        break;
    case ST_EXPLAIN: {
        if ((ret = sql_plan_query(&d->cx, st->query, &d->plan))) goto fail;
        char *text;
        sql_plan_explain(d->plan, &text);
        d->plan = NULL;
        static const char *names[] = {"plan"};
        d->result = string_table(1, names);
        const char *vals[] = {text};
        add_row(d->result, vals);
        tbml_free(text);
        break;
    }
    case ST_CREATE_VIEW: {
        if (sql_session_find_view(s, st->name) && !st->replace) {
            if (st->if_exists) goto empty;
            ret = sql_error_at(TBML_E_ARG, sql, st->pos,
                               "temporary view '%s' already exists (use CREATE OR REPLACE)",
                               st->name);
            goto fail;
        }
        /* plan it now so errors show at creation, as Spark does */
        sql_plan *p;
        if ((ret = sql_plan_query(&d->cx, st->query, &p))) goto fail;
        char *text = tbml_malloc((size_t)(st->query_end - st->query_pos) + 1);
        memcpy(text, sql + st->query_pos, (size_t)(st->query_end - st->query_pos));
        text[st->query_end - st->query_pos] = '\0';
        ret = put_view(s, st->name, NULL, text, 1);
        tbml_free(text);
        if (ret) goto fail;
        goto empty;
    }
    case ST_CREATE_VIEW_USING:
        if ((ret = create_view_using(s, st, sql))) goto fail;
        goto empty;
    case ST_DROP_VIEW:
        if (!sql_session_find_view(s, st->name)) {
            if (st->if_exists) goto empty;
            ret = sql_error_at(TBML_E_NOTFOUND, sql, st->pos, "temporary view '%s' not found",
                               st->name);
            goto fail;
        }
        if ((ret = tbml_session_drop(s, st->name))) goto fail;
        goto empty;
    case ST_SHOW_TABLES: {
        static const char *names[] = {"namespace", "tableName", "isTemporary"};
        d->result = string_table(3, names);
        for (int i = 0; i < s->nviews; i++) {
            if (strncmp(s->views[i]->name, "__", 2) == 0) continue;
            const char *vals[] = {"", s->views[i]->name, "true"};
            add_row(d->result, vals);
        }
        break;
    }
    case ST_DESCRIBE: {
        sql_view *v = sql_session_find_view(s, st->name);
        if (!v) {
            char *names = sql_session_view_names(s);
            ret = sql_error_at(TBML_E_NOTFOUND, sql, st->pos,
                               "table or view not found: %s; known views: %s", st->name,
                               names[0] ? names : "(none)");
            tbml_free(names);
            goto fail;
        }
        tbml_df_t *q;
        char *text = tbml_malloc(strlen(st->name) + 32);
        sprintf(text, "SELECT * FROM `%s`", st->name);
        ret = run_stmt(s, text, &q);
        tbml_free(text);
        if (ret) goto fail;
        static const char *names[] = {"col_name", "data_type", "comment"};
        d->result = string_table(3, names);
        const tbml_schema *sc = tbml_df_schema(q);
        for (int i = 0; i < sc->nfields; i++) {
            const char *vals[] = {sc->fields[i].name, tbml_type_name(sc->fields[i].type), "null"};
            add_row(d->result, vals);
        }
        tbml_df_free(q);
        break;
    }
    }
    *out = d;
    return TBML_OK;
empty : {
    tbml_schema sc;
    tbml_schema_init(&sc);
    d->result = tbml_table_new(&sc);
    *out = d;
    return TBML_OK;
}
fail:
    tbml_df_free(d);
    return ret;
}

tbml_status tbml_sql(tbml_session_t *s, const char *sql, tbml_df_t **out)
{
    tbml_error_clear();
    return run_stmt(s, sql, out);
}

int tbml_sql_next_statement(const char *sql, size_t pos, size_t *start, size_t *len)
{
    size_t n = strlen(sql);
    while (pos < n) {
        size_t i = pos, first = (size_t)-1;
        while (i < n && sql[i] != ';') {
            char c = sql[i];
            if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
                while (i < n && sql[i] != '\n')
                    i++;
                continue;
            }
            if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
                i += 2;
                while (i + 1 < n && !(sql[i] == '*' && sql[i + 1] == '/'))
                    i++;
                i = i + 2 < n ? i + 2 : n;
                continue;
            }
            if (!isspace((unsigned char)c) && first == (size_t)-1) first = i;
            if (c == '\'' || c == '"' || c == '`') {
                i++;
                while (i < n && sql[i] != c) {
                    if (sql[i] == '\\' && c != '`' && i + 1 < n) i++;
                    i++;
                }
                if (i < n) i++;
                continue;
            }
            i++;
        }
        if (first != (size_t)-1) {
            *start = first;
            *len = i - first;
            return 1;
        }
        pos = i + 1;
    }
    return 0;
}

/* ---- DataFrames ---- */
tbml_status tbml_df_from_table(tbml_session_t *s, tbml_table *table, tbml_df_t **out)
{
    char name[32], sql[64];
    snprintf(name, sizeof(name), "__df%d", s->anon++);
    tbml_status st = put_view(s, name, table, NULL, 1);
    if (st) return st;
    snprintf(sql, sizeof(sql), "SELECT * FROM %s", name);
    return tbml_sql(s, sql, out);
}

/* Runs head + user + mid + "(parent) AS __df" + tail + user2: the caller's text starts or ends
 * a line of its own, so an error's caret line shows what the caller wrote. */
static tbml_status compose(const tbml_df_t *df, const char *head, const char *user, const char *mid,
                           const char *tail, tbml_df_t **out)
{
    if (!df->sql)
        return tbml_error(TBML_E_ARG, "this DataFrame holds a command's output, not a query");
    size_t n = strlen(head) + strlen(user) + strlen(mid) + strlen(df->sql) + strlen(tail) + 64;
    char *q = tbml_malloc(n);
    snprintf(q, n, "%s%s%s(%s) AS __df%s", head, user, mid, df->sql, tail);
    tbml_status st = tbml_sql(df->s, q, out);
    tbml_free(q);
    return st;
}

static tbml_status compose_tail(const tbml_df_t *df, const char *clause, const char *user,
                                tbml_df_t **out)
{
    size_t n = strlen(clause) + strlen(user) + 4;
    char *t = tbml_malloc(n);
    snprintf(t, n, "\n%s%s", clause, user);
    tbml_status st = compose(df, "SELECT * FROM ", "", "", t, out);
    tbml_free(t);
    return st;
}

tbml_status tbml_df_select(const tbml_df_t *df, const char *exprs, tbml_df_t **out)
{
    return compose(df, "SELECT ", exprs, "\nFROM ", "", out);
}

tbml_status tbml_df_filter(const tbml_df_t *df, const char *cond, tbml_df_t **out)
{
    return compose_tail(df, "WHERE ", cond, out);
}

tbml_status tbml_df_order_by(const tbml_df_t *df, const char *keys, tbml_df_t **out)
{
    return compose_tail(df, "ORDER BY ", keys, out);
}

tbml_status tbml_df_limit(const tbml_df_t *df, int64_t n, tbml_df_t **out)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)(n < 0 ? 0 : n));
    return compose_tail(df, "LIMIT ", num, out);
}

tbml_status tbml_df_group_count(const tbml_df_t *df, const char *cols, tbml_df_t **out)
{
    size_t n = strlen(cols) + 32;
    char *tail = tbml_malloc(n);
    snprintf(tail, n, "\nGROUP BY %s", cols);
    size_t m = strlen(cols) + 32;
    char *head = tbml_malloc(m);
    snprintf(head, m, "%s, count(1) AS count", cols);
    tbml_status st = compose(df, "SELECT ", head, "\nFROM ", tail, out);
    tbml_free(tail);
    tbml_free(head);
    return st;
}

tbml_status tbml_df_create_temp_view(const tbml_df_t *df, const char *name)
{
    if (!df->sql)
        return tbml_error(TBML_E_ARG, "this DataFrame holds a command's output, not a query");
    /* validate the name as the parser would see it */
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return tbml_error(TBML_E_ARG, "'%s' is not a valid view name", name);
    if (!*name) return tbml_error(TBML_E_ARG, "a view needs a name");
    return put_view(df->s, name, NULL, df->sql, 1);
}

const tbml_schema *tbml_df_schema(const tbml_df_t *df)
{
    return df->plan ? &df->plan->schema : &df->result->schema;
}

static tbml_table *table_copy(const tbml_table *t)
{
    tbml_table *c = tbml_table_new(&t->schema);
    for (int64_t i = 0; i < t->nbatches; i++)
        tbml_table_append(c, sql_batch_copy(t->batches[i]));
    return c;
}

tbml_status tbml_df_collect(const tbml_df_t *df, tbml_table **out)
{
    if (df->result) {
        *out = table_copy(df->result);
        return TBML_OK;
    }
    tbml_df_t *d = (tbml_df_t *)df; /* the plan's runtime state is made and freed per run */
    return sql_exec(&d->cx, d->plan, out);
}

tbml_status tbml_df_count(const tbml_df_t *df, int64_t *out)
{
    tbml_table *t;
    tbml_status st = tbml_df_collect(df, &t);
    if (st) return st;
    *out = tbml_table_nrows(t);
    tbml_table_free(t);
    return TBML_OK;
}

tbml_status tbml_df_show(const tbml_df_t *df, int n, FILE *f)
{
    tbml_table *t;
    tbml_status st = tbml_df_collect(df, &t);
    if (st) return st;
    if (!df->s->comm || tbml_comm_rank(df->s->comm) == 0) tbml_show(t, n, 20, f ? f : stdout);
    tbml_table_free(t);
    return TBML_OK;
}

tbml_status tbml_df_print_schema(const tbml_df_t *df, FILE *f)
{
    if (!df->s->comm || tbml_comm_rank(df->s->comm) == 0)
        tbml_print_schema(tbml_df_schema(df), f ? f : stdout);
    return TBML_OK;
}

tbml_status tbml_df_explain(const tbml_df_t *df, char **out)
{
    if (!df->plan)
        return tbml_error(TBML_E_ARG, "this DataFrame holds a command's output, not a query");
    sql_plan_explain(df->plan, out);
    return TBML_OK;
}
