/* Text, CSV and JSON-lines readers and the writers: quoting and escapes, inference, each
 * malformed-record mode with the exact FAILFAST message, parallel reads equal to sequential ones,
 * sealed inputs equal to plain ones, and write-then-read round trips. */
#include "check.h"
#include "tbml/readers.h"
#include "tbml/show.h"

#include "data/reader.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every cell of t, one row a line, cells separated by '|', NULL as \N: a table's full content. */
static char *dump(const tbml_table *t)
{
    char *out = NULL, *cell = NULL;
    size_t len = 0, cap = 0, clen = 0, ccap = 0;
    for (int64_t b = 0; b < t->nbatches; b++) {
        const tbml_batch *batch = t->batches[b];
        for (int64_t i = 0; i < batch->nrows; i++) {
            for (int j = 0; j < t->schema.nfields; j++) {
                clen = 0;
                if (tbml_column_is_null(&batch->cols[j], i)) {
                    cell = tbml_realloc(cell, ccap = ccap > 4 ? ccap : 4);
                    memcpy(cell, "\\N", 2);
                    clen = 2;
                } else {
                    tbml_format_cell(&batch->cols[j], i, &cell, &clen, &ccap);
                }
                if (len + clen + 3 > cap) {
                    cap = (len + clen + 3) * 2;
                    out = tbml_realloc(out, cap);
                }
                memcpy(out + len, cell, clen);
                len += clen;
                out[len++] = j + 1 < t->schema.nfields ? '|' : '\n';
            }
        }
    }
    out = tbml_realloc(out, len + 1);
    out[len] = '\0';
    tbml_free(cell);
    return out;
}

static char *schema_str(const tbml_table *t)
{
    return tbml_schema_tree_string(&t->schema);
}

typedef tbml_status (*read_fn)(tbml_input_t *, tbml_read_options *, tbml_table **);

static tbml_status read_mem(read_fn fn, const char *text, tbml_read_options *o, tbml_table **out)
{
    tbml_input_t *in;
    tbml_status st = tbml_input_from_memory(text, strlen(text), "mem.txt", &in);
    if (st) return st;
    st = fn(in, o, out);
    tbml_input_close(in);
    return st;
}

/* Reads text and checks the dump (and the schema tree when want_schema is not NULL). */
static void expect(read_fn fn, const char *text, tbml_read_options *o, const char *want_schema,
                   const char *want)
{
    tbml_table *t = NULL;
    tbml_status st = read_mem(fn, text, o, &t);
    CHECK_OK(st);
    if (st) return;
    char *d = dump(t), *s = schema_str(t);
    CHECK(strcmp(d, want) == 0);
    if (strcmp(d, want)) fprintf(stderr, "got rows:\n%s\nwant:\n%s\n", d, want);
    if (want_schema) {
        CHECK(strcmp(s, want_schema) == 0);
        if (strcmp(s, want_schema)) fprintf(stderr, "got schema:\n%s\nwant:\n%s\n", s, want_schema);
    }
    tbml_free(d);
    tbml_free(s);
    tbml_table_free(t);
}

static void expect_fail(read_fn fn, const char *text, tbml_read_options *o, const char *want_msg)
{
    tbml_table *t = NULL;
    CHECK_ST(read_mem(fn, text, o, &t), TBML_E_FORMAT);
    CHECK(strcmp(tbml_errmsg(), want_msg) == 0);
    if (strcmp(tbml_errmsg(), want_msg))
        fprintf(stderr, "got message: %s\nwant:        %s\n", tbml_errmsg(), want_msg);
    tbml_table_free(t);
}

static tbml_read_options opts(void)
{
    tbml_read_options o;
    tbml_read_options_init(&o);
    return o;
}

static void test_text(void)
{
    tbml_read_options o = opts();
    expect(tbml_read_text_input, "a b\r\n\nlast", &o,
           "root\n |-- value: string (nullable = true)\n", "a b\n\nlast\n");
    expect(tbml_read_text_input, "", &o, NULL, "");
    expect(tbml_read_text_input, "x\n", &o, NULL, "x\n");
}

static void test_csv_basics(void)
{
    tbml_read_options o = opts();
    /* no header, no inference: _cN string columns; quotes, "" escapes, delimiters in quotes */
    expect(tbml_read_csv_input, "1,\"a,b\",\"say \"\"hi\"\"\"\n2,,\"\"\n", &o,
           "root\n |-- _c0: string (nullable = true)\n |-- _c1: string (nullable = true)\n"
           " |-- _c2: string (nullable = true)\n",
           "1|a,b|say \"hi\"\n2|\\N|\n");
    /* header, inference, empty lines skipped, CRLF */
    o.header = 1;
    o.infer_schema = 1;
    expect(tbml_read_csv_input,
           "id,x,ok,day,ts,name,nothing\r\n"
           "1,1.5,true,2024-01-31,2024-01-31 10:00:00,Ann,\r\n"
           "\r\n"
           "-7,2,FALSE,2024-02-01,2024-02-01,Bob,\r\n"
           "9223372036854775807,1e3,,,2024-02-02T03:04:05.5Z,\"\",\r\n",
           &o,
           "root\n |-- id: long (nullable = true)\n |-- x: double (nullable = true)\n"
           " |-- ok: boolean (nullable = true)\n |-- day: date (nullable = true)\n"
           " |-- ts: timestamp (nullable = true)\n |-- name: string (nullable = true)\n"
           " |-- nothing: string (nullable = true)\n",
           "1|1.5|true|2024-01-31|2024-01-31 10:00:00|Ann|\\N\n"
           "-7|2.0|false|2024-02-01|2024-02-01 00:00:00|Bob|\\N\n"
           "9223372036854775807|1000.0|\\N|\\N|2024-02-02 03:04:05.5||\\N\n");
    /* a long that overflows makes the column double; mixed types make it string */
    expect(tbml_read_csv_input, "a,b\n1,1\n99999999999999999999,x\n", &o,
           "root\n |-- a: double (nullable = true)\n |-- b: string (nullable = true)\n",
           "1.0|1\n1.0E20|x\n");
    /* another delimiter and quote; duplicate and empty header names */
    o.delimiter = ';';
    o.quote = '\'';
    expect(tbml_read_csv_input, "k;k;\n'x;y';2;3\n", &o,
           "root\n |-- k0: string (nullable = true)\n |-- k1: long (nullable = true)\n"
           " |-- _c2: long (nullable = true)\n",
           "x;y|2|3\n");
    /* header only: no rows */
    o = opts();
    o.header = 1;
    expect(tbml_read_csv_input, "a,b\n", &o,
           "root\n |-- a: string (nullable = true)\n |-- b: string (nullable = true)\n", "");
    CHECK_ST(tbml_read_options_set(&o, "mode", "SLOPPY"), TBML_E_ARG);
    CHECK_ST(tbml_read_options_set(&o, "colour", "red"), TBML_E_ARG);
    CHECK_OK(tbml_read_options_set(&o, "inferSchema", "TRUE"));
    CHECK(o.infer_schema == 1);
    CHECK_OK(tbml_read_options_set(&o, "sep", "\\t"));
    CHECK(o.delimiter == '\t');
}

