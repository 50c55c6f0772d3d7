/* `tbml predict`: runs a saved neural-network model (tbml train --model lenet --save, plain or
 * sealed) on IDX images (plain, gzip'd or sealed) or CSV rows of raw values (plain or sealed).
 * Writes one CSV row per image; with labels it also evaluates: BigDL's Top1Accuracy line and the
 * mean ClassNLL loss. */
#include "cli.h"

#include "data/file_internal.h"
#include "tbml/idx.h"
#include "tbml/lenet.h"
#include "tbml/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: tbml predict --model FILE (--images IDX [--labels IDX] | --csv FILE)\n"
               "                    [-o OUT.csv] [--key KEYFILE [--password-file F]] [--master "
               "local[N]]\n\n"
               "Predicts the class of each image with a saved model. Output rows:\n"
               "  index,prediction,probability[,label]\n"
               "A --csv file has one image per row: the raw values (0-255 for pixels, as in IDX),\n"
               "optionally followed by the label; a first line that is not numbers is a header.\n"
               "With --labels it also prints the top-1 accuracy and the mean loss (on stdout,\n"
               "or on stderr when the predictions go to stdout).\n");
}

/* Reads CSV rows of `in` raw values, optionally followed by a label, into x (transformed as the
 * model was trained) and, when rows carry labels, lab. Errors name file:line:column. */
