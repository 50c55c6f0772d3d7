/* tbml sql: Spark SQL from the command line, like spark-sql. Statements come from -e, -f or an
 * interactive shell (libedit: line editing and history); results print as Spark's show() table
 * or as CSV or JSON lines. The password of key files named in `CREATE TEMP VIEW ... OPTIONS
 * (key '...')` is read once per command (--password-file, --password-fd or the TTY). On a TTY a
 * progress line shows stages, rows and bytes while a query runs. */
#include "cli.h"

#include "tbml/app.h"
#include "tbml/comm.h"
#include "tbml/readers.h"
#include "tbml/show.h"
#include "tbml/sql.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    cli_password_source pw;
    char *password;
    size_t password_size;
    int have_password;
} key_state;

static tbml_status load_key(void *ctx, const char *path, tbml_key_t **out)
{
    key_state *k = ctx;
    if (!k->have_password) {
        char prompt[600];
        snprintf(prompt, sizeof(prompt), "Password for %s: ", path);
        tbml_status st = cli_password_read(&k->pw, prompt, 0, &k->password, &k->password_size);
        if (st) return st;
        k->have_password = 1;
    }
    return tbml_keyfile_read(path, k->password, k->password_size, out);
}

typedef struct {
    int tty;
    double start;
    int shown;
} progress_state;

