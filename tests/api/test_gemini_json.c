/* test_gemini_json.c - the JSON mapping of api/ both ways: request bodies against the
 * reference's shapes, parsing of the tutorial's answers, malformed and hostile input,
 * and the tunedModelId rule. No network here; test_http.c covers the wire. */
#include "api/gemini.h"
#include "api/gemini_internal.h"
#include "../check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int json_equal(const char *got, const char *want)
{
	cJSON *a = cJSON_Parse(got), *b = cJSON_Parse(want);
	int eq = a && b && cJSON_Compare(a, b, 1);
	if (!eq)
		fprintf(stderr, "got:  %s\nwant: %s\n", got ? got : "(null)", want);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return eq;
}

static void test_create_body_reference_example(void)
{
	struct tuning_example ex[] = {{"1", "2", NULL, 1}, {"three", "four", NULL, 2}};
	struct tuning_request req = {
	    .id = "number-generator",
	    .display_name = "number generator",
	    .base_model = "models/gemini-1.5-flash-001-tuning",
	    .settings = {.epochs = 5, .batch_size = 4, .learning_rate = 0.001},
	    .examples = ex,
	    .n_examples = 2,
	};
	char *body = gemini_tuning_request_json(&req);
	CHECK(json_equal(body, "{\"displayName\": \"number generator\","
			       " \"baseModel\": \"models/gemini-1.5-flash-001-tuning\","
			       " \"tuningTask\": {"
			       "  \"hyperparameters\": {\"batchSize\": 4, \"learningRate\": 0.001,"
			       "   \"epochCount\": 5},"
			       "  \"trainingData\": {\"examples\": {\"examples\": ["
			       "   {\"textInput\": \"1\", \"output\": \"2\"},"
			       "   {\"textInput\": \"three\", \"output\": \"four\"}]}}}}"));
	/* The id travels in the query, never in the body. */
	CHECK(strstr(body, "number-generator") == NULL);
	free(body);
}

static void test_create_body_optional_fields(void)
{
	struct tuning_example ex[] = {{"a", "b", NULL, 1}};
	struct tuning_request req = {
	    .id = "child",
	    .description = "on top",
	    .source_model = "tunedModels/parent",
	    .settings = {.learning_rate_multiplier = 0.5},
	    .generation = {.has_temperature = 1, .temperature = 0, .has_top_k = 1, .top_k = 40},
	    .examples = ex,
	    .n_examples = 1,
	};
	char *body = gemini_tuning_request_json(&req);
	CHECK(json_equal(body, "{\"description\": \"on top\","
			       " \"tunedModelSource\": {\"tunedModel\": \"tunedModels/parent\"},"
			       " \"temperature\": 0, \"topK\": 40,"
			       " \"tuningTask\": {"
			       "  \"hyperparameters\": {\"learningRateMultiplier\": 0.5},"
			       "  \"trainingData\": {\"examples\": {\"examples\": ["
			       "   {\"textInput\": \"a\", \"output\": \"b\"}]}}}}"));
	free(body);

	struct tuning_request bare = {.id = "x", .base_model = "models/m"};
	body = gemini_tuning_request_json(&bare);
	CHECK(json_equal(body, "{\"baseModel\": \"models/m\", \"tuningTask\": {\"trainingData\":"
			       " {\"examples\": {\"examples\": []}}}}"));
	free(body);
}

static void test_generate_body(void)
{
	struct generation_settings gs = {0};
	char *body = gemini_generate_request_json("1", NULL);
	CHECK(json_equal(body,
			 "{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"1\"}]}]}"));
	free(body);
	body = gemini_generate_request_json("quote \" and \n newline", &gs);
	CHECK(json_equal(body, "{\"contents\": [{\"role\": \"user\", \"parts\":"
			       " [{\"text\": \"quote \\\" and \\n newline\"}]}]}"));
	free(body);
	gs.has_temperature = 1;
	gs.temperature = 0;
	gs.has_max_output_tokens = 1;
	gs.max_output_tokens = 16;
	gs.stop_sequences[0] = "\n";
	gs.n_stop_sequences = 1;
	body = gemini_generate_request_json("hi", &gs);
	CHECK(json_equal(body,
			 "{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"hi\"}]}],"
			 " \"generationConfig\": {\"temperature\": 0, \"maxOutputTokens\": 16,"
			 " \"stopSequences\": [\"\\n\"]}}"));
	free(body);
}

