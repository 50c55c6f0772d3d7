/* Inside tbml: reading a whole input file that may be sealed, shared by the IDX reader and the
 * model loader. */
#ifndef TBML_DATA_FILE_INTERNAL_H
#define TBML_DATA_FILE_INTERNAL_H

#include "tbml/core.h"
#include "tbml/seal.h"

/* Reads all of path into a new buffer (tbml_free it; wipe it first when *sealed). A sealed file
 * is authenticated and decrypted with key (none given: TBML_E_KEY). Fails past max_size bytes. */
__attribute__((visibility("hidden"))) TBML_NODISCARD tbml_status
data_read_file(const char *path, const tbml_key_t *key, size_t max_size, uint8_t **out,
               size_t *out_size, int *sealed);

#endif
