/* api_cli.c - a command-line driver of api/ for the pytest suite and benchmarks:
 * api_cli [OPTIONS] ENDPOINT COMMAND [ARGS...], printing results and the HTTP counters.
 * Credentials come from the environment as the mount takes them (none is fine). */
#include "api/creds.h"
#include "api/gemini.h"
#include "api/google_rpc.h"
#include "api/http.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: api_cli [OPTIONS] ENDPOINT COMMAND [ARGS...]\n"
    "options: --attempts N  --backoff-initial MS  --backoff-max MS  --max-retry MS\n"
    "         --timeout MS  --threads N  --repeat N\n"
    "commands:\n"
    "  list                          tuned models, one name and state a line\n"
    "  get NAME                      the model's JSON\n"
    "  create ID BASE EXAMPLES.jsonl [EPOCHS [BATCH [LR]]]\n"
    "  operation OPNAME | find-operation NAME\n"
    "  wait NAME                     polls until the model is no longer CREATING\n"
    "  patch NAME MASK [displayName=S] [description=S] [temperature=F] [topP=F] [topK=N]\n"
    "  delete NAME\n"
    "  generate NAME PROMPT          (--threads/--repeat run it many times)\n"
    "  base-models\n";

struct cli {
	struct gemini_client *gc;
	struct http_client *hc;
	int threads, repeat;
	char **args;
	int nargs;
};

static int cli_fail(int rc, const struct backend_error *err)
{
	printf("error: %s (errno %d) http=%d status=%s message=%s\n", strerror(-rc), -rc,
	       err->http_status, err->code, err->message);
	return 1;
}

static int cli_list(struct cli *c)
{
	struct backend_error err;
	struct gemini_tuned_model *v;
	size_t n;
	int rc = gemini_list_tuned_models(c->gc, NULL, &v, &n, &err);

	if (rc < 0)
		return cli_fail(rc, &err);
	for (size_t i = 0; i < n; i++)
		printf("%s %s\n", v[i].name ? v[i].name : "?", gemini_model_state_name(v[i].state));
	printf("count: %zu\n", n);
	gemini_tuned_models_free(v, n);
	return 0;
}

static int cli_get(struct cli *c, const char *name)
{
	struct backend_error err;
	struct gemini_tuned_model m;
	int rc = gemini_get_tuned_model(c->gc, name, NULL, &m, &err);

	if (rc < 0)
		return cli_fail(rc, &err);
	printf("%s\nstate: %s\n", m.json, gemini_model_state_name(m.state));
	gemini_tuned_model_clear(&m);
	return 0;
}

static void cli_print_operation(const struct gemini_operation *op)
{
	printf("operation: %s\nmodel: %s\ndone: %d\nsteps: %d/%d\npercent: %.1f\n",
	       op->name ? op->name : "", op->tuned_model ? op->tuned_model : "", op->done,
	       op->completed_steps, op->total_steps, op->completed_percent);
	if (op->has_error)
		printf("op-error: %d %s\n", op->error_code, op->error_message);
}

static int cli_read_examples(const char *path, struct tuning_request *req)
{
	char line[65536];
	FILE *f = fopen(path, "r");
	size_t cap = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *in = cJSON_GetObjectItem(o, "text_input");
		const cJSON *out = cJSON_GetObjectItem(o, "output");
		if (!in)
			in = cJSON_GetObjectItem(o, "textInput");
		if (cJSON_IsString(in) && cJSON_IsString(out)) {
			if (req->n_examples == cap) {
				cap = cap ? cap * 2 : 16;
				req->examples =
				    realloc(req->examples, cap * sizeof(*req->examples));
				if (!req->examples)
					abort();
			}
			req->examples[req->n_examples].native = NULL;
			req->examples[req->n_examples].input = strdup(in->valuestring);
			req->examples[req->n_examples++].output = strdup(out->valuestring);
		}
		cJSON_Delete(o);
	}
	fclose(f);
	return 0;
}

