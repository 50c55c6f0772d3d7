/* The exchange: the one place where batches move between partitions. Operators never share
 * memory across partitions except through this interface; they hand it whole, self-contained
 * batches (nothing in a batch points outside it) and get whole batches back.
 *
 * A backend moves batches. The local backend (exchange.c) runs partitions as threads of one
 * process and moves pointers, or, with "tbml.sql.exchange" = "serialize", copies every batch
 * through its byte encoding as a distributed backend must. The comm backend (exchange_comm.c)
 * maps partition p to rank p % size: send encodes the batch with sql_batch_encode for the rank
 * owning dst; finish is the collective sealed all-to-all; recv returns what arrived for dst.
 *
 * Protocol for one exchange: open, then every source partition calls send for its batches
 * (concurrently: each source from one thread), then finish once from the driver, then recv
 * for each destination, then close (which frees every batch still held). */
#ifndef TBML_SQL_EXCHANGE_H
#define TBML_SQL_EXCHANGE_H

#include "sql_int.h"

typedef struct sql_exchange sql_exchange;

typedef struct {
    const char *name;
    /* nparts partitions on each side. */
    tbml_status (*open)(int nparts, int serialize, sql_exchange **out);
    /* Takes ownership of b. dst = SQL_EXCHANGE_ALL sends it to every partition (broadcast). */
    tbml_status (*send)(sql_exchange *x, int src, int dst, tbml_batch *b);
    tbml_status (*finish)(sql_exchange *x);
    /* The batches for dst, in source order; owned by the exchange until close. */
    tbml_status (*recv)(sql_exchange *x, int dst, tbml_batch *const **bs, int64_t *n);
    void (*close)(sql_exchange *x);
} sql_exchange_backend;

#define SQL_EXCHANGE_ALL (-1)

SQL_HIDDEN extern const sql_exchange_backend sql_exchange_local;
/* cells is P x (P + 1) (the last column goes to every partition); fills lists[d], nlists[d]. */
SQL_HIDDEN void sql_exchange_assemble(int P, sql_blist *cells, tbml_batch ***lists, int64_t *nlists);
/* The distributed backend (exchange_comm.c): opened with sql_exchange_comm_open, not open. */
SQL_HIDDEN extern const sql_exchange_backend sql_exchange_comm;
SQL_HIDDEN tbml_status sql_exchange_comm_open(tbml_comm_t *c, int nparts, sql_exchange **out);

/* The wire form of a batch (little-endian, docs/sql.md "Exchange encoding"). */
SQL_HIDDEN void sql_batch_encode(const tbml_batch *b, uint8_t **out, size_t *size);
SQL_HIDDEN tbml_status sql_batch_decode(const uint8_t *buf, size_t size, tbml_batch **out);

#endif
