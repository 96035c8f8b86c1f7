/* test_routes.c - tunedfs-server's request handling without HTTP (server/routes.h):
 * query parameters, page tokens, routing, credentials and a create/list/get/delete round
 * against a real store in a temporary directory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "server/router.h"
#include "server/srv.h"
#include "server/srv.h"

static struct srv s;
static char dir[] = "/tmp/test_server_routes.XXXXXX";

static int call(const char *method, const char *path, const char *query, const char *body,
		struct srv_reply *rep)
{
	struct srv_request req = {method, path, query, body, body ? strlen(body) : 0,
				  NULL,	  NULL, NULL,  NULL};
	srv_reply_free(rep);
	srv_handle(&s, &req, rep);
	return rep->status;
}

static void test_query(void)
{
	char buf[32];
	CHECK(srv_query_get("pageSize=5&page_token=a%2Bb+c", "pageToken", buf, sizeof(buf)) == 1);
	CHECK(!strcmp(buf, "a+b c"));
	CHECK(srv_query_get("page_size=7", "pageSize", buf, sizeof(buf)) == 1 && !strcmp(buf, "7"));
	CHECK(srv_query_get("pageSizeX=7&key", "pageSize", buf, sizeof(buf)) == 0);
	CHECK(srv_query_get("key", "key", buf, sizeof(buf)) == 1 && !*buf);
	CHECK(srv_query_get(NULL, "key", buf, sizeof(buf)) == 0);
	CHECK(srv_query_get("key=%zz", "key", buf, sizeof(buf)) == -EINVAL);
	CHECK(srv_query_get("key=%00", "key", buf, sizeof(buf)) == -EINVAL);
	CHECK(srv_query_get("key=0123456789012345678901234567890123", "key", buf, sizeof(buf)) ==
	      -EINVAL);
	char path[] = "/v1beta/tunedModels/a%3Ab";
	CHECK(srv_percent_decode(path, 0) == 0 && !strcmp(path, "/v1beta/tunedModels/a:b"));

	char tok[40];
	srv_page_token(12345, tok, sizeof(tok));
	char q[64];
	snprintf(q, sizeof(q), "pageToken=%s&pageSize=3000", tok);
	struct srv_request req = {.query = q};
	struct srv_reply rep = {0};
	int size;
	unsigned long long pos;
	CHECK(srv_page_params(&req, 10, 1000, &size, &pos, &rep) == 0);
	CHECK(pos == 12345 && size == 1000);
	tok[3] ^= 1; /* any change is noticed */
	snprintf(q, sizeof(q), "pageToken=%s", tok);
	CHECK(srv_page_params(&req, 10, 1000, &size, &pos, &rep) == -EINVAL);
	CHECK(rep.status == 400);
	srv_reply_free(&rep);
}

static const char create_body[] =
    "{\"display_name\": \"Route Test\", \"base_model\": \"models/tunedfs-local-1\",\n"
    " \"tuning_task\": {\"hyperparameters\": {\"epoch_count\": 1,},\n"
    "  \"training_data\": {\"examples\": {\"examples\": [\n"
    "   {\"text_input\": \"a\", \"output\": \"b\",},]}}}}";

