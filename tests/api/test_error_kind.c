/* test_error_kind.c - the neutral error kinds of backend.h: each service's envelope mapped
 * to kinds (google.rpc for Gemini and Vertex, OpenAI's), and the transport's own failures
 * (no connection, timeout, cancel, an answer too large) carrying a kind and no service
 * word. The wire cases run against scripted_server.c. */
#include "api/backend.h"
#include "api/google_rpc.h"
#include "api/http.h"
#include "api/http_internal.h"
#include "api/openai_internal.h"
#include "../check.h"
#include "scripted_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The words no failure of ours may carry: they are Google's, and only its envelope says them. */
static const char *const google_words[] = {"RESOURCE_EXHAUSTED", "UNAVAILABLE",	    "CANCELLED",
					   "DEADLINE_EXCEEDED",	 "UNAUTHENTICATED", "INTERNAL"};

static void check_neutral(const struct backend_error *err, enum backend_error_kind kind)
{
	CHECK_INT(err->kind, kind);
	CHECK_INT(err->http_status, 0);
	CHECK_STR(err->code, "");
	CHECK(err->message[0] != '\0');
	for (size_t i = 0; i < N(google_words); i++)
		CHECK_LACKS(err->message, google_words[i]);
}

struct envelope_case {
	long status;
	const char *body;
	int rc;
	enum backend_error_kind kind;
	const char *code;
};

typedef int (*envelope_reader)(const struct http_response *, long *, struct backend_error *);

/* Each case read by the envelope's reader: errno, kind, status and the service's word. */
static void check_envelopes(const struct envelope_case *cases, size_t n, envelope_reader read)
{
	for (size_t i = 0; i < n; i++) {
		struct http_response resp = {.status = cases[i].status,
					     .body = (char *)cases[i].body,
					     .len = strlen(cases[i].body)};
		struct backend_error err = {.kind = BACKEND_ERROR_DIVERGED};
		long asked = -1;

		CHECK_INT(read(&resp, &asked, &err), cases[i].rc);
		CHECK_INT(err.kind, cases[i].kind);
		CHECK_INT(err.http_status, cases[i].status);
		CHECK_STR(err.code, cases[i].code);
	}
}

static void test_google_envelope(void)
{
	static const struct envelope_case cases[] = {
	    {429,
	     "{\"error\": {\"code\": 429, \"message\": \"quota\", \"status\": "
	     "\"RESOURCE_EXHAUSTED\","
	     " \"details\": [{\"@type\": \"type.googleapis.com/google.rpc.RetryInfo\","
	     " \"retryDelay\": \"3s\"}]}}",
	     -EAGAIN, BACKEND_ERROR_RATE_LIMITED, "RESOURCE_EXHAUSTED"},
	    {503,
	     "{\"error\": {\"code\": 503, \"message\": \"busy\", \"status\": \"UNAVAILABLE\"}}",
	     -EIO, BACKEND_ERROR_UNAVAILABLE, "UNAVAILABLE"},
	    {500, "{\"error\": {\"code\": 500, \"message\": \"oops\", \"status\": \"INTERNAL\"}}",
	     -EIO, BACKEND_ERROR_UNAVAILABLE, "INTERNAL"},
	    {504, "{\"error\": {\"code\": 504, \"status\": \"DEADLINE_EXCEEDED\"}}", -ETIMEDOUT,
	     BACKEND_ERROR_TIMEOUT, "DEADLINE_EXCEEDED"},
	    {499, "{\"error\": {\"code\": 499, \"status\": \"CANCELLED\"}}", -EINTR,
	     BACKEND_ERROR_CANCELLED, "CANCELLED"},
	    {401, "{\"error\": {\"code\": 401, \"status\": \"UNAUTHENTICATED\"}}", -EACCES,
	     BACKEND_ERROR_CREDENTIALS, "UNAUTHENTICATED"},
	    /* the ErrorInfo reason decides; the code stays the status the service sent */
	    {400,
	     "{\"error\": {\"code\": 400, \"message\": \"API key not valid.\", \"status\":"
	     " \"INVALID_ARGUMENT\", \"details\": [{\"@type\":"
	     " \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"API_KEY_INVALID\"}]}}",
	     -EACCES, BACKEND_ERROR_CREDENTIALS, "INVALID_ARGUMENT"},
	    {400, "{\"error\": {\"code\": 400, \"status\": \"INVALID_ARGUMENT\"}}", -EINVAL,
	     BACKEND_ERROR_OTHER, "INVALID_ARGUMENT"},
	    {403, "{\"error\": {\"code\": 403, \"status\": \"PERMISSION_DENIED\"}}", -EACCES,
	     BACKEND_ERROR_OTHER, "PERMISSION_DENIED"},
	    {404, "{\"error\": {\"code\": 404, \"status\": \"NOT_FOUND\"}}", -ENOENT,
	     BACKEND_ERROR_OTHER, "NOT_FOUND"},
	    {409, "{\"error\": {\"code\": 409, \"status\": \"ALREADY_EXISTS\"}}", -EEXIST,
	     BACKEND_ERROR_OTHER, "ALREADY_EXISTS"},
	    {501, "{\"error\": {\"code\": 501, \"status\": \"UNIMPLEMENTED\"}}", -ENOSYS,
	     BACKEND_ERROR_OTHER, "UNIMPLEMENTED"},
	    /* no envelope (a proxy's page): the status's canonical name and kind */
	    {502, "<html>bad gateway</html>", -EIO, BACKEND_ERROR_UNAVAILABLE, ""},
	    {429, "", -EAGAIN, BACKEND_ERROR_RATE_LIMITED, "RESOURCE_EXHAUSTED"},
	};

	check_envelopes(cases, N(cases), google_rpc_read_error);
	/* an Operation.error has no HTTP status: the name alone */
	CHECK_INT(google_rpc_kind(0, "RESOURCE_EXHAUSTED"), BACKEND_ERROR_RATE_LIMITED);
	CHECK_INT(google_rpc_kind(0, "NOT_FOUND"), BACKEND_ERROR_OTHER);
	CHECK_INT(google_rpc_kind(0, ""), BACKEND_ERROR_OTHER);
}