static void test_csv_multiline(void)
{
    tbml_read_options o = opts();
    o.header = 1;
    o.multiline = 1;
    expect(tbml_read_csv_input, "id,text\n1,\"two\nlines\"\n2,\"x\"\"\ny\"\n", &o, NULL,
           "1|two\nlines\n2|x\"\ny\n");
    /* without multiLine a newline in quotes ends the record, which is malformed */
    o.multiline = 0;
    o.mode = TBML_MODE_FAILFAST;
    expect_fail(tbml_read_csv_input, "id,text\n1,\"two\nlines\"\n", &o,
                "mem.txt:2:3: malformed CSV record (mode FAILFAST): unterminated quoted field");
}

static void test_csv_modes(void)
{
    const char *data = "name,age\n"
                       "Ann,30\n"
                       "Bob,thirty\n" /* line 3: not a long, column 5 */
                       "Cy,1,extra\n" /* line 4: too many fields, column 6 */
                       "\"Di\"x,4\n"  /* line 5: junk after a quote, column 5 */
                       "Ed\n";        /* line 6: too few fields */
    tbml_read_options o = opts();
    o.header = 1;
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "age", TBML_TYPE_INT64, 1);
    o.schema = &s;
    expect(tbml_read_csv_input, data, &o, NULL, "Ann|30\nBob|\\N\nCy|1\n\\N|\\N\nEd|\\N\n");
    CHECK(o.bad_records == 4);
    o.mode = TBML_MODE_DROPMALFORMED;
    expect(tbml_read_csv_input, data, &o, NULL, "Ann|30\n");
    CHECK(o.bad_records == 4);
    o.mode = TBML_MODE_FAILFAST;
    expect_fail(
        tbml_read_csv_input, data, &o,
        "mem.txt:3:5: malformed CSV record (mode FAILFAST): field 2 (age) is not a valid long");
    /* a bad value in a column before the last one */
    tbml_schema s2;
    tbml_schema_init(&s2);
    tbml_schema_add(&s2, "a", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s2, "b", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s2, "c", TBML_TYPE_DOUBLE, 1);
    o.schema = &s2;
    expect_fail(
        tbml_read_csv_input, "a,b,c\n1,x,2.5\n2,y,3\nz,w,4\n", &o,
        "mem.txt:4:1: malformed CSV record (mode FAILFAST): field 1 (a) is not a valid long");
    o.mode = TBML_MODE_DROPMALFORMED;
    expect(tbml_read_csv_input, "a,b,c\n1,x,2.5\nz,w,4\n2,y,q\n3,,\n", &o, NULL,
           "1|x|2.5\n3|\\N|\\N\n");
    o.mode = TBML_MODE_PERMISSIVE;
    expect(tbml_read_csv_input, "a,b,c\n1,x,2.5\nz,w,4\n2,y,q\n", &o, NULL,
           "1|x|2.5\n\\N|w|4.0\n2|y|\\N\n");
    o.mode = TBML_MODE_FAILFAST;
    o.schema = &s;
    tbml_schema_clear(&s2);
    expect_fail(tbml_read_csv_input, "name,age\nCy,1,extra\n", &o,
                "mem.txt:2:6: malformed CSV record (mode FAILFAST): expected 2 fields, found 3");
    expect_fail(tbml_read_csv_input, "name,age\n\n\"Di\"x,4\n", &o,
                "mem.txt:3:5: malformed CSV record (mode FAILFAST): unexpected character after a "
                "closing quote");
    /* the first bad line in file order wins, even when later ranges are scanned first */
    tbml_pool_t *pool;
    CHECK_OK(tbml_pool_create(4, &pool));
    o.pool = pool;
    o.chunk_size = 8;
    expect_fail(
        tbml_read_csv_input, data, &o,
        "mem.txt:3:5: malformed CSV record (mode FAILFAST): field 2 (age) is not a valid long");
    tbml_pool_free(pool);
    tbml_schema_clear(&s);
}

