/* test_vertex.c - the Vertex backend on the wire against scripted_server.c: opening it
 * (options, OAuth only), the create (training data converted and uploaded, the job body,
 * refusals before any request, a lost answer that must not make a second job), listing
 * over pages with the names and states the mount shows, progress, generation, rm. */
#include "api/backend.h"
#include "../check.h"
#include "scripted_server.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define JOBS "/v1/projects/p/locations/us-central1/tuningJobs"
#define JOB1 "projects/1/locations/us-central1/tuningJobs/111"

static char endpoint[64];

static int open_vertex(struct scripted_server *s, const char *bucket, struct backend **b,
		       struct backend_error *err)
{
	struct backend_options o = {.name = "vertex",
				    .endpoint = endpoint,
				    .project = "p",
				    .bucket = bucket,
				    .no_credentials = 1,
				    .timeout_ms = 20000};

	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", s ? s->port : 1);
	return backend_open(&o, b, err);
}

static void test_open_refusals(void)
{
	struct backend_options o = {.name = "nonesuch"};
	struct backend_error err = {0};
	struct backend *b = NULL;

	CHECK_INT(backend_open(&o, &b, &err), -EINVAL);
	CHECK(strstr(err.message, "known: gemini, vertex") != NULL);
	o.name = "vertex";
	o.endpoint = "http://127.0.0.1:1";
	o.no_credentials = 1;
	unsetenv("GOOGLE_CLOUD_PROJECT");
	CHECK_INT(backend_open(&o, &b, &err), -EINVAL);
	CHECK(strstr(err.message, "-o project") != NULL);
	o.project = "p";
	o.api_key_file = "/nonexistent/key";
	CHECK_INT(backend_open(&o, &b, &err), -EINVAL);
	CHECK(strstr(err.message, "api_key_file") && strstr(err.message, "OAuth") &&
	      strstr(err.message, "express mode"));
	o.api_key_file = NULL;
	o.location = "us central";
	CHECK_INT(backend_open(&o, &b, &err), -EINVAL);
	CHECK(strstr(err.message, "-o location") != NULL);
	o.location = NULL;
	CHECK_INT(backend_open(&o, &b, &err), 0);
	CHECK_STR(backend_name(b), "vertex");
	CHECK(strstr(backend_identity(b), "vertex http://127.0.0.1:1 p us-central1") != NULL);
	backend_close(b);
	o.name = "gemini";
	o.bucket = "b";
	o.project = NULL;
	CHECK_INT(backend_open(&o, &b, &err), -EINVAL);
	CHECK(strstr(err.message, "bucket") != NULL);
}

static struct tuning_example tutorial_ex[] = {{"1", "2", NULL, 1}, {"seven", "eight", NULL, 2}};

static struct tuning_request tutorial_request(void)
{
	struct tuning_request r = {.id = "num",
				   .base_model = "models/gemini-2.5-flash",
				   .settings = {.epochs = 300},
				   .examples = tutorial_ex,
				   .n_examples = 2};
	return r;
}

static const char tutorial_lines[] =
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"1\"}]},{\"role\":\"model\","
    "\"parts\":[{\"text\":\"2\"}]}]}\n"
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"seven\"}]},{\"role\":\"model\","
    "\"parts\":[{\"text\":\"eight\"}]}]}\n";

/* The object the tutorial's examples go to: train-<16 hex of their SHA-256>. */
static void tutorial_object(char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[17];

	EVP_Digest(tutorial_lines, strlen(tutorial_lines), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, len, "tunedfs/num/train-%s.jsonl", hex);
}