static void human(double v, char *buf, size_t size, const char *unit)
{
    const char *s[] = {"", "K", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    snprintf(buf, size, i ? "%.1f%s%s" : "%.0f%s%s", v, s[i], unit);
}

static void progress(void *ctx, int stage, int nstages, int64_t rows, int64_t bytes, int done)
{
    progress_state *p = ctx;
    if (!p->tty) return;
    if (done) {
        if (p->shown) fprintf(stderr, "\r\033[K");
        p->shown = 0;
        return;
    }
    /* quiet for quick queries: only after half a second */
    if (tbml_now() - p->start < 0.5) return;
    char r[32], b[32];
    human((double)rows, r, sizeof(r), " rows");
    human((double)bytes, b, sizeof(b), "B");
    fprintf(stderr, "\r\033[K[Stage %d/%d] %s scanned, %s exchanged", stage, nstages, r, b);
    fflush(stderr);
    p->shown = 1;
}

enum { FMT_TABLE, FMT_CSV, FMT_JSON };

static tbml_status print_result(const tbml_table *t, int fmt)
{
    if (t->schema.nfields == 0) return TBML_OK; /* a command without output */
    fflush(stdout);
    if (fmt == FMT_TABLE && t->schema.nfields == 1 &&
        strcmp(t->schema.fields[0].name, "plan") == 0) {
        /* EXPLAIN: the plan as text, not cut into a table cell */
        for (int64_t b = 0; b < t->nbatches; b++)
            for (int64_t r = 0; r < t->batches[b]->nrows; r++) {
                size_t n;
                const char *p = tbml_column_str(&t->batches[b]->cols[0], r, &n);
                fwrite(p, 1, n, stdout);
            }
        fflush(stdout);
        return TBML_OK;
    }
    if (fmt == FMT_TABLE) {
        int64_t n = tbml_table_nrows(t);
        tbml_show(t, n > 0 ? n : 20, 20, stdout);
        fflush(stdout);
        return TBML_OK;
    }
    tbml_read_options o;
    tbml_read_options_init(&o);
    o.header = 1;
    tbml_status st = fmt == FMT_CSV ? tbml_write_csv(t, "-", &o) : tbml_write_json(t, "-", &o);
    return st;
}

typedef struct {
    tbml_session_t *s;
    int fmt;
    progress_state *prog;
    int timing;        /* "Time taken" lines on stderr, as spark-sql prints them */
    tbml_comm_t *comm; /* under mpirun with more than one rank; rank 0 alone prints */
} runner;

/* Runs every statement of text; stops at the first error when stop_on_error. Returns the
 * exit code. */
static int run_script(runner *r, const char *text, int stop_on_error)
{
    size_t pos = 0, start, len;
    int rc = 0;
    while (tbml_sql_next_statement(text, pos, &start, &len)) {
        char *stmt = tbml_malloc(len + 1);
        memcpy(stmt, text + start, len);
        stmt[len] = '\0';
        pos = start + len + 1;
        tbml_df_t *df = NULL;
        tbml_table *t = NULL;
        r->prog->start = tbml_now();
        tbml_status st = tbml_sql(r->s, stmt, &df);
        if (!st) st = tbml_df_collect(df, &t);
        progress(r->prog, 0, 0, 0, 0, 1);
        double took = tbml_now() - r->prog->start;
        int root = !r->comm || tbml_comm_rank(r->comm) == 0;
        if (!st && root) st = print_result(t, r->fmt);
        if (!st && r->timing && root) {
            int64_t n = t->schema.nfields ? tbml_table_nrows(t) : 0;
            fprintf(stderr, "Time taken: %.3f seconds, Fetched %lld row(s)\n", took, (long long)n);
        }
        tbml_table_free(t);
        tbml_df_free(df);
        tbml_free(stmt);
        if (st && r->comm) {
            /* a rank that stops would leave its peers waiting in the next exchange: end the
             * job (rank 0 has the line every rank would print for a statement error) */
            if (root) cli_fail(st);
            fflush(stdout);
            tbml_comm_abort(r->comm, st);
        }
        if (st) {
            rc = cli_fail(st);
            if (rc == 2) rc = 1;
            if (stop_on_error) break;
        }
        if (pos > strlen(text)) break;
    }
    return rc;
}

static char *prompt_fn(EditLine *el)
{
    int *cont;
    el_get(el, EL_CLIENTDATA, &cont);
    return *cont ? (char *)"         > " : (char *)"tbml-sql> ";
}

/* 1 if text holds a ';' that ends a statement (outside quotes and comments). */
static int complete(const char *text)
{
    size_t n = strlen(text), start, len, pos = 0;
    while (tbml_sql_next_statement(text, pos, &start, &len)) {
        if (start + len < n && text[start + len] == ';') {
            pos = start + len + 1;
            /* a complete statement; is anything after it unfinished? */
            size_t s2, l2;
            if (!tbml_sql_next_statement(text, pos, &s2, &l2)) return 1;
            continue;
        }
        return 0;
    }
    return 1;
}

static int shell(runner *r)
{
    EditLine *el = el_init("tbml-sql", stdin, stdout, stderr);
    History *hist = history_init();
    HistEvent ev;
    int cont = 0;
    history(hist, &ev, H_SETSIZE, 1000);
    char histfile[4096] = "";
    const char *home = getenv("HOME");
    if (home) {
        snprintf(histfile, sizeof(histfile), "%s/.tbml_sql_history", home);
        history(hist, &ev, H_LOAD, histfile);
    }
    el_set(el, EL_CLIENTDATA, &cont);
    el_set(el, EL_PROMPT, prompt_fn);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_HIST, history, hist);
    el_source(el, NULL);
    char *buf = NULL;
    size_t blen = 0;
    for (;;) {
        int count;
        const char *line = el_gets(el, &count);
        if (!line) break;
        if (!cont) {
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (strncmp(p, "quit", 4) == 0 || strncmp(p, "exit", 4) == 0) break;
        }
        buf = tbml_realloc(buf, blen + (size_t)count + 1);
        memcpy(buf + blen, line, (size_t)count);
        blen += (size_t)count;
        buf[blen] = '\0';
        if (!complete(buf)) {
            cont = 1;
            continue;
        }
        cont = 0;
        char *h = tbml_strdup(buf);
        size_t hl = strlen(h);
        while (hl && (h[hl - 1] == '\n' || h[hl - 1] == ' '))
            h[--hl] = '\0';
        if (hl) history(hist, &ev, H_ENTER, h);
        tbml_free(h);
        run_script(r, buf, 0);
        blen = 0;
        buf[0] = '\0';
    }
    if (histfile[0]) history(hist, &ev, H_SAVE, histfile);
    tbml_free(buf);
    history_end(hist);
    el_end(el);
    printf("\n");
    return 0;
}

/* --properties-file: "key value" or "key=value" lines, '#' comments, as spark-submit reads them;
 * the SQL settings go to the session, others are spark-submit's and are ignored here. */
