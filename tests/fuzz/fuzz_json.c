/* libFuzzer target for the JSON-lines reader (see fuzz_readers.h for the input layout and checks). */
#include "fuzz_readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tbml_log_set_level(TBML_LOG_ERROR);
    fuzz_readers(tbml_read_json_input, 0, data, size);
    return 0;
}
