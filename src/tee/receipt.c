/* Result receipts (docs/formats/receipt.md): what ran (measurement, signer, manifest hash), on
 * what (input hashes), what it produced (output hashes) and how it ended, bound into the report
 * data of fresh evidence so a data owner can check them later with `tbml verify-receipt`. */
#include "evidence.h"
#include "tee_internal.h"

#include "tbml/crypto.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECEIPT_VERSION 1
#define RECEIPT_PREFIX "tbml-receipt-v1\n"
#define RECEIPT_MAX_SIZE (4u << 20)

/* report data = SHA-256(RECEIPT_PREFIX || canonical JSON of body) || 32 zero bytes */
static tbml_status receipt_report_data(const json_t *body, uint8_t rd[64])
{
    memset(rd, 0, 64);
    return tee_json_sha256(RECEIPT_PREFIX, strlen(RECEIPT_PREFIX), body, rd);
}

static json_t *hash_entry(const char *path, const char *hex)
{
    return json_pack("{s:s, s:s}", "path", path, "sha256", hex);
}

tbml_status tee_receipt_write(const tbml_manifest_t *m, const uint8_t meas[32],
                              const uint8_t signer[32], int exit_code, const char *path)
{
    tbml_status st;
    json_t *r = tee_manifest_json(m), *inputs = json_array(), *outputs = json_array(), *body = NULL,
           *doc = NULL;
    char meas_hex[65], signer_hex[65], man_hex[65], when[32];
    uint8_t h[32], rd[64];
    uint8_t *ev = NULL;
    size_t ev_size = 0;
    char *ev_hex = NULL;
    /* The manifest hash covers the signature too: the exact signed manifest that ran. */
    if ((st = tee_json_sha256(NULL, 0, r, h))) goto out;
    tbml_hex(h, 32, man_hex);
    tbml_hex(meas, 32, meas_hex);
    tbml_hex(signer, 32, signer_hex);
    json_t *tf = json_object_get(r, "trusted_files");
    for (size_t i = 0; i < json_array_size(tf); i++) {
        json_t *e = json_array_get(tf, i);
        const char *role = json_string_value(json_object_get(e, "role"));
        if (strcmp(role, "argument") == 0 || strcmp(role, "input") == 0)
            json_array_append_new(inputs,
                                  hash_entry(json_string_value(json_object_get(e, "path")),
                                             json_string_value(json_object_get(e, "sha256"))));
    }
    json_t *si = json_object_get(r, "sealed_inputs");
    for (size_t i = 0; i < json_array_size(si); i++) {
        json_t *e = json_array_get(si, i);
        json_array_append_new(inputs, hash_entry(json_string_value(json_object_get(e, "path")),
                                                 json_string_value(json_object_get(e, "sha256"))));
    }
    json_t *outs = json_object_get(r, "outputs");
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const char *op = json_string_value(json_array_get(outs, i));
        char hex[65];
        if ((st = tee_hash_file(op, h))) {
            st = tbml_error_prefix(st, "output the manifest promises is missing: ");
            goto out;
        }
        tbml_hex(h, 32, hex);
        json_array_append_new(outputs, hash_entry(op, hex));
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *backend = tbml_manifest_backend(m);
    body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:b, s:O, s:O, s:i, s:s}", "name",
                     tbml_manifest_name(m), "measurement", meas_hex, "mrsigner", signer_hex,
                     "manifest_sha256", man_hex, "backend", backend, "simulated",
                     strcmp(backend, "sim") == 0, "product_id", tbml_manifest_product_id(m), "svn",
                     tbml_manifest_svn(m), "debug", tbml_manifest_debug(m), "inputs", inputs,
                     "outputs", outputs, "exit_code", exit_code, "finished_at", when);
    if ((st = receipt_report_data(body, rd))) goto out;
    const tbml_evidence_backend *be = tbml_evidence_backend_find(backend);
    if (be && be->get_quote) {
        tbml_report_t ident;
        tee_report_ident(m, meas, signer, &ident);
        memcpy(ident.report_data, rd, 64);
        if ((st = be->get_quote(&ident, &ev, &ev_size))) goto out;
        ev_hex = tbml_malloc(2 * ev_size + 1);
        tbml_hex(ev, ev_size, ev_hex);
    }
    doc = json_pack(
        "{s:i, s:O, s:s?, s:s}", "tbml_receipt", RECEIPT_VERSION, "body", body, "evidence", ev_hex,
        "note",
        !ev_hex ? "UNATTESTED: backend none produces no evidence; this receipt proves nothing"
        : strcmp(backend, "sim") == 0
            ? "SIMULATED evidence: signed by the public simulated quoting key; proves nothing"
            : "hardware evidence");
    if (!ev_hex) json_object_set_new(doc, "evidence", json_null());
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    st = text ? tbml_write_file(path, text, strlen(text), "\n")
              : tbml_error(TBML_E_NOMEM, "%s: cannot format the receipt", path);
    free(text);
    if (!st)
        TBML_LOG_I("result receipt written to %s%s", path,
                   strcmp(backend, "sim") == 0 ? " (SIMULATED evidence)" : "");