static void test_create_refusals(void)
{
	const struct ss_reply script[] = {{SS_REPLY, 500, NULL, "{}", 0}};
	struct tuning_request r = tutorial_request();
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m;
	struct backend *b;
	char why[300];

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_vertex(&s, NULL, &b, &err), 0);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), -EINVAL);
	CHECK(strstr(err.message, "-o bucket=B") != NULL);
	backend_close(b);
	CHECK_INT(open_vertex(&s, "bkt", &b, &err), 0);
	r.settings.batch_size = 4;
	CHECK_INT(backend_check_request(b, &r, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "config: batch_size:") != NULL);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), -EINVAL);
	CHECK(strstr(err.message, "batch_size") != NULL);
	r.settings.batch_size = 0;
	r.generation.has_temperature = 1;
	CHECK_INT(backend_check_request(b, &r, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "temperature") != NULL);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 0); /* refused before anything was sent */
}

static const char job_pending[] =
    "{\"name\": \"" JOB1 "\", \"state\": \"JOB_STATE_PENDING\", \"baseModel\":"
    " \"gemini-2.5-flash\", \"tunedModelDisplayName\": \"num\", \"labels\": {\"tunedfs-name\":"
    " \"num\"}, \"createTime\": \"2026-01-01T00:00:00Z\", \"updateTime\":"
    " \"2026-01-01T00:00:00Z\", \"supervisedTuningSpec\": {\"hyperParameters\":"
    " {\"epochCount\": \"300\"}}}";

static void test_create(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, "Connection: close\r\n", "{\"name\": \"x\"}", 0},
	    {SS_REPLY, 200, NULL, job_pending, 0},
	};
	struct tuning_request r = tutorial_request();
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m;
	struct backend *b;
	char object[80], path[200];

	tutorial_object(object, sizeof(object));
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_vertex(&s, "bkt", &b, &err), 0);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), 0);
	CHECK_STR(m.id, "num");
	CHECK_STR(m.job, JOB1);
	CHECK_INT(m.state, BACKEND_CREATING);
	CHECK_INT(m.settings.epochs, 300);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 2);
	CHECK_STR(s.seen[0].method, "POST");
	snprintf(path, sizeof(path), "/upload/storage/v1/b/bkt/o?uploadType=media&name=%s", object);
	for (char *p = strchr(path, '=') + 1; (p = strchr(p, '/'));)
		memmove(p + 3, p + 1, strlen(p)), memcpy(p, "%2F", 3);
	CHECK_STR(s.seen[0].path, path);
	CHECK_STR(s.seen[0].body, tutorial_lines);
	CHECK(strcasestr(s.seen[0].headers, "Content-Type: application/jsonl") != NULL);
	CHECK_STR(s.seen[1].path, JOBS);
	CHECK(strstr(s.seen[1].body, "\"baseModel\":\"gemini-2.5-flash\"") != NULL);
	CHECK(strstr(s.seen[1].body, "\"tunedModelDisplayName\":\"num\"") != NULL);
	CHECK(strstr(s.seen[1].body, "\"labels\":{\"tunedfs-name\":\"num\"}") != NULL);
	CHECK(strstr(s.seen[1].body, "\"epochCount\":300") != NULL);
	snprintf(path, sizeof(path), "\"trainingDatasetUri\":\"gs://bkt/%s\"", object);
	CHECK(strstr(s.seen[1].body, path) != NULL);
}

/* The create's answer is lost (the connection drops): the job it made is found by its
 * label and data, and no second create is sent. */
static void test_create_answer_lost(void)
{
	char object[80], page[1024];
	struct ss_reply script[] = {
	    {SS_REPLY, 200, "Connection: close\r\n", "{}", 0},
	    {SS_DROP, 0, NULL, NULL, 0},
	    {SS_REPLY, 200, NULL, page, 0},
	};
	struct tuning_request r = tutorial_request();
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m;
	struct backend *b;
	int creates = 0;

	tutorial_object(object, sizeof(object));
	snprintf(page, sizeof(page),
		 "{\"tuningJobs\": [{\"name\": \"projects/1/locations/us-central1/tuningJobs/9\","
		 " \"state\": \"JOB_STATE_RUNNING\", \"labels\": {\"tunedfs-name\": \"num\"},"
		 " \"supervisedTuningSpec\": {\"trainingDatasetUri\": \"gs://bkt/%s\"}}]}",
		 object);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_vertex(&s, "bkt", &b, &err), 0);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), 0);
	CHECK_STR(m.job, "projects/1/locations/us-central1/tuningJobs/9");
	CHECK_STR(m.id, "num");
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 3);
	for (size_t i = 0; i < s.n_seen; i++)
		creates += !strcmp(s.seen[i].method, "POST") && !strcmp(s.seen[i].path, JOBS);
	CHECK_INT(creates, 1);
	CHECK_STR(s.seen[2].method, "GET");
}

