/* http_budget.c - the in-flight budget: bytes of answer bodies held in memory at once by
 * every HTTP client of the process, taken as a body grows and given back when its response
 * is cleared. No transfers here: http_transfer.c takes, http.c gives back. */
#include "api/http.h"
#include "api/http_internal.h"

#include <stdatomic.h>
#include <stddef.h>

#define HTTP_INFLIGHT_DEFAULT (512UL * 1024 * 1024)

/* Bytes of answers being received right now, by every client of the process. */
static atomic_size_t http_inflight;
static atomic_size_t http_inflight_max = HTTP_INFLIGHT_DEFAULT;

void http_set_inflight_limit(size_t bytes)
{
	atomic_store(&http_inflight_max, bytes ? bytes : HTTP_INFLIGHT_DEFAULT);
}

size_t http_inflight_limit(void)
{
	return atomic_load(&http_inflight_max);
}

int http_budget_take(size_t n)
{
	size_t cur = atomic_load(&http_inflight);

	do {
		if (cur + n > atomic_load(&http_inflight_max))
			return -1;
	} while (!atomic_compare_exchange_weak(&http_inflight, &cur, cur + n));
	return 0;
}

void http_budget_give(size_t n)
{
	atomic_fetch_sub(&http_inflight, n);
}