static void test_json(void)
{
    tbml_read_options o = opts();
    /* fields merged across records and sorted by name; long+double -> double; conflicts -> string;
     * all-null -> string; nested values kept as compact JSON text */
    expect(tbml_read_json_input,
           "{\"name\":\"Michael\"}\n"
           "{\"name\":\"Andy\", \"age\":30, \"n\":null, \"tags\":[1,\"a\"], \"x\":1}\n"
           "\n"
           "{\"name\":\"Justin\", \"age\":19.5, \"obj\":{\"b\":1,\"a\":[true]}, \"x\":\"s\", "
           "\"ok\":false}\n",
           &o,
           "root\n |-- age: double (nullable = true)\n |-- n: string (nullable = true)\n"
           " |-- name: string (nullable = true)\n |-- obj: string (nullable = true)\n"
           " |-- ok: boolean (nullable = true)\n |-- tags: string (nullable = true)\n"
           " |-- x: string (nullable = true)\n",
           "\\N|\\N|Michael|\\N|\\N|\\N|\\N\n"
           "30.0|\\N|Andy|\\N|\\N|[1,\"a\"]|1\n"
           "19.5|\\N|Justin|{\"b\":1,\"a\":[true]}|false|\\N|s\n");
    /* escapes and unicode */
    expect(tbml_read_json_input, "{\"s\":\"a\\\"b\\u00e9\\n\"}\n", &o, NULL, "a\"b\xc3\xa9\n\n");

    const char *data = "{\"a\":1}\n"
                       "{\"a\":2\n"          /* line 2: truncated */
                       "[1,2]\n"             /* line 3: not an object */
                       "{\"a\":\"three\"}\n" /* line 4: a string for a long */
                       "{\"a\":4}";
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "a", TBML_TYPE_INT64, 1);
    o.schema = &s;
    expect(tbml_read_json_input, data, &o, NULL, "1\n\\N\n\\N\n\\N\n4\n");
    CHECK(o.bad_records == 3);
    o.mode = TBML_MODE_DROPMALFORMED;
    expect(tbml_read_json_input, data, &o, NULL, "1\n4\n");
    o.mode = TBML_MODE_FAILFAST;
    expect_fail(tbml_read_json_input, data, &o,
                "mem.txt:2:7: malformed JSON record (mode FAILFAST): invalid JSON: '}' expected");
    expect_fail(tbml_read_json_input, "{\"a\":1}\n{\"a\":\"x\"}\n", &o,
                "mem.txt:2:6: malformed JSON record (mode FAILFAST): field a is not a valid long");
    expect_fail(tbml_read_json_input, "{\"a\":1}\n{\"a\":x}\n", &o,
                "mem.txt:2:6: malformed JSON record (mode FAILFAST): invalid JSON: invalid token");
    expect_fail(tbml_read_json_input, "{\"a\":1}\n[1,2]\n", &o,
                "mem.txt:2:1: malformed JSON record (mode FAILFAST): not a JSON object");
    expect_fail(tbml_read_json_input, "{\"b\":1, \"a\" : \"three\"}\n", &o,
                "mem.txt:1:15: malformed JSON record (mode FAILFAST): field a is not a valid long");
    /* inference ignores malformed lines for types; PERMISSIVE keeps them as nulls and, as Spark
     * does, their text in an added _corrupt_record column */
    o.schema = NULL;
    o.mode = TBML_MODE_PERMISSIVE;
    expect(tbml_read_json_input, "{\"a\":1}\nnope\n", &o,
           "root\n |-- _corrupt_record: string (nullable = true)\n |-- a: long (nullable = true)\n",
           "\\N|1\nnope|\\N\n");
    tbml_schema_clear(&s);
}

static void test_people_golden(void)
{
    const char *shared = getenv("TBML_SHARED"), *src = getenv("TBML_SRC");
    if (!shared || !src) {
        fprintf(stderr, "TBML_SHARED / TBML_SRC not set: skipping the people.json golden test\n");
        return;
    }
    char path[1024], gpath[1024];
    snprintf(path, sizeof(path), "%s/datasets/people.json", shared);
    tbml_read_options o = opts();
    tbml_table *t;
    CHECK_OK(tbml_read_json(path, &o, &t));
    char *got = tbml_show_string(t, 20, 20);
    snprintf(gpath, sizeof(gpath), "%s/tests/golden/people_show.txt", src);
    FILE *f = fopen(gpath, "rb");
    char want[4096] = {0};
    if (f) {
        size_t n = fread(want, 1, sizeof(want) - 1, f);
        want[n] = '\0';
        fclose(f);
    }
    /* show() prints showString plus println's newline */
    CHECK(strlen(want) > 1 && strncmp(got, want, strlen(want) - 1) == 0 &&
          strlen(got) == strlen(want) - 1);
    tbml_free(got);
    tbml_table_free(t);
}

/* A CSV with quotes, escapes, empty fields and a very long line, to read in many ways. */
static char *gen_csv(int rows)
{
    size_t cap = (size_t)rows * 64 + 100000, len = 0;
    char *s = tbml_malloc(cap);
    len += (size_t)sprintf(s, "id,name,score,flag\n");
    uint32_t x = 12345;
    for (int i = 0; i < rows; i++) {
        x = x * 1103515245u + 12345u;
        if (i == rows / 2) { /* one line longer than any range */
            len += (size_t)sprintf(s + len, "%d,\"", i);
            for (int k = 0; k < 50000; k++)
                s[len++] = (char)('a' + k % 26);
            len += (size_t)sprintf(s + len, "\",1.5,true\n");
            continue;
        }
        switch (x >> 29) {
        case 0:
            len +=
                (size_t)sprintf(s + len, "%d,\"q,\"\"%u\"\"\",%u.25,false\n", i, x % 1000, x % 77);
            break;
        case 1:
            len += (size_t)sprintf(s + len, "%d,,,\n", i);
            break;
        case 2:
            len += (size_t)sprintf(s + len, "%d,n%u\r\n", i, x);
            break; /* too few fields */
        default:
            len += (size_t)sprintf(s + len, "%d,w%u,%d,%s\n", i, x % 5000, (int)(x % 100) - 50,
                                   x & 1 ? "true" : "false");
        }
    }
    s[len] = '\0';
    return s;
}

static void test_parallel_equals_sequential(void)
{
    char *csv = gen_csv(20000);
    tbml_pool_t *pool;
    CHECK_OK(tbml_pool_create(4, &pool));
    tbml_read_options seq = opts(), par = opts();
    seq.header = par.header = 1;
    seq.infer_schema = par.infer_schema = 1;
    par.pool = pool;
    par.chunk_size = 4096;
    tbml_table *a, *b;
    CHECK_OK(read_mem(tbml_read_csv_input, csv, &seq, &a));
    CHECK_OK(read_mem(tbml_read_csv_input, csv, &par, &b));
    CHECK(b->nbatches > 10); /* it really was split */
    char *da = dump(a), *db = dump(b), *sa = schema_str(a), *sb = schema_str(b);
    CHECK(strcmp(da, db) == 0);
    CHECK(strcmp(sa, sb) == 0);
    CHECK(strcmp(sa,
                 "root\n |-- id: long (nullable = true)\n |-- name: string (nullable = true)\n"
                 " |-- score: double (nullable = true)\n |-- flag: boolean (nullable = true)\n") ==
          0);
    CHECK(tbml_table_nrows(a) == 20000 && seq.bad_records == par.bad_records &&
          seq.bad_records > 1000);
    tbml_free(da);
    tbml_free(db);
    tbml_free(sa);
    tbml_free(sb);
    tbml_table_free(a);
    tbml_table_free(b);

    /* text and JSON too: the JSON is the CSV written back out */
    CHECK_OK(read_mem(tbml_read_text_input, csv, &seq, &a));
    CHECK_OK(read_mem(tbml_read_text_input, csv, &par, &b));
    da = dump(a);
    db = dump(b);
    CHECK(strcmp(da, db) == 0 && tbml_table_nrows(a) == 20001);
    tbml_free(da);
    tbml_free(db);
    tbml_table_free(a);
    tbml_table_free(b);
    tbml_pool_free(pool);
    tbml_free(csv);
}