static void test_openai_envelope(void)
{
	static const struct envelope_case cases[] = {
	    {401,
	     "{\"error\": {\"message\": \"Incorrect API key provided.\", \"type\":"
	     " \"invalid_request_error\", \"code\": \"invalid_api_key\"}}",
	     -EACCES, BACKEND_ERROR_CREDENTIALS, "invalid_api_key"},
	    {429, "{\"error\": {\"message\": \"slow\", \"code\": \"rate_limit_exceeded\"}}",
	     -EAGAIN, BACKEND_ERROR_RATE_LIMITED, "rate_limit_exceeded"},
	    {429,
	     "{\"error\": {\"message\": \"no credit\", \"type\": \"insufficient_quota\","
	     " \"code\": \"insufficient_quota\"}}",
	     -EAGAIN, BACKEND_ERROR_RATE_LIMITED, "insufficient_quota"},
	    {500,
	     "{\"error\": {\"message\": \"oops\", \"type\": \"server_error\", \"code\": null}}",
	     -EIO, BACKEND_ERROR_UNAVAILABLE, "server_error"},
	    {404,
	     "{\"error\": {\"message\": \"No such job\", \"type\": \"invalid_request_error\"}}",
	     -ENOENT, BACKEND_ERROR_OTHER, "invalid_request_error"},
	    {400, "{\"error\": {\"message\": \"bad\", \"type\": \"invalid_request_error\"}}",
	     -EINVAL, BACKEND_ERROR_OTHER, "invalid_request_error"},
	    /* no envelope: the HTTP status alone, and no word made up for it */
	    {503, "busy", -EIO, BACKEND_ERROR_UNAVAILABLE, ""},
	    {504, "", -ETIMEDOUT, BACKEND_ERROR_TIMEOUT, ""},
	};

	check_envelopes(cases, N(cases), openai_read_error);
}

/* Every way a transfer can end without an answer, worded without a service's word. */
static void test_transport_failures(void)
{
	static const struct {
		CURLcode code;
		int rc;
		enum backend_error_kind kind;
	} cases[] = {
	    {CURLE_ABORTED_BY_CALLBACK, -EINTR, BACKEND_ERROR_CANCELLED},
	    {CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT, BACKEND_ERROR_TIMEOUT},
	    {CURLE_COULDNT_CONNECT, -EIO, BACKEND_ERROR_UNREACHABLE},
	    {CURLE_PEER_FAILED_VERIFICATION, -EIO, BACKEND_ERROR_UNREACHABLE},
	    {CURLE_PARTIAL_FILE, -EIO, BACKEND_ERROR_UNREACHABLE},
	    {CURLE_RECV_ERROR, -EIO, BACKEND_ERROR_UNREACHABLE},
	    {CURLE_GOT_NOTHING, -EIO, BACKEND_ERROR_UNREACHABLE},
	    {CURLE_COULDNT_RESOLVE_HOST, -EIO, BACKEND_ERROR_UNREACHABLE},
	};
	struct http_attempt at = {0};
	struct backend_error err;

	for (size_t i = 0; i < N(cases); i++) {
		memset(&err, 0, sizeof(err));
		snprintf(err.code, sizeof(err.code), "stale");
		CHECK_INT(http_transport_error("http://127.0.0.1:1", cases[i].code, ECONNREFUSED,
					       "", &err),
			  cases[i].rc);
		check_neutral(&err, cases[i].kind);
	}
	at.too_big = 1;
	CHECK_INT(http_size_error("http://127.0.0.1:1", &at, &err), -EIO);
	check_neutral(&err, BACKEND_ERROR_TOO_LARGE);
	at.too_big = 0;
	at.over_budget = 2;
	CHECK_INT(http_size_error("http://127.0.0.1:1", &at, &err), -EIO);
	check_neutral(&err, BACKEND_ERROR_TOO_LARGE);
	CHECK_HAS(err.message, "max_inflight_mib");
	/* the kind an HTTP status alone stands for */
	CHECK_INT(http_error_kind(200), BACKEND_ERROR_BAD_ANSWER);
	CHECK_INT(http_error_kind(429), BACKEND_ERROR_RATE_LIMITED);
	CHECK_INT(http_error_kind(502), BACKEND_ERROR_UNAVAILABLE);
	CHECK_INT(http_error_kind(404), BACKEND_ERROR_OTHER);
	CHECK_STR(backend_error_kind_name(BACKEND_ERROR_RATE_LIMITED), "rate-limited");
	CHECK_STR(backend_error_kind_name((enum backend_error_kind)99), "other");
}

