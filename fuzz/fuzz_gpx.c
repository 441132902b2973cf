/* fuzz_gpx.c: libFuzzer target for the gpx parser (see fuzz/fuzz_entry.h, scripts/fuzz.sh). */
#include "fuzz/fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_GPX, data, size);
}