static const char page1[] =
    "{\"tuningJobs\": [{\"name\": \"projects/1/locations/l/tuningJobs/1\", \"state\":"
    " \"JOB_STATE_SUCCEEDED\", \"labels\": {\"tunedfs-name\": \"labelled\"},"
    " \"tunedModelDisplayName\": \"shown\", \"tunedModel\": {\"endpoint\":"
    " \"projects/1/locations/l/endpoints/5\", \"model\": \"projects/1/locations/l/models/6@1\"}},"
    " {\"name\": \"projects/1/locations/l/tuningJobs/2\", \"state\": \"JOB_STATE_FAILED\","
    " \"tunedModelDisplayName\": \"Shown Name\", \"error\": {\"code\": 3, \"message\":"
    " \"dataset has 1 example\"}}], \"nextPageToken\": \"t2\"}";
static const char page2[] =
    "{\"tuningJobs\": [{\"name\": \"projects/1/locations/l/tuningJobs/3\", \"state\":"
    " \"JOB_STATE_QUEUED\"}, {\"name\": \"projects/1/locations/l/tuningJobs/4\", \"state\":"
    " \"JOB_STATE_CANCELLED\", \"tunedModelDisplayName\": \"gone\"}], \"nextPageToken\":"
    " \"t3\"}";
static const char page3[] =
    "{\"tuningJobs\": [{\"name\": \"projects/1/locations/l/tuningJobs/7\", \"state\":"
    " \"JOB_STATE_RUNNING\", \"tunedModelDisplayName\": \"running\", \"tuningDataStats\":"
    " {\"supervisedTuningDataStats\": {\"tuningStepCount\": \"40\"}}, \"tuningJobMetadata\":"
    " {\"completedEpochCount\": \"2\"}}]}";

static void test_list_pages(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, page1, 0},
	    /* the finished job of tunedfs's: is its endpoint still there (not removed)? */
	    {SS_REPLY, 200, NULL, "{\"name\": \"projects/1/locations/l/endpoints/5\"}", 0},
	    {SS_REPLY, 200, NULL, page2, 0},
	    {SS_REPLY, 200, NULL, page3, 0},
	    /* listed again: the answer was kept, not asked for again */
	    {SS_REPLY, 200, NULL, page1, 0},
	    {SS_REPLY, 200, NULL, page2, 0},
	    {SS_REPLY, 200, NULL, page3, 0},
	};
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model *v;
	struct backend *b;
	size_t n;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_vertex(&s, NULL, &b, &err), 0);
	CHECK_INT(backend_list_all(b, &v, &n, NULL, &err), 0);
	CHECK_INT(n, 5);
	if (n == 5) {
		CHECK_STR(v[0].id, "labelled"); /* the label before the display name */
		CHECK_INT(v[0].state, BACKEND_ACTIVE);
		CHECK_STR(v[0].endpoint, "projects/1/locations/l/endpoints/5");
		CHECK_STR(v[1].id, "Shown Name");
		CHECK_INT(v[1].state, BACKEND_FAILED);
		CHECK_STR(v[1].failure, "dataset has 1 example");
		CHECK_STR(v[2].id, "3"); /* neither: the job's own id */
		CHECK_INT(v[2].state, BACKEND_CREATING);
		CHECK_INT(v[3].state, BACKEND_FAILED);
		CHECK_INT(v[4].total_steps, 40);
		CHECK_INT(v[4].completed_epochs, 2);
		CHECK_INT(v[4].completed_steps, 0); /* not said: not made up */
		CHECK(v[4].percent < 0);
		CHECK(v[4].raw_json && strstr(v[4].raw_json, "tuningJobs/7"));
	}
	tuned_models_free(v, n);
	CHECK_INT(backend_list_all(b, &v, &n, NULL, &err), 0);
	CHECK_INT(n, 5);
	tuned_models_free(v, n);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 7);
	CHECK_STR(s.seen[0].path, JOBS "?pageSize=100");
	CHECK_STR(s.seen[1].method, "GET");
	CHECK_STR(s.seen[1].path, "/v1/projects/1/locations/l/endpoints/5");
	CHECK_STR(s.seen[2].path, JOBS "?pageSize=100&pageToken=t2");
	CHECK_STR(s.seen[4].path, JOBS "?pageSize=100");
	CHECK_STR(s.seen[5].path, JOBS "?pageSize=100&pageToken=t2");
}