static void test_patch_body(void)
{
	struct gemini_tuned_model f = {.display_name = "new name", .has_top_k = 1, .top_k = 3};
	char *body = NULL;
	CHECK_INT(gemini_patch_body(&f, "displayName,topK", &body), 0);
	CHECK(json_equal(body, "{\"displayName\": \"new name\", \"topK\": 3}"));
	free(body);
	CHECK_INT(gemini_patch_body(&f, "displayName,baseModel", &body), -EINVAL);
	CHECK_INT(gemini_patch_body(&f, "", &body), -EINVAL);
}

static void test_parse_create_operation(void)
{
	const char *j = "{ \"name\": \"tunedModels/number-generator/operations/bvl8dymw0fhw\","
			"  \"metadata\": {"
			"    \"@type\": \"type.googleapis.com/google.ai.generativelanguage.v1beta."
			"CreateTunedModelMetadata\","
			"    \"totalSteps\": 38,"
			"    \"tunedModel\": \"tunedModels/number-generator\" } }";
	struct gemini_operation op;
	CHECK_INT(gemini_parse_operation(j, strlen(j), &op), 0);
	CHECK_STR(op.name, "tunedModels/number-generator/operations/bvl8dymw0fhw");
	CHECK_STR(op.tuned_model, "tunedModels/number-generator");
	CHECK_INT(op.total_steps, 38);
	CHECK_INT(op.completed_steps, 0);
	CHECK_INT(op.done, 0);
	CHECK_INT(op.has_error, 0);
	CHECK_INT(op.n_snapshots, 0);
	gemini_operation_clear(&op);
}

static void test_parse_running_and_failed_operation(void)
{
	const char *running =
	    "{\"name\": \"tunedModels/m/operations/o\", \"metadata\": {\"totalSteps\": 19,"
	    " \"completedSteps\": 2, \"completedPercent\": 10.5, \"snapshots\": ["
	    " {\"step\": 1, \"epoch\": 1, \"meanLoss\": 2.5, \"computeTime\":"
	    " \"2024-03-14T15:11:23.766989274Z\"},"
	    " {\"step\": 2, \"epoch\": 1, \"meanLoss\": \"NaN\"}]}}";
	const char *failed = "{\"name\": \"tunedModels/m/operations/o\", \"done\": true,"
			     " \"error\": {\"code\": 3, \"message\": \"bad examples\"}}";
	const char *ok = "{\"name\": \"tunedModels/m/operations/o\", \"done\": true,"
			 " \"response\": {\"@type\": \"x\", \"name\": \"tunedModels/m\"}}";
	struct gemini_operation op;

	CHECK_INT(gemini_parse_operation(running, strlen(running), &op), 0);
	CHECK_INT(op.completed_steps, 2);
	CHECK(op.completed_percent > 10.49 && op.completed_percent < 10.51);
	CHECK_INT(op.n_snapshots, 2);
	if (op.n_snapshots == 2) {
		CHECK_INT(op.snapshots[0].step, 1);
		CHECK(op.snapshots[0].mean_loss == 2.5);
		CHECK_STR(op.snapshots[0].compute_time, "2024-03-14T15:11:23.766989274Z");
		CHECK_STR(op.snapshots[1].compute_time, "");
	}
	CHECK_STR(op.tuned_model, "tunedModels/m");
	gemini_operation_clear(&op);

	CHECK_INT(gemini_parse_operation(failed, strlen(failed), &op), 0);
	CHECK_INT(op.done, 1);
	CHECK_INT(op.has_error, 1);
	CHECK_INT(op.error_code, 3);
	CHECK_STR(op.error_message, "bad examples");
	CHECK_STR(op.tuned_model, "tunedModels/m");
	gemini_operation_clear(&op);

	CHECK_INT(gemini_parse_operation(ok, strlen(ok), &op), 0);
	CHECK_INT(op.done, 1);
	CHECK_INT(op.has_error, 0);
	CHECK_STR(op.tuned_model, "tunedModels/m");
	gemini_operation_clear(&op);
}