static int apply_properties(tbml_session_t *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail(tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: %s", path,
                                   strerror(errno)));
    char line[2048];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        lineno++;
        char *k = line;
        while (*k == ' ' || *k == '\t')
            k++;
        if (*k == '#' || *k == '\n' || *k == '\0') continue;
        char *e = k + strcspn(k, " \t=");
        if (!*e) continue;
        *e++ = '\0';
        while (*e == ' ' || *e == '\t' || *e == '=')
            e++;
        e[strcspn(e, "\r\n")] = '\0';
        size_t n = strlen(e);
        while (n && (e[n - 1] == ' ' || e[n - 1] == '\t'))
            e[--n] = '\0';
        if (strncmp(k, "spark.sql.", 10) != 0 && strncmp(k, "tbml.sql.", 9) != 0 &&
            strcmp(k, "spark.executor.memory") != 0)
            continue;
        tbml_status st = tbml_session_set_conf(s, k, e);
        if (st) rc = cli_fail(tbml_error_prefix(st, "%s:%d: ", path, lineno));
    }
    fclose(f);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: tbml sql [submit options] [-e 'STATEMENTS' | -f FILE] [--format table|csv|json]\n"
        "                [--password-file F | --password-fd N]\n\n"
        "Runs Spark SQL statements separated by ';'. With neither -e nor -f, an interactive\n"
        "shell. Views over files: CREATE TEMP VIEW v USING json|csv|text OPTIONS (path 'F'\n"
        "[, header 'true', inferSchema 'true'] [, key 'DIR/NAME.key'] for a sealed file).\n\n"
        "options:\n"
        "  -e STATEMENTS          run these statements\n"
        "  -f FILE                run the statements in FILE\n"
        "  --format FMT           table (Spark's show(), default), csv or json (lines)\n"
        "  --password-file F      the key files' password: first line of F\n"
        "  --password-fd N        ... or read from descriptor N (else the TTY asks once)\n"
        "  --timing               print 'Time taken' per statement on stderr (default on a TTY)\n"
        "  --master local[N]      N worker threads (local[*]: all cores; default)\n"
        "  --conf K=V             spark.sql.shuffle.partitions, "
        "spark.sql.autoBroadcastJoinThreshold, ...\n"
        "  --properties-file F    settings as 'key value' lines (the spark.sql.* ones and\n"
        "                         spark.executor.memory apply)\n"
        "  --executor-memory MEM  memory the threads share for aggregates, sorts and joins (e.g.\n"
        "                         512m); one past its thread's share spills to sealed temporary\n"
        "                         files (spark.executor.memory; default: no limit)\n"
        "  --name, --driver-memory, --executor-cores, --verbose,\n"
        "  --sgx-enabled false    accepted as tbml submit takes them\n");
}

