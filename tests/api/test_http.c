/* test_http.c - the HTTP layer of api/ on the wire: the errno table, Duration parsing,
 * endpoint checks, and retries, Retry-After, RetryInfo, cancellation, keep-alive, the 401
 * refresh and create's 409 recovery against scripted_server.c. Timings are only ever
 * checked as lower bounds (a wait that must have happened), never as upper bounds. */
#include "api/creds.h"
#include "api/gemini.h"
#include "api/google_rpc.h"
#include "api/http.h"
#include "../check.h"
#include "scripted_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_errno_table(void)
{
	CHECK_INT(google_rpc_errno(400, "INVALID_ARGUMENT"), -EINVAL);
	CHECK_INT(google_rpc_errno(400, "OUT_OF_RANGE"), -EINVAL);
	CHECK_INT(google_rpc_errno(400, "FAILED_PRECONDITION"), -EACCES);
	CHECK_INT(google_rpc_errno(400, "API_KEY_INVALID"), -EACCES);
	CHECK_INT(google_rpc_errno(400, ""), -EINVAL);
	CHECK_INT(google_rpc_errno(401, "UNAUTHENTICATED"), -EACCES);
	CHECK_INT(google_rpc_errno(403, "PERMISSION_DENIED"), -EACCES);
	CHECK_INT(google_rpc_errno(404, "NOT_FOUND"), -ENOENT);
	CHECK_INT(google_rpc_errno(409, "ALREADY_EXISTS"), -EEXIST);
	CHECK_INT(google_rpc_errno(409, "ABORTED"), -EAGAIN);
	CHECK_INT(google_rpc_errno(429, "RESOURCE_EXHAUSTED"), -EAGAIN);
	CHECK_INT(google_rpc_errno(499, "CANCELLED"), -EINTR);
	CHECK_INT(google_rpc_errno(500, "INTERNAL"), -EIO);
	CHECK_INT(google_rpc_errno(501, "UNIMPLEMENTED"), -ENOSYS);
	CHECK_INT(google_rpc_errno(502, NULL), -EIO);
	CHECK_INT(google_rpc_errno(503, "UNAVAILABLE"), -EIO);
	CHECK_INT(google_rpc_errno(504, "DEADLINE_EXCEEDED"), -ETIMEDOUT);
	CHECK_INT(google_rpc_errno(418, NULL), -EINVAL);
	CHECK_INT(google_rpc_errno(0, NULL), -EIO);
	/* Operation.error carries no HTTP code: the status name alone decides. */
	CHECK_INT(google_rpc_errno(0, "NOT_FOUND"), -ENOENT);
	CHECK_INT(google_rpc_errno(0, "RESOURCE_EXHAUSTED"), -EAGAIN);
}

static void test_duration(void)
{
	static const struct {
		const char *s;
		long ms;
	} good[] = {{"1s", 1000}, {"0.5s", 500},     {"22s", 22000}, {"10.689924287s", 10690},
		    {"0s", 0},	  {"1.0001s", 1001}, {".5s", 500},   {"3.s", 3000},
		    {"0.001s", 1}};
	static const char *bad[] = {"", "s", "1", "1.5", "-1s", "1ss", "abc", "1 s", " 1s", ".s"};
	long ms;

	for (size_t i = 0; i < N(good); i++) {
		ms = -1;
		CHECK_INT(google_rpc_duration_ms(good[i].s, &ms), 0);
		CHECK_INT(ms, good[i].ms);
	}
	for (size_t i = 0; i < N(bad); i++)
		CHECK_INT(google_rpc_duration_ms(bad[i], &ms), -EINVAL);
	CHECK_INT(google_rpc_duration_ms("99999999999999999999999s", &ms), 0);
	CHECK(ms > 0);
}

static int try_endpoint(const char *ep, struct backend_error *err)
{
	struct http_options o = {.endpoint = ep};
	struct http_client *hc = NULL;
	int rc = http_client_new(&o, NULL, &hc, err);
	http_client_free(hc);
	return rc;
}