static void test_files_sealed_roundtrip(void)
{
    char dir[] = "/tmp/tbml-readers-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char plain[256], sealed[256], json[256], sjson[256];
    snprintf(plain, sizeof(plain), "%s/data.csv", dir);
    snprintf(sealed, sizeof(sealed), "%s/data.csv.sealed", dir);
    snprintf(json, sizeof(json), "%s/data.json", dir);
    snprintf(sjson, sizeof(sjson), "%s/data.json.sealed", dir);
    char *csv = gen_csv(5000);
    FILE *f = fopen(plain, "wb");
    fputs(csv, f);
    fclose(f);

    tbml_key_t *key, *other;
    CHECK_OK(tbml_key_generate("datakey", &key));
    CHECK_OK(tbml_key_generate("datakey", &other));
    tbml_pool_t *pool;
    CHECK_OK(tbml_pool_create(3, &pool));
    tbml_read_options o = opts();
    o.header = 1;
    o.infer_schema = 1;
    o.pool = pool;
    o.chunk_size = 100000; /* several segments per range, ranges not segment-aligned in the text */
    tbml_table *a, *b, *c, *d;
    CHECK_OK(tbml_read_csv(plain, &o, &a));
    /* write it sealed (as CSV with a header) and read it back */
    o.key = key;
    CHECK_OK(tbml_write_csv(a, sealed, &o));
    CHECK_OK(tbml_read_csv(sealed, &o, &b));
    char *da = dump(a), *db = dump(b);
    CHECK(strcmp(da, db) == 0);
    tbml_free(db);
    /* JSON lines, plain and sealed, read back equal */
    o.key = NULL;
    CHECK_OK(tbml_write_json(a, json, &o));
    o.key = key;
    CHECK_OK(tbml_write_json(a, sjson, &o));
    o.key = NULL;
    CHECK_OK(tbml_read_json(json, &o, &c));
    o.key = key;
    CHECK_OK(tbml_read_json(sjson, &o, &d));
    char *dc = dump(c), *dd = dump(d);
    CHECK(strcmp(dc, dd) == 0 && strlen(dc) > 10000);
    tbml_free(dc);
    tbml_free(dd);
    /* a sealed file without its key, or with another key of the same name */
    tbml_table *x = NULL;
    o.key = NULL;
    CHECK_ST(tbml_read_csv(sealed, &o, &x), TBML_E_KEY);
    o.key = other;
    CHECK_ST(tbml_read_csv(sealed, &o, &x), TBML_E_AUTH);
    /* a tampered byte in the middle fails the read */
    struct stat st;
    stat(sealed, &st);
    f = fopen(sealed, "r+b");
    fseek(f, st.st_size / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, st.st_size / 2, SEEK_SET);
    fputc(ch ^ 1, f);
    fclose(f);
    o.key = key;
    CHECK_ST(tbml_read_csv(sealed, &o, &x), TBML_E_AUTH);
    CHECK(x == NULL);
    /* a missing file */
    CHECK_ST(tbml_read_csv("/nonexistent/x.csv", &o, &x), TBML_E_NOTFOUND);
    /* a writer that fails leaves nothing: a path in a missing folder */
    CHECK(tbml_write_csv(a, "/nonexistent/out.csv", &o) != TBML_OK);
    tbml_free(da);
    tbml_table_free(a);
    tbml_table_free(b);
    tbml_table_free(c);
    tbml_table_free(d);
    tbml_key_free(key);
    tbml_key_free(other);
    tbml_pool_free(pool);
    tbml_free(csv);
    unlink(plain);
    unlink(sealed);
    unlink(json);
    unlink(sjson);
    rmdir(dir);
}

/* Spark's escape option (default backslash), read inside quoted fields only, and written back so
 * that values survive a round trip under either setting. */
