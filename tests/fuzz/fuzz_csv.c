/* libFuzzer target for the CSV reader (see fuzz_readers.h for the input layout and checks). */
#include "fuzz_readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tbml_log_set_level(TBML_LOG_ERROR);
    fuzz_readers(tbml_read_csv_input, 1, data, size);
    return 0;
}