static void test_parse_tuned_model(void)
{
	const char *j =
	    "{\"name\": \"tunedModels/number-generator\", \"baseModel\":"
	    " \"models/gemini-1.5-flash-001-tuning\", \"displayName\": \"number generator\","
	    " \"state\": \"ACTIVE\", \"createTime\": \"2024-03-14T15:08:05.391Z\","
	    " \"updateTime\": \"2024-03-14T15:11:24Z\", \"temperature\": 0, \"topP\": 0.95,"
	    " \"topK\": 64, \"tuningTask\": {\"startTime\": \"2024-03-14T15:08:05Z\","
	    " \"snapshots\": [{\"step\": 19, \"epoch\": 5, \"meanLoss\": 1.402067,"
	    " \"computeTime\": \"2024-03-14T15:11:23.766989274Z\"}],"
	    " \"hyperparameters\": {\"epochCount\": 5, \"batchSize\": 4, \"learningRate\": "
	    "0.001}}}";
	struct gemini_tuned_model m, copy;

	CHECK_INT(gemini_parse_tuned_model(j, strlen(j), &m), 0);
	CHECK_STR(m.name, "tunedModels/number-generator");
	CHECK_STR(m.display_name, "number generator");
	CHECK_STR(m.base_model, "models/gemini-1.5-flash-001-tuning");
	CHECK(m.source_model == NULL);
	CHECK(m.description == NULL);
	CHECK_INT(m.state, GEMINI_MODEL_ACTIVE);
	CHECK_STR(gemini_model_state_name(m.state), "ACTIVE");
	CHECK_INT(m.has_temperature, 1);
	CHECK(m.temperature == 0);
	CHECK_INT(m.has_top_k, 1);
	CHECK_INT(m.top_k, 64);
	CHECK_INT(m.epoch_count, 5);
	CHECK_INT(m.batch_size, 4);
	CHECK(m.learning_rate == 0.001);
	CHECK_INT(m.n_snapshots, 1);
	CHECK_STR(m.json, j); /* model.json is what the service said, byte for byte */
	gemini_tuned_model_copy(&copy, &m);
	gemini_tuned_model_clear(&m);
	CHECK_STR(copy.name, "tunedModels/number-generator");
	CHECK_INT(copy.n_snapshots, 1);
	if (copy.n_snapshots)
		CHECK_INT(copy.snapshots[0].step, 19);
	gemini_tuned_model_clear(&copy);

	const char *src = "{\"name\": \"tunedModels/c\", \"tunedModelSource\": {\"tunedModel\":"
			  " \"tunedModels/p\", \"baseModel\": \"models/b\"}, \"state\": 1}";
	CHECK_INT(gemini_parse_tuned_model(src, strlen(src), &m), 0);
	CHECK_STR(m.source_model, "tunedModels/p");
	CHECK_STR(m.base_model, "models/b");
	CHECK_INT(m.state, GEMINI_MODEL_CREATING);
	CHECK_INT(m.has_temperature, 0);
	gemini_tuned_model_clear(&m);

	CHECK_INT(gemini_parse_tuned_model("{}", 2, &m), 0);
	CHECK_INT(m.state, GEMINI_MODEL_STATE_UNSPECIFIED);
	CHECK(m.name == NULL);
	gemini_tuned_model_clear(&m);
}

