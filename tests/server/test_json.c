/* test_json.c - JSON mapping of tunedfs-server both ways (server/json_util.c,
 * model_json.c, model_request.c): tolerant parsing with trailing commas, snake/camel
 * input, camelCase output, int64 as strings, validation messages naming the field. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "server/json_util.h"
#include "server/gemini/gemini_json.h"

/* The tutorial's create body as it was published, trailing commas included. */
static const char tutorial_body[] = "{\n"
				    "        \"display_name\": \"number generator model\",\n"
				    "        \"base_model\": \"models/gemini-1.0-pro-001\",\n"
				    "        \"tuning_task\": {\n"
				    "          \"hyperparameters\": {\n"
				    "            \"batch_size\": 2,\n"
				    "            \"learning_rate\": 0.001,\n"
				    "            \"epoch_count\":5,\n"
				    "          },\n"
				    "          \"training_data\": {\n"
				    "            \"examples\": {\n"
				    "              \"examples\": [\n"
				    "                  {\n"
				    "                    \"text_input\": \"1\",\n"
				    "                    \"output\": \"2\",\n"
				    "                  },{\n"
				    "                    \"text_input\": \"3\",\n"
				    "                    \"output\": \"4\",\n"
				    "                  },{\n"
				    "                    \"text_input\": \"seven\",\n"
				    "                    \"output\": \"eight\",\n"
				    "                  }\n"
				    "              ]\n"
				    "            }\n"
				    "          }\n"
				    "        }\n"
				    "      }";

static cJSON *parse(const char *text)
{
	cJSON *root = NULL;
	char why[256];
	if (srv_json_parse(text, strlen(text), &root, why, sizeof(why)))
		return NULL;
	return root;
}

static void test_parse(void)
{
	char why[256];
	cJSON *root = NULL;
	root = parse(tutorial_body);
	CHECK(root != NULL);
	cJSON_Delete(root);
	root = parse("{\"a\": [1, 2, ], \"s\": \"x,}\", }");
	CHECK(root && cJSON_GetArraySize(cJSON_GetObjectItem(root, "a")) == 2);
	CHECK(root && !strcmp(cJSON_GetObjectItem(root, "s")->valuestring, "x,}"));
	cJSON_Delete(root);
	/* Commas inside strings stay, escaped quotes do not end the string. */
	root = parse("{\"s\": \"a\\\",]\"}");
	CHECK(root && !strcmp(cJSON_GetObjectItem(root, "s")->valuestring, "a\",]"));
	cJSON_Delete(root);
	const char *bad[] = {"", "{", "{\"a\":}", "[1,,]", "{} x", "nul", "{\"a\" 1}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		root = NULL;
		CHECK(srv_json_parse(bad[i], strlen(bad[i]), &root, why, sizeof(why)) == -EINVAL);
		CHECK(strstr(why, "Invalid JSON payload") != NULL);
	}
	char deep[300];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 99);
	deep[299] = '\0';
	CHECK(srv_json_parse(deep, strlen(deep), &root, why, sizeof(why)) == -EINVAL);
	CHECK(srv_json_parse("{\"a\":1}\0x", 9, &root, why, sizeof(why)) == -EINVAL);
	CHECK(srv_json_parse("{\"a\":\"\xff\"}", 8, &root, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "UTF-8") != NULL);
	root = parse("{\"a\":\"\xe4\xb8\x83 \xf0\x9f\x99\x82\"}");
	CHECK(root != NULL);
	cJSON_Delete(root);

	char *pretty = srv_json_pretty("{\"a\":[1,{\"b\":\"x,{:\"}],\"e\":{},\"f\":[]}");
	CHECK(!strcmp(pretty, "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,{:\"\n    }\n  ],\n"
			      "  \"e\": {},\n  \"f\": []\n}\n"));
	free(pretty);
}

