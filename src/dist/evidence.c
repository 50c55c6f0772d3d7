/* The evidence round of the channel handshake (docs/protocols/dist-channel.md, step 4): when the
 * job runs under the trusted runtime, every rank gets evidence from it over report data that binds
 * the handshake transcript, its rank and its ephemeral X25519 key, sends that evidence to every
 * peer, and checks every peer's against its own identity (src/tee decides what "same code" means;
 * this file only decides what the report data must be). Kept apart from comm.c's data path. */
#include "dist_internal.h"

#include "tbml/crypto.h"
#include "tbml/tee.h"

#include <stdio.h>
#include <string.h>

#define EVIDENCE_MAX (1u << 16)
#define RD_LABEL "tbml-dist-evidence-v1"

/* Report data for rank r: SHA-256(label || transcript || u32 r) || r's X25519 public key. */
static tbml_status report_data(const uint8_t transcript[32], int r, const uint8_t pub[32],
                               uint8_t rd[64])
{
    uint8_t msg[sizeof(RD_LABEL) - 1 + 32 + 4];
    memcpy(msg, RD_LABEL, sizeof(RD_LABEL) - 1);
    memcpy(msg + sizeof(RD_LABEL) - 1, transcript, 32);
    for (int i = 0; i < 4; i++)
        msg[sizeof(RD_LABEL) - 1 + 32 + i] = (uint8_t)((uint32_t)r >> (8 * i));
    memcpy(rd + 32, pub, 32);
    return tbml_sha256(msg, sizeof(msg), rd);
}

/* Receives src's evidence (any size up to EVIDENCE_MAX) within the timeout. */
static tbml_status recv_evidence(dist_transport *t, int me, int src, double timeout, uint8_t **out,
                                 size_t *out_size)
{
    size_t got = 0;
    tbml_status st = dist_raw_probe(t, src, DIST_TAG_EVIDENCE, timeout, "evidence", &got);
    if (st) return st;
    uint8_t *buf = tbml_malloc(got ? got : 1);
    st = t->ops->recv(t, src, DIST_TAG_EVIDENCE, buf, got);
    if (!st && (got == 0 || got > EVIDENCE_MAX))
        st = tbml_error(TBML_E_AUTH, "rank %d: handshake refused rank %d: evidence of %zu bytes",
                        me, src, got);
    if (st) {
        tbml_free(buf);
        return st;
    }
    *out = buf;
    *out_size = got;
    return TBML_OK;
}

tbml_status dist_evidence_round(dist_transport *t, double timeout, struct tbml_tee_self *self,
                                const uint8_t transcript[32], const uint8_t *pubs,
                                size_t pub_stride)
{
    int n = t->size, me = t->rank;
    uint8_t rd[64], *ev = NULL;
    size_t ev_size = 0;
    void **reqs = tbml_calloc((size_t)n, sizeof(void *));
    tbml_status st = report_data(transcript, me, pubs + (size_t)me * pub_stride, rd);
    if (!st) st = tbml_tee_self_quote(self, rd, &ev, &ev_size);
    if (st) {
        st = tbml_error_prefix(st, "rank %d: no evidence from the trusted runtime: ", me);
        goto out;
    }
    for (int p = 0; p < n && !st; p++)
        if (p != me) st = t->ops->isend(t, p, DIST_TAG_EVIDENCE, ev, ev_size, &reqs[p]);
    for (int p = 0; p < n && !st; p++) {
        if (p == me) continue;
        uint8_t *pe = NULL;
        size_t pn = 0;
        st = recv_evidence(t, me, p, timeout, &pe, &pn);
        if (st) break;
        st = report_data(transcript, p, pubs + (size_t)p * pub_stride, rd);
        if (!st) {
            st = tbml_tee_self_check_peer(self, pe, pn, rd);
            if (st) st = tbml_error_prefix(st, "rank %d: handshake refused rank %d: ", me, p);
        }
        tbml_free(pe);
    }
    /* the sends finish before ev is freed (the transport reads it until then), even after a
     * refusal, which keeps its message: a late peer is not the cause. Past a failed wait the
     * communicator is torn down, as in comm.c's handshake. */
    char why[1024] = "";
    if (st) snprintf(why, sizeof(why), "%s", tbml_errmsg());
    tbml_status wst = dist_raw_wait_all(t, reqs, timeout, "evidence");
    if (!st)
        st = wst;
    else if (wst)
        st = tbml_error(st, "%s", why);
    if (!st && me == 0)
        TBML_LOG_I("%d ranks authenticated by %s evidence from the trusted runtime", n,
                   tbml_tee_self_simulated(self) ? "SIMULATED (proves nothing)" : "SGX");
out:
    tbml_free(ev);
    tbml_free(reqs);
    return st;
}