static void test_csv_escape(void)
{
    tbml_read_options o = opts();
    CHECK(o.escape == '\\');
    /* \" is a quote, \\ one backslash, \ before anything else is data, "" still a quote,
     * unquoted fields are taken as they are */
    expect(tbml_read_csv_input,
           "\"say \\\"hi\\\"\",\"a\\\\b\",\"c:\\dir\",\"x\"\"y\",u\\\"v\n"
           "\"\\\\\",\"\\\"\",\"\\\",\\\"\",\"end\\\\\"\"\",w\n",
           &o, NULL, "say \"hi\"|a\\b|c:\\dir|x\"y|u\\\"v\n\\|\"|\",\"|end\\\"|w\n");
    /* a backslash before the closing quote escapes it: the field runs on, unterminated */
    o.mode = TBML_MODE_FAILFAST;
    expect_fail(tbml_read_csv_input, "a,b\n\"x\\\",y\n", &o,
                "mem.txt:2:1: malformed CSV record (mode FAILFAST): unterminated quoted field");
    /* escape '' (Spark's way to turn it off): RFC 4180 only */
    CHECK_OK(tbml_read_options_set(&o, "escape", ""));
    CHECK(o.escape == '\0');
    expect(tbml_read_csv_input, "\"x\\\",\"a\\\\b\",\"q\"\"\"\n", &o, NULL, "x\\|a\\\\b|q\"\n");
    /* another escape character; one equal to the quote is the RFC form */
    CHECK_OK(tbml_read_options_set(&o, "escape", "'"));
    expect(tbml_read_csv_input, "\"it'\"s\",\"''\",\"a\\\"\n", &o, NULL, "it\"s|'|a\\\n");
    CHECK_OK(tbml_read_options_set(&o, "ESCAPE", "\""));
    expect(tbml_read_csv_input, "\"a\\\",\"b\"\"\"\n", &o, NULL, "a\\|b\"\n");
    CHECK_ST(tbml_read_options_set(&o, "escape", "ab"), TBML_E_ARG);

    /* values with backslashes and quotes written and read back, with and without escape */
    char dir[] = "/tmp/tbml-escape-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/out.csv", dir);
    const char *rfc = "v\n\"a\\\"\n\"x,\\\\\"\n\"q\\\"\"\"\n\"\\\"\"\"\nplain\\\n";
    const char *values = "a\\\nx,\\\\\nq\\\"\n\\\"\nplain\\\n";
    /* without escape only quotes are doubled; with it, a backslash before a backslash, a quote or
     * the closing quote is doubled too */
    const char *written[2] = {"v\na\\\n\"x,\\\\\"\n\"q\\\"\"\"\n\"\\\"\"\"\nplain\\\n",
                              "v\na\\\n\"x,\\\\\\\\\"\n\"q\\\\\"\"\"\n\"\\\\\"\"\"\nplain\\\n"};
    for (int esc = 0; esc < 2; esc++) {
        tbml_read_options w = opts();
        w.header = 1;
        w.escape = '\0';
        tbml_table *t, *back;
        CHECK_OK(read_mem(tbml_read_csv_input, rfc, &w, &t));
        char *d = dump(t);
        CHECK(strcmp(d, values) == 0);
        tbml_free(d);
        if (esc) w.escape = '\\';
        CHECK_OK(tbml_write_csv(t, path, &w));
        FILE *f = fopen(path, "rb");
        char buf[256] = {0};
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[n] = '\0';
        if (f) fclose(f);
        CHECK(strcmp(buf, written[esc]) == 0);
        if (strcmp(buf, written[esc])) fprintf(stderr, "escape %d wrote:\n%s", esc, buf);
        CHECK_OK(tbml_read_csv(path, &w, &back));
        d = dump(back);
        CHECK(strcmp(d, values) == 0);
        if (strcmp(d, values)) fprintf(stderr, "escape %d round trip:\n%s", esc, d);
        tbml_free(d);
        tbml_table_free(t);
        tbml_table_free(back);
    }
    unlink(path);
    rmdir(dir);
}

/* Reads text and checks show()'s table (all rows, cells cut at 20 as Spark's default). */
static void expect_show(read_fn fn, const char *text, tbml_read_options *o, const char *want)
{
    tbml_table *t = NULL;
    tbml_status st = read_mem(fn, text, o, &t);
    CHECK_OK(st);
    if (st) return;
    char *got = tbml_show_string(t, 20, 20);
    CHECK(strcmp(got, want) == 0);
    if (strcmp(got, want)) fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
    tbml_free(got);
    tbml_table_free(t);
}

/* Spark's _corrupt_record: the raw text of malformed records in PERMISSIVE mode. */
static void test_corrupt_record(void)
{
    tbml_read_options o = opts();
    /* JSON, inferred: the column joins the schema (sorted by name) only when a record is bad */
    const char *json = "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\n{\"a\":3,\"b\":\"y\"}\nnope\r\n[1,2]\n";
    expect_show(tbml_read_json_input, json, &o,
                "+---------------+----+----+\n"
                "|_corrupt_record|   a|   b|\n"
                "+---------------+----+----+\n"
                "|           null|   1|   x|\n"
                "|        {\"a\":2,|null|null|\n"
                "|           null|   3|   y|\n"
                "|           nope|null|null|\n"
                "|          [1,2]|null|null|\n"
                "+---------------+----+----+\n");
    CHECK(o.bad_records == 3);
    expect(tbml_read_json_input, "{\"a\":1}\n", &o, "root\n |-- a: long (nullable = true)\n",
           "1\n");
    /* another name; not in the other modes */
    CHECK_OK(tbml_read_options_set(&o, "columnNameOfCorruptRecord", "bad"));
    expect(tbml_read_json_input, "{\"a\":1}\n{\n", &o,
           "root\n |-- a: long (nullable = true)\n |-- bad: string (nullable = true)\n",
           "1|\\N\n\\N|{\n");
    o.mode = TBML_MODE_DROPMALFORMED;
    expect(tbml_read_json_input, "{\"a\":1}\n{\n", &o, "root\n |-- a: long (nullable = true)\n",
           "1\n");
    /* JSON, given schema holding the column: partial rows keep what fits */
    o = opts();
    tbml_schema s;
    tbml_schema_init(&s);
    tbml_schema_add(&s, "a", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "_corrupt_record", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "c", TBML_TYPE_STRING, 1);
    o.schema = &s;
    expect_show(tbml_read_json_input,
                "{\"a\":1,\"c\":\"k\"}\n{\"a\":\"x\",\"c\":\"m\"}\n{\"_corrupt_record\":\"no\"}\n"
                "oops\n",
                &o,
                "+----+-----------------+----+\n"
                "|   a|  _corrupt_record|   c|\n"
                "+----+-----------------+----+\n"
                "|   1|             null|   k|\n"
                "|null|{\"a\":\"x\",\"c\":\"m\"}|   m|\n"
                "|null|             null|null|\n"
                "|null|             oops|null|\n"
                "+----+-----------------+----+\n");
    /* CSV, given schema holding the column (anywhere): it takes no field of the file */
    tbml_schema_clear(&s);
    tbml_schema_add(&s, "name", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "_corrupt_record", TBML_TYPE_STRING, 1);
    tbml_schema_add(&s, "age", TBML_TYPE_INT64, 1);
    o.header = 1;
    const char *csv = "name,age\nAnn,30\nBob,thirty\nCy,1,extra\n\"Di\"x,4\nEd\r\n\"Fay\",\"4\"\n";
    expect_show(tbml_read_csv_input, csv, &o,
                "+----+---------------+----+\n"
                "|name|_corrupt_record| age|\n"
                "+----+---------------+----+\n"
                "| Ann|           null|  30|\n"
                "| Bob|     Bob,thirty|null|\n"
                "|  Cy|     Cy,1,extra|   1|\n"
                "|null|        \"Di\"x,4|null|\n"
                "|  Ed|             Ed|null|\n"
                "| Fay|           null|   4|\n"
                "+----+---------------+----+\n");
    CHECK(o.bad_records == 4);
    o.mode = TBML_MODE_DROPMALFORMED;
    expect(tbml_read_csv_input, csv, &o, NULL, "Ann|\\N|30\nFay|\\N|4\n");
    o.mode = TBML_MODE_FAILFAST;
    expect_fail(tbml_read_csv_input, csv, &o,
                "mem.txt:3:5: malformed CSV record (mode FAILFAST): field 2 (age) is not a valid "
                "long");
    /* CSV inference never adds it (Spark's CSV inference does not), nor does a schema without */
    o = opts();
    o.header = 1;
    o.infer_schema = 1;
    expect(tbml_read_csv_input, "a\n1\n\"x\n", &o, "root\n |-- a: long (nullable = true)\n",
           "1\n\\N\n");
    /* the column must be a string, as Spark requires */
    tbml_schema_clear(&s);
    tbml_schema_add(&s, "a", TBML_TYPE_INT64, 1);
    tbml_schema_add(&s, "_CORRUPT_RECORD", TBML_TYPE_INT64, 1);
    o.schema = &s;
    tbml_table *t = NULL;
    CHECK_ST(read_mem(tbml_read_csv_input, "a\n1\n", &o, &t), TBML_E_ARG);
    CHECK_ST(read_mem(tbml_read_json_input, "{\"a\":1}\n", &o, &t), TBML_E_ARG);
    CHECK(t == NULL);
    CHECK_ST(tbml_read_options_set(&o, "columnNameOfCorruptRecord", ""), TBML_E_ARG);
    tbml_schema_clear(&s);
}