static struct http_client *client_for(int port, long timeout_ms)
{
	char ep[64];
	struct http_options o = {
	    .endpoint = ep,
	    .max_attempts = 1,
	    .timeout_ms = timeout_ms,
	    .max_retry_ms = timeout_ms,
	    .read_error = google_rpc_read_error,
	};
	struct http_client *hc = NULL;
	struct backend_error err;

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	CHECK_INT(http_client_new(&o, NULL, &hc, &err), 0);
	return hc;
}

/* The same on the wire, through http_call: a closed port, a stall past the timeout, a
 * cancel before sending, an answer that can never fit the in-flight budget. */
static void test_transport_on_the_wire(void)
{
	char big[4096];
	struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, big, 0},
	    {SS_STALL, 200, NULL, "{}", 1000},
	};
	struct backend_cancel cancel;
	struct scripted_server s;
	struct backend_error err;
	struct http_client *hc;
	int port;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(ss_start(&s, NULL, 0), 0);
	port = s.port;
	ss_stop(&s);
	hc = client_for(port, 2000);
	CHECK_INT(http_request(hc, HTTP_GET, "/x", NULL, 0, NULL, NULL, &err), -EIO);
	check_neutral(&err, BACKEND_ERROR_UNREACHABLE);
	http_client_free(hc);

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	hc = client_for(s.port, 300);
	atomic_init(&cancel.cancelled, 1);
	CHECK_INT(http_request(hc, HTTP_GET, "/x", NULL, 0, &cancel, NULL, &err), -EINTR);
	check_neutral(&err, BACKEND_ERROR_CANCELLED);
	http_set_inflight_limit(1024);
	CHECK_INT(http_request(hc, HTTP_GET, "/x", NULL, 0, NULL, NULL, &err), -EIO);
	check_neutral(&err, BACKEND_ERROR_TOO_LARGE);
	http_set_inflight_limit(0);
	CHECK_INT(http_request(hc, HTTP_GET, "/x", NULL, 0, NULL, NULL, &err), -ETIMEDOUT);
	check_neutral(&err, BACKEND_ERROR_TIMEOUT);
	http_client_free(hc);
	ss_stop(&s);
}

/* Each backend reads its answers through its own envelope: a refusal whose kind the HTTP
 * status alone would not give (credentials, on a 400 or a 403). */
static void test_backends_use_their_envelope(void)
{
	static const struct {
		const char *name;
		int status;
		const char *body, *code;
	} cases[] = {
	    {"gemini", 400,
	     "{\"error\": {\"code\": 400, \"message\": \"API key not valid.\", \"status\":"
	     " \"INVALID_ARGUMENT\", \"details\": [{\"@type\":"
	     " \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"API_KEY_INVALID\"}]}}",
	     "INVALID_ARGUMENT"},
	    {"vertex", 400,
	     "{\"error\": {\"code\": 400, \"message\": \"API key not valid.\", \"status\":"
	     " \"INVALID_ARGUMENT\", \"details\": [{\"@type\":"
	     " \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"API_KEY_INVALID\"}]}}",
	     "INVALID_ARGUMENT"},
	    {"openai", 403,
	     "{\"error\": {\"message\": \"No such organization.\", \"type\":"
	     " \"invalid_request_error\", \"code\": \"invalid_organization\"}}",
	     "invalid_organization"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct ss_reply script[] = {{SS_REPLY, cases[i].status, NULL, cases[i].body, 0}};
		char ep[64];
		struct backend_options o = {.name = cases[i].name,
					    .endpoint = ep,
					    .project = "p",
					    .no_credentials = 1,
					    .timeout_ms = 5000};
		struct backend_error err = {0};
		struct model_page page = {0};
		struct scripted_server s;
		struct backend *b;

		CHECK_INT(ss_start(&s, script, N(script)), 0);
		snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s.port);
		CHECK_INT(backend_open(&o, &b, &err), 0);
		CHECK_INT(backend_list(b, NULL, &page, NULL, &err), -EACCES);
		CHECK_INT(err.kind, BACKEND_ERROR_CREDENTIALS);
		CHECK_INT(err.http_status, cases[i].status);
		CHECK_STR(err.code, cases[i].code);
		model_page_clear(&page);
		backend_close(b);
		ss_stop(&s);
		CHECK_INT(s.n_seen, 1);
	}
}

int main(void)
{
	unsetenv("TUNEDFS_HTTP_DEBUG");
	test_google_envelope();
	test_openai_envelope();
	test_transport_failures();
	test_transport_on_the_wire();
	test_backends_use_their_envelope();
	return check_exit("test_error_kind");
}
