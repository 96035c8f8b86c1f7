/* fuzz_srv_request.c - libFuzzer target for tunedfs-server's request handling without
 * HTTP (srv_handle, server/router.h): every route, its query and body parsing, the
 * credential checks and the token endpoint, against one live store with a trained model.
 * Input, HTTP-like: "METHOD PATH[?QUERY]", header lines, a blank line, the body. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "server/jobs.h"
#include "server/family.h"
#include "server/router.h"
#include "server/srv.h"
#include "server/google/oauth.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_KEY	      "fuzz-key"
#define FZ_ACTIVE     "fuzz-active"
#define FZ_MAX_MODELS 24

/* Two fronts over one store: one open to anyone, one wanting a key or a token. */
static struct srv fz_open, fz_locked;
static struct srv_store *fz_store;
static struct srv_jobs *fz_jobs;
static char fz_root[4096];

static void fz_fail(const char *why, const struct srv_reply *rep)
{
	fprintf(stderr, "fuzz_srv_request: contract broken: %s (status %d, route %s)\n%.2000s\n",
		why, rep ? rep->status : 0, rep && rep->route ? rep->route : "-",
		rep && rep->body ? rep->body : "");
	abort();
}

static void fz_init_front(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	s->opt.port = 0;
	s->opt.workers = 1;
	s->opt.retry_delay_s = 1;
	s->opt.max_body_mib = 8;
	s->max_body = (size_t)8 << 20;
	s->store = fz_store;
	s->jobs = fz_jobs;
	s->rng = 1;
	pthread_mutex_init(&s->rng_lock, NULL);
	if (srv_stats_init(&s->stats, NULL))
		fz_fail("srv_stats_init", NULL);
}

static void fz_init_oauth(struct srv *s)
{
	static const char clients[] =
	    "{\"authorized_user\":[{\"client_id\":\"cid\",\"client_secret\":\"csecret\","
	    "\"refresh_token\":\"1//rt\"}],\"revoked_refresh_tokens\":[\"1//old\"]}";
	char path[4200], why[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/clients.json", fz_root);
	f = fopen(path, "w");
	if (!f || fputs(clients, f) < 0 || fclose(f))
		fz_fail("cannot write the OAuth clients file", NULL);
	if (srv_oauth_load(path, 60, &s->oauth, why, sizeof(why))) {
		fprintf(stderr, "%s\n", why);
		fz_fail("srv_oauth_load", NULL);
	}
}

static int fz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void fz_cleanup(void)
{
	srv_jobs_stop(fz_jobs);
	nftw(fz_root, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void fz_request(struct srv *s, const char *method, const char *path, const char *query,
		       const char *body, struct srv_reply *rep)
{
	struct srv_request req = {method, path, query, body, body ? strlen(body) : 0,
				  NULL,	  NULL, NULL,  NULL};

	srv_handle(s, &req, rep);
}

/* A model to prompt: trained once at start on one example, one step. */
static void fz_train_active_model(void)
{
	static const char body[] =
	    "{\"baseModel\":\"models/gemini-1.0-pro-001\",\"tuningTask\":{\"hyperparameters\":"
	    "{\"batchSize\":1,\"learningRate\":0.001,\"epochCount\":1},\"trainingData\":"
	    "{\"examples\":{\"examples\":[{\"textInput\":\"1\",\"output\":\"2\"}]}}}}";
	struct srv_reply rep;

	fz_request(&fz_open, "POST", "/v1beta/tunedModels", "tunedModelId=" FZ_ACTIVE, body, &rep);
	if (rep.status != 200)
		fz_fail("cannot create the model to prompt", &rep);
	srv_reply_free(&rep);
	for (int i = 0; i < 6000; i++) {
		struct srv_model *m = srv_store_find(fz_store, FZ_ACTIVE);
		int state;

		pthread_mutex_lock(&fz_store->lock);
		state = m ? (int)m->state : -1;
		pthread_mutex_unlock(&fz_store->lock);
		if (m)
			srv_model_put(fz_store, m);
		if (state == SRV_STATE_ACTIVE)
			return;
		if (state != SRV_STATE_CREATING)
			fz_fail("the model to prompt did not train", NULL);
		usleep(10000);
	}
	fz_fail("the model to prompt still trains after 60 s", NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char data[4200], why[512] = "";

	(void)argc, (void)argv;
	snprintf(fz_root, sizeof(fz_root), "%s/tunedfs-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fz_root))
		fz_fail("mkdtemp", NULL);
	snprintf(data, sizeof(data), "%s/data", fz_root);
	if (srv_store_open(data, &fz_store, why, sizeof(why))) {
		fprintf(stderr, "%s\n", why);
		fz_fail("srv_store_open", NULL);
	}
	if (srv_jobs_start(fz_store, 1, 1, &fz_jobs))
		fz_fail("srv_jobs_start", NULL);
	fz_init_front(&fz_open);
	fz_init_front(&fz_locked);
	fz_locked.api_key = strdup(FZ_KEY);
	fz_init_oauth(&fz_locked);
	atexit(fz_cleanup);
	fz_train_active_model();
	return 0;
}

/* Keeps the store small: every model but the trained one goes once there are too many. */
static void fz_trim_store(void)
{
	char ids[FZ_MAX_MODELS * 4][48];
	size_t n = 0;

	pthread_mutex_lock(&fz_store->lock);
	if (fz_store->n > FZ_MAX_MODELS)
		for (size_t i = 0; i < fz_store->n && n < FZ_MAX_MODELS * 4; i++)
			if (strcmp(fz_store->by_seq[i]->id, FZ_ACTIVE) != 0)
				memcpy(ids[n++], fz_store->by_seq[i]->id, sizeof(ids[0]));
	pthread_mutex_unlock(&fz_store->lock);
	for (size_t i = 0; i < n; i++)
		srv_store_remove(fz_store, ids[i]);
}

/* Nothing a request names may land beside the data directory. */
static void fz_check_no_escape(const struct srv_reply *rep)
{
	DIR *d = opendir(fz_root);
	struct dirent *e;

	if (!d)
		fz_fail("the fuzz root directory vanished", rep);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "data") && strcmp(e->d_name, "clients.json")) {
			fprintf(stderr, "stray entry: %s/%s\n", fz_root, e->d_name);
			fz_fail("a request wrote outside the data directory", rep);
		}
	closedir(d);
}

/* Each family answers errors in its service's envelope: Google's (gemini, vertex, gcs)
 * {error: {code, message, status}}, OpenAI's {error: {message, type, param, code}}. */
static void fz_check_envelope(const struct srv_reply *rep, const cJSON *body)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	int openai = rep->family && !strcmp(rep->family->name, "openai");

	if (!cJSON_IsObject(e) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")))
		fz_fail("error answer without {error: {message}}", rep);
	if (openai && (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "type")) ||
		       !cJSON_GetObjectItemCaseSensitive(e, "param") || !code))
		fz_fail("OpenAI error answer without {error: {message, type, param, code}}", rep);
	if (!openai && (!cJSON_IsNumber(code) || code->valueint != rep->status ||
			!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "status"))))
		fz_fail("error answer without the {error: {code, message, status}} envelope", rep);
}