/* Reads a path (a directory) with fn and checks the dump. */
static void expect_dir(tbml_status (*fn)(const char *, tbml_read_options *, tbml_table **),
                       const char *path, tbml_read_options *o, const char *want)
{
    tbml_table *t = NULL;
    CHECK_OK(fn(path, o, &t));
    if (!t) return;
    char *d = dump(t);
    CHECK(strcmp(d, want) == 0);
    if (strcmp(d, want)) fprintf(stderr, "got rows:\n%s\nwant:\n%s\n", d, want);
    tbml_free(d);
    tbml_table_free(t);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* A directory of part files (Spark's output layout) reads as one input: names starting with _ or
 * . and subdirectories skipped, files in name order, types inferred over all of them; the same
 * table as the files' records in one file. */
static void test_read_directory(void)
{
    char dir[] = "/tmp/tbml-dir-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/nested", dir);
    mkdir(sub, 0700);
    write_file(sub, "part-00000.csv", "id,v,w\n99,z,z\n");
    write_file(dir, "_SUCCESS", "");
    write_file(dir, ".part-00000.csv.crc", "junk,junk\n");
    /* alone, part 1's v is a double and w all NULL, part 0's w a long: both re-read */
    write_file(dir, "part-00001.csv", "id,v,w\n3,1.50,\n4,\"\",\n");
    write_file(dir, "part-00000.csv", "id,v,w\n1,a,7\n2,b,-0\n");
    tbml_read_options o = opts();
    o.header = 1;
    o.infer_schema = 1;
    tbml_table *t = NULL, *one = NULL;
    CHECK_OK(tbml_read_csv(dir, &o, &t));
    CHECK_OK(read_mem(tbml_read_csv_input, "id,v,w\n1,a,7\n2,b,-0\n3,1.50,\n4,\"\",\n", &o, &one));
    if (t && one) {
        char *a = dump(t), *b = dump(one), *sa = schema_str(t), *sb = schema_str(one);
        CHECK(strcmp(a, b) == 0 && strcmp(sa, sb) == 0);
        CHECK(strcmp(a, "1|a|7\n2|b|0\n3|1.50|\\N\n4||\\N\n") == 0);
        if (strcmp(a, b) || strcmp(sa, sb)) fprintf(stderr, "dir:\n%s%s\none file:\n%s%s", sa, a, sb, b);
        tbml_free(a);
        tbml_free(b);
        tbml_free(sa);
        tbml_free(sb);
    }
    tbml_table_free(t);
    tbml_table_free(one);
    /* text: every line of every part, in name order */
    o = opts();
    expect_dir(tbml_read_text, dir, &o, "id,v,w\n1,a,7\n2,b,-0\nid,v,w\n3,1.50,\n4,\"\",\n");

    /* JSON: fields and types merged over all parts, the corrupt column from any part */
    char jdir[] = "/tmp/tbml-jdir-XXXXXX";
    CHECK(mkdtemp(jdir) != NULL);
    write_file(jdir, "part-00000.json", "{\"a\":1,\"c\":null}\n");
    write_file(jdir, "part-00001.json", "{\"a\":2.5,\"b\":\"x\",\"c\":3}\n{bad\n");
    write_file(jdir, "_SUCCESS", "");
    o = opts();
    CHECK_OK(tbml_read_json(jdir, &o, &t));
    if (t) {
        char *d = dump(t), *s = schema_str(t);
        CHECK(strcmp(s, "root\n |-- _corrupt_record: string (nullable = true)\n"
                        " |-- a: double (nullable = true)\n |-- b: string (nullable = true)\n"
                        " |-- c: long (nullable = true)\n") == 0);
        CHECK(strcmp(d, "\\N|1.0|\\N|\\N\n\\N|2.5|x|3\n{bad|\\N|\\N|\\N\n") == 0);
        CHECK(o.bad_records == 1);
        if (strcmp(d, "\\N|1.0|\\N|\\N\n\\N|2.5|x|3\n{bad|\\N|\\N|\\N\n")) fprintf(stderr, "%s%s", s, d);
        tbml_free(d);
        tbml_free(s);
    }
    tbml_table_free(t);
    t = NULL;
    /* a directory with no data files */
    char edir[] = "/tmp/tbml-edir-XXXXXX";
    CHECK(mkdtemp(edir) != NULL);
    write_file(edir, "_SUCCESS", "");
    CHECK_ST(tbml_read_csv(edir, &o, &t), TBML_E_NOTFOUND);
    CHECK_ST(tbml_read_json(edir, &o, &t), TBML_E_NOTFOUND);
    CHECK(t == NULL);
    const char *rm[] = {"part-00000.csv", "part-00001.csv", "_SUCCESS", ".part-00000.csv.crc",
                        "nested/part-00000.csv", "nested"};
    char path[700];
    for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, rm[i]);
        remove(path);
    }
    rmdir(dir);
    snprintf(path, sizeof(path), "%s/part-00000.json", jdir);
    remove(path);
    snprintf(path, sizeof(path), "%s/part-00001.json", jdir);
    remove(path);
    snprintf(path, sizeof(path), "%s/_SUCCESS", jdir);
    remove(path);
    rmdir(jdir);
    snprintf(path, sizeof(path), "%s/_SUCCESS", edir);
    remove(path);
    rmdir(edir);
}

