/* test_nn_threads.c - one model answering from four threads at once gives exactly the
 * answers it gives alone, and two models can train at once in two threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/train.h"
#include "nn_check.h"

#define N_THREADS 4
#define ROUNDS	  8

static const struct nn_example ex[5] = {{"1", 1, "2", 1},
					{"3", 1, "4", 1},
					{"-98", 3, "-97", 3},
					{"ninety nine", 11, "one hundred", 11},
					{"seven", 5, "eight", 5}};

static struct nn_model *shared;
static char *expected[5];
static int mismatches[N_THREADS];

static char *answer(const struct nn_model *m, const struct nn_example *e)
{
	struct nn_sampling s = {0, 0, 0, 32, 0};
	char *out;
	size_t len;
	CHECK(nn_generate(m, e->input, e->input_len, &s, &out, &len, NULL) == 0);
	return out;
}

static void *generate_many(void *arg)
{
	int id = (int)(size_t)arg;
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < 5; i++) {
			char *out = answer(shared, &ex[(i + id) % 5]);
			mismatches[id] += strcmp(out, expected[(i + id) % 5]) != 0;
			free(out);
		}
	return NULL;
}

struct train_job {
	uint64_t seed;
	struct nn_model *model;
	int rc;
};

static void *train_one(void *arg)
{
	struct train_job *j = arg;
	struct srv_train_params p = {20, 2, 0.003, j->seed};
	j->rc = srv_train_run(ex, 5, &p, NULL, NULL, &j->model);
	return NULL;
}

int main(void)
{
	/* two trainings at once, then the same seed alone: identical weights */
	struct train_job jobs[2] = {{21, NULL, -1}, {22, NULL, -1}};
	pthread_t t[N_THREADS];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, train_one, &jobs[i]) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(t[i], NULL) == 0 && jobs[i].rc == 0);
	struct train_job alone = {21, NULL, -1};
	train_one(&alone);
	CHECK(alone.rc == 0);
	size_t n = nn_param_count(alone.model);
	CHECK(memcmp(nn_param(alone.model, 0), nn_param(jobs[0].model, 0), n * 4) == 0);
	nn_model_free(alone.model);
	nn_model_free(jobs[1].model);

	shared = jobs[0].model;
	for (int i = 0; i < 5; i++) {
		expected[i] = answer(shared, &ex[i]);
		printf("%s -> %s\n", ex[i].input, expected[i]);
	}
	for (int i = 0; i < N_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, generate_many, (void *)(size_t)i) == 0);
	for (int i = 0; i < N_THREADS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(mismatches[i] == 0);
	}
	for (int i = 0; i < 5; i++)
		free(expected[i]);
	nn_model_free(shared);
	printf("ok\n");
	return 0;
}
