/* test_openai.c - the OpenAI backend on the wire against scripted_server.c: the key and
 * headers, the error envelope's errnos and a 429's reset, the create (and a lost answer
 * making no second job), listing pages, progress, generation, rm of a running job. */
#include "api/backend.h"
#include "api/openai_internal.h"
#include "base/clock.h"
#include "../check.h"
#include "scripted_server.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char endpoint[64];

static int open_openai(struct scripted_server *s, const char *org, struct backend **b,
		       struct backend_error *err)
{
	struct backend_options o = {
	    .name = "openai", .endpoint = endpoint, .organization = org, .timeout_ms = 20000};

	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", s ? s->port : 1);
	return backend_open(&o, b, err);
}

static struct tuning_request tutorial_request(void)
{
	static struct tuning_example ex[2] = {{"1", "2", NULL, 1}, {"3", "4", NULL, 2}};
	struct tuning_request r = {0};

	r.id = "num";
	r.base_model = "models/gpt-4.1-mini";
	r.system_instruction = "Count.";
	r.settings.epochs = 50;
	r.settings.batch_size = 2;
	r.settings.learning_rate_multiplier = 0.5;
	r.examples = ex;
	r.n_examples = 2;
	return r;
}

/* What openai.c puts in the tunedfs-data metadata for r. */
static void tutorial_digest(char out[17])
{
	struct tuning_request r = tutorial_request();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char why[200], *lines, *body, *both;
	size_t len;

	CHECK_INT(openai_training_lines(&r, &lines, &len, why, sizeof(why)), 0);
	body = openai_create_body(&r, "", "");
	both = malloc(len + strlen(body) + 1);
	memcpy(both, lines, len);
	strcpy(both + len, body);
	EVP_Digest(both, strlen(both), md, &md_len, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	free(both);
	free(body);
	free(lines);
}

static void test_open(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, "{\"object\": \"list\", \"data\": [], \"has_more\": false}", 0},
	};
	struct backend_options o = {.name = "openai", .endpoint = "http://127.0.0.1:1"};
	struct backend_error err = {0};
	struct scripted_server s;
	struct model_page p;
	struct backend *b = NULL;

	unsetenv("OPENAI_API_KEY");
	CHECK_INT(backend_open(&o, &b, &err), -EACCES);
	CHECK(strstr(err.message, "OPENAI_API_KEY") && strstr(err.message, "api_key_file"));
	o.bucket = "b";
	CHECK_INT(backend_open(&o, &b, &err), -EINVAL);
	CHECK(strstr(err.message, "-o bucket") != NULL);
	setenv("OPENAI_API_KEY", "sk-test-123", 1);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, "org-1", &b, &err), 0);
	CHECK_STR(backend_name(b), "openai");
	CHECK_STR(backend_credentials_kind(b), "api-key");
	CHECK_INT(backend_list(b, NULL, &p, NULL, &err), 0);
	CHECK_INT(p.n, 0);
	CHECK(p.next == NULL);
	model_page_clear(&p);
	backend_close(b);
	ss_stop(&s);
	CHECK_STR(s.seen[0].path, "/v1/fine_tuning/jobs?limit=100");
	CHECK(strstr(s.seen[0].headers, "Authorization: Bearer sk-test-123") != NULL);
	CHECK(strstr(s.seen[0].headers, "OpenAI-Organization: org-1") != NULL);
	CHECK(strstr(s.seen[0].headers, "OpenAI-Project") == NULL);
}

static const char job_queued[] =
    "{\"object\": \"fine_tuning.job\", \"id\": \"ftjob-1\", \"status\": \"queued\", \"model\":"
    " \"gpt-4.1-mini\", \"created_at\": 1700000000, \"fine_tuned_model\": null,"
    " \"training_file\": \"file-1\", \"metadata\": {\"tunedfs-name\": \"num\"},"
    " \"method\": {\"type\": \"supervised\", \"supervised\": {\"hyperparameters\":"
    " {\"n_epochs\": 50, \"batch_size\": 2, \"learning_rate_multiplier\": 0.5}}}}";
