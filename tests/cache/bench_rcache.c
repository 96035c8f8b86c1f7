/* bench_rcache.c - figures for the response cache: put and get rates, the time to index a
 * large cache directory at open, and the memory the index takes. Prints, asserts nothing
 * about time (run with `meson test --benchmark --suite cache`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cache/rcache.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, resident = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * 4;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 20000;
	char root[256], cmd[300], key[RCACHE_KEY_HEX], prompt[32], body[600];
	struct rcache *rc;
	struct rcache_stats st;
	double t0;
	long rss0;
	int hits = 0;

	snprintf(root, sizeof(root), "%s/tunedfs-bench-rcache.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root))
		return 1;
	memset(body, 'x', sizeof(body));
	memcpy(body, "{\"t\":\"", 6);
	memcpy(body + sizeof(body) - 3, "\"}", 3);

	if (rcache_open(root, (size_t)1 << 30, &rc) != 0)
		return 1;
	t0 = now();
	for (int i = 0; i < n; i++) {
		snprintf(prompt, sizeof(prompt), "%d", i);
		rcache_key("tunedModels/bench", "t", "", prompt, key);
		rcache_put(rc, key, body, strlen(body));
	}
	printf("put: %d entries of %zu bytes in %.2f s (%.0f/s)\n", n, strlen(body), now() - t0,
	       n / (now() - t0));
	t0 = now();
	for (int i = 0; i < n; i++) {
		char *json;
		size_t len;

		snprintf(prompt, sizeof(prompt), "%d", i);
		rcache_key("tunedModels/bench", "t", "", prompt, key);
		if (rcache_get(rc, key, &json, &len) == 0) {
			hits++;
			free(json);
		}
	}
	printf("get: %d hits of %d in %.2f s (%.0f/s)\n", hits, n, now() - t0, n / (now() - t0));
	rcache_close(rc);

	rss0 = rss_kib();
	t0 = now();
	if (rcache_open(root, (size_t)1 << 30, &rc) != 0)
		return 1;
	rcache_stats(rc, &st);
	printf("open: indexed %zu entries (%zu bytes) in %.3f s, index memory about %ld KiB\n",
	       st.entries, st.bytes, now() - t0, rss_kib() - rss0);
	rcache_close(rc);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : 1;
}
