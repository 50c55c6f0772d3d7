/* The executor's internal interface: push-based streams per partition, sinks, and the entry
 * points of each operator family (op_*.c). A pipeline of narrow operators (scan, filter,
 * project, limit, union, join probe) runs batch by batch inside one partition; breakers
 * (exchange, aggregate, sort, join build) materialise their output per partition in a stage
 * that runs all partitions on the pool. */
#ifndef TBML_SQL_EXEC_H
#define TBML_SQL_EXEC_H

#include "exchange.h"

#include "tbml/scratch.h"

#include <pthread.h>

/* A sink takes one batch. owned: the sink must free b (or keep it); else b is only borrowed
 * for the call. Returns TBML_OK, an error, or SQL_STOP to end the stream early (LIMIT). */
typedef struct sql_sink sql_sink;
struct sql_sink {
    tbml_status (*put)(sql_sink *s, tbml_batch *b, int owned);
};
#define SQL_STOP 1

typedef struct {
    sql_ctx *cx;
    tbml_pool_t *pool;
    int nparts;
    int serialize; /* exchange through the byte encoding */
    const sql_exchange_backend *xb;
    int stage, nstages;
    int64_t rows, bytes; /* progress, updated atomically */
    tbml_comm_t *comm;   /* distributed: this rank runs the partitions p with p % size == rank */
    int rank, size;
    /* the query's scratch folder for sort and join spill files, made at the first spill
     * (sql_xc_scratch) and removed when the query ends */
    tbml_scratch_t *scratch;
    pthread_mutex_t scratch_mu;
} sql_xc;

/* 1 when partition part runs in this process. */
static inline int sql_xc_owns(const sql_xc *x, int part)
{
    return part % x->size == x->rank;
}

struct jtable;
struct sortspill;
struct sql_rt {
    sql_blist *parts; /* per partition output of a materialising node */
    int borrowed;     /* parts[] hold batches owned by x */
    sql_exchange *x;
    struct jtable **jt; /* P_JOIN: per partition build tables, or one shared (broadcast) */
    int njt;
    tbml_batch *bounds;    /* range exchange: the P - 1 sampled bounds */
    struct sortspill **ss; /* P_SORT: per partition, the sorted runs of a sort that spilled */
};

SQL_HIDDEN tbml_status sql_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);

/* op_scan.c */
SQL_HIDDEN tbml_status op_scan_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
SQL_HIDDEN tbml_status op_values_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
/* Before a run, on every rank: makes each scanned table of a distributed read scannable by the
 * partitions this rank runs (a collective only when the partition count needs it). */
SQL_HIDDEN tbml_status sql_scan_prepare(sql_xc *x, sql_plan *p);
/* op_project.c: filter and project */
SQL_HIDDEN tbml_status op_filter_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
SQL_HIDDEN tbml_status op_project_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
/* op_limit.c: limit and union all */
SQL_HIDDEN tbml_status op_limit_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
SQL_HIDDEN tbml_status op_union_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
/* op_agg.c: hash aggregate (partial, final, single) */
SQL_HIDDEN tbml_status op_agg_run(sql_xc *x, sql_plan *p, int part, sql_blist *out);
/* op_sort.c: sort, top-N, and range bounds for the range exchange. op_sort_run sorts a
 * partition into out, or, past the memory budget, into sorted runs in a sealed spill file that
 * op_sort_stream merges as it streams. */
SQL_HIDDEN tbml_status op_sort_run(sql_xc *x, sql_plan *p, int part, sql_blist *out);
SQL_HIDDEN tbml_status op_sort_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
SQL_HIDDEN void op_sort_free(sql_xc *x, struct sql_rt *rt);
SQL_HIDDEN int op_sort_cmp_rows(const sql_plan *keys, const tbml_batch *a, int64_t ra,
                                const tbml_batch *b, int64_t rb);
SQL_HIDDEN tbml_batch *op_sort_bounds(const sql_plan *keys, sql_blist *parts, int nparts);
/* op_join.c: hash join */
SQL_HIDDEN tbml_status op_join_build(sql_xc *x, sql_plan *p, int part);
SQL_HIDDEN tbml_status op_join_stream(sql_xc *x, sql_plan *p, int part, sql_sink *out);
SQL_HIDDEN void op_join_free(struct sql_rt *rt);

/* spill.c: batches in sealed spill files (tbml/scratch.h), shared by the aggregate, the sort
 * and the join. A file holds records: the encoding's byte length (u64, host order: the file
 * never leaves this process) and the batch's exchange encoding (sql_batch_encode). */
SQL_HIDDEN tbml_status sql_spill_put(tbml_spill_t *f, const tbml_batch *b);
/* Reads the record at *off into a new batch and moves *off past it; buf and cap are a read
 * buffer the caller keeps across calls (tbml_free it). */
SQL_HIDDEN tbml_status sql_spill_get(tbml_spill_t *f, uint64_t *off, uint8_t **buf, size_t *cap,
                                     tbml_batch **out);
/* Offsets of some records of a file (a sorted run, a join partition), with their rows and
 * plaintext bytes. */
typedef struct {
    uint64_t *off;
    int64_t n, cap;
    int64_t rows, bytes;
} sql_reclist;
/* Writes b as a record of f and lists it in l. */
SQL_HIDDEN tbml_status sql_spill_put_list(tbml_spill_t *f, sql_reclist *l, const tbml_batch *b);
SQL_HIDDEN void sql_reclist_clear(sql_reclist *l);
/* Hands b to hold in pieces of at most slice rows, so that a spilling operator checks its budget
 * per piece and one huge batch cannot overshoot it; frees b if owned. */
SQL_HIDDEN tbml_status sql_spill_slices(tbml_batch *b, int owned, int64_t slice,
                                        tbml_status (*hold)(void *arg, tbml_batch *piece),
                                        void *arg);
/* The query's scratch folder, made on the first call (thread-safe). */
SQL_HIDDEN tbml_status sql_xc_scratch(sql_xc *x, tbml_scratch_t **out);
/* Bytes one task of an operator may hold before it spills (the session's per-task share of
 * spark.executor.memory); 0 = no limit. */
SQL_HIDDEN int64_t sql_xc_task_memory(const sql_xc *x);
/* A 64-bit finaliser: spreads a key hash before it picks a spill partition, with a seed per
 * level so that a partition that is still too big splits differently. */
static inline uint64_t sql_spill_mix(uint64_t h, uint64_t seed)
{
    h ^= seed * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#endif