static void test_endpoints(void)
{
	static const char *ok[] = {
	    "http://127.0.0.1:1",      "http://localhost:8080",
	    "http://[::1]:80/",	       "http://127.5.5.5",
	    "unix:/tmp/tunedfs.sock",  "https://generativelanguage.googleapis.com",
	    "https://example.com:8443"};
	static const char *bad[] = {"http://example.com",
				    "http://10.0.0.1:80",
				    "http://127.0.0.1.evil.com",
				    "http://[::2]:80",
				    "ftp://127.0.0.1",
				    "unix:relative",
				    "http://user@127.0.0.1",
				    "",
				    "127.0.0.1:80",
				    "http://128.0.0.1",
				    "http://127.0.0.1\\@evil.example",
				    "http://127.0.0.1%2eevil.example",
				    "http://127.0.0.1 x"};
	struct backend_error err;

	for (size_t i = 0; i < N(ok); i++) {
		int rc = try_endpoint(ok[i], &err);
		if (rc != 0)
			fprintf(stderr, "endpoint %s refused: %s\n", ok[i], err.message);
		CHECK_INT(rc, 0);
	}
	for (size_t i = 0; i < N(bad); i++) {
		memset(&err, 0, sizeof(err));
		CHECK_INT(try_endpoint(bad[i], &err), -EINVAL);
		CHECK(err.message[0] != '\0');
	}
	try_endpoint("http://example.com", &err);
	CHECK(strstr(err.message, "plain http") != NULL);
}

/* A client on the scripted server with small backoff so retries are quick. */
static struct http_client *client_for(struct scripted_server *s, struct creds *c, int attempts)
{
	char ep[64];
	struct http_options o = {
	    .endpoint = ep,
	    .max_attempts = attempts,
	    .backoff_initial_ms = 5,
	    .backoff_max_ms = 20,
	    .timeout_ms = 20000,
	    .read_error = google_rpc_read_error,
	    .client_header = "x-goog-api-client: tunedfs/test",
	};
	struct http_client *hc = NULL;
	struct backend_error err;

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s->port);
	if (http_client_new(&o, creds_auth(c), &hc, &err) < 0) {
		fprintf(stderr, "client: %s\n", err.message);
		exit(1);
	}
	return hc;
}

static const char env_429[] = "{\"error\": {\"code\": 429, \"message\": \"slow down\", \"status\":"
			      " \"RESOURCE_EXHAUSTED\", \"details\": [{\"@type\":"
			      " \"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\":"
			      " \"0.3s\"}]}}";
static const char env_503[] =
    "{\"error\": {\"code\": 503, \"message\": \"The model is overloaded\","
    " \"status\": \"UNAVAILABLE\"}}";

static void test_retry_then_success(void)
{
	const struct ss_reply script[] = {
	    /* Dropped on a fresh connection: on a reused one libcurl itself would resend. */
	    {SS_DROP, 0, NULL, NULL, 0},
	    {SS_REPLY, 503, NULL, env_503, 0},
	    {SS_REPLY, 502, NULL, "<html>bad gateway</html>", 0},
	    {SS_REPLY, 200, NULL, "{\"ok\": true}", 0},
	};
	struct scripted_server s;
	struct http_response resp = {0};
	struct backend_error err;
	struct http_stats st;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/tunedModels", NULL, 0, NULL, &resp, &err), 0);
	CHECK_INT(resp.status, 200);
	CHECK_STR(resp.body, "{\"ok\": true}");
	http_client_stats(hc, &st);
	CHECK_INT(st.requests, 4);
	CHECK_INT(st.retries, 3);
	CHECK_INT(st.failures, 0);
	http_response_clear(&resp);
	http_client_free(hc);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 4);
}

static void test_gives_up_after_max_attempts(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 503, NULL, env_503, 0},
	    {SS_REPLY, 503, NULL, env_503, 0},
	    {SS_REPLY, 503, NULL, env_503, 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	struct scripted_server s;
	struct http_response resp = {0};
	struct backend_error err;
	struct http_stats st;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 3);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, NULL, &resp, &err), -EIO);
	CHECK_INT(err.http_status, 503);
	CHECK_STR(err.code, "UNAVAILABLE");
	CHECK_STR(err.message, "The model is overloaded");
	CHECK_INT(resp.status, 503);
	http_client_stats(hc, &st);
	CHECK_INT(st.requests, 3);
	CHECK_INT(st.failures, 1);
	http_response_clear(&resp);
	http_client_free(hc);
	ss_stop(&s);
}

static void test_retry_delays_honoured(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 429, NULL, env_429, 0},
	    {SS_REPLY, 503, "Retry-After: 1\r\n", env_503, 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	struct scripted_server s;
	struct backend_error err;
	long t0;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	t0 = now_ms();
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, NULL, NULL, &err), 0);
	/* Backoff alone would wait at most 2 x 20 ms; the service asked for 0.3 s + 1 s. */
	CHECK(now_ms() - t0 >= 1300);
	http_client_free(hc);
	ss_stop(&s);
}