static void test_csv_write_quoting(void)
{
    char dir[] = "/tmp/tbml-writers-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/out.csv", dir);
    tbml_read_options o = opts();
    o.header = 1;
    tbml_table *t;
    const char *in = "a,b\n\"x,y\",\"q\"\"\"\n\" lead\",\n\"\",\"two\nlines\"\n";
    o.multiline = 1;
    CHECK_OK(read_mem(tbml_read_csv_input, in, &o, &t));
    CHECK_OK(tbml_write_csv(t, path, &o));
    FILE *f = fopen(path, "rb");
    char buf[256] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    CHECK(strcmp(buf, in) == 0);
    if (strcmp(buf, in)) fprintf(stderr, "wrote:\n%s", buf);
    tbml_table_free(t);
    unlink(path);
    rmdir(dir);
}

/* The fast decimal path must give strtod's correctly rounded double for every input. */
static void test_parse_f64_vs_strtod(void)
{
    uint64_t x = 0x1234567;
    int bad = 0;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int len = 0, nd = 1 + (int)(x % 20), dot = (int)((x >> 8) % (uint64_t)(nd + 1));
        if ((x >> 16) & 1) buf[len++] = '-';
        uint64_t y = x;
        for (int k = 0; k < nd; k++) {
            if (k == dot && k) buf[len++] = '.';
            y = y * 6364136223846793005ULL + 1;
            buf[len++] = (char)('0' + (y >> 60) % 10);
        }
        if ((x >> 20) % 4 == 0) len += sprintf(buf + len, "e%d", (int)((x >> 24) % 60) - 30);
        buf[len] = '\0';
        double got, want = strtod(buf, NULL);
        if (!reader_parse_f64(buf, (size_t)len, &got) || memcmp(&got, &want, sizeof(got)) != 0) {
            if (bad++ < 5) fprintf(stderr, "parse_f64(%s) = %.17g, strtod %.17g\n", buf, got, want);
        }
    }
    CHECK(bad == 0);
    double d;
    CHECK(!reader_parse_f64("1e", 2, &d) && !reader_parse_f64(".", 1, &d) &&
          !reader_parse_f64("1.5x", 4, &d));
    CHECK(reader_parse_f64(".5", 2, &d) && d == 0.5 && reader_parse_f64("5.", 2, &d) && d == 5.0);
    CHECK(reader_parse_f64("-Infinity", 9, &d) && d < -1e308);
    int64_t v;
    CHECK(reader_parse_i64("-9223372036854775808", 20, &v) && v == INT64_MIN);
    CHECK(!reader_parse_i64("9223372036854775808", 19, &v) && !reader_parse_i64("-", 1, &v));
}

/* ---- one-pass inference against the two-pass definition ----
 * inferSchema must give what inferring the types first and then reading with them as a given
 * schema gives: the same rows, the same bad-record count, the same FAILFAST message. The
 * generator writes per column runs of values of a few kinds, so that types widen inside ranges
 * and differ between them, with the values that make in-memory widening inexact ("-0" in a long
 * column, "" in an all-NULL one, non-canonical longs and booleans that must stay text), plus
 * malformed records whose values vote on nothing. The expected types come from the generator's
 * own knowledge of each value's kind, not from the reader. */

enum { K_LONG, K_DOUBLE, K_BOOL, K_DATE, K_TS, K_STR, K_NKINDS };

static uint32_t diff_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* The expected inference type as a tbml_type, merged as Spark's compatibleType does. */
static int kind_merge(int a, int b) /* -1: no vote yet */
{
    if (a < 0 || a == b) return b;
    if ((a == K_LONG && b == K_DOUBLE) || (a == K_DOUBLE && b == K_LONG)) return K_DOUBLE;
    if ((a == K_DATE && b == K_TS) || (a == K_TS && b == K_DATE)) return K_TS;
    return K_STR;
}

static const char *kind_text(int k, uint32_t r, char *buf)
{
    static const char *longs[] = {"0", "-0", "+5", "007", "-12", "9223372036854775807"};
    static const char *doubles[] = {"1.5", "-0.0", "1e3", "NaN", "2.", "-Infinity"};
    static const char *bools[] = {"true", "FALSE", "True", "false"};
    static const char *dates[] = {"2020-1-2", "2024-02-29", "1999-12-31"};
    static const char *tss[] = {"2020-01-02 03:04:05", "2020-01-02T03:04:05.5Z",
                                "2021-06-01 00:00"};
    static const char *strs[] = {"x", "\"a,b\"", "\"q\"\"q\"", "N/A", "1x", "\"7\""};
    switch (k) {
    case K_LONG:
        if (r % 3 == 0) {
            sprintf(buf, "%d", (int)(r % 100000) - 50000);
            return buf;
        }
        return longs[r % 6];
    case K_DOUBLE:
        return doubles[r % 6];
    case K_BOOL:
        return bools[r % 4];
    case K_DATE:
        return dates[r % 3];
    case K_TS:
        return tss[r % 3];
    default:
        return strs[r % 6];
    }
}