static const char no_events[] = "{\"object\": \"list\", \"data\": [], \"has_more\": false}";

static void test_errors(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 401, NULL, "{\"error\": {\"message\": \"no\", \"code\": null}}", 0},
	    {SS_REPLY, 401, NULL,
	     "{\"error\": {\"message\": \"Incorrect API key provided.\", \"type\": "
	     "\"invalid_request_error\", \"param\": null, \"code\": \"invalid_api_key\"}}",
	     0},
	    {SS_REPLY, 404, NULL,
	     "{\"error\": {\"message\": \"No such job\", \"type\": \"invalid_request_error\"}}", 0},
	    {SS_REPLY, 429,
	     "x-ratelimit-reset-requests: 700ms\r\nx-ratelimit-reset-tokens: 1.2s\r\n",
	     "{\"error\": {\"message\": \"Rate limit reached\", \"code\": "
	     "\"rate_limit_exceeded\"}}",
	     0},
	    {SS_REPLY, 200, NULL, job_queued, 0},
	    {SS_REPLY, 200, NULL, no_events, 0},
	};
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m = {0};
	struct backend *b;
	long t0, ms;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, NULL, &b, &err), 0);
	m.id = strdup("num");
	m.job = strdup("ftjob-1");
	CHECK_INT(backend_progress(b, &m, NULL, &err), -EACCES);
	CHECK_INT(err.http_status, 401);
	CHECK_STR(err.code, "invalid_api_key");
	CHECK_STR(err.message, "Incorrect API key provided.");
	CHECK_INT(backend_progress(b, &m, NULL, &err), -ENOENT);
	CHECK_STR(err.code, "invalid_request_error");
	CHECK_STR(err.message, "No such job");
	t0 = (long)clock_now_ms();
	CHECK_INT(backend_progress(b, &m, NULL, &err), 0);
	ms = (long)clock_now_ms() - t0;
	CHECK(ms >= 1150); /* the longer of the two resets */
	CHECK_STR(m.id, "num");
	CHECK_INT(m.state, BACKEND_CREATING);
	CHECK_INT(m.settings.epochs, 50);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, N(script));
	CHECK_STR(s.seen[4].path, "/v1/fine_tuning/jobs/ftjob-1");
	CHECK_STR(s.seen[5].path, "/v1/fine_tuning/jobs/ftjob-1/events?limit=100");
}

/* 5xx answers are retried within the call's time budget, then the call is EIO with the
 * last answer's words. */
static void test_server_errors(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 503, NULL, "{\"error\": {\"message\": \"overloaded\"}}", 0},
	    {SS_REPLY, 500, NULL, "<html>oops</html>", 0},
	    {SS_REPLY, 502, NULL, "", 0},
	};
	struct backend_options o = {.name = "openai", .endpoint = endpoint, .timeout_ms = 2500};
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m = {0};
	struct backend *b;
	long t0, ms;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", s.port);
	CHECK_INT(backend_open(&o, &b, &err), 0);
	m.id = strdup("num");
	m.job = strdup("ftjob-1");
	t0 = (long)clock_now_ms();
	CHECK_INT(backend_progress(b, &m, NULL, &err), -EIO);
	ms = (long)clock_now_ms() - t0;
	CHECK(ms >= 1000 && ms < 10000);
	CHECK_INT(err.http_status, 500);
	CHECK_STR(err.message, "script ended"); /* the scripted server's answer past the script */
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK(s.n_seen > N(script));
}

static const char empty_page[] = "{\"object\": \"list\", \"data\": [], \"has_more\": false}";

