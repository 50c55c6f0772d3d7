/* `tbml plot SUMMARY.csv -o curves.svg`: draws the training curves of a --summary file (loss per
 * iteration with its moving average and the test loss per epoch; test accuracy per epoch) as a
 * self-contained SVG, written by hand: no plotting library needed. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double *x, *y;
    size_t n, cap;
} series;

static void push(series *s, double x, double y)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->x = tbml_realloc(s->x, s->cap * sizeof(double));
        s->y = tbml_realloc(s->y, s->cap * sizeof(double));
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

static void series_free(series *s)
{
    tbml_free(s->x);
    tbml_free(s->y);
}

/* Splits a CSV line in place (the summary has no quoted fields). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static int num(const char *s, double *out)
{
    char *end;
    if (!*s) return 0;
    errno = 0;
    *out = strtod(s, &end);
    return !errno && (*end == '\0' || *end == '\n' || *end == '\r') && isfinite(*out);
}

/* Output buffer with printf. */
typedef struct {
    char *b;
    size_t n, cap;
} sbuf;

static void out(sbuf *s, const char *fmt, ...) TBML_PRINTF(2, 3);
static void out(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(s->b + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < s->cap - s->n) {
            s->n += (size_t)k;
            return;
        }
        s->cap = s->cap * 2 + (size_t)(k > 0 ? k : 0) + 1024;
        s->b = tbml_realloc(s->b, s->cap);
    }
}

/* A "nice" tick step for a range (1, 2 or 5 times a power of ten). */
static double tick_step(double range, int want)
{
    double raw = range / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct {
    double x0, y0, w, h;           /* the plot area in pixels */
    double xmin, xmax, ymin, ymax; /* data range */
} panel;

static double px(const panel *p, double x)
{
    return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * p->w;
}
static double py(const panel *p, double y)
{
    return p->y0 + p->h - (y - p->ymin) / (p->ymax - p->ymin) * p->h;
}

static void axes(sbuf *s, const panel *p, const char *title, const char *xlabel, int percent)
{
    out(s, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#fff' stroke='#999'/>\n",
        p->x0, p->y0, p->w, p->h);
    double ys = tick_step(p->ymax - p->ymin, 6);
    for (double v = ceil(p->ymin / ys) * ys; v <= p->ymax + ys * 1e-9; v += ys) {
        double y = py(p, v);
        out(s, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#e5e5e5'/>\n", p->x0,
            p->x0 + p->w, y, y);
        if (percent)
            out(s, "<text x='%.1f' y='%.1f' text-anchor='end' class='t'>%g%%</text>\n", p->x0 - 6,
                y + 4, round(v * 1000) / 10);
        else
            out(s, "<text x='%.1f' y='%.1f' text-anchor='end' class='t'>%g</text>\n", p->x0 - 6,
                y + 4, v);
    }
    double xs = tick_step(p->xmax - p->xmin, 6);
    if (xs < 1) xs = 1;
    for (double v = ceil(p->xmin / xs) * xs; v <= p->xmax + xs * 1e-9; v += xs) {
        double x = px(p, v);
        out(s, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#999'/>\n", x, x,
            p->y0 + p->h, p->y0 + p->h + 4);
        out(s, "<text x='%.1f' y='%.1f' text-anchor='middle' class='t'>%g</text>\n", x,
            p->y0 + p->h + 17, v);
    }
    out(s, "<text x='%.1f' y='%.1f' text-anchor='middle' class='h'>%s</text>\n", p->x0 + p->w / 2,
        p->y0 - 10, title);
    out(s, "<text x='%.1f' y='%.1f' text-anchor='middle' class='t'>%s</text>\n", p->x0 + p->w / 2,
        p->y0 + p->h + 34, xlabel);
}

static void polyline(sbuf *s, const panel *p, const series *d, const char *style)
{
    if (!d->n) return;
    out(s, "<polyline fill='none' %s points='", style);
    for (size_t i = 0; i < d->n; i++)
        out(s, "%.1f,%.1f ", px(p, d->x[i]), py(p, d->y[i]));
    out(s, "'/>\n");
}

static void dots(sbuf *s, const panel *p, const series *d, const char *color)
{
    for (size_t i = 0; i < d->n; i++)
        out(s, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'/>\n", px(p, d->x[i]), py(p, d->y[i]),
            color);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tbml plot SUMMARY.csv -o FILE.svg\n\n"
               "Draws the loss and accuracy curves of a training summary (written by\n"
               "--summary FILE of 'tbml train' or the lenet example) as an SVG picture.\n");
}

