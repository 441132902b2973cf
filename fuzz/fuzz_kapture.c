/* fuzz_kapture.c: libFuzzer target for the kapture parser (see fuzz/fuzz_entry.h, scripts/fuzz.sh). */
#include "fuzz/fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_KAPTURE, data, size);
}