static void test_progress_generate_remove(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL,
	     "{\"name\": \"" JOB1 "\", \"state\": \"JOB_STATE_SUCCEEDED\", \"labels\":"
	     " {\"tunedfs-name\": \"num\"}, \"supervisedTuningSpec\": {\"trainingDatasetUri\":"
	     " \"gs://bkt/tunedfs/num/train-0123456789abcdef.jsonl\"}, \"tunedModel\": "
	     "{\"endpoint\":"
	     " \"projects/1/locations/us-central1/endpoints/8\", \"model\":"
	     " \"projects/1/locations/us-central1/models/9@1\"}}",
	     0},
	    {SS_REPLY, 200, NULL,
	     "{\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\":"
	     " \"2\"}]}, \"finishReason\": \"STOP\"}]}",
	     0},
	    {SS_REPLY, 200, NULL, "{\"totalTokens\": 7, \"totalBillableCharacters\": 7}", 0},
	    {SS_REPLY, 200, NULL, "{\"totalTokens\": \"many\"}", 0},
	    {SS_REPLY, 200, NULL, "{\"deployedModels\": [{\"id\": \"d1\"}]}", 0},
	    {SS_REPLY, 200, NULL, "{\"done\": true}", 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	    {SS_REPLY, 400, NULL,
	     "{\"error\": {\"code\": 400, \"message\": \"model is deployed\", \"status\":"
	     " \"FAILED_PRECONDITION\"}}",
	     0},
	    {SS_REPLY, 204, NULL, "", 0}, /* the training data tunedfs uploaded */
	    {SS_REPLY, 200, NULL, "{\"tuningJobs\": [{\"name\": \"" JOB1 "\"}]}", 0},
	};
	struct tuned_model m = {.id = strdup("num"), .job = strdup(JOB1), .percent = -1};
	struct generation_answer a;
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model *v;
	struct backend *b;
	size_t n;
	long tokens = 0;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_vertex(&s, "bkt", &b, &err), 0);
	CHECK_INT(backend_progress(b, &m, NULL, &err), 0);
	CHECK_INT(m.state, BACKEND_ACTIVE);
	CHECK_STR(m.id, "num");
	CHECK_STR(m.endpoint, "projects/1/locations/us-central1/endpoints/8");
	CHECK_INT(backend_generate(b, &m, "1", NULL, &a, NULL, &err), 0);
	CHECK_STR(a.text, "2");
	generation_answer_clear(&a);
	CHECK_INT(backend_count_tokens(b, &m, "one two", &tokens, NULL, &err), 0);
	CHECK_INT(tokens, 7);
	CHECK_INT(backend_count_tokens(b, &m, "x", &tokens, NULL, &err), -EIO);
	CHECK_INT(backend_remove(b, &m, NULL, &err), 0);
	CHECK(strstr(err.message, "model was not deleted (model is deployed)") != NULL);
	/* the service keeps listing the job: the mount does not show it again */
	CHECK_INT(backend_list_all(b, &v, &n, NULL, &err), 0);
	CHECK_INT(n, 0);
	tuned_models_free(v, n);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 10);
	CHECK_STR(s.seen[0].path, "/v1/" JOB1);
	CHECK_STR(s.seen[1].path,
		  "/v1/projects/1/locations/us-central1/endpoints/8:generateContent");
	CHECK(strstr(s.seen[1].body, "\"role\":\"user\"") != NULL);
	CHECK_STR(s.seen[2].path, "/v1/projects/1/locations/us-central1/endpoints/8:countTokens");
	CHECK(strstr(s.seen[2].body, "\"text\":\"one two\"") != NULL);
	CHECK_STR(s.seen[4].method, "GET");
	CHECK_STR(s.seen[5].path, "/v1/projects/1/locations/us-central1/endpoints/8:undeployModel");
	CHECK(strstr(s.seen[5].body, "\"deployedModelId\": \"d1\"") != NULL);
	CHECK_STR(s.seen[6].method, "DELETE");
	CHECK_STR(s.seen[6].path, "/v1/projects/1/locations/us-central1/endpoints/8");
	CHECK_STR(s.seen[7].path, "/v1/projects/1/locations/us-central1/models/9");
	/* no DELETE of the job: Vertex AI has none */
	CHECK_STR(s.seen[8].method, "DELETE");
	CHECK_STR(s.seen[8].path,
		  "/storage/v1/b/bkt/o/tunedfs%2Fnum%2Ftrain-0123456789abcdef.jsonl");
	CHECK_STR(s.seen[9].path, JOBS "?pageSize=100");
}