int cmd_plot(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc) return cli_usage_error("%s needs a file", argv[i]);
            outp = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage_error("unexpected argument '%s'", argv[i]);
        }
    }
    if (!in || !outp) return cli_usage_error("give a summary file and -o FILE.svg");

    FILE *f = fopen(in, "r");
    if (!f) return cli_fail(tbml_error(TBML_E_IO, "%s: %s", in, strerror(errno)));
    series loss = {0}, test_loss = {0}, acc = {0};
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, "kind,epoch,iteration,", 21) != 0) {
                rc = cli_fail(tbml_error(TBML_E_FORMAT,
                                         "%s:1:1: not a training summary (expected the header "
                                         "kind,epoch,iteration,...)",
                                         in));
                goto done;
            }
            continue;
        }
        char *fl[12];
        int nf = split(line, fl, 12);
        double it, v;
        if (nf < 10 || !num(fl[2], &it)) {
            rc = cli_fail(tbml_error(TBML_E_FORMAT, "%s:%d:1: expected 10 fields", in, lineno));
            goto done;
        }
        if (strcmp(fl[0], "iteration") == 0 && num(fl[4], &v)) {
            push(&loss, it, v);
        } else if (strcmp(fl[0], "epoch") == 0) {
            double e;
            if (num(fl[7], &v)) push(&test_loss, it, v);
            if (num(fl[1], &e) && num(fl[8], &v)) push(&acc, e, v);
        }
    }
    if (!loss.n) {
        rc = cli_fail(tbml_error(TBML_E_FORMAT, "%s: no iteration rows to plot", in));
        goto done;
    }

    /* moving average of the loss over about 1/40 of the run */
    series smooth = {0};
    size_t win = loss.n / 40 + 1;
    double acc_sum = 0;
    for (size_t i = 0; i < loss.n; i++) {
        acc_sum += loss.y[i];
        if (i >= win) acc_sum -= loss.y[i - win];
        size_t k = i + 1 < win ? i + 1 : win;
        push(&smooth, loss.x[i], acc_sum / (double)k);
    }

    sbuf s = {tbml_malloc(65536), 0, 65536};
    const double W = 960, H = 420;
    out(&s,
        "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' viewBox='0 0 %g %g' "
        "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'>\n",
        W, H, W, H);
    out(&s, "<style>.t{font-size:12px;fill:#333}.h{font-size:15px;font-weight:bold;fill:#222}"
            "</style>\n<rect width='100%%' height='100%%' fill='#fafafa'/>\n");

    panel lp = {70, 50, 390, 300, loss.x[0], loss.x[loss.n - 1], 0, 0};
    if (lp.xmax <= lp.xmin) lp.xmax = lp.xmin + 1;
    double ymax = 0;
    for (size_t i = 0; i < loss.n; i++)
        ymax = loss.y[i] > ymax ? loss.y[i] : ymax;
    for (size_t i = 0; i < test_loss.n; i++)
        ymax = test_loss.y[i] > ymax ? test_loss.y[i] : ymax;
    lp.ymax = ymax > 0 ? ymax * 1.05 : 1;
    axes(&s, &lp, "Loss", "iteration", 0);
    polyline(&s, &lp, &loss, "stroke='#9ecae1' stroke-width='0.8'");
    polyline(&s, &lp, &smooth, "stroke='#08519c' stroke-width='2'");
    dots(&s, &lp, &test_loss, "#d94801");
    /* legend */
    out(&s, "<line x1='300' x2='322' y1='70' y2='70' stroke='#08519c' stroke-width='2'/>"
            "<text x='328' y='74' class='t'>train (moving avg)</text>\n"
            "<circle cx='311' cy='90' r='4' fill='#d94801'/>"
            "<text x='328' y='94' class='t'>test, end of epoch</text>\n");

    panel ap = {560, 50, 370, 300, 0, 1, 0, 1};
    if (acc.n) {
        double lo = 1;
        for (size_t i = 0; i < acc.n; i++)
            lo = acc.y[i] < lo ? acc.y[i] : lo;
        ap.ymin = floor((lo - 0.05) * 10) / 10;
        if (ap.ymin < 0) ap.ymin = 0;
        ap.xmax = acc.x[acc.n - 1];
        if (ap.xmax < 1) ap.xmax = 1;
        ap.xmin = 0;
    }
    axes(&s, &ap, "Test top-1 accuracy", "epoch", 1);
    polyline(&s, &ap, &acc, "stroke='#238b45' stroke-width='2'");
    dots(&s, &ap, &acc, "#238b45");
    for (size_t i = 0; i < acc.n; i++)
        out(&s, "<text x='%.1f' y='%.1f' text-anchor='middle' class='t'>%.2f%%</text>\n",
            px(&ap, acc.x[i]), py(&ap, acc.y[i]) - 10, acc.y[i] * 100);
    out(&s, "</svg>\n");

    tbml_outfile_t *of = NULL;
    tbml_status st = tbml_outfile_open(outp, &of);
    if (!st) st = tbml_outfile_write(of, s.b, s.n);
    if (!st) {
        st = tbml_outfile_commit(of);
        of = NULL;
    }
    tbml_outfile_abort(of);
    if (st) rc = cli_fail(st);
    tbml_free(s.b);
    series_free(&smooth);
done:
    fclose(f);
    series_free(&loss);
    series_free(&test_loss);
    series_free(&acc);
    return rc;
}
