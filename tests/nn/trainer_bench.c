/* trainer_bench.c - the measuring driver behind tests/bench/trainer.sh: trains the byte
 * model on a JSONL file of examples or on synthetic "next number" examples and prints
 * time, steps per second and how many training outputs greedy decoding reproduces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "server/train.h"

struct bench_set {
	struct nn_example *ex;
	char **owned;
	size_t n, n_owned;
};

static char *own(struct bench_set *s, const char *text)
{
	char *c = strdup(text);
	if (!c)
		exit(2);
	s->owned = realloc(s->owned, sizeof(char *) * (s->n_owned + 1));
	if (!s->owned)
		exit(2);
	s->owned[s->n_owned++] = c;
	return c;
}

static void add(struct bench_set *s, const char *in, const char *out)
{
	s->ex = realloc(s->ex, sizeof(*s->ex) * (s->n + 1));
	if (!s->ex)
		exit(2);
	char *a = own(s, in), *b = own(s, out);
	s->ex[s->n++] = (struct nn_example){a, strlen(a), b, strlen(b)};
}

static int load_jsonl(struct bench_set *s, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char line[65536];
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		cJSON *in = cJSON_GetObjectItem(j, "text_input");
		cJSON *out = cJSON_GetObjectItem(j, "output");
		if (cJSON_IsString(in) && cJSON_IsString(out))
			add(s, in->valuestring, out->valuestring);
		cJSON_Delete(j);
	}
	fclose(f);
	return s->n ? 0 : -1;
}

/* "next number" examples; pad > 0 prefixes the input with filler up to that length */
static void synth(struct bench_set *s, size_t n, size_t pad, unsigned seed)
{
	char in[65536], out[64];
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		long v = rand() % 200000 - 100000;
		int k = snprintf(in, sizeof(in), "%ld", v);
		if (pad > (size_t)k && pad < sizeof(in)) {
			memmove(in + (pad - (size_t)k), in, (size_t)k + 1);
			for (size_t c = 0; c < pad - (size_t)k; c++)
				in[c] = "after this comes "[c % 17];
		}
		snprintf(out, sizeof(out), "%ld", v + 1);
		add(s, in, out);
	}
}

static double clock_s(clockid_t which)
{
	struct timespec ts;
	clock_gettime(which, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct progress {
	double last_loss;
	int steps;
	int verbose;
};

static int on_step(void *ctx, int step, int total, int epoch, double loss)
{
	struct progress *p = ctx;
	p->last_loss = loss;
	p->steps = step;
	if (p->verbose && (step % 50 == 0 || step == total))
		fprintf(stderr, "step %d/%d epoch %d loss %.4f\n", step, total, epoch, loss);
	return 0;
}

static size_t count_correct(const struct nn_model *m, const struct bench_set *s, int show)
{
	size_t ok = 0;
	struct nn_sampling greedy = {0, 0, 0, 256, 0};
	for (size_t i = 0; i < s->n; i++) {
		char *ans;
		size_t len;
		if (nn_generate(m, s->ex[i].input, s->ex[i].input_len, &greedy, &ans, &len, NULL) <
		    0)
			continue;
		int good = len == s->ex[i].output_len && memcmp(ans, s->ex[i].output, len) == 0;
		ok += (size_t)good;
		if (show && !good)
			fprintf(stderr, "  miss: %.40s -> %s (want %s)\n", s->ex[i].input, ans,
				s->ex[i].output);
		free(ans);
	}
	return ok;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s FILE.jsonl|synth:N[:LEN] EPOCHS BATCH SEED [LR]\n",
			argv[0]);
		return 2;
	}
	struct bench_set s = {0};
	if (strncmp(argv[1], "synth:", 6) == 0) {
		char *rest;
		size_t n = strtoul(argv[1] + 6, &rest, 10);
		size_t pad = *rest == ':' ? strtoul(rest + 1, NULL, 10) : 0;
		synth(&s, n, pad, 7);
	} else if (load_jsonl(&s, argv[1]) < 0) {
		fprintf(stderr, "%s: no examples\n", argv[1]);
		return 2;
	}
	struct srv_train_params p = {atoi(argv[2]), atoi(argv[3]), argc > 5 ? atof(argv[5]) : 0.001,
				     strtoull(argv[4], NULL, 10)};
	struct progress pr = {0, 0, getenv("BENCH_VERBOSE") != NULL};
	struct nn_model *m;
	/* CPU time beside wall time: on a shared machine the wall clock also counts the
	 * time other processes held the cores. */
	double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	int rc = srv_train_run(s.ex, s.n, &p, on_step, &pr, &m);
	double dt = clock_s(CLOCK_MONOTONIC) - t0, dc = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	if (rc < 0) {
		fprintf(stderr, "training failed: %d\n", rc);
		return 1;
	}
	size_t checked = s.n < 200 ? s.n : 200;
	size_t n_all = s.n;
	s.n = checked;
	double g0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	size_t ok = count_correct(m, &s, getenv("BENCH_VERBOSE") != NULL);
	double gen_ms = (clock_s(CLOCK_THREAD_CPUTIME_ID) - g0) * 1e3 / (double)checked;
	s.n = n_all;
	printf("examples=%zu epochs=%d batch=%d seed=%s steps=%d time=%.2fs cpu=%.2fs "
	       "steps_per_s=%.1f cpu_steps_per_s=%.1f final_loss=%.4f correct=%zu/%zu "
	       "gen_cpu_ms=%.2f\n",
	       s.n, p.epoch_count, p.batch_size, argv[4], pr.steps, dt, dc, pr.steps / dt,
	       pr.steps / dc, pr.last_loss, ok, checked, gen_ms);
	nn_model_free(m);
	for (size_t i = 0; i < s.n_owned; i++)
		free(s.owned[i]);
	free(s.owned);
	free(s.ex);
	return 0;
}