static void test_create(void)
{
	char job[1024];
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, empty_page, 0},
	    /* the create goes on a fresh connection: this one must end */
	    {SS_REPLY, 200, "Connection: close\r\n", "{\"id\": \"file-7\", \"object\": \"file\"}",
	     0},
	    {SS_REPLY, 200, NULL, job, 0},
	};
	struct tuning_request r = tutorial_request();
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m;
	struct backend *b;
	char digest[17], want[200];

	tutorial_digest(digest);
	snprintf(
	    job, sizeof(job),
	    "{\"id\": \"ftjob-7\", \"status\": \"validating_files\", \"model\": \"gpt-4.1-mini\","
	    " \"training_file\": \"file-7\", \"user_provided_suffix\": \"num\", \"metadata\":"
	    " {\"tunedfs-name\": \"num\", \"tunedfs-data\": \"%s\"}}",
	    digest);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, NULL, &b, &err), 0);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), 0);
	CHECK_STR(m.id, "num");
	CHECK_STR(m.job, "ftjob-7");
	CHECK_INT(m.state, BACKEND_CREATING);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 3);
	CHECK_STR(s.seen[0].path, "/v1/fine_tuning/jobs?limit=100&metadata%5Btunedfs-name%5D=num");
	CHECK_STR(s.seen[1].path, "/v1/files");
	CHECK(strstr(s.seen[1].headers, "Content-Type: multipart/form-data; boundary=") != NULL);
	CHECK(strstr(s.seen[1].body, "name=\"purpose\"\r\n\r\nfine-tune\r\n") != NULL);
	CHECK(
	    strstr(s.seen[1].body,
		   "{\"messages\":[{\"role\":\"system\",\"content\":\"Count.\"},{\"role\":"
		   "\"user\",\"content\":\"1\"},{\"role\":\"assistant\",\"content\":\"2\"}]}\n") !=
	    NULL);
	CHECK_STR(s.seen[2].path, "/v1/fine_tuning/jobs");
	CHECK(strstr(s.seen[2].body, "\"model\":\"gpt-4.1-mini\"") != NULL);
	CHECK(strstr(s.seen[2].body, "\"training_file\":\"file-7\"") != NULL);
	CHECK(strstr(s.seen[2].body, "\"suffix\":\"num\"") != NULL);
	snprintf(want, sizeof(want),
		 "\"metadata\":{\"tunedfs-name\":\"num\",\"tunedfs-data\":\"%s\"}", digest);
	CHECK(strstr(s.seen[2].body, want) != NULL);
	CHECK(strstr(s.seen[2].body,
		     "\"method\":{\"type\":\"supervised\",\"supervised\":{\"hyperparameters\":{"
		     "\"n_epochs\":50,\"batch_size\":2,\"learning_rate_multiplier\":0.5}}}") !=
	      NULL);
}

/* The create's answer is lost (the connection drops): the job it made is found by its
 * metadata, and no second create is sent; a later create of the same request finds it
 * before uploading anything. */
static void test_create_answer_lost(void)
{
	char page[1024];
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, empty_page, 0},
	    {SS_REPLY, 200, "Connection: close\r\n", "{\"id\": \"file-7\"}", 0},
	    {SS_DROP, 0, NULL, NULL, 0},
	    {SS_REPLY, 200, NULL, page, 0},
	    {SS_REPLY, 200, NULL, page, 0},
	};
	struct tuning_request r = tutorial_request();
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m;
	struct backend *b;
	char digest[17];
	int creates = 0;

	tutorial_digest(digest);
	snprintf(page, sizeof(page),
		 "{\"data\": [{\"id\": \"ftjob-9\", \"status\": \"queued\", \"metadata\":"
		 " {\"tunedfs-name\": \"num\", \"tunedfs-data\": \"%s\"}}, {\"id\": \"ftjob-8\","
		 " \"status\": \"failed\", \"metadata\": {\"tunedfs-name\": \"num\","
		 " \"tunedfs-data\": \"0\"}}], \"has_more\": false}",
		 digest);
	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, NULL, &b, &err), 0);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), 0);
	CHECK_STR(m.job, "ftjob-9");
	tuned_model_clear(&m);
	CHECK_INT(backend_create(b, &r, &m, NULL, &err), 0);
	CHECK_STR(m.job, "ftjob-9");
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 5);
	for (size_t i = 0; i < s.n_seen; i++)
		creates += !strcmp(s.seen[i].method, "POST") &&
			   !strcmp(s.seen[i].path, "/v1/fine_tuning/jobs");
	CHECK_INT(creates, 1);
	CHECK_STR(s.seen[4].method, "GET");
}

