/* Word count, as Spark's examples/src/main/python/wordcount.py: prints "word: count" for every
 * distinct word of FILE (plain or sealed). Words are maximal runs of non-whitespace bytes (space,
 * \t, \n, \v, \f, \r), so runs of spaces make no empty words. Lines are sorted by word (bytewise)
 * so that the output is the same on every run, thread count and input kind; Spark prints them in
 * an order that depends on partitioning.
 *
 * Fast path: the file is cut into line-aligned ranges that the pool's threads tokenise into their
 * own hash tables (no locks, no sharing); the tables are then merged and sorted once.
 * Under mpirun (tbml submit --master mpi) each rank scans its own run of chunks (whole segments of
 * a sealed file) and the per-rank tables are gathered to rank 0 as sealed messages and merged
 * there, so the output is the same on any number of ranks.
 *   tbml run-example [--master local[N]] wordcount [--key K --password-file F] FILE */
#include "tbml/app.h"
#include "tbml/comm.h"
#include "tbml/io.h"

#include <stdlib.h>
#include <string.h>

#include "example_util.h"

/* A word of up to 16 bytes lives inside its entry, zero-padded, so lookups and sorting compare
 * two 64-bit words instead of calling memcmp; longer words live in the table's arena. */
#define INLINE_MAX 16

typedef struct {
    uint64_t hash;
    uint32_t len;
    uint32_t count; /* per table; at most one per two input bytes, so < 2^32 for inputs < 8 GiB */
    union {
        uint64_t w[2];   /* len <= INLINE_MAX */
        const char *ptr; /* len > INLINE_MAX */
    } u;
} wc_entry;

typedef struct {
    wc_entry *slots;
    uint64_t mask, used;
    char **blocks; /* arena blocks for long words */
    size_t nblocks, block_left;
    char *block_at;
} wc_table;

static const uint8_t *g_space; /* 1 for the whitespace bytes */

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 29;
    return h;
}

static uint64_t hash_long(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    return mix((h ^ v) * 0xC4CEB9FE1A85EC53ULL);
}

static inline uint64_t hash_short(uint64_t a, uint64_t b, uint32_t n)
{
    return mix((a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC4CEB9FE1A85EC53ULL) ^ n);
}

static const char *entry_word(const wc_entry *e)
{
    return e->len <= INLINE_MAX ? (const char *)e->u.w : e->u.ptr;
}

static void table_init(wc_table *t, uint64_t cap)
{
    memset(t, 0, sizeof(*t));
    t->slots = tbml_calloc(cap, sizeof(wc_entry));
    t->mask = cap - 1;
}

static const char *arena_copy(wc_table *t, const char *s, size_t n)
{
    if (n > t->block_left) {
        size_t size = n > (1 << 20) ? n : (1 << 20);
        t->blocks = tbml_realloc(t->blocks, (t->nblocks + 1) * sizeof(char *));
        t->blocks[t->nblocks++] = t->block_at = tbml_malloc(size);
        t->block_left = size;
    }
    char *d = t->block_at;
    memcpy(d, s, n);
    t->block_at += n;
    t->block_left -= n;
    return d;
}

static void table_grow(wc_table *t)
{
    uint64_t cap = (t->mask + 1) * 2;
    wc_entry *old = t->slots;
    uint64_t oldcap = t->mask + 1;
    t->slots = tbml_calloc(cap, sizeof(wc_entry));
    t->mask = cap - 1;
    for (uint64_t i = 0; i < oldcap; i++) {
        if (!old[i].count) continue;
        uint64_t j = old[i].hash & t->mask;
        while (t->slots[j].count)
            j = (j + 1) & t->mask;
        t->slots[j] = old[i];
    }
    tbml_free(old);
}

static inline void table_insert_at(wc_table *t, uint64_t i, const wc_entry *e)
{
    t->slots[i] = *e;
    if (++t->used * 4 > (t->mask + 1) * 3) table_grow(t);
}

/* Adds count to a short word (zero-padded in a, b). */
static inline void add_short(wc_table *t, uint64_t a, uint64_t b, uint32_t n, uint64_t h,
                             uint32_t count)
{
    uint64_t i = h & t->mask;
    for (;;) {
        wc_entry *e = &t->slots[i];
        if (!e->count) break;
        if (e->hash == h && e->len == n && e->u.w[0] == a && e->u.w[1] == b) {
            e->count += count;
            return;
        }
        i = (i + 1) & t->mask;
    }
    wc_entry e = {.hash = h, .len = n, .count = count, .u.w = {a, b}};
    table_insert_at(t, i, &e);
}