static int cli_create(struct cli *c)
{
	struct tuning_request req = {0};
	struct gemini_operation op;
	struct backend_error err;
	int rc;

	if (c->nargs < 4) {
		fputs(usage, stderr);
		return 2;
	}
	req.id = strdup(c->args[1]);
	req.base_model = strdup(c->args[2]);
	if (cli_read_examples(c->args[3], &req) < 0)
		return 1;
	if (c->nargs > 4)
		req.settings.epochs = atoi(c->args[4]);
	if (c->nargs > 5)
		req.settings.batch_size = atoi(c->args[5]);
	if (c->nargs > 6)
		req.settings.learning_rate = atof(c->args[6]);
	rc = gemini_create_tuned_model(c->gc, &req, NULL, &op, &err);
	tuning_request_clear(&req);
	if (rc < 0)
		return cli_fail(rc, &err);
	cli_print_operation(&op);
	gemini_operation_clear(&op);
	return 0;
}

static int cli_operation(struct cli *c, int find)
{
	struct gemini_operation op;
	struct backend_error err;
	int rc = find ? gemini_find_operation(c->gc, c->args[1], NULL, &op, &err)
		      : gemini_get_operation(c->gc, c->args[1], NULL, &op, &err);

	if (rc < 0)
		return cli_fail(rc, &err);
	cli_print_operation(&op);
	gemini_operation_clear(&op);
	return 0;
}

static int cli_wait(struct cli *c, const char *name)
{
	for (;;) {
		struct backend_error err;
		struct gemini_tuned_model m;
		int rc = gemini_get_tuned_model(c->gc, name, NULL, &m, &err);
		if (rc < 0)
			return cli_fail(rc, &err);
		enum gemini_model_state s = m.state;
		gemini_tuned_model_clear(&m);
		if (s != GEMINI_MODEL_CREATING) {
			printf("state: %s\n", gemini_model_state_name(s));
			return 0;
		}
		usleep(200000);
	}
}