static const char page1[] =
    "{\"object\": \"list\", \"data\": [{\"id\": \"ftjob-a\", \"status\": \"succeeded\","
    " \"fine_tuned_model\": \"ft:gpt-4.1-mini:org:shown:a\", \"user_provided_suffix\":"
    " \"shown\", \"metadata\": {\"tunedfs-name\": \"labelled\"}}, {\"id\": \"ftjob-b\","
    " \"status\": \"failed\", \"user_provided_suffix\": \"broken\", \"error\": {\"code\":"
    " \"invalid_training_file\", \"message\": \"line 2: not chat\"}}], \"has_more\": true}";
static const char page2[] =
    "{\"object\": \"list\", \"data\": [{\"id\": \"ftjob-c\", \"status\": \"running\"},"
    " {\"id\": \"ftjob-d\", \"status\": \"cancelled\", \"fine_tuned_model\": null,"
    " \"user_provided_suffix\": \"gone\", \"error\": {}}, {\"id\": \"ftjob-e\", \"status\":"
    " \"validating_files\", \"user_provided_suffix\": \"has:colon\"}], \"has_more\": false}";

static void test_list_pages(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, page1, 0},
	    {SS_REPLY, 200, NULL, "{\"id\": \"ft:gpt-4.1-mini:org:shown:a\"}", 0},
	    {SS_REPLY, 200, NULL, page2, 0},
	};
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model *v = NULL;
	struct backend *b;
	size_t n = 0;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, NULL, &b, &err), 0);
	CHECK_INT(backend_list_all(b, &v, &n, NULL, &err), 0);
	CHECK_INT(n, 5);
	if (n == 5) {
		CHECK_STR(v[0].id, "labelled");
		CHECK_INT(v[0].state, BACKEND_ACTIVE);
		CHECK_STR(v[0].endpoint, "ft:gpt-4.1-mini:org:shown:a");
		CHECK_STR(v[1].id, "broken");
		CHECK_INT(v[1].state, BACKEND_FAILED);
		CHECK_STR(v[1].failure, "line 2: not chat");
		CHECK_STR(v[2].id, "ftjob-c");
		CHECK_INT(v[2].state, BACKEND_CREATING);
		CHECK_STR(v[3].id, "gone");
		CHECK_INT(v[3].state, BACKEND_FAILED);
		CHECK_STR(v[3].failure, "the fine-tuning job was cancelled");
		CHECK_STR(v[4].id, "ftjob-e");
		CHECK(strstr(v[4].raw_json, "\"has:colon\"") != NULL);
	}
	tuned_models_free(v, n);
	backend_close(b);
	ss_stop(&s);
	/* a finished job of ours is checked once for rm's mark: its model still exists */
	CHECK_STR(s.seen[1].path, "/v1/models/ft:gpt-4.1-mini:org:shown:a");
	CHECK_STR(s.seen[2].path, "/v1/fine_tuning/jobs?limit=100&after=ftjob-b");
}

static const char job_done[] =
    "{\"id\": \"ftjob-1\", \"status\": \"succeeded\", \"fine_tuned_model\":"
    " \"ft:gpt-4.1-mini:org:num:1\", \"training_file\": \"file-1\", \"metadata\":"
    " {\"tunedfs-name\": \"num\"}, \"hyperparameters\": {\"n_epochs\": 2, \"batch_size\":"
    " \"auto\", \"learning_rate_multiplier\": \"auto\"}}";