/* Adds count to a long word; copy says whether its bytes must go into this table's arena. */
static void add_long(wc_table *t, const char *w, uint32_t n, uint64_t h, uint32_t count, int copy)
{
    uint64_t i = h & t->mask;
    for (;;) {
        wc_entry *e = &t->slots[i];
        if (!e->count) break;
        if (e->hash == h && e->len == n && memcmp(e->u.ptr, w, n) == 0) {
            e->count += count;
            return;
        }
        i = (i + 1) & t->mask;
    }
    wc_entry e = {.hash = h, .len = n, .count = count};
    e.u.ptr = copy ? arena_copy(t, w, n) : w;
    table_insert_at(t, i, &e);
}

static void table_free(wc_table *t)
{
    for (size_t i = 0; i < t->nblocks; i++)
        tbml_free(t->blocks[i]);
    tbml_free(t->blocks);
    tbml_free(t->slots);
}

typedef struct {
    wc_table *tables; /* one per thread */
} wc_job;

/* Words are looked up in batches: hash a batch, prefetch the slots, then insert. Most lookups of
 * rare words miss the cache, and overlapping those misses is worth more than anything else here. */
#define BATCH 32

typedef struct {
    uint64_t a, b, h;
    uint32_t n, count;
} short_word;

static void flush_batch(wc_table *t, const short_word *q, int nq)
{
    for (int i = 0; i < nq; i++)
        __builtin_prefetch(&t->slots[q[i].h & t->mask]);
    for (int i = 0; i < nq; i++)
        add_short(t, q[i].a, q[i].b, q[i].n, q[i].h, q[i].count);
}

static tbml_status count_chunk(int ith, const tbml_chunk *c, void *arg)
{
    wc_job *job = arg;
    wc_table *t = &job->tables[ith];
    const char *p = c->data, *end = c->data + c->size;
    const uint8_t *sp = g_space;
    short_word q[BATCH];
    int nq = 0;
    for (;;) {
        while (p < end && sp[(uint8_t)*p])
            p++;
        if (p >= end) break;
        const char *w = p;
        while (p < end && !sp[(uint8_t)*p])
            p++;
        uint32_t n = (uint32_t)(p - w);
        if (n > INLINE_MAX) {
            add_long(t, w, n, hash_long(w, n), 1, 1);
            continue;
        }
        uint64_t a = 0, b = 0;
        if (end - w >= 16) { /* two whole loads, then mask off what follows the word */
            memcpy(&a, w, 8);
            memcpy(&b, w + 8, 8);
            if (n < 8) {
                a &= (1ULL << (8 * n)) - 1;
                b = 0;
            } else if (n < 16) {
                b &= n == 8 ? 0 : (1ULL << (8 * (n - 8))) - 1;
            }
        } else {
            char tmp[16] = {0};
            memcpy(tmp, w, n);
            memcpy(&a, tmp, 8);
            memcpy(&b, tmp + 8, 8);
        }
        q[nq].a = a;
        q[nq].b = b;
        q[nq].n = n;
        q[nq].h = hash_short(a, b, n);
        q[nq].count = 1;
        if (++nq == BATCH) {
            flush_batch(t, q, nq);
            nq = 0;
        }
    }
    flush_batch(t, q, nq);
    return TBML_OK;
}

static inline uint64_t be64(uint64_t v)
{
    return __builtin_bswap64(v);
}