/* A 2xx body is used (and cached) only when it is a well-formed answer of its kind. */
static void test_check_answer(void)
{
	static const char *const bad_gen[] = {
	    "{\"error\": {\"code\": 429, \"message\": \"quota\"}}",
	    "{\"candidates\": \"x\"}",
	    "{\"candidates\": {\"0\": 1}}",
	    "{}",
	    "[]",
	    "{\"candidates\": [], \"error\": {}}",
	};
	char why[200];

	for (size_t i = 0; i < sizeof(bad_gen) / sizeof(bad_gen[0]); i++)
		CHECK_INT(gemini_check_answer(bad_gen[i], strlen(bad_gen[i]),
					      GEMINI_ANSWER_GENERATION, why, sizeof(why)),
			  -EINVAL);
	CHECK_INT(gemini_check_answer(bad_gen[0], strlen(bad_gen[0]), GEMINI_ANSWER_GENERATION, why,
				      sizeof(why)),
		  -EINVAL);
	CHECK(strstr(why, "quota") != NULL);
	CHECK_INT(gemini_check_answer("{\"candidates\": []}", 18, GEMINI_ANSWER_GENERATION, why,
				      sizeof(why)),
		  0);
	CHECK_INT(gemini_check_answer("{\"promptFeedback\": {\"blockReason\": \"SAFETY\"}}", 45,
				      GEMINI_ANSWER_GENERATION, why, sizeof(why)),
		  0);
	CHECK_INT(gemini_check_answer("{\"name\": \"tunedModels/a\"}", 25, GEMINI_ANSWER_MODEL, why,
				      sizeof(why)),
		  0);
	CHECK_INT(gemini_check_answer("{\"error\": {\"message\": \"no\"}}", 28, GEMINI_ANSWER_MODEL,
				      why, sizeof(why)),
		  -EINVAL);
	CHECK_INT(gemini_check_answer("{\"state\": \"ACTIVE\"}", 19, GEMINI_ANSWER_MODEL, why,
				      sizeof(why)),
		  -EINVAL);
}

static void test_parse_generation(void)
{
	const char *tut =
	    "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"LXIV\"}], \"role\":"
	    " \"model\"}, \"finishReason\": \"STOP\", \"index\": 0, \"safetyRatings\":"
	    " [{\"category\": \"HARM_CATEGORY_HATE_SPEECH\", \"probability\": \"NEGLIGIBLE\"}]}],"
	    " \"promptFeedback\": {\"safetyRatings\": [{\"category\":"
	    " \"HARM_CATEGORY_HARASSMENT\", \"probability\": \"NEGLIGIBLE\"}]}}";
	const char *thoughts = "{\"candidates\": [{\"content\": {\"parts\": ["
			       "{\"text\": \"let me think\", \"thought\": true},"
			       "{\"text\": \"fo\"}, {\"inlineData\": {}}, {\"text\": \"ur\"}]},"
			       " \"finishReason\": \"MAX_TOKENS\"}, {\"content\": {\"parts\":"
			       " [{\"text\": \"second\"}]}}]}";
	const char *blocked = "{\"promptFeedback\": {\"blockReason\": \"SAFETY\","
			      " \"safetyRatings\": []}}";
	struct generation_answer r;

	CHECK_INT(gemini_parse_generation(tut, strlen(tut), &r), 0);
	CHECK_STR(r.text, "LXIV");
	CHECK_STR(r.finish_reason, "STOP");
	CHECK(r.block_reason == NULL);
	CHECK_STR(r.raw_json, tut);
	generation_answer_clear(&r);

	CHECK_INT(gemini_parse_generation(thoughts, strlen(thoughts), &r), 0);
	CHECK_STR(r.text, "four");
	CHECK_STR(r.finish_reason, "MAX_TOKENS");
	generation_answer_clear(&r);

	CHECK_INT(gemini_parse_generation(blocked, strlen(blocked), &r), 0);
	CHECK_STR(r.text, "");
	CHECK(r.finish_reason == NULL);
	CHECK_STR(r.block_reason, "SAFETY");
	generation_answer_clear(&r);
}