static const char events[] =
    "{\"data\": [{\"id\": \"ev-9\", \"type\": \"message\", \"message\": \"done\"},"
    " {\"id\": \"ev-3\", \"type\": \"metrics\", \"created_at\": 1700000003, \"data\":"
    " {\"step\": 3, \"train_loss\": 0.5, \"total_steps\": 4}}], \"has_more\": true}";
static const char events2[] =
    "{\"data\": [{\"id\": \"ev-1\", \"type\": \"metrics\", \"data\": {\"step\": 1,"
    " \"train_loss\": 2.5, \"total_steps\": 4}}], \"has_more\": false}";
static const char checkpoints[] =
    "{\"data\": [{\"id\": \"ck-4\", \"step_number\": 4, \"metrics\": {\"step\": 4,"
    " \"train_loss\": 0.25}}], \"has_more\": false}";
static const char completion[] =
    "{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\", \"choices\": [{\"index\": 0,"
    " \"message\": {\"role\": \"assistant\", \"content\": \"2\", \"refusal\": null},"
    " \"finish_reason\": \"stop\"}], \"usage\": {\"prompt_tokens\": 5, \"completion_tokens\":"
    " 1}}";

static void test_progress_generate_remove(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, job_done, 0},
	    {SS_REPLY, 200, NULL, events, 0},
	    {SS_REPLY, 200, NULL, events2, 0},
	    {SS_REPLY, 200, NULL, checkpoints, 0},
	    {SS_REPLY, 200, NULL, completion, 0},
	    {SS_REPLY, 200, NULL, job_queued, 0},
	    {SS_REPLY, 200, NULL, job_queued, 0},
	    {SS_REPLY, 200, NULL, job_queued, 0},
	    {SS_REPLY, 200, NULL, "{\"deleted\": true}", 0},
	};
	struct generation_settings gs = {.has_temperature = 1, .temperature = 0.5};
	struct backend_error err = {0};
	struct generation_answer ans;
	struct scripted_server s;
	struct tuned_model m = {0};
	struct backend *b;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, NULL, &b, &err), 0);
	m.id = strdup("num");
	m.job = strdup("ftjob-1");
	CHECK_INT(backend_progress(b, &m, NULL, &err), 0);
	CHECK_INT(m.state, BACKEND_ACTIVE);
	CHECK_INT(m.total_steps, 4);
	CHECK_INT(m.completed_steps, 4);
	CHECK_INT(m.completed_epochs, 2);
	CHECK_INT(m.n_snapshots, 3);
	if (m.n_snapshots == 3) {
		CHECK_INT(m.snapshots[0].step, 1);
		CHECK_INT(m.snapshots[0].epoch, 1);
		CHECK_INT(m.snapshots[1].step, 3);
		CHECK_INT(m.snapshots[1].epoch, 2);
		CHECK(m.snapshots[2].mean_loss == 0.25);
	}
	gs.has_top_k = 1;
	CHECK_INT(backend_generate(b, &m, "1", &gs, &ans, NULL, &err), -EINVAL);
	CHECK(strstr(err.message, "top_k") != NULL);
	gs.has_top_k = 0;
	CHECK_INT(backend_generate(b, &m, "1", &gs, &ans, NULL, &err), 0);
	CHECK_STR(ans.text, "2");
	CHECK_STR(ans.finish_reason, "stop");
	CHECK_INT(ans.in_tokens, 5);
	CHECK_INT(ans.out_tokens, 1);
	generation_answer_clear(&ans);
	free(m.job);
	m.job = strdup("ftjob-1");
	m.state = BACKEND_CREATING;
	CHECK_INT(backend_remove(b, &m, NULL, &err), 0);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, N(script));
	CHECK_STR(s.seen[2].path, "/v1/fine_tuning/jobs/ftjob-1/events?limit=100&after=ev-3");
	CHECK_STR(s.seen[3].path, "/v1/fine_tuning/jobs/ftjob-1/checkpoints?limit=100");
	CHECK_STR(s.seen[4].path, "/v1/chat/completions");
	CHECK(strstr(s.seen[4].body, "\"model\":\"ft:gpt-4.1-mini:org:num:1\"") != NULL);
	CHECK(strstr(s.seen[4].body, "\"messages\":[{\"role\":\"user\",\"content\":\"1\"}]") !=
	      NULL);
	CHECK(strstr(s.seen[4].body, "\"temperature\":0.5") != NULL);
	CHECK_STR(s.seen[6].method, "POST");
	CHECK_STR(s.seen[6].path, "/v1/fine_tuning/jobs/ftjob-1/cancel");
	CHECK_STR(s.seen[8].method, "DELETE");
	CHECK_STR(s.seen[8].path, "/v1/files/file-1");
}

