/* Test data for the LeNet tests: the first n images and labels of a set of Debian's Fashion-MNIST
 * (dataset-fashion-mnist) written as plain IDX files in dir, so a short training loads a few
 * thousand images instead of inflating 60,000. */
#ifndef TBML_TEST_FMNIST_SLICE_H
#define TBML_TEST_FMNIST_SLICE_H

#include "tbml/idx.h"

#include <stdio.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"

static inline int fmnist_write_slice(const char *dir, const char *prefix, int n)
{
    char im[512], lb[512];
    snprintf(im, sizeof(im), FMNIST "/%s-images-idx3-ubyte.gz", prefix);
    snprintf(lb, sizeof(lb), FMNIST "/%s-labels-idx1-ubyte.gz", prefix);
    tbml_idx_labeled_t d;
    if (tbml_idx_read_labeled(im, lb, NULL, &d)) return -1;
    uint8_t *labels = tbml_malloc((size_t)n);
    for (int i = 0; i < n; i++)
        labels[i] = (uint8_t)d.labels[i];
    tbml_idx_t ti = {TBML_IDX_U8, 3, {(uint32_t)n, 28, 28}, (size_t)n * 784, 1, d.images};
    tbml_idx_t tl = {TBML_IDX_U8, 1, {(uint32_t)n}, (size_t)n, 1, labels};
    snprintf(im, sizeof(im), "%s/%s-images-idx3-ubyte", dir, prefix);
    snprintf(lb, sizeof(lb), "%s/%s-labels-idx1-ubyte", dir, prefix);
    int bad = tbml_idx_write(im, &ti) || tbml_idx_write(lb, &tl);
    tbml_free(labels);
    tbml_idx_labeled_free(&d);
    return bad ? -1 : 0;
}

#endif
