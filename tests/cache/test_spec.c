/* test_spec.c - unit tests of cache/spec.c: every config key in every form (key = value,
 * flat JSON, nested REST JSON, snake and camel case), the tutorial's files, each error
 * message, examples.jsonl rules (under Gemini's character limits and under none) and the
 * generation settings' canonical round trip. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/spec.h"
#include "../check.h"

static const char *data_dir = "examples/number-generator";
/* The Gemini API's limits of one example, as its backend's dataset rules give them. */
static const struct spec_example_limits gemini = {40000, 5000};

/* Frees what the parsers allocate (kept local so the test does not depend on api/). */
static void req_free(struct tuning_request *req)
{
	free(req->display_name);
	free(req->description);
	free(req->base_model);
	free(req->source_model);
	for (size_t i = 0; i < req->n_examples; i++) {
		free(req->examples[i].input);
		free(req->examples[i].output);
	}
	free(req->examples);
	memset(req, 0, sizeof(*req));
}

static void gs_free(struct generation_settings *gs)
{
	for (size_t i = 0; i < gs->n_stop_sequences; i++)
		free(gs->stop_sequences[i]);
	memset(gs, 0, sizeof(*gs));
}

static char *read_data(const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(99);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(99);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int parse_config(const char *text, struct tuning_request *req, char *msg)
{
	return spec_parse_config(text, strlen(text), req, msg, 512);
}

/* The config must fail with exactly `want`. */
static void config_error(const char *text, const char *want)
{
	struct tuning_request req = {0};
	char msg[512] = "";
	int rc = parse_config(text, &req, msg);

	CHECK_INT(rc, -EINVAL);
	CHECK_STR(msg, want);
	CHECK(req.base_model == NULL && req.display_name == NULL);
	req_free(&req);
}

static void examples_error(const char *text, const char *want)
{
	struct tuning_request req = {0};
	char msg[512] = "";
	int rc = spec_parse_examples(text, strlen(text), &gemini, &req, msg, sizeof(msg));

	CHECK_INT(rc, -EINVAL);
	CHECK_STR(msg, want);
	CHECK_INT(req.n_examples, 0);
	req_free(&req);
}

static void generation_error(const char *text, const char *want)
{
	struct generation_settings gs = {0};
	char msg[512] = "";
	int rc = spec_parse_generation(text, strlen(text), &gs, msg, sizeof(msg));

	CHECK_INT(rc, -EINVAL);
	CHECK_STR(msg, want);
	gs_free(&gs);
}

static void test_tutorial_files(void)
{
	struct tuning_request req = {0};
	char msg[512];
	size_t len;
	char *text = read_data("config", &len);

	CHECK_INT(spec_parse_config(text, len, &req, msg, sizeof(msg)), 0);
	CHECK_STR(req.display_name, "number generator");
	CHECK_STR(req.base_model, "models/gemini-1.0-pro-001");
	CHECK(req.source_model == NULL);
	CHECK_INT(req.settings.batch_size, 4);
	CHECK(req.settings.learning_rate == 0.001);
	CHECK(req.settings.learning_rate_multiplier == 0 && !req.generation.has_temperature);
	CHECK_INT(req.settings.epochs, 0);
	free(text);

	text = read_data("examples.jsonl", &len);
	CHECK_INT(spec_parse_examples(text, len, &gemini, &req, msg, sizeof(msg)), 0);
	CHECK_INT(req.n_examples, 15);
	CHECK_STR(req.examples[0].input, "1");
	CHECK_STR(req.examples[0].output, "2");
	CHECK_STR(req.examples[14].input, "seven");
	CHECK_STR(req.examples[14].output, "eight");
	/* The config fields survive parsing the examples into the same request. */
	CHECK_STR(req.display_name, "number generator");
	free(text);
	req_free(&req);
}

static void check_all_keys(const struct tuning_request *req)
{
	CHECK_STR(req->base_model, "models/gemini-1.5-flash-001-tuning");
	CHECK_STR(req->display_name, "My \"model\" = 1");
	CHECK_STR(req->description, "line one\nline two");
	CHECK_INT(req->settings.epochs, 7);
	CHECK_INT(req->settings.batch_size, 16);
	CHECK(req->settings.learning_rate == 0.0005);
	CHECK(req->generation.has_temperature && req->generation.temperature == 0.25);
	CHECK(req->generation.has_top_p && req->generation.top_p == 0.95);
	CHECK(req->generation.has_top_k && req->generation.top_k == 40);
	CHECK(req->source_model == NULL);
}

static void test_config_forms(void)
{
	struct tuning_request req = {0};
	char msg[512];

	/* key = value, with comments, blank lines, CRLF, spaces and a bare base model. */
	CHECK_INT(parse_config("# a comment\r\n\n  base_model =gemini-1.5-flash-001-tuning  \r\n"
			       "display_name = \"My \\\"model\\\" = 1\"\n"
			       "description = \"line one\\nline two\"\n"
			       "epoch_count=7\nbatch_size = 16\nlearning_rate = 5e-4\n"
			       "\ttemperature = 0.25\ntop_p = .95\ntop_k = 40",
			       &req, msg),
		  0);
	check_all_keys(&req);
	/* Parsing again replaces every field, unset ones included. */
	CHECK_INT(parse_config("baseModel = models/m\nlearningRateMultiplier = 2\n"
			       "displayName = plain text with = sign",
			       &req, msg),
		  0);
	CHECK_STR(req.base_model, "models/m");
	CHECK_STR(req.display_name, "plain text with = sign");
	CHECK(req.description == NULL && req.settings.learning_rate == 0 &&
	      !req.generation.has_top_k);
	CHECK(req.settings.learning_rate_multiplier == 2);
	CHECK_INT(req.settings.batch_size, 0);
	req_free(&req);

	/* Flat JSON, snake case. */
	CHECK_INT(parse_config("{\"base_model\": \"models/gemini-1.5-flash-001-tuning\", "
			       "\"display_name\": \"My \\\"model\\\" = 1\", \"description\": "
			       "\"line one\\nline two\", \"epoch_count\": 7, \"batch_size\": 16, "
			       "\"learning_rate\": 0.0005, \"temperature\": 0.25, \"top_p\": 0.95, "
			       "\"top_k\": 40}",
			       &req, msg),
		  0);
	check_all_keys(&req);
	req_free(&req);

	/* Flat JSON, camel case, numbers as strings (proto3 JSON allows them). */
	CHECK_INT(
	    parse_config("\n  {\"baseModel\": \"gemini-1.5-flash-001-tuning\", \"displayName\": "
			 "\"My \\\"model\\\" = 1\", \"description\": \"line one\\nline two\", "
			 "\"epochCount\": \"7\", \"batchSize\": 16, \"learningRate\": 5e-4, "
			 "\"temperature\": 0.25, \"topP\": 0.95, \"topK\": 40}\n",
			 &req, msg),
	    0);
	check_all_keys(&req);
	req_free(&req);

	/* Nested as in the REST create body. */
	CHECK_INT(
	    parse_config("{\"displayName\": \"My \\\"model\\\" = 1\", \"description\": "
			 "\"line one\\nline two\", \"baseModel\": "
			 "\"models/gemini-1.5-flash-001-tuning\", \"temperature\": 0.25, "
			 "\"topP\": 0.95, \"topK\": 40, \"tuningTask\": {\"hyperparameters\": "
			 "{\"batchSize\": 16, \"learningRate\": 0.0005, \"epochCount\": 7}}}",
			 &req, msg),
	    0);
	check_all_keys(&req);
	req_free(&req);

	/* Nested, snake case, tuned from another model. */
	CHECK_INT(
	    parse_config("{\"tuned_model_source\": {\"tuned_model\": \"tunedModels/base-one\"},"
			 " \"tuning_task\": {\"hyperparameters\": {\"learning_rate_multiplier\":"
			 " 0.5, \"epoch_count\": 3}}}",
			 &req, msg),
	    0);
	CHECK_STR(req.source_model, "tunedModels/base-one");
	CHECK(req.base_model == NULL);
	CHECK(req.settings.learning_rate_multiplier == 0.5);
	CHECK_INT(req.settings.epochs, 3);
	req_free(&req);

	/* source_model as a key, bare and prefixed; model.json's output fields ignored. */
	CHECK_INT(parse_config("source_model = other-model", &req, msg), 0);
	CHECK_STR(req.source_model, "tunedModels/other-model");
	CHECK_INT(parse_config("{\"sourceModel\": \"tunedModels/x1\"}", &req, msg), 0);
	CHECK_STR(req.source_model, "tunedModels/x1");
	CHECK_INT(
	    parse_config("{\"name\": \"tunedModels/a\", \"state\": \"ACTIVE\", \"createTime\": "
			 "\"2024-01-01T00:00:00Z\", \"updateTime\": \"2024-01-01T00:00:00Z\", "
			 "\"baseModel\": \"models/b\", \"tuningTask\": {\"snapshots\": [{}], "
			 "\"startTime\": \"x\", \"completeTime\": \"y\", \"hyperparameters\": "
			 "{\"batchSize\": 2}}, \"displayName\": null}",
			 &req, msg),
	    0);
	CHECK_STR(req.base_model, "models/b");
	CHECK(req.source_model == NULL && req.display_name == NULL);
	CHECK_INT(req.settings.batch_size, 2);
	req_free(&req);

	/* A byte order mark and an empty string value are tolerated. */
	CHECK_INT(parse_config("\xef\xbb\xbf"
			       "base_model = b\ndisplay_name =\n",
			       &req, msg),
		  0);
	CHECK_STR(req.base_model, "models/b");
	CHECK(req.display_name == NULL);
	req_free(&req);
}

static void test_config_errors(void)
{
	config_error(
	    "base_model = m\n\nbatchsize = 4\n",
	    "config: line 3: unknown key \"batchsize\" (known: base_model, display_name, "
	    "description, epoch_count, batch_size, learning_rate, learning_rate_multiplier, "
	    "temperature, top_p, top_k, source_model, system_instruction, adapter_size, "
	    "price_per_mtok, validation_examples)");
	config_error("base_model = m\n#\n\nbatch_size = four\n",
		     "config: line 4: batch_size: \"four\" is not a whole number");
	config_error("base_model = m\n#\n\nbatch_size = 0\n",
		     "config: line 4: batch_size must be >= 1");
	config_error("base_model = m\nbatch_size = 1025",
		     "config: line 2: batch_size must be <= 1024");
	config_error("base_model = m\nbatch_size = 4.5",
		     "config: line 2: batch_size: \"4.5\" is not a whole number");
	config_error("base_model = m\nbatch_size =", "config: line 2: batch_size: missing value");
	config_error("epoch_count = 0\nbase_model = m", "config: line 1: epoch_count must be >= 1");
	config_error("epoch_count = 10001", "config: line 1: epoch_count must be <= 10000");
	config_error("learning_rate = 0", "config: line 1: learning_rate must be > 0");
	config_error("learning_rate = 1.5", "config: line 1: learning_rate must be <= 1");
	config_error("learning_rate = nan",
		     "config: line 1: learning_rate: \"nan\" is not a number");
	config_error("learning_rate = 0x10",
		     "config: line 1: learning_rate: \"0x10\" is not a number");
	config_error("learning_rate_multiplier = -1",
		     "config: line 1: learning_rate_multiplier must be > 0");
	config_error("temperature = 2.5", "config: line 1: temperature must be <= 2");
	config_error("temperature = -0.1", "config: line 1: temperature must be >= 0");
	config_error("top_p = 1.01", "config: line 1: top_p must be <= 1");
	config_error("top_k = 0", "config: line 1: top_k must be >= 1");
	config_error("top_k = 99999999999", "config: line 1: top_k must be <= 2147483647");
	config_error("display_name = 12345678901234567890123456789012345678901",
		     "config: line 1: display_name is 41 characters long (at most 40)");
	/* 40 characters of two bytes each are within the limit. */
	{
		struct tuning_request req = {0};
		char text[200] = "base_model = m\ndisplay_name = ", msg[512];

		for (int i = 0; i < 40; i++)
			strcat(text, "\xc3\xa9");
		CHECK_INT(parse_config(text, &req, msg), 0);
		req_free(&req);
	}
	{
		char *text = malloc(16384 + 64);

		strcpy(text, "base_model = m\ndescription = ");
		memset(text + strlen(text), 'd', 16385);
		text[29 + 16385] = '\0';
		config_error(text, "config: line 2: description is 16385 characters long (at most "
				   "16384)");
		free(text);
	}
	config_error("batch_size = 4\n", "config: base_model is required (e.g. base_model = "
					 "models/gemini-1.5-flash-001-tuning)");
	config_error("", "config: base_model is required (e.g. base_model = "
			 "models/gemini-1.5-flash-001-tuning)");
	config_error("base_model = a\nsource_model = b",
		     "config: line 2: source_model: set only one of base_model and source_model");
	config_error("base_model = a\nlearning_rate = 0.1\nlearning_rate_multiplier = 1",
		     "config: line 3: learning_rate_multiplier: set only one of learning_rate and "
		     "learning_rate_multiplier");
	config_error("base_model = a\nbatch_size = 4\nbatchSize = 8",
		     "config: line 3: duplicate key \"batchSize\" (first set on line 2)");
	config_error("base_model = a\ndisplay_name = caf\xe9\n", "config: line 2: not valid UTF-8");
	config_error("base_model = a\n\ndisplay_name = a\xc0\xaf",
		     "config: line 3: not valid UTF-8");
	config_error("base_model = a\nthis line has no equals sign",
		     "config: line 2: expected key = value, got \"this line has no equals sign\"");
	config_error("= 4", "config: line 1: missing key before \"=\"");
	config_error(
	    "display_name = \"unclosed",
	    "config: line 1: display_name: bad quoted value (write \"text\", with \\\" and "
	    "\\\\ for quotes and backslashes)");
	config_error("base_model = models/has space",
		     "config: line 1: base_model: \"models/has space\" is not a model name (e.g. "
		     "models/gemini-1.5-flash-001-tuning)");
	config_error("base_model = tunedModels/mine",
		     "config: line 1: base_model: \"tunedModels/mine\" is a tuned model (use "
		     "source_model)");
	config_error("source_model = Not_Valid",
		     "config: line 1: source_model: \"Not_Valid\" is not a tuned model name (e.g. "
		     "tunedModels/my-model)");

	/* JSON: messages name the field. */
	config_error(
	    "{\"baseModel\": \"m\", \"tuningTask\": {\"hyperparameters\": {\"batchSize\": 0}}}",
	    "config: tuningTask.hyperparameters.batchSize must be >= 1");
	config_error("{\"baseModel\": \"m\", \"batch_size\": \"four\"}",
		     "config: batch_size: \"four\" is not a whole number");
	config_error("{\"baseModel\": \"m\", \"batchSize\": 2.5}",
		     "config: batchSize: 2.5 is not a whole number");
	config_error("{\"baseModel\": \"m\", \"batchSize\": true}",
		     "config: batchSize: expected a number");
	config_error("{\"baseModel\": 3}", "config: baseModel: expected a string");
	config_error("{\"baseModel\": \"m\", \"tuningTask\": {\"hyperparams\": {}}}",
		     "config: unknown field \"hyperparams\" in tuningTask (known: hyperparameters, "
		     "trainingData)");
	config_error("{\"baseModel\": \"m\", \"tuningTask\": []}",
		     "config: tuningTask: expected an object");
	config_error("{\"baseModel\": \"m\", \"tuningTask\": {\"trainingData\": {}}}",
		     "config: tuningTask.trainingData: put the examples into examples.jsonl");
	config_error(
	    "{\"baseModel\": \"m\", \"batch_size\": 4, \"tuningTask\": {\"hyperparameters\": "
	    "{\"batchSize\": 8}}}",
	    "config: tuningTask.hyperparameters.batchSize: duplicate of batch_size");
	config_error("{\"baseModel\": \"m\",\n \"tunedModelSource\": {\"tunedModel\": \"x\"}}",
		     "config: tunedModelSource.tunedModel: set only one of base_model and "
		     "source_model");
	config_error("{\"batchSize\": 4}", "config: base_model is required (e.g. base_model = "
					   "models/gemini-1.5-flash-001-tuning)");
	config_error("{\n  \"baseModel\": \"m\",\n  \"batchSize\": 4,\n}\n",
		     "config: line 4: not valid JSON");
	config_error("{\"baseModel\": \"m\"}\n{}", "config: line 2: text after the JSON object");
	config_error("{\"baseModel\": \"m\"", "config: line 1: not valid JSON");
	config_error("{\"baseModel\": \"m\", \"name\x01\": 1}",
		     "config: unknown field \"name\\x01\" (known: baseModel, displayName, "
		     "description, epochCount, batchSize, learningRate, learningRateMultiplier, "
		     "temperature, topP, topK, sourceModel, systemInstruction, adapterSize, "
		     "validationExamples, tuningTask, "
		     "tunedModelSource)");
	{
		struct tuning_request req = {0};
		char msg[512];

		CHECK_INT(spec_parse_config("base_model = m\nx\0y", 18, &req, msg, sizeof(msg)),
			  -EINVAL);
		CHECK_STR(msg, "config: line 2: contains a NUL byte");
		CHECK_INT(spec_parse_examples("\n\n{\0}", 5, &gemini, &req, msg, sizeof(msg)),
			  -EINVAL);
		CHECK_STR(msg, "examples.jsonl: line 3: contains a NUL byte");
	}
}

static void test_message_truncation(void)
{
	struct tuning_request req = {0};
	char small[8];

	memset(small, 'x', sizeof(small));
	CHECK_INT(spec_parse_config("batch_size = four", 17, &req, small, sizeof(small)), -EINVAL);
	CHECK_STR(small, "config:");
	CHECK_INT(spec_parse_config("batch_size = four", 17, &req, NULL, 0), -EINVAL);
	CHECK_INT(spec_parse_config(NULL, 0, &req, small, 1), -EINVAL);
	CHECK_STR(small, "");
	CHECK_INT(spec_parse_examples("x", 1, &gemini, &req, small, 3), -EINVAL);
	CHECK_STR(small, "ex");
	req_free(&req);
}

/* A backend without character limits (Vertex, OpenAI: 0) takes a line Gemini's refuse. */
static void no_char_limits(const char *text, size_t in_len, size_t out_len)
{
	static const struct spec_example_limits none = {0, 0};
	struct tuning_request req = {0};
	char msg[512] = "";

	CHECK_INT(spec_parse_examples(text, strlen(text), &none, &req, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "");
	CHECK_INT(req.n_examples, 1);
	if (req.n_examples == 1) {
		CHECK_INT(strlen(req.examples[0].input), in_len);
		CHECK_INT(strlen(req.examples[0].output), out_len);
	}
	req_free(&req);
	CHECK_INT(spec_parse_examples(text, strlen(text), NULL, &req, msg, sizeof(msg)), 0);
	CHECK_INT(req.n_examples, 1);
	req_free(&req);
}

static void test_examples(void)
{
	struct tuning_request req = {0};
	char msg[512];
	const char *text = "{\"text_input\": \"a\", \"output\": \"b\"}\r\n\r\n   \n"
			   "{\"textInput\": \"caf\\u00e9 \\ud83d\\ude00\", \"output\": \"x\\ny\"}";

	CHECK_INT(spec_parse_examples(text, strlen(text), &gemini, &req, msg, sizeof(msg)), 0);
	CHECK_INT(req.n_examples, 2);
	CHECK_STR(req.examples[0].input, "a");
	CHECK_STR(req.examples[1].input, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	CHECK_STR(req.examples[1].output, "x\ny");
	/* A failed parse leaves the earlier examples alone. */
	CHECK_INT(spec_parse_examples("{", 1, &gemini, &req, msg, sizeof(msg)), -EINVAL);
	CHECK_INT(req.n_examples, 2);
	req_free(&req);

	examples_error("{\"text_input\": \"1\", \"output\": \"2\"}\n\n{\"text_input\": \"1\", "
		       "\"output\": \"2\"}\n{\"text_input\": 1\n",
		       "examples.jsonl: line 4: not valid JSON (write one {\"text_input\": ..., "
		       "\"output\": ...} object a line)");
	examples_error("{\"text_input\": \"1\", \"output\": \"2\"}\n{\"text_input\": \"1\"}",
		       "examples.jsonl: line 2: missing \"output\"");
	examples_error("{\"output\": \"2\"}", "examples.jsonl: line 1: missing \"text_input\"");
	examples_error("{\"text_input\": \"1\", \"output\": \"\"}",
		       "examples.jsonl: line 1: \"output\" is empty");
	examples_error("{\"text_input\": \"1\", \"output\": 2}",
		       "examples.jsonl: line 1: \"output\" must be a string");
	examples_error(
	    "{\"text_input\": \"1\", \"output\": \"2\", \"weight\": 1}",
	    "examples.jsonl: line 1: unknown field \"weight\" (known: text_input, output)");
	examples_error("{\"text_input\": \"1\", \"textInput\": \"1\", \"output\": \"2\"}",
		       "examples.jsonl: line 1: duplicate field \"text_input\"");
	examples_error("{\"text_input\": \"1\", \"output\": \"2\"}\n{\"text_input\": \"\xff\", "
		       "\"output\": \"2\"}",
		       "examples.jsonl: line 2: not valid UTF-8");
	examples_error("[1, 2]", "examples.jsonl: line 1: expected a JSON object like "
				 "{\"text_input\": \"...\", \"output\": \"...\"}");
	examples_error("{\"text_input\": \"1\", \"output\": \"2\"} {}",
		       "examples.jsonl: line 1: text after the JSON object (one object a line)");
	examples_error("", "examples.jsonl: no examples (write one {\"text_input\": ..., "
			   "\"output\": ...} object a line)");
	examples_error("\n \r\n\t\n",
		       "examples.jsonl: no examples (write one {\"text_input\": ..., "
		       "\"output\": ...} object a line)");
	{
		char *big = malloc(64 + 40001 + 5001);
		size_t o;

		strcpy(big, "{\"text_input\": \"");
		o = strlen(big);
		memset(big + o, 'i', 40001);
		strcpy(big + o + 40001, "\", \"output\": \"o\"}");
		examples_error(big,
			       "examples.jsonl: line 1: \"text_input\" is 40001 characters long "
			       "(at most 40000)");
		no_char_limits(big, 40001, 1);
		strcpy(big + o + 40000, "\", \"output\": \"");
		o = strlen(big);
		memset(big + o, 'o', 5001);
		strcpy(big + o + 5001, "\"}");
		examples_error(big,
			       "examples.jsonl: line 1: \"output\" is 5001 characters long (at "
			       "most 5000)");
		no_char_limits(big, 40000, 5001);
		free(big);
	}
}

static void test_generation(void)
{
	struct generation_settings gs = {0}, back = {0};
	char msg[512];
	const char *kv = "temperature = 0.7\ntop_p=0.9\ntop_k = 40\nmax_output_tokens = 100\n"
			 "stop_sequences = [\"\\n\", \"END\"]\n";
	char *canon, *canon2;

	CHECK_INT(spec_parse_generation(kv, strlen(kv), &gs, msg, sizeof(msg)), 0);
	CHECK(gs.has_temperature && gs.temperature == 0.7);
	CHECK(gs.has_top_p && gs.top_p == 0.9);
	CHECK(gs.has_top_k && gs.top_k == 40);
	CHECK(gs.has_max_output_tokens && gs.max_output_tokens == 100);
	CHECK_INT(gs.n_stop_sequences, 2);
	CHECK_STR(gs.stop_sequences[0], "\n");
	CHECK_STR(gs.stop_sequences[1], "END");
	canon = spec_generation_canonical(&gs);
	CHECK_STR(canon, "temperature = 0.7\ntop_p = 0.9\ntop_k = 40\nmax_output_tokens = 100\n"
			 "stop_sequences = [\"\\n\",\"END\"]\n");
	CHECK_INT(spec_parse_generation(canon, strlen(canon), &back, msg, sizeof(msg)), 0);
	canon2 = spec_generation_canonical(&back);
	CHECK_STR(canon2, canon);
	free(canon);
	free(canon2);
	gs_free(&back);

	/* JSON, camel case and the generationConfig wrapper, give the same settings. */
	kv = "{\"generationConfig\": {\"temperature\": 0.7, \"topP\": 0.9, \"topK\": 40, "
	     "\"maxOutputTokens\": 100, \"stopSequences\": [\"\\n\", \"END\"]}}";
	CHECK_INT(spec_parse_generation(kv, strlen(kv), &back, msg, sizeof(msg)), 0);
	canon = spec_generation_canonical(&gs);
	canon2 = spec_generation_canonical(&back);
	CHECK_STR(canon2, canon);
	free(canon);
	free(canon2);
	gs_free(&back);
	gs_free(&gs);

	/* Values that print long, and stop sequences needing escapes, round trip exactly. */
	gs.has_temperature = 1;
	gs.temperature = 1.0 / 3.0;
	gs.has_top_p = 1;
	gs.top_p = 0.1 + 0.2;
	gs.n_stop_sequences = 3;
	gs.stop_sequences[0] = strdup("a \"quoted\" \\ thing");
	gs.stop_sequences[1] = strdup("caf\xc3\xa9\t\x01");
	gs.stop_sequences[2] = strdup("]");
	canon = spec_generation_canonical(&gs);
	CHECK_INT(spec_parse_generation(canon, strlen(canon), &back, msg, sizeof(msg)), 0);
	CHECK(back.has_temperature && back.temperature == gs.temperature);
	CHECK(back.has_top_p && back.top_p == gs.top_p);
	CHECK(!back.has_top_k && !back.has_max_output_tokens);
	CHECK_INT(back.n_stop_sequences, 3);
	for (size_t i = 0; i < 3 && i < back.n_stop_sequences; i++)
		CHECK_STR(back.stop_sequences[i], gs.stop_sequences[i]);
	free(canon);
	gs_free(&back);
	gs_free(&gs);

	/* A single stop sequence, bare or quoted; empty text is no settings. */
	CHECK_INT(spec_parse_generation("stop_sequences = END", 20, &gs, msg, sizeof(msg)), 0);
	CHECK_INT(gs.n_stop_sequences, 1);
	CHECK_STR(gs.stop_sequences[0], "END");
	CHECK_INT(spec_parse_generation("stopSequences = \"a b\"", 21, &gs, msg, sizeof(msg)), 0);
	CHECK_STR(gs.stop_sequences[0], "a b");
	CHECK_INT(spec_parse_generation("", 0, &gs, msg, sizeof(msg)), 0);
	CHECK(!gs.has_temperature && gs.n_stop_sequences == 0);
	canon = spec_generation_canonical(&gs);
	CHECK_STR(canon, "");
	free(canon);
	CHECK_INT(spec_parse_generation("# nothing\n\n", 11, &gs, msg, sizeof(msg)), 0);
	gs_free(&gs);

	generation_error("temperature = 3", "generation: line 1: temperature must be <= 2");
	generation_error("top_p = -1", "generation: line 1: top_p must be >= 0");
	generation_error("\ntop_k = 0", "generation: line 2: top_k must be >= 1");
	generation_error("max_output_tokens = 0",
			 "generation: line 1: max_output_tokens must be >= 1");
	generation_error("max_output_tokens = many",
			 "generation: line 1: max_output_tokens: \"many\" is not a whole number");
	generation_error("stop_sequences = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
			 "generation: line 1: stop_sequences: at most 5 stop sequences");
	generation_error("stop_sequences = [\"a\", 1]",
			 "generation: line 1: stop_sequences: expected a list of strings");
	generation_error("stop_sequences = [\"\"]",
			 "generation: line 1: stop_sequences: a stop sequence may not be empty");
	generation_error("{\"topK\": 0}", "generation: topK must be >= 1");
	generation_error("{\"stopSequences\": 3}",
			 "generation: stopSequences: expected a list of strings like [\"END\"]");
	generation_error("seed = 1",
			 "generation: line 1: unknown key \"seed\" (known: temperature, "
			 "top_p, top_k, max_output_tokens, stop_sequences)");
	generation_error("temperature = 1\ntemperature = 1",
			 "generation: line 2: duplicate key \"temperature\" (first set on line 1)");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	test_tutorial_files();
	test_config_forms();
	test_config_errors();
	test_message_truncation();
	test_examples();
	test_generation();
	return check_exit("test_spec");
}