/* A second poll of a job in training reads only the events newer than the first one's. */
static void test_progress_reads_new_events_only(void)
{
	const struct ss_reply script[] = {
	    {SS_REPLY, 200, NULL, job_queued, 0},
	    {SS_REPLY, 200, NULL,
	     "{\"data\": [{\"id\": \"ev-2\", \"type\": \"metrics\", \"data\": {\"step\": 2,"
	     " \"train_loss\": 1.5, \"total_steps\": 200}}, {\"id\": \"ev-1\", \"type\":"
	     " \"metrics\", \"data\": {\"step\": 1, \"train_loss\": 2.5}}], \"has_more\": false}",
	     0},
	    {SS_REPLY, 200, NULL, job_queued, 0},
	    {SS_REPLY, 200, NULL,
	     "{\"data\": [{\"id\": \"ev-3\", \"type\": \"metrics\", \"data\": {\"step\": 3,"
	     " \"train_loss\": 0.5, \"total_steps\": 200}}, {\"id\": \"ev-2\", \"type\":"
	     " \"metrics\", \"data\": {\"step\": 2}}], \"has_more\": true}",
	     0},
	};
	struct backend_error err = {0};
	struct scripted_server s;
	struct tuned_model m = {0};
	struct backend *b;

	CHECK_INT(ss_start(&s, script, N(script)), 0);
	CHECK_INT(open_openai(&s, NULL, &b, &err), 0);
	m.id = strdup("num");
	m.job = strdup("ftjob-1");
	CHECK_INT(backend_progress(b, &m, NULL, &err), 0);
	CHECK_INT(m.n_snapshots, 2);
	CHECK_INT(backend_progress(b, &m, NULL, &err), 0);
	CHECK_INT(m.n_snapshots, 3);
	CHECK_INT(m.completed_steps, 3);
	CHECK_INT(m.total_steps, 200);
	CHECK_INT(m.completed_epochs, 0);
	CHECK(m.percent > 1.49 && m.percent < 1.51);
	if (m.n_snapshots == 3)
		CHECK(m.snapshots[0].mean_loss == 2.5 && m.snapshots[1].mean_loss == 1.5);
	tuned_model_clear(&m);
	backend_close(b);
	ss_stop(&s);
	CHECK_INT(s.n_seen, 4); /* no page past the events read before */
}

static void test_durations(void)
{
	long ms = 0;

	CHECK_INT(openai_duration_ms("6m0s", &ms), 0);
	CHECK_INT(ms, 360000);
	CHECK_INT(openai_duration_ms("20ms", &ms), 0);
	CHECK_INT(ms, 20);
	CHECK_INT(openai_duration_ms("1h2m3.5s", &ms), 0);
	CHECK_INT(ms, 3723500);
	CHECK_INT(openai_duration_ms("soon", &ms), -EINVAL);
	CHECK_INT(openai_duration_ms("", &ms), -EINVAL);
}

int main(void)
{
	test_durations();
	test_open();
	test_errors();
	test_server_errors();
	test_create();
	test_create_answer_lost();
	test_list_pages();
	test_progress_generate_remove();
	test_progress_reads_new_events_only();
	return check_exit("test_openai");
}
