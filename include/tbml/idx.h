/* IDX files (the MNIST / Fashion-MNIST format): a big-endian header (two zero bytes, a type
 * byte, a dimension count, then one u32 per dimension) followed by the elements. The reader
 * takes plain files, gzip'd files, and sealed files (tbml's sealed format, see seal.h), including
 * a sealed gzip file; it holds the whole tensor in memory, elements in host byte order. */
#ifndef TBML_IDX_H
#define TBML_IDX_H

#include "tbml/core.h"
#include "tbml/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_IDX_MAX_DIMS 8

enum {
    TBML_IDX_U8 = 0x08,
    TBML_IDX_I8 = 0x09,
    TBML_IDX_I16 = 0x0B,
    TBML_IDX_I32 = 0x0C,
    TBML_IDX_F32 = 0x0D,
    TBML_IDX_F64 = 0x0E,
};

typedef struct {
    int type; /* TBML_IDX_* */
    int ndim;
    uint32_t dims[TBML_IDX_MAX_DIMS];
    size_t count;     /* elements: the product of dims */
    size_t elem_size; /* bytes per element */
    void *data;       /* count * elem_size bytes, host byte order; owned */
} tbml_idx_t;

/* Reads an IDX file: plain, gzip'd, or sealed (then key is required: without one,
 * TBML_E_KEY). Errors name the file: a wrong magic number (TBML_E_FORMAT), a file shorter than
 * its header says ("truncated at byte N": TBML_E_FORMAT, offsets counted in the decompressed
 * stream for gzip), trailing bytes, a damaged gzip stream, a sealed file that fails to
 * authenticate (TBML_E_AUTH). Free the result with tbml_idx_free. */
TBML_NODISCARD tbml_status tbml_idx_read(const char *path, const tbml_key_t *key, tbml_idx_t **out);

/* Parses IDX bytes already in memory (not compressed); name is used in messages. This is the
 * fuzz target's entry. */
TBML_NODISCARD tbml_status tbml_idx_parse(const uint8_t *buf, size_t size, const char *name,
                                          tbml_idx_t **out);

/* Writes t as a plain IDX file (through a temporary file and rename). */
TBML_NODISCARD tbml_status tbml_idx_write(const char *path, const tbml_idx_t *t);

void tbml_idx_free(tbml_idx_t *t);

/* Images with their labels: images are u8 (n, rows, cols), labels u8 (n). */
typedef struct {
    int n, rows, cols;
    uint8_t *images; /* n * rows * cols, owned */
    int32_t *labels; /* n, owned */
    int classes;     /* max label + 1 */
} tbml_idx_labeled_t;

/* Reads an image file and its label file and checks they agree (same count: else TBML_E_FORMAT
 * naming both files and both counts; u8 images of 3 dimensions and u8 labels of 1). */
TBML_NODISCARD tbml_status tbml_idx_read_labeled(const char *images_path, const char *labels_path,
                                                 const tbml_key_t *key, tbml_idx_labeled_t *out);
void tbml_idx_labeled_free(tbml_idx_labeled_t *d);

#ifdef __cplusplus
}
#endif
#endif
