/* model_table_eval.c - eval/ of each model: closing eval/NAME.jsonl stores it (eval.c) and
 * asks the answer to each of its examples' inputs through the answer queue (at most
 * max_requests at once, answers kept in the response cache); reading NAME.result or
 * NAME.out.jsonl waits for those answers and scores them, once per (model, version,
 * generation settings, file content): the scores are kept in the data directory. Files
 * closed before their model was ACTIVE are asked for by the background thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "cache/eval.h"
#include "cache/model_index.h"
#include "cache/model_table_eval.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_impl.h"
#include "cache/rcache.h"

/* The key of file's results on id as it is now: 0, or -ENOENT / the state's errno (the
 * state in *state). */
static int result_key(struct model_table *t, const char *id, const char *data,
		      enum model_table_state *state, char key[RCACHE_KEY_HEX])
{
	struct model_table_entry *e;
	char *model;
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (!e) {
		rc = -ENOENT;
	} else {
		*state = e->state;
		model =
		    xasprintf("eval:%s:%s", t->o.backend ? backend_name(t->o.backend) : "none", id);
		rcache_key(model, e->model.version ? e->model.version : "",
			   model_table_prompt_get(e)->gen_canon, data, key);
		free(model);
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int model_table_eval_names(struct model_table *t, const char *id, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	return t->o.eval ? eval_store_list(t->o.eval, id, names, n) : 0;
}

int model_table_eval_read(struct model_table *t, const char *id, const char *file, char **data,
			  size_t *len)
{
	return t->o.eval ? eval_store_read(t->o.eval, id, file, data, len) : -ENOENT;
}

int model_table_eval_touch(struct model_table *t, const char *id, const char *file)
{
	return t->o.eval ? eval_store_write(t->o.eval, id, file, "", 0) : -EROFS;
}

int model_table_eval_unlink(struct model_table *t, const char *id, const char *file)
{
	return t->o.eval ? eval_store_unlink(t->o.eval, id, file) : -ENOENT;
}

void model_table_eval_drop(struct model_table *t, const char *id)
{
	if (t->o.eval)
		eval_store_drop(t->o.eval, id);
}

/* Asks the answers of file's examples when its model is ACTIVE and no results are kept
 * for it as it is now. */
static void ask_file(struct model_table *t, const char *id, const char *file, const char *data,
		     size_t len)
{
	char key[RCACHE_KEY_HEX], msg[300], *r = NULL, *l = NULL;
	enum model_table_state state;
	struct eval_item *v;
	size_t n, rl, ll;

	if (result_key(t, id, data, &state, key) < 0 || state != MODEL_TABLE_ACTIVE)
		return;
	if (eval_store_result(t->o.eval, id, file, key, &r, &rl, &l, &ll) == 0) {
		free(r);
		free(l);
		return;
	}
	if (eval_parse(file, data, len, &v, &n, msg, sizeof msg) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		model_table_gen_ask(t, id, v[i].input, strlen(v[i].input), 0);
	eval_items_free(v, n);
}

int model_table_eval_commit(struct model_table *t, const char *id, const char *file,
			    const char *data, size_t len)
{
	char msg[400], *text;
	struct eval_item *v;
	size_t n;
	int rc;

	if (!t->o.eval)
		return -EROFS;
	if (!eval_valid_name(file))
		return -EINVAL;
	rc = eval_store_write(t->o.eval, id, file, data, len);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "eval/%s: cannot keep it on disk: %s", file,
			 strerror(-rc));
		model_table_set_error(t, id, msg);
		return rc;
	}
	if (memchr(data, 0, len)) {
		snprintf(msg, sizeof msg, "eval/%s: contains a NUL byte; it is kept but not used",
			 file);
		model_table_set_error(t, id, msg);
		return -EINVAL;
	}
	if (eval_parse(file, data, len, &v, &n, msg, sizeof msg) < 0) {
		model_table_set_error(t, id, msg);
		return -EINVAL;
	}
	eval_items_free(v, n);
	text = xstrndup(data, len);	  /* the key hashes it as a string */
	ask_file(t, id, file, text, len); /* nothing when the model is not ACTIVE yet */
	free(text);
	return 0;
}

/* Every eval file of id asked for (the model became ACTIVE, or its settings changed). */
void model_table_eval_ask_model(struct model_table *t, const char *id)
{
	char **names;
	size_t n;

	if (!t->o.eval || eval_store_list(t->o.eval, id, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *data = NULL;
		size_t len = 0;
		if (eval_store_read(t->o.eval, id, names[i], &data, &len) == 0 &&
		    !memchr(data, 0, len))
			ask_file(t, id, names[i], data, len);
		free(data);
	}
	eval_names_free(names, n);
}

void model_table_eval_resume(struct model_table *t)
{
	char **models;
	size_t n;

	if (!t->o.eval || eval_store_models(t->o.eval, &models, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		model_table_eval_ask_model(t, models[i]);
	eval_names_free(models, n);
}

int model_table_eval_done(struct model_table *t, const char *id, const char *file)
{
	char key[RCACHE_KEY_HEX], *data = NULL, *r = NULL, *l = NULL;
	enum model_table_state state;
	size_t len, rl, ll;
	int done = 0;

	if (!t->o.eval || eval_store_read(t->o.eval, id, file, &data, &len) < 0)
		return 0;
	if (result_key(t, id, data, &state, key) == 0 &&
	    eval_store_result(t->o.eval, id, file, key, &r, &rl, &l, &ll) == 0)
		done = 1;
	free(data);
	free(r);
	free(l);
	return done;
}

/* Waits for the model to be ACTIVE: 0, or -EAGAIN / -EINTR / -ETIMEDOUT, or -EINVAL (the
 * reason in error) when it failed. */
static int wait_active(struct model_table *t, const char *id, const char *file,
		       enum model_table_state state, int nonblock, double timeout,
		       model_table_interrupted_fn intr)
{
	char msg[600];
	int rc = 0;

	if (state == MODEL_TABLE_DRAFT || state == MODEL_TABLE_CREATING) {
		if (nonblock)
			return -EAGAIN;
		rc = model_table_wait(t, id, timeout, intr, &state);
		if (rc < 0)
			return rc;
		if (state == MODEL_TABLE_DRAFT) {
			snprintf(msg, sizeof msg,
				 "eval/%s: %s is a draft; its examples are answered once it is "
				 "tuned and ACTIVE",
				 file, id);
			model_table_set_error(t, id, msg);
			return -EAGAIN;
		}
	}
	if (state == MODEL_TABLE_FAILED) {
		struct model_table_view v;
		if (model_table_view(t, id, 0, &v) == 0) {
			snprintf(msg, sizeof msg, "eval/%s: %s failed, nothing to evaluate%s%s",
				 file, id, v.error[0] ? ": " : "", v.error);
			model_table_view_clear(&v);
			model_table_set_error(t, id, msg);
		}
		return -EINVAL;
	}
	return 0;
}

/* After an item's answer failed: the model's error, which the answer's job set as
 * "response: why", says which eval file and line it was. */
static void blame_line(struct model_table *t, const char *id, const char *file, int line)
{
	struct model_table_view v;
	char msg[900];

	if (model_table_view(t, id, 0, &v) < 0)
		return;
	if (strncmp(v.error, "response: ", 10) == 0) {
		snprintf(msg, sizeof msg, "eval/%s: line %d: %s", file, line, v.error + 10);
		model_table_set_error(t, id, msg);
	}
	model_table_view_clear(&v);
}

/* The answers to every item, waited for within timeout. */
static int answer_all(struct model_table *t, const char *id, const char *file, struct eval_item *v,
		      size_t n, int nonblock, double timeout, model_table_interrupted_fn intr)
{
	double deadline = model_table_now() + timeout;

	for (size_t i = 0; i < n; i++) {
		struct model_table_answer a;
		int rc = model_table_gen_answer(t, id, v[i].input, strlen(v[i].input), nonblock,
						deadline - model_table_now(), intr, &a);
		if (rc < 0 && rc != -EAGAIN && rc != -EINTR && rc != -ETIMEDOUT)
			blame_line(t, id, file, v[i].line);
		if (rc < 0)
			return rc;
		v[i].got = a.text;
		a.text = NULL;
		model_table_answer_clear(&a);
	}
	return 0;
}

int model_table_eval_result(struct model_table *t, const char *id, const char *file, int lines,
			    int nonblock, double timeout, model_table_interrupted_fn intr,
			    char **out, size_t *out_len)
{
	char key[RCACHE_KEY_HEX], msg[400], *data = NULL, *r = NULL, *l = NULL;
	enum model_table_state state;
	struct eval_item *v = NULL;
	size_t len, rl = 0, ll = 0, n = 0;
	int rc = model_table_eval_read(t, id, file, &data, &len);

	if (rc == 0 && memchr(data, 0, len))
		rc = -EINVAL;
	if (rc == 0)
		rc = result_key(t, id, data, &state, key);
	if (rc == 0 && eval_store_result(t->o.eval, id, file, key, &r, &rl, &l, &ll) == 0)
		goto done;
	if (rc == 0 && (rc = eval_parse(file, data, len, &v, &n, msg, sizeof msg)) < 0)
		model_table_set_error(t, id, msg);
	if (rc == 0)
		rc = wait_active(t, id, file, state, nonblock, timeout, intr);
	if (rc == 0) /* ACTIVE now: its version may be new */
		rc = result_key(t, id, data, &state, key);
	if (rc == 0)
		rc = answer_all(t, id, file, v, n, nonblock, timeout, intr);
	if (rc == 0) {
		eval_score(v, n, &r, &rl, &l, &ll);
		eval_store_put_result(t->o.eval, id, file, key, r, rl, l, ll);
	}
done:
	if (rc == 0) {
		*out = lines ? l : r;
		*out_len = lines ? ll : rl;
		free(lines ? r : l);
	}
	eval_items_free(v, n);
	free(data);
	return rc;
}

/* "eval/NAME.jsonl", "NAME.jsonl" or "NAME": the file's name in eval/ (heap). */
static char *validation_name(const char *v)
{
	size_t n;

	if (strncmp(v, "eval/", 5) == 0)
		v += 5;
	n = strlen(v);
	return n > 6 && strcmp(v + n - 6, ".jsonl") == 0 ? xstrdup(v) : xasprintf("%s.jsonl", v);
}

int model_table_eval_validation(struct model_table *t, const char *id, struct tuning_request *req,
				char *msg, size_t msg_len)
{
	struct tuning_request set = {0};
	char *file, *data = NULL, why[400];
	size_t len = 0;
	int rc;

	if (!req->validation_file)
		return 0;
	if (!t->o.backend || !(backend_caps(t->o.backend) & BACKEND_HAS_VALIDATION)) {
		snprintf(msg, msg_len,
			 "config: validation_examples: the %s backend takes no validation set "
			 "(Vertex AI and OpenAI do); evaluate with eval/ once the model is ACTIVE",
			 t->o.backend ? backend_name(t->o.backend) : "local");
		return -EINVAL;
	}
	file = validation_name(req->validation_file);
	rc = eval_valid_name(file) ? model_table_eval_read(t, id, file, &data, &len) : -EINVAL;
	if (rc < 0) {
		snprintf(msg, msg_len,
			 "config: validation_examples: eval/%s is not there (write the examples "
			 "into %s/eval/%s before the config)",
			 file, id, file);
	} else if ((rc = model_table_parse_examples(t, data, len, &set, why, sizeof why)) < 0) {
		snprintf(msg, msg_len, "config: validation_examples: eval/%s%s", file,
			 strncmp(why, "examples.jsonl", 14) == 0 ? why + 14 : why);
	} else {
		free(req->validation_file);
		req->validation_file = xasprintf("eval/%s", file);
		req->validation = set.examples;
		req->n_validation = set.n_examples;
		set.examples = NULL;
		set.n_examples = 0;
	}
	tuning_request_clear(&set);
	free(data);
	free(file);
	return rc < 0 ? -EINVAL : 0;
}