static void test_errors_not_retried(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 404, NULL,
	     "{\"error\": {\"code\": 404, \"message\": \"tunedModels/x not\\nfound\","
	     " \"status\": \"NOT_FOUND\"}}",
	     0},
	    {SS_REPLY, 400, NULL,
	     "{\"error\": {\"code\": 400, \"message\": \"API key not valid.\", \"status\":"
	     " \"INVALID_ARGUMENT\", \"details\": [{\"@type\":"
	     " \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"API_KEY_INVALID\","
	     " \"domain\": \"googleapis.com\"}]}}",
	     0},
	    {SS_REPLY, 409, NULL, "not json at all", 0},
	};
	struct scripted_server s;
	struct backend_error err;
	struct http_stats st;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/tunedModels/x", NULL, 0, NULL, NULL, &err),
		  -ENOENT);
	CHECK_INT(err.http_status, 404);
	CHECK_STR(err.code, "NOT_FOUND");
	CHECK_STR(err.message, "tunedModels/x not found"); /* control characters flattened */
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, NULL, NULL, &err), -EACCES);
	CHECK_STR(err.code, "INVALID_ARGUMENT");
	CHECK_INT(http_request(hc, HTTP_POST, "/v1beta/tunedModels", "{}", 0, NULL, NULL, &err),
		  -EEXIST);
	CHECK_INT(err.http_status, 409);
	http_client_stats(hc, &st);
	CHECK_INT(st.requests, 3);
	CHECK_INT(st.retries, 0);
	http_client_free(hc);
	ss_stop(&s);
}

static void test_headers_and_keepalive(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, "{}", 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	struct creds_options co = {0};
	struct scripted_server s;
	struct backend_error err;
	struct creds *c = NULL;

	setenv("GEMINI_API_KEY", "test-key-not-secret", 1);
	CHECK_INT(creds_new(&co, &c, &err), 0);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, c, 1);
	CHECK_INT(http_request(hc, HTTP_POST, "/v1beta/tunedModels?tunedModelId=a", "{\"x\":1}", 0,
			       NULL, NULL, &err),
		  0);
	CHECK_INT(http_request(hc, HTTP_PATCH, "/v1beta/tunedModels/a?updateMask=topK",
			       "{\"topK\":1}", 0, NULL, NULL, &err),
		  0);
	CHECK_INT(http_request(hc, HTTP_DELETE, "/v1beta/tunedModels/a", NULL, 0, NULL, NULL, &err),
		  0);
	http_client_free(hc);
	ss_stop(&s);
	creds_free(c);
	CHECK_INT(s.connections, 1); /* three calls, one connection */
	CHECK_INT(s.n_seen, 3);
	CHECK_STR(s.seen[0].method, "POST");
	CHECK_STR(s.seen[0].path, "/v1beta/tunedModels?tunedModelId=a");
	CHECK_STR(s.seen[0].body, "{\"x\":1}");
	CHECK(strcasestr(s.seen[0].headers, "\r\nx-goog-api-key: test-key-not-secret") != NULL);
	CHECK(strcasestr(s.seen[0].headers, "\r\nContent-Type: application/json") != NULL);
	CHECK(strcasestr(s.seen[0].headers, "\r\nx-goog-api-client: tunedfs/") != NULL);
	CHECK_STR(s.seen[1].method, "PATCH");
	CHECK_STR(s.seen[1].body, "{\"topK\":1}");
	CHECK_STR(s.seen[2].method, "DELETE");
	CHECK(strcasestr(s.seen[2].headers, "Content-Type") == NULL);
}

static void test_unauthenticated_retried_once(void)
{
	const char env[] = "{\"error\": {\"code\": 401, \"message\": \"expired\", \"status\":"
			   " \"UNAUTHENTICATED\"}}";
	const struct ss_reply script[] = {
	    {SS_REPLY, 401, NULL, env, 0},
	    {SS_REPLY, 401, NULL, env, 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	struct creds_options co = {0};
	struct scripted_server s;
	struct backend_error err;
	struct creds *c = NULL;

	setenv("GEMINI_API_KEY", "test-key-not-secret", 1);
	CHECK_INT(creds_new(&co, &c, &err), 0);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, c, 5);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, NULL, NULL, &err), -EACCES);
	CHECK_STR(err.code, "UNAUTHENTICATED");
	http_client_free(hc);
	ss_stop(&s);
	creds_free(c);
	CHECK_INT(s.n_seen, 2);
}

