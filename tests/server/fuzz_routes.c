/* fuzz_routes.c - libFuzzer target for tunedfs-server's request handling without HTTP:
 * the input is split into method, path, query and body and fed to srv_handle against a
 * real store in a temporary directory (one worker, so creates really queue jobs).
 *   build-fuzz/tests/server/fuzz_routes tests/server/fuzz_corpus -max_total_time=60 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"
#include "server/srv.h"

static struct srv s;
static char dir[] = "/tmp/fuzz_routes.XXXXXX";

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The store grows with every create the fuzzer makes up: leave nothing in /tmp. */
static void cleanup(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char why[256];
	if (!mkdtemp(dir) || srv_store_open(dir, &s.store, why, sizeof(why)) ||
	    srv_jobs_start(s.store, 1, 1, &s.jobs) || srv_stats_init(&s.stats, NULL))
		abort();
	atexit(cleanup);
	pthread_mutex_init(&s.rng_lock, NULL);
	s.opt.retry_delay_s = 1;
	s.max_body = 8 << 20;
}

/* Input: METHOD-LETTER \n PATH \n QUERY \n BODY (missing parts are empty). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!s.store)
		setup();
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *parts[3] = {text, "", ""};
	char *p = text;
	for (int i = 1; i < 3; i++) {
		char *nl = memchr(p, '\n', size - (size_t)(p - text));
		if (!nl)
			break;
		*nl = '\0';
		p = parts[i] = nl + 1;
	}
	char *body = memchr(p, '\n', size - (size_t)(p - text));
	size_t body_len = 0;
	if (body) {
		*body++ = '\0';
		body_len = size - (size_t)(body - text);
	}
	/* First byte: G, P, B (PATCH) or D; anything else picks one of them. */
	static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
	static const char letters[] = "GPBD";
	const char *hit = parts[0][0] ? strchr(letters, parts[0][0]) : NULL;
	size_t method = hit ? (size_t)(hit - letters) : (unsigned char)parts[0][0] % 4;
	struct srv_request req = {
	    .method = methods[method],
	    .path = parts[1],
	    .query = parts[2],
	    .body = body,
	    .body_len = body_len,
	};
	struct srv_reply rep;
	srv_handle(&s, &req, &rep);
	srv_reply_free(&rep);
	free(text);
	return 0;
}