static int cli_patch(struct cli *c)
{
	struct gemini_tuned_model f = {0}, out;
	struct backend_error err;
	int rc;

	for (int i = 3; i < c->nargs; i++) {
		char *eq = strchr(c->args[i], '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(c->args[i], "displayName") == 0)
			f.display_name = eq;
		else if (strcmp(c->args[i], "description") == 0)
			f.description = eq;
		else if (strcmp(c->args[i], "temperature") == 0)
			f.has_temperature = 1, f.temperature = atof(eq);
		else if (strcmp(c->args[i], "topP") == 0)
			f.has_top_p = 1, f.top_p = atof(eq);
		else if (strcmp(c->args[i], "topK") == 0)
			f.has_top_k = 1, f.top_k = atoi(eq);
	}
	rc = gemini_patch_tuned_model(c->gc, c->args[1], &f, c->args[2], NULL, &out, &err);
	if (rc < 0)
		return cli_fail(rc, &err);
	printf("%s\n", out.json);
	gemini_tuned_model_clear(&out);
	return 0;
}

struct cli_gen {
	struct cli *c;
	int failures;
	struct backend_error err;
	int rc;
};

static void *cli_generate_worker(void *arg)
{
	struct cli_gen *g = arg;
	for (int i = 0; i < g->c->repeat; i++) {
		struct generation_answer r;
		int rc = gemini_generate(g->c->gc, g->c->args[1], g->c->args[2], NULL, NULL, &r,
					 &g->err);
		if (rc < 0) {
			g->failures++;
			g->rc = rc;
			continue;
		}
		if (g->c->threads == 1 && g->c->repeat == 1) {
			printf("text: %s\nfinish: %s\n", r.text,
			       r.finish_reason ? r.finish_reason : "");
			if (r.block_reason)
				printf("blocked: %s\n", r.block_reason);
		}
		generation_answer_clear(&r);
	}
	return NULL;
}

static int cli_generate(struct cli *c)
{
	struct cli_gen *g = calloc((size_t)c->threads, sizeof(*g));
	pthread_t *t = calloc((size_t)c->threads, sizeof(*t));
	struct timespec a, b;
	int failures = 0, rc = 0;

	if (!g || !t)
		abort();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < c->threads; i++) {
		g[i].c = c;
		pthread_create(&t[i], NULL, cli_generate_worker, &g[i]);
	}
	for (int i = 0; i < c->threads; i++) {
		pthread_join(t[i], NULL);
		failures += g[i].failures;
		if (g[i].failures && !rc)
			rc = cli_fail(g[i].rc, &g[i].err);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (c->threads > 1 || c->repeat > 1) {
		double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		int total = c->threads * c->repeat;
		printf("calls: %d failures: %d seconds: %.3f calls/s: %.1f\n", total, failures, s,
		       total / s);
	}
	free(g);
	free(t);
	return rc;
}

static int cli_base_models(struct cli *c)
{
	struct backend_error err;
	struct base_model *v;
	size_t n;
	int rc = gemini_list_base_models(c->gc, NULL, &v, &n, &err);

	if (rc < 0)
		return cli_fail(rc, &err);
	for (size_t i = 0; i < n; i++)
		printf("%s%s\n", v[i].name, v[i].can_tune ? " tunable" : "");
	base_models_free(v, n);
	return 0;
}

static int cli_run(struct cli *c)
{
	const char *cmd = c->args[0];
	int need = strcmp(cmd, "list") == 0 || strcmp(cmd, "base-models") == 0 ? 1
		   : strcmp(cmd, "generate") == 0 || strcmp(cmd, "patch") == 0 ? 3
									       : 2;
	struct backend_error err;

	if (c->nargs < need) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(cmd, "list") == 0)
		return cli_list(c);
	if (strcmp(cmd, "get") == 0)
		return cli_get(c, c->args[1]);
	if (strcmp(cmd, "create") == 0)
		return cli_create(c);
	if (strcmp(cmd, "operation") == 0 || strcmp(cmd, "find-operation") == 0)
		return cli_operation(c, cmd[0] == 'f');
	if (strcmp(cmd, "wait") == 0)
		return cli_wait(c, c->args[1]);
	if (strcmp(cmd, "patch") == 0)
		return cli_patch(c);
	if (strcmp(cmd, "delete") == 0) {
		int rc = gemini_delete_tuned_model(c->gc, c->args[1], NULL, &err);
		if (rc < 0)
			return cli_fail(rc, &err);
		printf("deleted\n");
		return 0;
	}
	if (strcmp(cmd, "generate") == 0)
		return cli_generate(c);
	if (strcmp(cmd, "base-models") == 0)
		return cli_base_models(c);
	fputs(usage, stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct http_options o = {.read_error = google_rpc_read_error,
				 .client_header = "x-goog-api-client: tunedfs/api_cli"};
	struct creds_options co = {.allow_none = 1};
	struct cli c = {.threads = 1, .repeat = 1};
	struct backend_error err;
	struct creds *creds = NULL;
	struct http_stats st;
	int i = 1, rc;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		long v = atol(argv[i + 1]);
		if (strcmp(argv[i], "--attempts") == 0)
			o.max_attempts = (int)v;
		else if (strcmp(argv[i], "--backoff-initial") == 0)
			o.backoff_initial_ms = v;
		else if (strcmp(argv[i], "--backoff-max") == 0)
			o.backoff_max_ms = v;
		else if (strcmp(argv[i], "--max-retry") == 0)
			o.max_retry_ms = v;
		else if (strcmp(argv[i], "--timeout") == 0)
			o.timeout_ms = o.generate_timeout_ms = v;
		else if (strcmp(argv[i], "--threads") == 0)
			c.threads = v > 0 ? (int)v : 1;
		else if (strcmp(argv[i], "--repeat") == 0)
			c.repeat = v > 0 ? (int)v : 1;
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (argc - i < 2) {
		fputs(usage, stderr);
		return 2;
	}
	o.endpoint = argv[i];
	c.args = argv + i + 1;
	c.nargs = argc - i - 1;
	if (creds_new(&co, &creds, &err) < 0 ||
	    http_client_new(&o, creds_auth(creds), &c.hc, &err) < 0) {
		printf("error: %s\n", err.message);
		creds_free(creds);
		return 1;
	}
	gemini_client_new(c.hc, &c.gc);
	rc = cli_run(&c);
	http_client_stats(c.hc, &st);
	printf("stats: requests=%lu retries=%lu failures=%lu\n", st.requests, st.retries,
	       st.failures);
	gemini_client_free(c.gc);
	http_client_free(c.hc);
	creds_free(creds);
	return rc;
}