static int cmp_entry(const void *pa, const void *pb)
{
    const wc_entry *x = *(wc_entry *const *)pa, *y = *(wc_entry *const *)pb;
    if (x->len <= INLINE_MAX && y->len <= INLINE_MAX) {
        /* zero padding sorts a prefix first, as memcmp-then-length does: 0 is the least byte */
        uint64_t xa = be64(x->u.w[0]), ya = be64(y->u.w[0]);
        if (xa != ya) return xa < ya ? -1 : 1;
        uint64_t xb = be64(x->u.w[1]), yb = be64(y->u.w[1]);
        if (xb != yb) return xb < yb ? -1 : 1;
        return (x->len > y->len) - (x->len < y->len);
    }
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(entry_word(x), entry_word(y), n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sends this rank's table to rank 0 (u32 length, u32 count, bytes per word), where every rank's
 * words are merged into *all. */
static tbml_status gather_tables(tbml_comm_t *comm, wc_table *all)
{
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = tbml_malloc(cap);
    for (uint64_t s = 0; s <= all->mask; s++) {
        const wc_entry *e = &all->slots[s];
        if (!e->count) continue;
        if (len + 8 + e->len > cap) buf = tbml_realloc(buf, cap = 2 * (len + 8 + e->len));
        memcpy(buf + len, &e->len, 4);
        memcpy(buf + len + 4, &e->count, 4);
        memcpy(buf + len + 8, entry_word(e), e->len);
        len += 8 + e->len;
    }
    int n = tbml_comm_size(comm), me = tbml_comm_rank(comm);
    uint8_t **parts = tbml_calloc((size_t)n, sizeof(uint8_t *));
    size_t *sizes = tbml_calloc((size_t)n, sizeof(size_t));
    tbml_status st = tbml_comm_gather(comm, 0, buf, len, parts, sizes);
    short_word q[BATCH]; /* short words go in batches, as when counting: most lookups miss */
    int nq = 0;
    for (int r = 1; !st && me == 0 && r < n; r++) {
        for (size_t at = 0; at + 8 <= sizes[r];) {
            uint32_t wl, cnt;
            memcpy(&wl, parts[r] + at, 4);
            memcpy(&cnt, parts[r] + at + 4, 4);
            if (wl > sizes[r] - at - 8) {
                st = tbml_error(TBML_E_FORMAT, "wordcount: bad table from rank %d", r);
                break;
            }
            const char *w = (const char *)parts[r] + at + 8;
            if (wl <= INLINE_MAX) {
                char tmp[16] = {0};
                uint64_t a, b;
                memcpy(tmp, w, wl);
                memcpy(&a, tmp, 8);
                memcpy(&b, tmp + 8, 8);
                q[nq] = (short_word){a, b, hash_short(a, b, wl), wl, cnt};
                if (++nq == BATCH) {
                    flush_batch(all, q, nq);
                    nq = 0;
                }
            } else {
                add_long(all, w, wl, hash_long(w, wl), cnt, 1);
            }
            at += 8 + wl;
        }
    }
    flush_batch(all, q, nq);
    if (me == 0)
        for (int r = 0; r < n; r++)
            tbml_free(parts[r]);
    tbml_free(parts);
    tbml_free(sizes);
    tbml_free(buf);
    return st;
}

/* The first 8 bytes of a word, big-endian and zero-padded: their order is the words' order as
 * far as it goes. */
static uint64_t sort_key(const wc_entry *e)
{
    if (e->len <= INLINE_MAX) return be64(e->u.w[0]);
    uint64_t v;
    memcpy(&v, e->u.ptr, 8);
    return be64(v);
}

typedef struct {
    uint64_t key;
    wc_entry *e;
} keyed;

/* Puts the table's entries in word order into order; returns their count. A radix sort on the
 * 8-byte prefix (four 16-bit passes), then a comparison sort of each run of equal prefixes:
 * several times faster than qsort with a comparator over the whole vocabulary. */
static uint64_t sort_words(const wc_table *t, wc_entry **order)
{
    uint64_t n = 0;
    keyed *a = tbml_malloc((t->used ? t->used : 1) * sizeof(keyed)),
          *b = tbml_malloc((t->used ? t->used : 1) * sizeof(keyed));
    for (uint64_t s = 0; s <= t->mask; s++)
        if (t->slots[s].count) {
            a[n].key = sort_key(&t->slots[s]);
            a[n++].e = &t->slots[s];
        }
    size_t *count = tbml_malloc(65536 * sizeof(size_t));
    for (int pass = 0; pass < 4; pass++) {
        int shift = 16 * pass;
        memset(count, 0, 65536 * sizeof(size_t));
        for (uint64_t i = 0; i < n; i++)
            count[(a[i].key >> shift) & 0xFFFF]++;
        size_t sum = 0;
        for (int d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (uint64_t i = 0; i < n; i++)
            b[count[(a[i].key >> shift) & 0xFFFF]++] = a[i];
        keyed *tmp = a;
        a = b;
        b = tmp;
    }
    for (uint64_t i = 0; i < n; i++)
        order[i] = a[i].e;
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i + 1;
        while (j < n && a[j].key == a[i].key)
            j++;
        if (j - i > 1) qsort(order + i, j - i, sizeof(wc_entry *), cmp_entry);
        i = j;
    }
    tbml_free(count);
    tbml_free(a);
    tbml_free(b);
    return n;
}

int main(int argc, char **argv)
{
    const char *key_file = NULL, *password_file = NULL;
    tbml_key_t *key = NULL;
    tbml_input_t *in = NULL;
    tbml_app_t *app = NULL;
    wc_job job = {0};
    wc_table all;
    int nth = 0, code = 1;
    tbml_comm_t *comm = NULL;
    memset(&all, 0, sizeof(all));
    tbml_status st = tbml_app_init(&argc, &argv, &app);
    if (st) return example_fail("wordcount", st);
    if ((st = tbml_comm_open(NULL, &comm))) goto fail;
    if (example_key_options(&argc, argv, &key_file, &password_file) || argc != 2) {
        fprintf(stderr, "usage: wordcount [--key KEYFILE --password-file F] FILE\n");
        code = 2;
        goto out;
    }
    if (key_file && (st = example_load_key_shared(comm, key_file, password_file, &key))) goto fail;
    if ((st = tbml_input_open(argv[1], key, &in))) goto fail;
    static uint8_t space[256];
    space[' '] = space['\t'] = space['\n'] = space['\v'] = space['\f'] = space['\r'] = 1;
    g_space = space;
    nth = tbml_pool_size(app->pool);
    job.tables = tbml_calloc((size_t)nth, sizeof(wc_table));
    for (int i = 0; i < nth; i++)
        table_init(&job.tables[i], 1 << 16);
    if ((st = tbml_input_scan_lines_part(in, app->pool, 8 << 20, tbml_comm_rank(comm),
                                         tbml_comm_size(comm), count_chunk, &job)))
        goto fail;

    /* merge into the largest table (its words stay in its arena) */
    int big = 0;
    for (int i = 1; i < nth; i++)
        if (job.tables[i].used > job.tables[big].used) big = i;
    all = job.tables[big];
    job.tables[big].slots = NULL;
    job.tables[big].blocks = NULL;
    job.tables[big].nblocks = 0;
    for (int i = 0; i < nth; i++) {
        if (i == big) continue;
        wc_table *t = &job.tables[i];
        for (uint64_t s = 0; s <= t->mask; s++) {
            const wc_entry *e = &t->slots[s];
            if (!e->count) continue;
            if (e->len <= INLINE_MAX)
                add_short(&all, e->u.w[0], e->u.w[1], e->len, e->hash, e->count);
            else
                add_long(&all, e->u.ptr, e->len, e->hash, e->count, 1);
        }
    }
    if (tbml_comm_size(comm) > 1) {
        if ((st = gather_tables(comm, &all))) goto fail;
        if (tbml_comm_rank(comm) != 0) {
            code = 0;
            goto out;
        }
    }
    wc_entry **order = tbml_malloc((all.used ? all.used : 1) * sizeof(wc_entry *));
    uint64_t n = sort_words(&all, order);
    /* one buffered write: printf per line would cost more than the counting */
    size_t cap = 1 << 20, len = 0;
    char *buf = tbml_malloc(cap);
    for (uint64_t i = 0; i < n; i++) {
        if (len + order[i]->len + 32 > cap) {
            fwrite(buf, 1, len, stdout);
            len = 0;
            if (order[i]->len + 32 > cap) buf = tbml_realloc(buf, cap = order[i]->len + 32);
        }
        memcpy(buf + len, entry_word(order[i]), order[i]->len);
        len += order[i]->len;
        len += (size_t)sprintf(buf + len, ": %u\n", order[i]->count);
    }
    fwrite(buf, 1, len, stdout);
    tbml_wipe(buf, cap);
    tbml_free(buf);
    tbml_free(order);
    code = 0;
    goto out;
fail:
    code = example_fail("wordcount", st);
    if (comm && tbml_comm_size(comm) > 1) tbml_comm_abort(comm, st);
out:
    tbml_comm_free(comm);
    if (job.tables)
        for (int i = 0; i < nth; i++)
            table_free(&job.tables[i]);
    tbml_free(job.tables);
    table_free(&all);
    tbml_input_close(in);
    tbml_key_free(key);
    tbml_app_free(app);
    return tbml_stdout_finish("wordcount", code);
}