static void test_model_page_keeps_exact_text(void)
{
	const char *page = "{\n  \"tunedModels\": [\n    {\"name\": \"tunedModels/a\",  \"state\":"
			   " \"ACTIVE\", \"displayName\": \"with ] and } and \\\" inside\"},\n"
			   "    {\"name\":\"tunedModels/b\",\"tuningTask\":{\"snapshots\":[{}]}}\n"
			   "  ],\n  \"nextPageToken\": \"tok 1\"\n}";
	struct gemini_tuned_model *v = NULL;
	size_t n = 0, cap = 0;
	char *next = NULL;

	CHECK_INT(gemini_parse_model_page(page, strlen(page), &v, &n, &cap, &next), 0);
	CHECK_INT(n, 2);
	CHECK_STR(next, "tok 1");
	if (n == 2) {
		CHECK_STR(v[0].json, "{\"name\": \"tunedModels/a\",  \"state\": \"ACTIVE\", "
				     "\"displayName\": \"with ] and } and \\\" inside\"}");
		CHECK_STR(v[1].json,
			  "{\"name\":\"tunedModels/b\",\"tuningTask\":{\"snapshots\":[{}]}}");
		CHECK_INT(v[1].n_snapshots, 1);
	}
	gemini_tuned_models_free(v, n);
	free(next);

	/* cJSON takes the first, escaped, key: the raw text must come from that same member. */
	const char *mixup = "{\"tunedModel\\u0073\":[{\"name\":\"a\"}],"
			    "\"tunedModels\":[{\"name\":\"b\"}]}";
	v = NULL;
	n = cap = 0;
	CHECK_INT(gemini_parse_model_page(mixup, strlen(mixup), &v, &n, &cap, &next), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].name, "a");
		CHECK(strstr(v[0].json, "\"a\"") != NULL);
	}
	gemini_tuned_models_free(v, n);

	/* Elements that are no objects are skipped; garbage after the page is refused. */
	const char *mixed = "{\"tunedModels\": [1, \"s\", {\"name\": \"tunedModels/c\"}, null],"
			    " \"nextPageToken\": 7}";
	v = NULL;
	n = cap = 0;
	CHECK_INT(gemini_parse_model_page(mixed, strlen(mixed), &v, &n, &cap, &next), 0);
	CHECK_INT(n, 1);
	CHECK(next == NULL);
	gemini_tuned_models_free(v, n);
	static const char *broken[] = {"{\"tunedModels\": []},x", "{\"tunedModels\": [{]}",
				       "{\"a\": tru}", "[]", "{\"tunedModels\": [{}] \"x\": 1}"};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		v = NULL;
		n = cap = 0;
		CHECK_INT(
		    gemini_parse_model_page(broken[i], strlen(broken[i]), &v, &n, &cap, &next),
		    -EINVAL);
		CHECK_INT(n, 0);
		free(v);
	}

	v = NULL;
	n = cap = 0;
	CHECK_INT(gemini_parse_model_page("{}", 2, &v, &n, &cap, &next), 0);
	CHECK_INT(n, 0);
	CHECK(next == NULL);
	free(v);
}