static tbml_status read_csv(const char *path, const tbml_key_t *key, int in, int k, double scale,
                            double offset, float **x_out, int32_t **lab_out, int *n_out)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    int sealed = 0;
    tbml_status st = data_read_file(path, key, (size_t)1 << 32, &buf, &size, &sealed);
    if (st) return st;
    size_t cap = 1024, n = 0;
    float *x = tbml_malloc(sizeof(float) * cap * (size_t)in);
    int32_t *lab = NULL;
    int with_label = -1; /* unknown until the first data row */
    char *p = (char *)buf, *end = p + size;
    for (long line = 1; p < end; line++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        char *q = p, *ls = p;
        p = eol + 1;
        if (eol > q && eol[-1] == '\r') eol--;
        if (eol == q) continue; /* blank line */
        if (line == 1 && !((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.'))
            continue; /* a header */
        if (n == cap) {
            cap *= 2;
            x = tbml_realloc(x, sizeof(float) * cap * (size_t)in);
            if (lab) lab = tbml_realloc(lab, sizeof(int32_t) * cap);
        }
        int col = 0;
        double label = -1;
        while (q <= eol) {
            char *comma = memchr(q, ',', (size_t)(eol - q));
            char *fe = comma ? comma : eol, *stop;
            char tmp[64];
            size_t len = (size_t)(fe - q);
            double v = 0;
            int ok = len > 0 && len < sizeof(tmp);
            if (ok) {
                memcpy(tmp, q, len);
                tmp[len] = '\0';
                v = strtod(tmp, &stop);
                ok = *stop == '\0' && isfinite(v);
            }
            if (!ok) {
                st = tbml_error(TBML_E_FORMAT, "%s:%ld:%ld: '%.*s' is not a number", path, line,
                                (long)(q - ls) + 1, (int)(len < 20 ? len : 20), q);
                goto out;
            }
            if (col < in)
                x[n * (size_t)in + (size_t)col] = (float)(v * scale + offset);
            else if (col == in)
                label = v;
            col++;
            if (!comma) break;
            q = comma + 1;
        }
        int has = col == in + 1;
        if (col != in && !has) {
            st = tbml_error(TBML_E_FORMAT,
                            "%s:%ld: %d values; the model takes %d (then, optionally, the label)",
                            path, line, col, in);
            goto out;
        }
        if (with_label < 0) {
            with_label = has;
            if (has) lab = tbml_malloc(sizeof(int32_t) * cap);
        } else if (with_label != has) {
            st = tbml_error(TBML_E_FORMAT, "%s:%ld: %d values, earlier rows have %d", path, line,
                            col, with_label ? in + 1 : in);
            goto out;
        }
        if (has) {
            if (label != (double)(int32_t)label || label < 0 || label >= k) {
                st = tbml_error(TBML_E_FORMAT,
                                "%s:%ld: label %g (the last value) is not a class 0..%d", path,
                                line, label, k - 1);
                goto out;
            }
            lab[n] = (int32_t)label;
        }
        n++;
    }
    if (n > (size_t)INT32_MAX) {
        st = tbml_error(TBML_E_FORMAT, "%s: too many rows", path);
        goto out;
    }
    *x_out = x;
    *lab_out = lab;
    *n_out = (int)n;
    x = NULL;
    lab = NULL;
out:
    if (sealed) memset(buf, 0, size);
    tbml_free(buf);
    tbml_free(x);
    tbml_free(lab);
    return st;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *images = NULL, *labels = NULL, *outp = "-", *key_path = NULL;
    const char *csv_in = NULL;
    cli_password_source pw = {NULL, -1};
    int threads = tbml_ncores();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int took = cli_password_option(argc, argv, &i, &pw);
        if (took < 0) return 2;
        if (took) {
            i--; /* it leaves i on the next argument; the loop steps there */
            continue;
        }
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return cli_usage_error("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            model = v;
        } else if (!strcmp(a, "--images")) {
            images = v;
        } else if (!strcmp(a, "--csv")) {
            csv_in = v;
        } else if (!strcmp(a, "--labels")) {
            labels = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            outp = v;
        } else if (!strcmp(a, "--key")) {
            key_path = v;
        } else if (!strcmp(a, "--master")) {
            if (tbml_parse_master(v, &threads)) return cli_usage_error("%s", tbml_errmsg());
        } else {
            return cli_usage_error("unknown option '%s'", a);
        }
    }
    if (!model || !images == !csv_in)
        return cli_usage_error("give --model and one of --images or --csv");
    if (csv_in && labels)
        return cli_usage_error("--labels goes with --images (a CSV row carries its label)");

    tbml_status st = TBML_OK;
    tbml_key_t *key = NULL;
    tbml_nn_t *nn = NULL;
    tbml_idx_t *im = NULL, *lb = NULL;
    tbml_pool_t *pool = NULL;
    tbml_outfile_t *of = NULL;
    float *x = NULL, *scores = NULL;
    int32_t *pred = NULL, *lab = NULL;
    char *csv = NULL;
    int rc = 0;

    if (key_path && (st = cli_load_key(key_path, &pw, &key))) goto fail;
    if ((st = tbml_nn_load(model, key, &nn))) goto fail;
    int in = tbml_nn_input_size(nn), k = tbml_nn_output_size(nn), n = 0;
    double scale, offset;
    tbml_nn_input_transform(nn, &scale, &offset);
    if (csv_in) {
        if ((st = read_csv(csv_in, key, in, k, scale, offset, &x, &lab, &n))) goto fail;
    } else {
        if ((st = tbml_idx_read(images, key, &im))) goto fail;
        size_t per = im->ndim > 1 ? im->count / im->dims[0] : 0;
        if (im->type != TBML_IDX_U8 || im->ndim < 2 || per != (size_t)in) {
            st = tbml_error(
                TBML_E_FORMAT,
                "%s: the model takes %d bytes per image, this file has %zu (type 0x%02x)", images,
                in, per, im->type);
            goto fail;
        }
        n = (int)im->dims[0];
        if (labels) {
            if ((st = tbml_idx_read(labels, key, &lb))) goto fail;
            if (lb->type != TBML_IDX_U8 || lb->ndim != 1 || lb->dims[0] != im->dims[0]) {
                st = tbml_error(TBML_E_FORMAT,
                                "image and label counts differ: %s has %d images, %s has %u labels",
                                images, n, labels, (unsigned)(lb->ndim ? lb->dims[0] : 0));
                goto fail;
            }
            lab = tbml_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
            for (int i = 0; i < n; i++) {
                lab[i] = ((const uint8_t *)lb->data)[i];
                if (lab[i] >= k) {
                    st = tbml_error(TBML_E_FORMAT,
                                    "%s: label %d of image %d is beyond the model's %d classes",
                                    labels, (int)lab[i], i, k);
                    goto fail;
                }
            }
        }
        x = tbml_malloc(sizeof(float) * im->count + 1);
        const uint8_t *raw = im->data;
        float lut[256];
        for (int v = 0; v < 256; v++)
            lut[v] = (float)(v * scale + offset);
        for (size_t i = 0; i < im->count; i++)
            x[i] = lut[raw[i]];
    }
    pred = tbml_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    scores = tbml_malloc(sizeof(float) * (size_t)(n ? n : 1) * k);
    if ((st = tbml_pool_create(threads, &pool))) goto fail;
    long correct = 0;
    double loss = 0;
    if ((st = tbml_nn_evaluate(nn, pool, TBML_LOSS_CLASSNLL, x, lab, n, pred, scores, &correct,
                               &loss)))
        goto fail;

    /* the output: built in memory, written in one go through a temporary file */
    size_t cap = (size_t)n * 48 + 64, used = 0;
    csv = tbml_malloc(cap);
    used += (size_t)snprintf(csv, cap, "index,prediction,probability%s\n", lab ? ",label" : "");
    for (int i = 0; i < n; i++) {
        /* the model ends in LogSoftMax: exp gives the probability */
        double p = exp((double)scores[(size_t)i * k + pred[i]]);
        if (lab)
            used += (size_t)snprintf(csv + used, cap - used, "%d,%d,%.6f,%d\n", i, (int)pred[i], p,
                                     (int)lab[i]);
        else
            used += (size_t)snprintf(csv + used, cap - used, "%d,%d,%.6f\n", i, (int)pred[i], p);
    }
    if ((st = tbml_outfile_open(outp, &of)) || (st = tbml_outfile_write(of, csv, used))) goto fail;
    st = tbml_outfile_commit(of);
    of = NULL;
    if (st) goto fail;
    if (lab) {
        char accs[32];
        tbml_format_java_float(n ? (float)correct / (float)n : 0.0f, accs, sizeof(accs));
        FILE *to = strcmp(outp, "-") == 0 ? stderr : stdout;
        fprintf(to, "Top1Accuracy is Accuracy(correct: %ld, count: %d, accuracy: %s)\n", correct, n,
                accs);
        fprintf(to, "Loss is %.6f\n", loss);
    }
    goto done;
fail:
    rc = cli_fail(st);
done:
    tbml_outfile_abort(of);
    tbml_free(csv);
    tbml_free(x);
    tbml_free(scores);
    tbml_free(pred);
    tbml_free(lab);
    tbml_pool_free(pool);
    tbml_idx_free(im);
    tbml_idx_free(lb);
    tbml_nn_free(nn);
    tbml_key_free(key);
    return rc;
}
