/* test_flow.c - both ADC flows end to end over HTTP: creds.h on the client side, and the
 * server's token endpoint (server/oauth.c) behind a small libmicrohttpd server made here,
 * so the pair is tested before and apart from tunedfs-server's routes. 16 threads at
 * expiry cause one refresh grant; a revoked refresh token gives EACCES with the
 * endpoint's message and is retried after the backoff; a dead endpoint never hangs. */
#include "api/creds.h"
#include "api/gemini.h"
#include "api/oauth.h"
#include "auth_check.h"
#include "server/google/oauth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <unistd.h>

#define THREADS 16

static char dir[64] = "/tmp/auth-flow-XXXXXX";
static char clients[128], adc_path[128], token_uri[128];
static struct srv_oauth *endpoint;

struct body {
	char *data;
	size_t len;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;
	struct MHD_Response *resp;
	char *json = NULL;
	int status = 0;
	enum MHD_Result r;

	if (!b) {
		*con_cls = calloc(1, sizeof(*b));
		return MHD_YES;
	}
	if (*upload_size) {
		b->data = realloc(b->data, b->len + *upload_size + 1);
		memcpy(b->data + b->len, upload, *upload_size);
		b->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") || strcmp(url, "/token"))
		return MHD_NO;
	/* slow enough that the 16 callers pile up behind the one refresh */
	usleep(200 * 1000);
	srv_oauth_token(endpoint, b->data ? b->data : "", b->len, &status, &json);
	resp = MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	r = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return r;
}

static void done(void *cls, struct MHD_Connection *conn, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;
	if (b) {
		free(b->data);
		free(b);
	}
	*con_cls = NULL;
}

static void write_clients(const char *pub, int revoked)
{
	char text[4096], tmp[160];

	snprintf(
	    text, sizeof(text),
	    "{\"authorized_user\": [{\"client_id\": \"cid\", \"client_secret\": \"S3CRET-cs\", "
	    "\"refresh_token\": \"1//0S3CRET/rt\"}], \"service_accounts\": [{\"client_email\": "
	    "\"sa@p.iam.gserviceaccount.com\", \"public_key\": %s}], "
	    "\"revoked_refresh_tokens\": [%s]}",
	    pub, revoked ? "\"1//0S3CRET/rt\"" : "");
	snprintf(tmp, sizeof(tmp), "%s.new", clients);
	auth_write(tmp, text, 0600);
	CHECK_INT(rename(tmp, clients), 0);
}

struct worker {
	struct creds *c;
	pthread_barrier_t *go;
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct backend_error err = {0};
	char *h[4] = {0};

	pthread_barrier_wait(w->go);
	w->rc = creds_headers(w->c, h, 4, &err);
	for (int i = 0; i < w->rc; i++)
		free(h[i]);
	return NULL;
}

static int storm(struct creds *c)
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
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].rc == 2; /* bearer and quota project */
	}
	pthread_barrier_destroy(&go);
	return ok;
}

static void test_authorized_user(const char *pub)
{
	struct creds_options o = {.token_uri = token_uri};
	struct backend_error err = {0};
	struct creds *c = NULL;
	unsigned long issued, rg, jg, refreshes, failures;
	char *h[4];
	int n;

	auth_write(adc_path,
		   "{\"type\": \"authorized_user\", \"client_id\": \"cid\", \"client_secret\": "
		   "\"S3CRET-cs\", \"refresh_token\": \"1//0S3CRET/rt\", \"quota_project_id\": "
		   "\"qp\", \"token_uri\": \"https://not-used.example/token\"}",
		   0600);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", adc_path, 1);
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_STR(creds_kind(c), "authorized_user");
	CHECK_INT(storm(c), THREADS);
	srv_oauth_stats(endpoint, &issued, &rg, &jg);
	CHECK_INT(rg, 1);
	n = creds_headers(c, h, 4, &err);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(srv_oauth_check_bearer(endpoint, h[0] + strlen("Authorization: ")), 1);
		CHECK_STR(h[1], "x-goog-user-project: qp");
	}
	for (int i = 0; i < n; i++)
		free(h[i]);
	/* the token lives 2 s and is refreshed ahead of that: wait it out, storm again */
	usleep(2100 * 1000);
	CHECK_INT(storm(c), THREADS);
	srv_oauth_stats(endpoint, &issued, &rg, &jg);
	CHECK_INT(rg, 2);

	/* revoked: EACCES, the endpoint's words, no secret; tried again after the backoff */
	write_clients(pub, 1);
	creds_invalidate(c, NULL);
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_HAS(err.message, "Token has been expired or revoked.");
	CHECK_HAS(err.message, "invalid_grant");
	CHECK_LACKS(err.message, "S3CRET");
	write_clients(pub, 0);
	usleep(1100 * 1000);
	CHECK_INT(storm(c), THREADS);
	creds_stats(c, &refreshes, &failures);
	CHECK_INT(refreshes, 4);
	CHECK_INT(failures, 1);
	creds_free(c);
}