static void test_connection_refused(void)
{
	struct scripted_server s;
	struct backend_error err;
	char want[96];
	int port;

	/* A port that was just ours and is now closed. */
	CHECK_INT(ss_start(&s, NULL, 0), 0);
	port = s.port;
	ss_stop(&s);
	s.port = port;
	struct http_client *hc = client_for(&s, NULL, 2);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, NULL, NULL, &err), -EIO);
	snprintf(want, sizeof(want), "cannot reach http://127.0.0.1:%d: Connection refused", port);
	CHECK_STR(err.message, want);
	CHECK_INT(err.http_status, 0);
	CHECK_INT(err.kind, BACKEND_ERROR_UNREACHABLE);
	CHECK_STR(err.code, "");
	http_client_free(hc);
}

struct canceller {
	struct backend_cancel *cancel;
	int after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = {c->after_ms / 1000, (c->after_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	atomic_store(&c->cancel->cancelled, 1);
	return NULL;
}

static void test_cancel(void)
{
	const char long_wait[] = "{\"error\": {\"code\": 429, \"status\": \"RESOURCE_EXHAUSTED\","
				 " \"details\": [{\"@type\": \"type.googleapis.com/google.rpc."
				 "RetryInfo\", \"retryDelay\": \"60s\"}]}}";
	const struct ss_reply script[] = {
	    {SS_REPLY, 429, NULL, long_wait, 0},
	    {SS_STALL, 200, NULL, "{}", 3000},
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	struct backend_cancel cancel;
	struct scripted_server s;
	struct backend_error err;
	struct canceller c = {&cancel, 200};
	pthread_t t;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	/* Waiting out a 60 s retry delay: the sleep wakes. */
	atomic_init(&cancel.cancelled, 0);
	pthread_create(&t, NULL, cancel_later, &c);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, &cancel, NULL, &err),
		  -EINTR);
	pthread_join(t, NULL);
	CHECK_INT(err.kind, BACKEND_ERROR_CANCELLED);
	CHECK_STR(err.code, ""); /* ours, not the service's: no service word */
	/* In flight: the transfer is aborted. */
	atomic_store(&cancel.cancelled, 0);
	pthread_create(&t, NULL, cancel_later, &c);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 1, &cancel, NULL, &err),
		  -EINTR);
	pthread_join(t, NULL);
	/* Already cancelled: nothing is sent. */
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models", NULL, 0, &cancel, NULL, &err),
		  -EINTR);
	http_client_free(hc);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 2);
}

static void test_create_recognises_own_success(void)
{
	char model[256], ops[256];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(model, sizeof(model),
		 "{\"name\": \"tunedModels/num\", \"state\": \"CREATING\", \"createTime\":"
		 " \"%Y-%m-%dT%H:%M:%S.5Z\"}",
		 &tm);
	snprintf(ops, sizeof(ops),
		 "{\"operations\": [{\"name\": \"tunedModels/num/operations/op1\", \"metadata\":"
		 " {\"tunedModel\": \"tunedModels/num\", \"totalSteps\": 7}}]}");
	const struct ss_reply script[] = {
	    {SS_DROP, 0, NULL, NULL, 0},
	    {SS_REPLY, 409, NULL,
	     "{\"error\": {\"code\": 409, \"message\": \"exists\", \"status\":"
	     " \"ALREADY_EXISTS\"}}",
	     0},
	    {SS_REPLY, 200, NULL, model, 0},
	    {SS_REPLY, 200, NULL, ops, 0},
	};
	struct tuning_example ex[] = {{"1", "2", NULL, 1}};
	struct tuning_request req = {
	    .id = "num", .base_model = "models/b", .examples = ex, .n_examples = 1};
	struct gemini_operation op;
	struct scripted_server s;
	struct gemini_client *gc;
	struct backend_error err;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	CHECK_INT(gemini_client_new(hc, &gc), 0);
	CHECK_INT(gemini_create_tuned_model(gc, &req, NULL, &op, &err), 0);
	CHECK_STR(op.name, "tunedModels/num/operations/op1");
	CHECK_STR(op.tuned_model, "tunedModels/num");
	CHECK_INT(op.total_steps, 7);
	gemini_operation_clear(&op);
	gemini_client_free(gc);
	http_client_free(hc);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 4);
	CHECK_STR(s.seen[1].path, "/v1beta/tunedModels?tunedModelId=num");
	CHECK_STR(s.seen[2].path, "/v1beta/tunedModels/num");
	CHECK_STR(s.seen[3].path, "/v1beta/tunedModels/num/operations?pageSize=100");
}