out:
    tbml_free(ev);
    tbml_free(ev_hex);
    json_decref(inputs);
    json_decref(outputs);
    json_decref(body);
    json_decref(doc);
    return st;
}

static int hex_field(const json_t *o, const char *k, uint8_t out[32])
{
    return tee_unhex(json_string_value(json_object_get(o, k)), out, 32);
}

tbml_status tbml_receipt_verify(const char *path, const tbml_receipt_check *chk,
                                tbml_receipt_info *info)
{
    tbml_status st;
    uint8_t *buf = NULL, *ev = NULL, rd[64], meas[32], signer[32];
    size_t size;
    json_error_t jerr;
    json_t *doc = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: cannot open", path);
    st = tbml_read_all(fd, path, RECEIPT_MAX_SIZE, &buf, &size);
    close(fd);
    if (st) return st;
    doc = json_loadb((const char *)buf, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        st = tbml_error(TBML_E_FORMAT, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    json_t *body = json_object_get(doc, "body");
    if (json_integer_value(json_object_get(doc, "tbml_receipt")) != RECEIPT_VERSION ||
        !json_is_object(body) || hex_field(body, "measurement", meas) ||
        hex_field(body, "mrsigner", signer)) {
        st = tbml_error(TBML_E_FORMAT, "%s: not a tbml receipt v%d", path, RECEIPT_VERSION);
        goto out;
    }
    const char *ev_hex = json_string_value(json_object_get(doc, "evidence"));
    if (!ev_hex) {
        st = tbml_error(TBML_E_POLICY,
                        "%s: the receipt has no evidence (backend none): nothing vouches for it; "
                        "run the job with --tee-backend sim or gramine",
                        path);
        goto out;
    }
    size_t ev_size = strlen(ev_hex) / 2;
    ev = tbml_malloc(ev_size + 1);
    if (strlen(ev_hex) % 2 || tee_unhex(ev_hex, ev, ev_size)) {
        st = tbml_error(TBML_E_FORMAT, "%s: evidence is not hex", path);
        goto out;
    }
    tbml_report_t rep;
    if ((st = tbml_evidence_verify(ev, ev_size, &rep))) {
        st = tbml_error_prefix(st, "%s: ", path);
        goto out;
    }
    if ((st = receipt_report_data(body, rd))) goto out;
    if (!tbml_ct_equal(rd, rep.report_data, 64)) {
        st = tbml_error(
            TBML_E_AUTH,
            "%s: the receipt body was changed after it was attested (report data mismatch)", path);
        goto out;
    }
    if (!tbml_ct_equal(meas, rep.measurement, 32) || !tbml_ct_equal(signer, rep.mrsigner, 32) ||
        json_integer_value(json_object_get(body, "product_id")) != rep.product_id ||
        json_integer_value(json_object_get(body, "svn")) != rep.svn ||
        json_is_true(json_object_get(body, "debug")) != rep.debug ||
        json_is_true(json_object_get(body, "simulated")) != rep.simulated) {
        st =
            tbml_error(TBML_E_AUTH, "%s: the receipt's identity does not match its evidence", path);
        goto out;
    }
    if (chk && chk->measurement && !tbml_ct_equal(chk->measurement, meas, 32)) {
        st = tbml_error(TBML_E_POLICY,
                        "%s: measurement %s is not the expected one: the job that ran is not the "
                        "manifest you gave",
                        path, json_string_value(json_object_get(body, "measurement")));
        goto out;
    }
    if (chk && chk->mrsigner && !tbml_ct_equal(chk->mrsigner, signer, 32)) {
        st = tbml_error(TBML_E_POLICY, "%s: signer %s is not the expected enclave signer", path,
                        json_string_value(json_object_get(body, "mrsigner")));
        goto out;
    }
    if (chk && chk->check_outputs) {
        json_t *outs = json_object_get(body, "outputs");
        for (size_t i = 0; i < json_array_size(outs); i++) {
            json_t *e = json_array_get(outs, i);
            const char *op = json_string_value(json_object_get(e, "path"));
            uint8_t h[32];
            char hex[65];
            if ((st = tee_hash_file(op, h))) goto out;
            tbml_hex(h, 32, hex);
            if (strcmp(hex, json_string_value(json_object_get(e, "sha256"))) != 0) {
                st =
                    tbml_error(TBML_E_AUTH,
                               "output %s is not what the job produced: sha256 %s, receipt says %s",
                               op, hex, json_string_value(json_object_get(e, "sha256")));
                goto out;
            }
        }
    }
    if (info) {
        memcpy(info->measurement, meas, 32);
        memcpy(info->mrsigner, signer, 32);
        info->simulated = rep.simulated;
        info->debug = rep.debug;
        info->exit_code = (int)json_integer_value(json_object_get(body, "exit_code"));
        info->noutputs = json_array_size(json_object_get(body, "outputs"));
        info->ninputs = json_array_size(json_object_get(body, "inputs"));
    }
out:
    json_decref(doc);
    tbml_free(buf);
    tbml_free(ev);
    return st;
}