static char *diff_csv(uint32_t seed, int rows, int ncols, tbml_schema *want)
{
    uint32_t x = seed * 2654435761u + 1;
    size_t cap = (size_t)rows * (size_t)ncols * 32 + 256, len = 0;
    char *s = tbml_malloc(cap);
    int kinds[8][3], nk[8], run[8], voted[8];
    for (int c = 0; c < ncols; c++) {
        nk[c] = 1 + (int)(diff_rand(&x) % 3);
        for (int j = 0; j < nk[c]; j++)
            kinds[c][j] = (int)(diff_rand(&x) % K_NKINDS);
        /* mostly numeric or temporal pairs, which widen in memory */
        if (diff_rand(&x) % 2 && nk[c] > 1) kinds[c][1] = kinds[c][0] == K_DATE ? K_TS : K_DOUBLE;
        run[c] = 1 + (int)(diff_rand(&x) % 200);
        voted[c] = -1;
        len += (size_t)sprintf(s + len, "%sc%d", c ? "," : "", c);
    }
    s[len++] = '\n';
    for (int i = 0; i < rows; i++) {
        uint32_t r = diff_rand(&x);
        int shape = r % 40 == 0 ? 1 : r % 40 == 1 ? 2 : r % 40 == 2 ? 3 : 0;
        /* 1: unterminated quote in a random field, 2: one field short, 3: one too many */
        int nf = shape == 2 ? ncols - 1 : shape == 3 ? ncols + 1 : ncols;
        int broken = shape == 1 ? (int)(diff_rand(&x) % (uint32_t)ncols) : -1;
        for (int c = 0; c < nf; c++) {
            char buf[32];
            if (c) s[len++] = ',';
            if (c == broken) {
                len += (size_t)sprintf(s + len, "\"open");
                break;
            }
            if (c >= ncols) {
                len += (size_t)sprintf(s + len, "extra");
                continue;
            }
            uint32_t v = diff_rand(&x);
            if (v % 9 == 0) { /* empty: NULL, quoted or not */
                if (v % 2) len += (size_t)sprintf(s + len, "\"\"");
                continue;
            }
            int k = kinds[c][(i / run[c]) % nk[c]];
            if (shape == 1 && v % 3 == 0) k = K_STR; /* malformed records vote on nothing */
            len += (size_t)sprintf(s + len, "%s", kind_text(k, v >> 4, buf));
            if (shape != 1) voted[c] = kind_merge(voted[c], k);
        }
        s[len++] = '\n';
    }
    s[len] = '\0';
    static const tbml_type types[] = {TBML_TYPE_INT64, TBML_TYPE_DOUBLE,    TBML_TYPE_BOOL,
                                      TBML_TYPE_DATE,  TBML_TYPE_TIMESTAMP, TBML_TYPE_STRING};
    tbml_schema_init(want);
    for (int c = 0; c < ncols; c++) {
        char name[16];
        sprintf(name, "c%d", c);
        tbml_schema_add(want, name, voted[c] < 0 ? TBML_TYPE_STRING : types[voted[c]], 1);
    }
    return s;
}

static void test_csv_infer_one_pass(void)
{
    tbml_pool_t *pool;
    CHECK_OK(tbml_pool_create(3, &pool));
    int mismatches = 0;
    for (uint32_t seed = 1; seed <= 80; seed++) {
        tbml_schema want;
        int ncols = 1 + (int)(seed % 8);
        char *csv = diff_csv(seed, 300 + (int)(seed * 37 % 900), ncols, &want);
        for (int mode = 0; mode < 3; mode++) {
            for (int split = 0; split < 2; split++) {
                tbml_read_options o = opts();
                o.header = 1;
                o.infer_schema = 1;
                o.mode = (tbml_parse_mode)mode;
                if (split) {
                    o.pool = pool;
                    o.chunk_size = 64 + seed * 13 % 2000;
                }
                tbml_table *a = NULL, *b = NULL;
                tbml_status sa = read_mem(tbml_read_csv_input, csv, &o, &a);
                char msg_a[512];
                snprintf(msg_a, sizeof(msg_a), "%s", sa ? tbml_errmsg() : "");
                int64_t bad_a = o.bad_records;
                o.schema = &want;
                tbml_status sb = read_mem(tbml_read_csv_input, csv, &o, &b);
                int same = sa == sb && (sa ? strcmp(msg_a, tbml_errmsg()) == 0
                                           : o.bad_records == bad_a);
                if (same && !sa) {
                    char *da = dump(a), *db = dump(b), *ta = schema_str(a), *tb = schema_str(b);
                    same = strcmp(da, db) == 0 && strcmp(ta, tb) == 0;
                    if (!same && mismatches < 5) {
                        size_t at = 0, line = 1;
                        while (da[at] && da[at] == db[at])
                            line += da[at++] == '\n';
                        while (at > 0 && da[at - 1] != '\n')
                            at--;
                        fprintf(stderr, "schema:\n%s\nrow %zu differs:\n%.200s\nwant:\n%.200s\n", ta,
                                line, da + at, db + at);
                    }
                    tbml_free(da);
                    tbml_free(db);
                    tbml_free(ta);
                    tbml_free(tb);
                }
                if (!same && mismatches++ < 5)
                    fprintf(stderr, "one-pass differs: seed %u mode %d split %d\n", seed, mode,
                            split);
                CHECK(same);
                tbml_table_free(a);
                tbml_table_free(b);
            }
        }
        tbml_schema_clear(&want);
        tbml_free(csv);
    }
    tbml_pool_free(pool);
}

int main(void)
{
    test_parse_f64_vs_strtod();
    test_text();
    test_csv_basics();
    test_csv_multiline();
    test_csv_modes();
    test_csv_infer_one_pass();
    test_json();
    test_people_golden();
    test_parallel_equals_sequential();
    test_files_sealed_roundtrip();
    test_csv_write_quoting();
    test_csv_escape();
    test_corrupt_record();
    test_read_directory();
    return check_done();
}
