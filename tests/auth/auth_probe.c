/* auth_probe.c - a driver of the credential code for tests/auth/test_auth.py: builds the
 * credentials as the mount does (creds.h, options from the command line, secrets only
 * from files and the environment) and the real HTTP client, then obeys one command a
 * line on stdin, answering one line each:
 *   call              GET /v1beta/tunedModels  -> "ok" | "error ERRNO MESSAGE"
 *   storm N           N threads call at once   -> "ok K fail F"
 *   invalidate        as after a 401 with the current token
 *   stats             -> "refreshes R failures F"
 * usage: auth_probe ENDPOINT [--token-command CMD] [--token-uri URI] [--project ID]
 *                            [--api-key-file FILE]
 * A failing creds_new prints "creds: MESSAGE" and exits 2. */
#include "api/creds.h"
#include "api/gemini.h"
#include "api/google_rpc.h"
#include "api/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct http_client *probe_hc;
static struct creds *probe_creds;

static int probe_call(struct backend_error *err)
{
	struct http_response resp = {0};
	int rc;

	memset(err, 0, sizeof(*err));
	rc = http_request(probe_hc, HTTP_GET, "/v1beta/tunedModels", NULL, 0, NULL, &resp, err);
	http_response_clear(&resp);
	return rc;
}

static void *probe_worker(void *arg)
{
	struct backend_error err;
	pthread_barrier_t *go = arg;

	pthread_barrier_wait(go);
	return (void *)(long)probe_call(&err);
}

static void probe_storm(int n)
{
	pthread_t t[64];
	pthread_barrier_t go;
	int ok = 0;

	if (n < 1 || n > 64)
		n = 16;
	pthread_barrier_init(&go, NULL, (unsigned)n);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, probe_worker, &go);
	for (int i = 0; i < n; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		ok += rc == NULL;
	}
	pthread_barrier_destroy(&go);
	printf("ok %d fail %d\n", ok, n - ok);
}

static void probe_invalidate(void)
{
	char *h[4];
	struct backend_error err;
	int n = creds_headers(probe_creds, h, 4, &err);

	for (int i = 0; i < n; i++) {
		if (!strncmp(h[i], "Authorization: Bearer ", 22))
			creds_invalidate(probe_creds, h[i] + 22);
		free(h[i]);
	}
	printf("invalidated\n");
}

static int probe_loop(void)
{
	char line[256];
	struct backend_error err;
	unsigned long refreshes, failures;

	while (fgets(line, sizeof(line), stdin)) {
		int rc;
		if (!strncmp(line, "call", 4)) {
			rc = probe_call(&err);
			if (rc == 0)
				printf("ok\n");
			else
				printf("error %d %s\n", -rc, err.message);
		} else if (!strncmp(line, "storm", 5)) {
			probe_storm(atoi(line + 5));
		} else if (!strncmp(line, "invalidate", 10)) {
			probe_invalidate();
		} else if (!strncmp(line, "stats", 5)) {
			creds_stats(probe_creds, &refreshes, &failures);
			printf("refreshes %lu failures %lu\n", refreshes, failures);
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct creds_options co = {0};
	struct http_options ho = {.max_attempts = 3,
				  .backoff_initial_ms = 50,
				  .backoff_max_ms = 200,
				  .read_error = google_rpc_read_error};
	struct backend_error err = {0};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: auth_probe ENDPOINT [options]\n");
		return 2;
	}
	ho.endpoint = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--token-command"))
			co.token_command = argv[i + 1];
		else if (!strcmp(argv[i], "--token-uri"))
			co.token_uri = argv[i + 1];
		else if (!strcmp(argv[i], "--project"))
			co.project = argv[i + 1];
		else if (!strcmp(argv[i], "--api-key-file"))
			co.api_key_file = argv[i + 1];
	}
	if (creds_new(&co, &probe_creds, &err) < 0) {
		printf("creds: %s\n", err.message);
		return 2;
	}
	printf("kind %s\n", creds_kind(probe_creds));
	fflush(stdout);
	if (http_client_new(&ho, creds_auth(probe_creds), &probe_hc, &err) < 0) {
		printf("http: %s\n", err.message);
		creds_free(probe_creds);
		return 2;
	}
	rc = probe_loop();
	http_client_free(probe_hc);
	creds_free(probe_creds);
	return rc;
}
