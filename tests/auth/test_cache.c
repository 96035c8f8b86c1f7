/* test_cache.c - the token cache of api/oauth.c driven through creds.h with a real token
 * command that counts its runs in a file: 16 threads at once cause one run, a 401 causes
 * one more however many report it, a failing or hanging command gives EACCES (never a
 * hang), a failure is retried only after a backoff, expiry bookkeeping refreshes a
 * command's token when it is due. */
#include "api/creds.h"
#include "api/gemini.h"
#include "api/oauth.h"
#include "auth_check.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#define THREADS 16

static char dir[64] = "/tmp/auth-cache-XXXXXX";
static char counter[128], command[512];

static int runs(void)
{
	FILE *f = fopen(counter, "r");
	int n = 0;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

struct worker {
	struct creds *c;
	pthread_barrier_t *go;
	char header[200];
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct backend_error err = {0};
	char *h[4] = {0};

	pthread_barrier_wait(w->go);
	w->rc = creds_headers(w->c, h, 4, &err);
	if (w->rc > 0)
		snprintf(w->header, sizeof(w->header), "%s", h[0]);
	for (int i = 0; i < w->rc; i++)
		free(h[i]);
	return NULL;
}

/* All threads call creds_headers at the same moment; returns how many got a header. */
static int storm(struct creds *c, char *first_header, size_t len)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];
	pthread_barrier_t go;
	int ok = 0;

	pthread_barrier_init(&go, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.c = c, .go = &go};
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < THREADS; i++) {
		ok += w[i].rc == 1;
		if (w[i].rc == 1 && strcmp(w[i].header, w[0].header))
			ok = -1000; /* everybody must get the same token */
	}
	snprintf(first_header, len, "%s", w[0].header);
	return ok;
}

static void test_single_flight(void)
{
	struct creds_options o = {.token_command = command};
	struct backend_error err = {0};
	struct creds *c = NULL;
	char hdr[200];
	unsigned long refreshes = 0, failures = 0;

	unlink(counter);
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_INT(runs(), 0); /* nothing runs before the first call */
	CHECK_INT(storm(c, hdr, sizeof(hdr)), THREADS);
	CHECK_INT(runs(), 1);
	CHECK_STR(hdr, "Authorization: Bearer tok-1");
	/* a cached token: no new run */
	CHECK_INT(storm(c, hdr, sizeof(hdr)), THREADS);
	CHECK_INT(runs(), 1);
	/* a 401 reported by every thread, and by one with an older token: one refresh */
	for (int i = 0; i < THREADS; i++)
		creds_invalidate(c, "tok-1");
	CHECK_INT(storm(c, hdr, sizeof(hdr)), THREADS);
	CHECK_INT(runs(), 2);
	CHECK_STR(hdr, "Authorization: Bearer tok-2");
	creds_invalidate(c, "tok-1");
	CHECK_INT(storm(c, hdr, sizeof(hdr)), THREADS);
	CHECK_INT(runs(), 2);
	creds_stats(c, &refreshes, &failures);
	CHECK_INT(refreshes, 2);
	CHECK_INT(failures, 0);
	creds_free(c);
}

static void test_failures(void)
{
	char cmd[600];
	struct creds_options o = {.token_command = cmd};
	struct backend_error err = {0};
	struct creds *c = NULL;
	char *h[4];
	unsigned long refreshes, failures;

	/* fails, printing what could be a secret: neither it nor stdout reaches the message */
	unlink(counter);
	snprintf(cmd, sizeof(cmd), "%s >/dev/null; echo S3CRET-out; exit 3", command);
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_HAS(err.message, "token_command failed (exit status 3)");
	CHECK_LACKS(err.message, "S3CRET");
	/* at once again: inside the backoff, the same answer without a run */
	memset(&err, 0, sizeof(err));
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_HAS(err.message, "exit status 3");
	CHECK_INT(runs(), 1);
	/* after the backoff it is tried again */
	usleep(1100 * 1000);
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_INT(runs(), 2);
	creds_stats(c, &refreshes, &failures);
	CHECK_INT(refreshes, 2);
	CHECK_INT(failures, 2);
	creds_free(c);

	snprintf(cmd, sizeof(cmd), "echo two words");
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_HAS(err.message, "more than one token");
	CHECK_LACKS(err.message, "words");
	creds_free(c);
	snprintf(cmd, sizeof(cmd), "true");
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_HAS(err.message, "no token");
	creds_free(c);
}

static void test_timeout(void)
{
	struct oauth_source_options so = {.token_command = "sleep 30", .timeout_ms = 300};
	struct backend_error err = {0};
	struct oauth_source *s = NULL;
	char *tok = NULL;

	/* the command (and its child sleep) is killed: the call returns, it does not hang */
	CHECK_INT(oauth_source_new(&so, &s, &err), 0);
	CHECK_INT(oauth_source_token(s, &tok, &err), -EACCES);
	CHECK_HAS(err.message, "did not finish in time");
	CHECK(tok == NULL);
	oauth_source_free(s);
}

static void test_expiry(void)
{
	struct oauth_source_options so = {.token_command = command, .command_lifetime_s = 1};
	struct backend_error err = {0};
	struct oauth_source *s = NULL;
	char *tok = NULL;

	unlink(counter);
	CHECK_INT(oauth_source_new(&so, &s, &err), 0);
	CHECK_INT(oauth_source_token(s, &tok, &err), 0);
	CHECK_STR(tok, "tok-1");
	free(tok);
	/* a 1 s token is due after 1 s at the latest */
	usleep(1100 * 1000);
	CHECK_INT(oauth_source_token(s, &tok, &err), 0);
	CHECK_STR(tok, "tok-2");
	free(tok);
	CHECK_INT(runs(), 2);
	oauth_source_free(s);
}

int main(void)
{
	if (!mkdtemp(dir))
		abort();
	snprintf(counter, sizeof(counter), "%s/runs", dir);
	/* one run at a time is what is tested: the counter needs no lock of its own */
	snprintf(command, sizeof(command),
		 "n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; sleep 0.3; "
		 "echo tok-$n",
		 counter, counter);
	test_single_flight();
	test_failures();
	test_timeout();
	test_expiry();
	unlink(counter);
	rmdir(dir);
	return check_exit("test_cache");
}