static void test_accessors(void)
{
	cJSON *root = parse("{\"tuningTask\": 1, \"batch_size\": \"16\", \"n\": 3.5, "
			    "\"big\": \"9007199254740993\", \"lr\": \"1e-3\"}");
	int64_t v;
	double d;
	CHECK(srv_json_field(root, "tuningTask") != NULL);
	CHECK(srv_json_field(root, "batchSize") != NULL);
	CHECK(srv_json_int(srv_json_field(root, "batchSize"), &v) == 0 && v == 16);
	CHECK(srv_json_int(srv_json_field(root, "n"), &v) == -EINVAL);
	CHECK(srv_json_int(srv_json_field(root, "big"), &v) == 0 && v == 9007199254740993LL);
	CHECK(srv_json_double(srv_json_field(root, "lr"), &d) == 0 && fabs(d - 0.001) < 1e-12);
	CHECK(srv_json_field(root, "missing") == NULL);
	CHECK(srv_json_field(NULL, "x") == NULL);
	cJSON_Delete(root);
	char snake[64];
	srv_json_snake("learningRateMultiplier", snake, sizeof(snake));
	CHECK(!strcmp(snake, "learning_rate_multiplier"));

	char t[48];
	int64_t ns = 1710429083766989274LL, back = 0;
	srv_json_time(ns, t, sizeof(t));
	CHECK(!strcmp(t, "2024-03-14T15:11:23.766989274Z"));
	CHECK(srv_json_parse_time(t, &back) == 0 && back == ns);
	CHECK(srv_json_parse_time("2024-03-14T15:11:23Z", &back) == 0 &&
	      back == 1710429083000000000LL);
	CHECK(srv_json_parse_time("2024-03-14 15:11", &back) == -EINVAL);
	/* Outside what int64 nanoseconds hold: refused, not overflowed. */
	CHECK(srv_json_parse_time("0026-11-23T23:28:25.836885888Z", &back) == -EINVAL);
	CHECK(srv_json_parse_time("2263-01-01T00:00:00Z", &back) == -EINVAL);
	CHECK(srv_json_parse_time("1970-01-01T00:00:00Z", &back) == 0 && back == 0);
}

static int create(const char *body, struct srv_model *m, char *why, size_t len)
{
	cJSON *root = parse(body);
	struct srv_example *ex = NULL;
	size_t n = 0;
	if (!root)
		return -EBADMSG;
	int rc = srv_json_create_request(root, m, &ex, &n, why, len);
	srv_examples_free(ex, n);
	cJSON_Delete(root);
	return rc;
}