static void fz_check_reply(const struct srv_reply *rep)
{
	cJSON *body;

	if (rep->drop)
		fz_fail("dropped a connection with no fault injection set", rep);
	if (!rep->body || rep->status < 200 || rep->status > 599)
		fz_fail("no answer or an impossible status", rep);
	if (rep->status >= 500)
		fz_fail("a client's request made the server fail", rep);
	if (strlen(rep->body) != rep->body_len)
		fz_fail("body_len does not match the body", rep);
	if (!rep->content_type || !strstr(rep->content_type, "json"))
		return;
	body = cJSON_ParseWithLength(rep->body, rep->body_len);
	if (!body)
		fz_fail("a JSON answer that is not JSON", rep);
	/* /token answers in OAuth's own error format (RFC 6749), not Google's envelope. */
	if (rep->status >= 400 && strcmp(rep->route ? rep->route : "", "token") != 0)
		fz_check_envelope(rep, body);
	cJSON_Delete(body);
}

/* Splits the input into a request; strings point into buf, which it edits. */
static struct srv *fz_parse(char *buf, size_t size, struct srv_request *req)
{
	char *line = buf, *end = buf + size, *nl, *sp, *q;
	struct srv *s = &fz_open;

	memset(req, 0, sizeof(*req));
	nl = memchr(line, '\n', (size_t)(end - line));
	if (nl)
		*nl = '\0';
	sp = strchr(line, ' ');
	req->method = line;
	req->path = "";
	if (sp) {
		*sp = '\0';
		req->path = sp + 1;
		q = strchr(sp + 1, '?');
		if (q) {
			*q = '\0';
			req->query = q + 1;
		}
		/* The transport hands routes a decoded path; an undecodable one stays raw. */
		char *copy = strdup(req->path);
		if (copy && srv_percent_decode(copy, 0) == 0)
			strcpy(sp + 1, copy);
		free(copy);
	}
	while (nl && nl + 1 < end) {
		line = nl + 1;
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl)
			*nl = '\0';
		if (!*line) {
			req->body = nl ? nl + 1 : NULL;
			req->body_len = nl ? (size_t)(end - nl - 1) : 0;
			break;
		}
		if (!strncasecmp(line, "x-goog-api-key: ", 16))
			req->api_key_header = line + 16;
		else if (!strncasecmp(line, "authorization: ", 15))
			req->authorization = line + 15;
		else if (!strcmp(line, "server: locked"))
			s = &fz_locked;
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_request req;
	struct srv_reply rep;
	struct srv *s;
	/* One byte more, so the head's strings end even when the input has no newline. */
	char *buf = malloc(size + 1);

	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	s = fz_parse(buf, size, &req);
	/* The trained model stays: prompting it is where the generation code is reached. */
	if (!strcmp(req.method, "DELETE") && strstr(req.path, FZ_ACTIVE)) {
		free(buf);
		return 0;
	}
	if (req.body_len == 0)
		req.body = NULL;
	else {
		/* The body as the transport gives it: exactly body_len bytes, no terminator. */
		char *body = malloc(req.body_len);
		if (!body)
			abort();
		memcpy(body, req.body, req.body_len);
		req.body = body;
	}
	srv_handle(s, &req, &rep);
	fz_check_reply(&rep);
	if (rep.route &&
	    (!strcmp(rep.route, "tunedModels.create") || !strcmp(rep.route, "tunedModels.delete")))
		fz_check_no_escape(&rep);
	srv_reply_free(&rep);
	free((void *)req.body);
	free(buf);
	fz_trim_store();
	return 0;
}