int cmd_sql(int argc, char **argv)
{
    const char *exec = NULL, *file = NULL, *master = "local[*]", *props = NULL, *emem = NULL;
    int fmt = FMT_TABLE, nconf = 0, timing = isatty(2);
    const char **conf = tbml_calloc((size_t)argc + 1, sizeof(char *));
    key_state ks;
    memset(&ks, 0, sizeof(ks));
    ks.pw.fd = -1;
    int rc = 0;
    tbml_session_t *s = NULL;
    tbml_comm_t *comm = NULL;
    char *script = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int pr = cli_password_option(argc, argv, &i, &ks.pw);
        if (pr < 0) {
            rc = 2;
            goto out;
        }
        if (pr > 0) {
            i--; /* it moved past its value; the loop steps once more */
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            usage(stdout);
            goto out;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            continue;
        } else if (strcmp(a, "--timing") == 0) {
            timing = 1;
            continue;
        }
        if (!v) {
            rc = cli_usage_error("%s needs a value", a);
            goto out;
        }
        if (strcmp(a, "-e") == 0) {
            exec = v;
        } else if (strcmp(a, "-f") == 0) {
            file = v;
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "table") == 0)
                fmt = FMT_TABLE;
            else if (strcmp(v, "csv") == 0)
                fmt = FMT_CSV;
            else if (strcmp(v, "json") == 0)
                fmt = FMT_JSON;
            else {
                rc = cli_usage_error("--format must be table, csv or json, not '%s'", v);
                goto out;
            }
        } else if (strcmp(a, "--master") == 0) {
            master = v;
        } else if (strcmp(a, "--conf") == 0) {
            if (!strchr(v, '=')) {
                rc = cli_usage_error("--conf needs KEY=VALUE, not '%s'", v);
                goto out;
            }
            conf[nconf++] = v;
        } else if (strcmp(a, "--sgx-enabled") == 0) {
            if (strcmp(v, "false") != 0) {
                rc = cli_usage_error("--sgx-enabled: only 'false' is supported by tbml sql");
                goto out;
            }
        } else if (strcmp(a, "--properties-file") == 0) {
            props = v;
        } else if (strcmp(a, "--executor-memory") == 0) {
            emem = v;
        } else if (strcmp(a, "--name") == 0 || strcmp(a, "--driver-memory") == 0 ||
                   strcmp(a, "--executor-cores") == 0) {
            /* accepted for spark-sql compatibility; the engine sizes itself by --master */
        } else {
            rc = cli_usage_error("unknown option '%s'", a);
            goto out;
        }
        i++;
    }
    if (exec && file) {
        rc = cli_usage_error("give -e or -f, not both");
        goto out;
    }
    int nthreads;
    tbml_status st = tbml_master_parse(master, &nthreads);
    if (st) {
        rc = cli_fail(st);
        goto out;
    }
    if ((st = tbml_session_create(nthreads, &s))) {
        rc = cli_fail(st);
        goto out;
    }
    if (props && (rc = apply_properties(s, props))) goto out;
    for (int i = 0; i < nconf; i++) {
        char kv[1024];
        snprintf(kv, sizeof(kv), "%s", conf[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if ((st = tbml_session_set_conf(s, kv, eq + 1))) {
            rc = cli_fail(st);
            goto out;
        }
    }
    /* the option beats --conf and the properties file, as in spark-submit */
    if (emem && (st = tbml_session_set_conf(s, "spark.executor.memory", emem))) {
        rc = cli_usage_error("--executor-memory: %s", tbml_errmsg());
        goto out;
    }
    tbml_session_set_key_lookup(s, load_key, &ks);
    int nranks = 0;
    if (tbml_comm_launched(&nranks)) {
        /* started by mpirun (tbml submit --master mpi): the ranks run every query together */
        if ((st = tbml_comm_open(NULL, &comm))) {
            rc = cli_fail(st);
            goto out;
        }
        if (tbml_comm_size(comm) > 1) {
            if (!exec && !file) {
                rc = cli_usage_error("on more than one rank, give the statements with -e or -f");
                goto out;
            }
            tbml_session_set_comm(s, comm);
            if (tbml_comm_rank(comm) != 0) timing = 0;
        }
    }
    progress_state prog = {isatty(2) && (!comm || tbml_comm_rank(comm) == 0), 0, 0};
    tbml_session_set_progress(s, progress, &prog);
    runner r = {s, fmt, &prog, timing, comm && tbml_comm_size(comm) > 1 ? comm : NULL};
    if (file) {
        int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY);
        if (fd < 0) {
            rc = cli_fail(tbml_error(errno == ENOENT ? TBML_E_NOTFOUND : TBML_E_IO, "%s: %s", file,
                                     strerror(errno)));
            goto out;
        }
        uint8_t *data;
        size_t size;
        st = tbml_read_all(fd, file, (size_t)1 << 28, &data, &size);
        if (fd) close(fd);
        if (st) {
            rc = cli_fail(st);
            goto out;
        }
        script = tbml_malloc(size + 1);
        memcpy(script, data, size);
        script[size] = '\0';
        tbml_free(data);
        rc = run_script(&r, script, 1);
    } else if (exec) {
        rc = run_script(&r, exec, 1);
    } else if (isatty(0)) {
        rc = shell(&r);
    } else {
        /* statements piped on stdin */
        uint8_t *data;
        size_t size;
        if ((st = tbml_read_all(0, "<stdin>", (size_t)1 << 28, &data, &size))) {
            rc = cli_fail(st);
            goto out;
        }
        script = tbml_malloc(size + 1);
        memcpy(script, data, size);
        script[size] = '\0';
        tbml_free(data);
        rc = run_script(&r, script, 1);
    }
out:
    tbml_free(script);
    tbml_session_free(s);
    tbml_comm_free(comm);
    if (ks.have_password) cli_password_free(ks.password, ks.password_size);
    tbml_free(conf);
    return rc;
}