static void test_service_account(const char *priv)
{
	struct creds_options o = {0};
	struct backend_error err = {0};
	struct creds *c = NULL;
	unsigned long issued, rg, jg;
	cJSON *j = cJSON_CreateObject();
	char *text, *h[4];
	int n;

	cJSON_AddStringToObject(j, "type", "service_account");
	cJSON_AddStringToObject(j, "private_key_id", "k1");
	cJSON_AddStringToObject(j, "private_key", priv);
	cJSON_AddStringToObject(j, "client_email", "sa@p.iam.gserviceaccount.com");
	cJSON_AddStringToObject(j, "token_uri", token_uri); /* the file's own endpoint */
	text = cJSON_Print(j);
	cJSON_Delete(j);
	auth_write(adc_path, text, 0600);
	free(text);
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_STR(creds_kind(c), "service_account");
	n = creds_headers(c, h, 4, &err);
	CHECK_INT(n, 1); /* no quota project: the account's own project pays */
	if (n == 1)
		CHECK_INT(srv_oauth_check_bearer(endpoint, h[0] + strlen("Authorization: ")), 1);
	for (int i = 0; i < n; i++)
		free(h[i]);
	srv_oauth_stats(endpoint, &issued, &rg, &jg);
	CHECK_INT(jg, 1);
	creds_free(c);
}

static void test_dead_endpoint(void)
{
	struct creds_options o = {.token_uri = "http://127.0.0.1:1/token"};
	struct backend_error err = {0};
	struct creds *c = NULL;
	char *h[4];

	auth_write(adc_path,
		   "{\"type\": \"authorized_user\", \"client_id\": \"cid\", \"client_secret\": "
		   "\"S3CRET-cs\", \"refresh_token\": \"1//0S3CRET/rt\"}",
		   0600);
	CHECK_INT(creds_new(&o, &c, &err), 0);
	CHECK_INT(creds_headers(c, h, 4, &err), -EACCES);
	CHECK_HAS(err.message, "cannot reach token endpoint http://127.0.0.1:1/token");
	CHECK_LACKS(err.message, "S3CRET");
	creds_free(c);
	o.token_uri = "http://example.com/token";
	CHECK_INT(creds_new(&o, &c, &err), -EACCES);
	CHECK_HAS(err.message, "https is required");
}

int main(void)
{
	char *priv, *pub, *text, why[300], pub_json[2048];
	EVP_PKEY *key = auth_rsa_key(&priv, &pub);
	struct MHD_Daemon *d;
	cJSON *s;

	if (!mkdtemp(dir))
		abort();
	unsetenv("GEMINI_API_KEY");
	unsetenv("GOOGLE_API_KEY");
	unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
	snprintf(clients, sizeof(clients), "%s/clients.json", dir);
	snprintf(adc_path, sizeof(adc_path), "%s/adc.json", dir);
	/* the PEM as a JSON string, quotes and \n escapes included */
	s = cJSON_CreateString(pub);
	text = cJSON_PrintUnformatted(s);
	snprintf(pub_json, sizeof(pub_json), "%s", text);
	free(text);
	write_clients(pub_json, 0);
	if (srv_oauth_load(clients, 2, &endpoint, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, handle, NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
			     MHD_OPTION_END);
	if (!d)
		abort();
	snprintf(token_uri, sizeof(token_uri), "http://127.0.0.1:%u/token",
		 (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	test_authorized_user(pub_json);
	test_service_account(priv);
	test_dead_endpoint();
	MHD_stop_daemon(d);
	srv_oauth_free(endpoint);
	cJSON_Delete(s);
	EVP_PKEY_free(key);
	free(priv);
	free(pub);
	unlink(clients);
	unlink(adc_path);
	rmdir(dir);
	return check_exit("test_flow");
}