/* rm of a job the mount still thought running, which had succeeded: the cancel is refused,
 * the job read again, and what it made deleted. */
static void test_remove_of_a_job_just_succeeded(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 400, NULL,
	     "{\"error\": {\"code\": 400, \"message\": \"job is done\", \"status\":"
	     " \"FAILED_PRECONDITION\"}}",
	     0},
	    {SS_REPLY, 200, NULL,
	     "{\"name\": \"" JOB1 "\", \"state\": \"JOB_STATE_SUCCEEDED\", \"tunedModel\":"
	     " {\"endpoint\": \"projects/1/locations/us-central1/endpoints/8\", \"model\":"
	     " \"projects/1/locations/us-central1/models/9@1\"}}",
	     0},
	    {SS_REPLY, 200, NULL, "{\"deployedModels\": [{\"id\": \"d1\"}]}", 0},
	    {SS_REPLY, 200, NULL, "{\"done\": true}", 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	    {SS_REPLY, 200, NULL, "{}", 0},
	};
	struct tuned_model m = {
	    .id = strdup("num"), .job = strdup(JOB1), .state = BACKEND_CREATING, .percent = -1};
	struct backend_error err = {0};
	struct scripted_server s;
	struct backend *b;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_vertex(&s, "bkt", &b, &err), 0);
	CHECK_INT(backend_remove(b, &m, NULL, &err), 0);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 6);
	CHECK_STR(s.seen[0].path, "/v1/" JOB1 ":cancel");
	CHECK_STR(s.seen[1].path, "/v1/" JOB1);
	CHECK_STR(s.seen[3].path, "/v1/projects/1/locations/us-central1/endpoints/8:undeployModel");
	CHECK_STR(s.seen[4].method, "DELETE");
	CHECK_STR(s.seen[4].path, "/v1/projects/1/locations/us-central1/endpoints/8");
	CHECK_STR(s.seen[5].path, "/v1/projects/1/locations/us-central1/models/9");
}

int main(void)
{
	test_open_refusals();
	test_create_refusals();
	test_create();
	test_create_answer_lost();
	test_list_pages();
	test_progress_generate_remove();
	test_remove_of_a_job_just_succeeded();
	return check_exit("test_vertex");
}