static void test_malformed_input(void)
{
	static const char *bad[] = {
	    "",		"{",
	    "[]",	"null",
	    "\"x\"",	"42",
	    "{} {}",	"{\"a\":1}}",
	    "{\"a\":}", "{\"name\": \"x\"",
	    "\xff\xfe", "{\"a\": [1, 2,]}",
	};
	struct gemini_tuned_model m;
	struct gemini_operation op;
	struct generation_answer r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		CHECK_INT(gemini_parse_tuned_model(bad[i], len, &m), -EINVAL);
		CHECK_INT(gemini_parse_operation(bad[i], len, &op), -EINVAL);
		CHECK_INT(gemini_parse_generation(bad[i], len, &r), -EINVAL);
	}
	/* Trailing whitespace is fine; a length that cuts the text is honoured. */
	CHECK_INT(gemini_parse_tuned_model("{}\n ", 4, &m), 0);
	gemini_tuned_model_clear(&m);
	CHECK_INT(gemini_parse_tuned_model("{}garbage", 2, &m), 0);
	gemini_tuned_model_clear(&m);

	/* Wrong types read as absent rather than crash. */
	const char *odd =
	    "{\"name\": 5, \"state\": [], \"tuningTask\": \"x\", \"topK\": \"NaN\","
	    " \"temperature\": \"1e400\", \"metadata\": {\"snapshots\": [1, null, {}]},"
	    " \"candidates\": {\"0\": 1}, \"promptFeedback\": [],"
	    " \"error\": {\"code\": \"3\"}, \"done\": \"true\"}";
	CHECK_INT(gemini_parse_tuned_model(odd, strlen(odd), &m), 0);
	CHECK(m.name == NULL);
	CHECK_INT(m.has_top_k, 0);
	gemini_tuned_model_clear(&m);
	CHECK_INT(gemini_parse_operation(odd, strlen(odd), &op), 0);
	CHECK_INT(op.done, 0);
	CHECK_INT(op.has_error, 1);
	CHECK_INT(op.error_code, 3);
	CHECK_INT(op.n_snapshots, 3);
	gemini_operation_clear(&op);
	CHECK_INT(gemini_parse_generation(odd, strlen(odd), &r), 0);
	CHECK_STR(r.text, "");
	generation_answer_clear(&r);

	/* Deep nesting must fail cleanly, not exhaust the stack. */
	size_t depth = 200000;
	char *deep = malloc(depth * 2 + 1);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[depth * 2] = '\0';
	CHECK_INT(gemini_parse_generation(deep, depth * 2, &r), -EINVAL);
	free(deep);

	/* An embedded NUL cuts nothing open. */
	const char nul[] = "{\"name\": \"a\0b\"}";
	CHECK_INT(gemini_parse_tuned_model(nul, sizeof(nul) - 1, &m), 0);
	CHECK_STR(m.json, "{\"name\":\"a\"}"); /* still one whole JSON object */
	gemini_tuned_model_clear(&m);
}

static void test_model_ids(void)
{
	static const char *good[] = {"a", "number-generator", "a1", "z-9",
				     "abcdefghijabcdefghijabcdefghijabcdefghi0"};
	static const char *bad[] = {"",
				    "1abc",
				    "-a",
				    "a-",
				    "Abc",
				    "a_b",
				    "a.b",
				    "a b",
				    "a/b",
				    "é",
				    "abcdefghijabcdefghijabcdefghijabcdefghij1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_INT(gemini_valid_model_id(good[i]), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(gemini_valid_model_id(bad[i]), 0);
	CHECK_INT(gemini_valid_model_id(NULL), 0);
}

/* The quick look for the next page's token: the last such member, escapes read as JSON
 * reads them; anything else is no guess (the full parse decides). */
static void test_scan_next_token(void)
{
	static const struct {
		const char *page, *want;
	} cases[] = {
	    {"{\"tunedModels\": [{\"name\": \"tunedModels/a\"}],\n  \"nextPageToken\": \"t1\"\n}",
	     "t1"},
	    {"{\"tunedModels\":[{\"description\":\"\\\"nextPageToken\\\": \\\"x\\\"\"}],"
	     "\"nextPageToken\":\"a\\\"b\\u0041\"}",
	     "a\"bA"},
	    {"{\"tunedModels\": []}", NULL},
	    {"{\"nextPageToken\": \"\"}", NULL},
	    {"{\"nextPageToken\": 7}", NULL},
	    {"{\"nextPageToken\": \"cut", NULL},
	    {"\"nextPageToken\"", NULL},
	    {"", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = gemini_scan_next_token(cases[i].page, strlen(cases[i].page));
		if (cases[i].want)
			CHECK_STR(got, cases[i].want);
		else
			CHECK(got == NULL);
		free(got);
	}
}

int main(void)
{
	test_create_body_reference_example();
	test_create_body_optional_fields();
	test_generate_body();
	test_patch_body();
	test_parse_create_operation();
	test_parse_running_and_failed_operation();
	test_parse_tuned_model();
	test_parse_generation();
	test_check_answer();
	test_model_page_keeps_exact_text();
	test_malformed_input();
	test_model_ids();
	test_scan_next_token();
	return check_exit("test_gemini_json");
}