static void test_create_conflict_is_eexist(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 409, NULL,
	     "{\"error\": {\"code\": 409, \"message\": \"exists\", \"status\":"
	     " \"ALREADY_EXISTS\"}}",
	     0},
	};
	struct tuning_request req = {.id = "num", .base_model = "models/b"};
	struct gemini_operation op;
	struct scripted_server s;
	struct gemini_client *gc;
	struct backend_error err;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	CHECK_INT(gemini_client_new(hc, &gc), 0);
	/* No lost first attempt: someone else's model, not ours. */
	CHECK_INT(gemini_create_tuned_model(gc, &req, NULL, &op, &err), -EEXIST);
	CHECK_STR(err.code, "ALREADY_EXISTS");
	req.id = "Bad_Id";
	CHECK_INT(gemini_create_tuned_model(gc, &req, NULL, &op, &err), -EINVAL);
	gemini_client_free(gc);
	http_client_free(hc);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 1);
}

static void test_list_pages_and_operation_fallback(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL,
	     "{\"tunedModels\": [{\"name\": \"tunedModels/a\"}], \"nextPageToken\": \"t 1/\"}", 0},
	    {SS_REPLY, 200, NULL, "{\"tunedModels\": [{\"name\": \"tunedModels/b\"}]}", 0},
	    {SS_REPLY, 404, NULL,
	     "{\"error\": {\"code\": 404, \"message\": \"no\", \"status\": \"NOT_FOUND\"}}", 0},
	    {SS_REPLY, 200, NULL, "{\"name\": \"tunedModels/a/operations/x\", \"done\": true}", 0},
	};
	struct gemini_operation op;
	struct scripted_server s;
	struct gemini_client *gc;
	struct backend_error err;
	struct gemini_tuned_model *v;
	size_t n;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	struct http_client *hc = client_for(&s, NULL, 5);
	CHECK_INT(gemini_client_new(hc, &gc), 0);
	CHECK_INT(gemini_list_tuned_models(gc, NULL, &v, &n, &err), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].name, "tunedModels/a");
		CHECK_STR(v[1].name, "tunedModels/b");
	}
	gemini_tuned_models_free(v, n);
	CHECK_INT(gemini_get_operation(gc, "tunedModels/a/operations/x", NULL, &op, &err), 0);
	CHECK_INT(op.done, 1);
	gemini_operation_clear(&op);
	CHECK_INT(gemini_get_operation(gc, "tunedModels/a/../../x", NULL, &op, &err), -EINVAL);
	struct gemini_tuned_model m;
	CHECK_INT(gemini_get_tuned_model(gc, "tunedModels/../x", NULL, &m, &err), -EINVAL);
	gemini_client_free(gc);
	http_client_free(hc);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 4);
	CHECK_STR(s.seen[0].path, "/v1beta/tunedModels?pageSize=1000");
	CHECK_STR(s.seen[1].path, "/v1beta/tunedModels?pageSize=1000&pageToken=t%201%2F");
	CHECK_STR(s.seen[2].path, "/v1beta/tunedModels/a/operations/x");
	CHECK_STR(s.seen[3].path, "/v1/tunedModels/a/operations/x");
}

static void test_debug_log_masks_keys(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	char log_path[] = "/tmp/tunedfs-test-http-XXXXXX";
	struct scripted_server s;
	struct backend_error err;
	char text[1024] = "";
	int fd = mkstemp(log_path), saved = dup(2);
	ssize_t got;

	CHECK(fd >= 0);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	setenv("TUNEDFS_HTTP_DEBUG", "1", 1);
	struct http_client *hc = client_for(&s, NULL, 1);
	unsetenv("TUNEDFS_HTTP_DEBUG");
	fflush(stderr);
	dup2(fd, 2);
	CHECK_INT(http_request(hc, HTTP_GET, "/v1beta/models?key=SECRETKEY&pageSize=5", NULL, 0,
			       NULL, NULL, &err),
		  0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	got = pread(fd, text, sizeof(text) - 1, 0);
	text[got > 0 ? got : 0] = '\0';
	close(fd);
	unlink(log_path);
	http_client_free(hc);
	ss_stop(&s);
	CHECK(strstr(text, "GET /v1beta/models?key=***&pageSize=5 -> 200") != NULL);
	CHECK(strstr(text, "SECRETKEY") == NULL);
	CHECK(strstr(s.seen[0].path, "key=SECRETKEY") != NULL); /* masked in the log only */
}

int main(void)
{
	unsetenv("TUNEDFS_HTTP_DEBUG");
	test_errno_table();
	test_duration();
	test_endpoints();
	test_retry_then_success();
	test_gives_up_after_max_attempts();
	test_retry_delays_honoured();
	test_errors_not_retried();
	test_headers_and_keepalive();
	test_unauthenticated_retried_once();
	test_connection_refused();
	test_cancel();
	test_create_recognises_own_success();
	test_create_conflict_is_eexist();
	test_list_pages_and_operation_fallback();
	test_debug_log_masks_keys();
	return check_exit("test_http");
}
