/* fuzz_srv_stored.c - libFuzzer target for tunedfs-server's reading of its own stored files
 * at start (srv_job_json_load: job.json), which a crash, a full disk or a hand edit can
 * leave in any shape. Input: the job JSON. What it accepts must print (also as the Gemini
 * wire form), and print back into the same job when reloaded. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/gemini/gemini_json.h"
#include "server/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* model_free only needs the store's lock (the models here never hold weights). */
static struct srv_store fz_store = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void fz_fail(const char *why, const cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;

	fprintf(stderr, "fuzz_srv_stored: contract broken: %s\n%.2000s\n", why, text ? text : "");
	free(text);
	abort();
}

/* The stored form the store writes must load back as the same job. */
static void fz_round_trip(const struct srv_model *m)
{
	cJSON *wire = srv_json_model(m);
	cJSON *stored = srv_job_json(m);
	cJSON *op = srv_json_operation(m);
	struct srv_model *again = srv_model_new();
	char *text;

	if (!wire || !stored || !op)
		fz_fail("a loaded job does not print", NULL);
	text = cJSON_PrintUnformatted(wire);
	if (!text)
		fz_fail("wire form does not print", wire);
	free(text);
	if (srv_job_json_load(stored, again) != 0)
		fz_fail("the stored form of a loaded job does not load", stored);
	if (strcmp(again->id, m->id) != 0 || strcmp(again->op_id, m->op_id) != 0 ||
	    again->state != m->state || again->n_snaps != m->n_snaps || again->seq != m->seq ||
	    again->epoch_count != m->epoch_count || again->batch_size != m->batch_size ||
	    again->total_steps != m->total_steps || again->n_labels != m->n_labels)
		fz_fail("a stored job reloads as another", stored);
	srv_model_put(&fz_store, again);
	cJSON_Delete(wire);
	cJSON_Delete(stored);
	cJSON_Delete(op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *job = cJSON_ParseWithLength((const char *)data, size);
	struct srv_model *m;

	if (!job)
		return 0;
	m = srv_model_new();
	if (srv_job_json_load(job, m) == 0)
		fz_round_trip(m);
	srv_model_put(&fz_store, m);
	cJSON_Delete(job);
	return 0;
}