static void test_round(void)
{
	struct srv_reply rep = {0};
	CHECK(call("GET", "/v1beta/models", NULL, NULL, &rep) == 200);
	CHECK(strstr(rep.body, "\"models/tunedfs-local-1\""));
	CHECK(call("GET", "/v1beta/nowhere", NULL, NULL, &rep) == 404);
	CHECK(strstr(rep.body, "\"NOT_FOUND\""));
	CHECK(call("PUT", "/v1beta/tunedModels", NULL, NULL, &rep) == 404);
	CHECK(call("GET", "/v1beta/tunedModels/", NULL, NULL, &rep) == 404);
	CHECK(call("POST", "/v1beta/tunedModels", "tunedModelId=route", create_body, &rep) == 200);
	CHECK(strstr(rep.body, "\"name\": \"tunedModels/route/operations/"));
	CHECK(strstr(rep.body, "\"totalSteps\": 1"));
	CHECK(call("POST", "/v1beta/tunedModels", "tunedModelId=route", create_body, &rep) == 409);
	CHECK(call("GET", "/v1beta/tunedModels", "page_size=1", NULL, &rep) == 200);
	CHECK(strstr(rep.body, "\"tunedModels/route\"") && !strstr(rep.body, "nextPageToken"));
	CHECK(call("GET", "/v1beta/tunedModels", "pageToken=zzz", NULL, &rep) == 400);
	CHECK(call("GET", "/v1beta/tunedModels/route", NULL, NULL, &rep) == 200);
	CHECK(strstr(rep.body, "\"displayName\": \"Route Test\""));
	CHECK(call("PATCH", "/v1beta/tunedModels/route", "updateMask=description",
		   "{\"description\": \"x\"}", &rep) == 200);
	CHECK(call("DELETE", "/v1beta/tunedModels/route", NULL, "{}", &rep) == 200);
	CHECK(!strcmp(rep.body, "{}\n"));
	CHECK(call("GET", "/v1beta/tunedModels/route", NULL, NULL, &rep) == 404);
	CHECK(call("GET", "/debug/stats", NULL, NULL, &rep) == 200);
	CHECK(strstr(rep.body, "\"tunedModels.create\""));
	srv_reply_free(&rep);
}

static void test_auth(void)
{
	struct srv_reply rep = {0};
	s.api_key = "k3y";
	struct srv_request req = {"GET", "/v1beta/models", NULL, NULL, 0, NULL, NULL, NULL, NULL};
	srv_handle(&s, &req, &rep);
	CHECK(rep.status == 401);
	srv_reply_free(&rep);
	req.api_key_header = "k3y";
	srv_handle(&s, &req, &rep);
	CHECK(rep.status == 200);
	srv_reply_free(&rep);
	req.api_key_header = "k3";
	srv_handle(&s, &req, &rep);
	CHECK(rep.status == 403 && !strstr(rep.body, "k3y"));
	srv_reply_free(&rep);
	req.api_key_header = NULL;
	req.authorization = "Bearer k3y";
	srv_handle(&s, &req, &rep);
	CHECK(rep.status == 200);
	srv_reply_free(&rep);
	req.authorization = NULL;
	req.query = "alt=json&key=k3y";
	srv_handle(&s, &req, &rep);
	CHECK(rep.status == 200);
	srv_reply_free(&rep);
	req.path = "/debug/stats"; /* never guarded */
	req.query = NULL;
	srv_handle(&s, &req, &rep);
	CHECK(rep.status == 200);
	srv_reply_free(&rep);
	s.api_key = NULL;
}

static void test_faults(void)
{
	struct srv_reply rep = {0};
	s.opt.throttle_rate = 1;
	s.opt.retry_delay_s = 4;
	CHECK(call("GET", "/v1beta/models", NULL, NULL, &rep) == 429);
	CHECK(rep.retry_after == 4 && strstr(rep.body, "\"retryDelay\": \"4s\""));
	CHECK(call("GET", "/debug/stats", NULL, NULL, &rep) == 200);
	s.opt.throttle_rate = 0;
	s.opt.drop_rate = 1;
	call("GET", "/v1beta/models", NULL, NULL, &rep);
	CHECK(rep.drop == 1);
	s.opt.drop_rate = 0;
	srv_reply_free(&rep);
}

int main(void)
{
	char why[256];
	if (!mkdtemp(dir) || srv_store_open(dir, &s.store, why, sizeof(why)) ||
	    srv_jobs_start(s.store, 1, 1, &s.jobs) || srv_stats_init(&s.stats, NULL))
		return 1;
	pthread_mutex_init(&s.rng_lock, NULL);
	s.opt.retry_delay_s = 1;
	s.max_body = 8 << 20;
	test_query();
	test_round();
	test_auth();
	test_faults();
	srv_jobs_stop(s.jobs);
	srv_store_close(s.store);
	srv_stats_free(&s.stats);
	pthread_mutex_destroy(&s.rng_lock);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return check_exit(__FILE__);
}