static void test_create(void)
{
	char why[512];
	struct srv_model *m = srv_model_new();
	cJSON *root = parse(tutorial_body);
	struct srv_example *ex = NULL;
	size_t n = 0;
	CHECK(srv_json_create_request(root, m, &ex, &n, why, sizeof(why)) == 0);
	CHECK(n == 3 && !strcmp(ex[2].input, "seven") && ex[2].output_len == 5);
	CHECK(!strcmp(m->display_name, "number generator model"));
	CHECK(!strcmp(m->base_model, "models/gemini-1.0-pro-001"));
	CHECK(m->batch_size == 2 && m->epoch_count == 5 && fabs(m->learning_rate - 0.001) < 1e-12);
	CHECK(m->total_steps == 8); /* ceil(3 * 5 / 2) */
	srv_examples_free(ex, n);
	cJSON_Delete(root);
	free(m->display_name);
	free(m->base_model);
	free(m);

	/* camelCase, defaults, and the multiplier. */
	m = srv_model_new();
	CHECK(create("{\"baseModel\":\"models/x\",\"tuningTask\":{\"hyperparameters\":{"
		     "\"learningRateMultiplier\":2},\"trainingData\":{\"examples\":{\"examples\":"
		     "[{\"textInput\":\"a\",\"output\":\"b\"}]}}}}",
		     m, why, sizeof(why)) == 0);
	CHECK(m->epoch_count == 5 && m->batch_size == 4);
	CHECK(fabs(m->learning_rate - 0.002) < 1e-12 && fabs(m->lr_multiplier - 2) < 1e-12);
	CHECK(m->total_steps == 2);
	free(m->base_model);
	free(m);

	struct {
		const char *body, *field;
	} bad[] = {
	    {"{\"baseModel\":\"models/x\",\"tuningTask\":{}}", "training_data"},
	    {"{\"baseModel\":\"models/x\"}", "tuning_task"},
	    {"{\"tuningTask\":{\"trainingData\":{\"examples\":{\"examples\":[{\"output\":\"b\","
	     "\"textInput\":\"a\"}]}}}}",
	     "base_model"},
	    {"{\"baseModel\":\"m\",\"tuningTask\":{\"trainingData\":{\"examples\":{\"examples\":"
	     "[]}}}}",
	     "examples"},
	    {"{\"baseModel\":\"m\",\"tuningTask\":{\"trainingData\":{\"examples\":{\"examples\":"
	     "[{\"textInput\":\"a\"}]}}}}",
	     "examples[0].output"},
	    {"{\"baseModel\":\"m\",\"tuningTask\":{\"hyperparameters\":{\"batchSize\":0},"
	     "\"trainingData\":{\"examples\":{\"examples\":[{\"textInput\":\"a\",\"output\":"
	     "\"b\"}]}}}}",
	     "batch_size"},
	    {"{\"baseModel\":\"m\",\"tuningTask\":{\"hyperparameters\":{\"epochCount\":10001},"
	     "\"trainingData\":{\"examples\":{\"examples\":[{\"textInput\":\"a\",\"output\":"
	     "\"b\"}]}}}}",
	     "epoch_count"},
	    {"{\"baseModel\":\"m\",\"tuningTask\":{\"hyperparameters\":{\"learningRate\":-1},"
	     "\"trainingData\":{\"examples\":{\"examples\":[{\"textInput\":\"a\",\"output\":"
	     "\"b\"}]}}}}",
	     "learning_rate"},
	    {"{\"baseModel\":\"m\",\"displayName\":\"12345678901234567890123456789012345678901"
	     "\",\"tuningTask\":{}}",
	     "displayName"},
	    {"[1]", "TunedModel"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		m = srv_model_new();
		why[0] = '\0';
		CHECK(create(bad[i].body, m, why, sizeof(why)) == -EINVAL);
		if (!strstr(why, bad[i].field))
			fprintf(stderr, "case %zu: '%s' does not name %s\n", i, why, bad[i].field);
		CHECK(strstr(why, bad[i].field) != NULL);
		free(m->display_name);
		free(m->base_model);
		free(m);
	}
}

static struct srv_model *sample_model(void)
{
	struct srv_model *m = srv_model_new();
	strcpy(m->id, "number-generator");
	strcpy(m->op_id, "op123");
	m->seq = 9007199254740993ULL;
	m->display_name = strdup("number generator");
	m->base_model = strdup("models/gemini-1.5-flash-001-tuning");
	m->has_temperature = 1;
	m->temperature = 0.5;
	m->has_top_k = 1;
	m->top_k = 0;
	m->state = SRV_STATE_FAILED;
	m->err_code = 10;
	m->err_msg = strdup("training interrupted by a server restart");
	m->create_ns = 1710429083766989274LL;
	m->update_ns = m->create_ns + 5;
	m->epoch_count = 5;
	m->batch_size = 4;
	m->learning_rate = 0.001;
	m->n_examples = 15;
	m->total_steps = 19;
	m->completed_steps = 2;
	struct srv_snapshot s1 = {1, 1, 2.5, m->create_ns}, s2 = {2, 1, 1.25, m->create_ns + 1};
	srv_model_add_snapshot(m, &s1);
	srv_model_add_snapshot(m, &s2);
	return m;
}

static void free_model(struct srv_model *m)
{
	free(m->display_name);
	free(m->description);
	free(m->base_model);
	free(m->source_model);
	free(m->err_msg);
	free(m->snaps);
	free(m);
}

static void test_output_and_reload(void)
{
	struct srv_model *m = sample_model();
	cJSON *wire = srv_json_model(m);
	char *text = srv_json_print(wire);
	CHECK(strstr(text, "\"name\":\"tunedModels/number-generator\""));
	CHECK(strstr(text, "\"displayName\":\"number generator\""));
	CHECK(strstr(text, "\"baseModel\":"));
	CHECK(strstr(text, "\"state\":\"FAILED\""));
	CHECK(strstr(text, "\"topK\":0")); /* optional scalar: emitted even when 0 */
	CHECK(strstr(text, "\"meanLoss\":1.25"));
	CHECK(strstr(text, "\"createTime\":\"2024-03-14T15:11:23.766989274Z\""));
	CHECK(!strstr(text, "_"));	       /* camelCase only */
	CHECK(!strstr(text, "tunedfsServer")); /* bookkeeping stays on disk */
	CHECK(!strstr(text, "topP"));	       /* unset: omitted */
	free(text);
	cJSON_Delete(wire);

	cJSON *op = srv_json_operation(m);
	text = srv_json_print(op);
	CHECK(strstr(text, "\"name\":\"tunedModels/number-generator/operations/op123\""));
	CHECK(strstr(text, "CreateTunedModelMetadata"));
	CHECK(strstr(text, "\"totalSteps\":19") && strstr(text, "\"completedSteps\":2"));
	CHECK(strstr(text, "\"done\":true") && strstr(text, "\"code\":10"));
	CHECK(!strstr(text, "\"response\""));
	free(text);

	/* The stored form is the server's own job.json, not the wire JSON. */
	cJSON *stored = srv_job_json(m);
	const cJSON *seq = cJSON_GetObjectItem(stored, "seq");
	CHECK(cJSON_IsString(seq) && !strcmp(seq->valuestring, "9007199254740993"));
	/* Round trip through text, as the store does. */
	char *stext = srv_json_print(stored);
	char *otext = NULL;
	CHECK(!strstr(stext, "tunedModels/")); /* no wire name in the record */
	cJSON *s2 = parse(stext), *o2 = NULL;
	struct srv_model *back = srv_model_new();
	CHECK(srv_job_json_load(s2, back) == 0);
	CHECK(!strcmp(back->id, m->id) && !strcmp(back->op_id, m->op_id));
	CHECK(back->seq == m->seq && back->state == SRV_STATE_FAILED);
	CHECK(back->err_code == 10 && !strcmp(back->err_msg, m->err_msg));
	CHECK(back->create_ns == m->create_ns && back->update_ns == m->update_ns);
	CHECK(back->n_snaps == 2 && back->snaps[1].step == 2 && back->snaps[1].mean_loss == 1.25);
	CHECK(back->has_temperature && back->temperature == 0.5 && back->has_top_k &&
	      !back->has_top_p);
	CHECK(back->batch_size == 4 && back->epoch_count == 5 && back->total_steps == 19);
	CHECK(!strcmp(back->base_model, m->base_model));
	free(stext);
	free(otext);
	cJSON_Delete(s2);
	cJSON_Delete(o2);
	cJSON_Delete(stored);
	cJSON_Delete(op);
	free_model(back);

	/* A seq that would not survive a write and a reload is refused. */
	cJSON *neg = parse("{\"id\":\"a\",\"family\":\"gemini\",\"operation\":\"x\","
			   "\"state\":\"ACTIVE\",\"seq\":\"-1\"}");
	back = srv_model_new();
	CHECK(srv_job_json_load(neg, back) == -EINVAL);
	cJSON_Delete(neg);
	free_model(back);

	/* A file without the bookkeeping (a wire TunedModel) is refused, not half loaded. */
	cJSON *foreign = parse("{\"name\":\"tunedModels/x\"}");
	back = srv_model_new();
	CHECK(srv_job_json_load(foreign, back) == -EINVAL);
	cJSON_Delete(foreign);
	free_model(back);
	free_model(m);
}

static void test_patch(void)
{
	char why[512];
	struct srv_model *m = sample_model();
	cJSON *body = parse("{\"display_name\":\"renamed\",\"description\":\"d\",\"topP\":0.25}");
	CHECK(srv_json_patch(body, "displayName,top_p", m, why, sizeof(why)) == 0);
	CHECK(!strcmp(m->display_name, "renamed") && !m->description);
	CHECK(m->has_top_p && m->top_p == 0.25);
	CHECK(srv_json_patch(body, "baseModel", m, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "baseModel") && strstr(why, "update_mask"));
	CHECK(srv_json_patch(body, NULL, m, why, sizeof(why)) == 0);
	CHECK(!strcmp(m->description, "d"));
	cJSON_Delete(body);
	body = parse("{\"temperature\": 7}");
	CHECK(srv_json_patch(body, "temperature", m, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "temperature") && m->temperature == 0.5);
	cJSON_Delete(body);
	free_model(m);
}

int main(void)
{
	test_parse();
	test_accessors();
	test_create();
	test_output_and_reload();
	test_patch();
	return check_exit(__FILE__);
}
