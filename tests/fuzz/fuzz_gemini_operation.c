/* fuzz_gemini_operation.c - libFuzzer target for gemini_parse_operation(), the client's
 * reading of a tunedModels.create long-running Operation (its metadata, snapshots and
 * error). Every field is read through so dangling or unterminated strings show up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gemini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *why)
{
	fprintf(stderr, "fuzz_gemini_operation: contract broken: %s\n", why);
	abort();
}

static size_t fz_len(const char *s)
{
	return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gemini_operation op;
	size_t n;
	int rc;

	memset(&op, 0, sizeof(op));
	rc = gemini_parse_operation((const char *)data, size, &op);
	if (rc > 0)
		fz_fail("positive return");
	if (rc == 0) {
		n = fz_len(op.name) + fz_len(op.tuned_model) + fz_len(op.error_message);
		if (op.n_snapshots && !op.snapshots)
			fz_fail("snapshots counted but NULL");
		for (size_t i = 0; i < op.n_snapshots; i++)
			n += strnlen(op.snapshots[i].compute_time,
				     sizeof(op.snapshots[i].compute_time));
		/* Keep the reads from being optimised away. */
		if (n == (size_t)-1)
			abort();
	}
	gemini_operation_clear(&op);
	return 0;
}
