/* model_table_spool.c - the prompt spool of each model: closing prompts/X stores X (spool.h) and
 * queues its answer with the others (model_table_gen.c, at most max_requests at once);
 * responses/X waits for that answer. Prompts written before their model was ACTIVE, or
 * whose request an unmount cut, are asked for by the background thread, never by a read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cache/model_index.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_spool.h"
#include "cache/model_table_impl.h"
#include "cache/spec.h"
#include "cache/spool.h"

/* The prompt a spool file holds: one trailing newline (LF or CRLF) is not part of it.
 * -EINVAL with the reason in msg when it cannot be sent. */
int model_table_spool_prompt(const char *data, size_t *len, char *msg, size_t msg_len)
{
	if (*len && data[*len - 1] == '\n') {
		(*len)--;
		if (*len && data[*len - 1] == '\r')
			(*len)--;
	}
	if (*len == 0) {
		snprintf(msg, msg_len, "empty prompt");
		return -EINVAL;
	}
	if (memchr(data, 0, *len)) {
		snprintf(msg, msg_len, "contains a NUL byte");
		return -EINVAL;
	}
	if (spec_utf8_valid((const unsigned char *)data, *len) < *len) {
		snprintf(msg, msg_len, "not valid UTF-8");
		return -EINVAL;
	}
	return 0;
}

int model_table_spool_names(struct model_table *t, const char *id, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	if (!t->o.spool)
		return 0;
	return spool_list(t->o.spool, id, names, n);
}

int model_table_spool_read(struct model_table *t, const char *id, const char *name, char **data,
			   size_t *len)
{
	return t->o.spool ? spool_read(t->o.spool, id, name, data, len) : -ENOENT;
}

/* Asks for the answer of one stored prompt, when its model is ACTIVE. */
static void ask_one(struct model_table *t, const char *id, const char *name)
{
	char *data = NULL, msg[100];
	size_t len = 0;

	if (spool_read(t->o.spool, id, name, &data, &len) == 0 &&
	    model_table_spool_prompt(data, &len, msg, sizeof msg) == 0)
		model_table_gen_ask_spool(t, id, name, data, len, 0);
	free(data);
}

int model_table_spool_commit(struct model_table *t, const char *id, const char *name,
			     const char *data, size_t len)
{
	char msg[300], why[100];
	size_t plen = len;
	int rc;

	if (!t->o.spool)
		return -EROFS;
	if (!spool_valid_name(name))
		return -EINVAL;
	rc = spool_write(t->o.spool, id, name, data, len);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "prompts/%s: cannot keep it on disk: %s", name,
			 strerror(-rc));
		model_table_set_error(t, id, msg);
		return rc;
	}
	if (model_table_spool_prompt(data, &plen, why, sizeof why) < 0) {
		snprintf(msg, sizeof msg, "prompts/%s: %s; it is kept but not sent", name, why);
		model_table_set_error(t, id, msg);
		return -EINVAL;
	}
	/* nothing when the model is not ACTIVE yet */
	model_table_gen_ask_spool(t, id, name, data, plen, 1);
	return 0;
}

int model_table_spool_touch(struct model_table *t, const char *id, const char *name)
{
	return t->o.spool ? spool_write(t->o.spool, id, name, "", 0) : -EROFS;
}

int model_table_spool_unlink(struct model_table *t, const char *id, const char *name)
{
	int rc = t->o.spool ? spool_unlink(t->o.spool, id, name) : -ENOENT;

	if (rc == 0)
		t->batch->unlinked(t, id, name); /* a batch nobody will read is cancelled */
	return rc;
}

void model_table_spool_drop(struct model_table *t, const char *id)
{
	if (t->o.spool)
		spool_drop(t->o.spool, id);
}

int model_table_spool_answer(struct model_table *t, const char *id, const char *name, int nonblock,
			     double timeout, model_table_interrupted_fn intr,
			     struct model_table_answer *out)
{
	char *data = NULL, why[100];
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof *out);
	rc = model_table_spool_read(t, id, name, &data, &len);
	if (rc == 0 && model_table_spool_prompt(data, &len, why, sizeof why) < 0)
		rc = -EINVAL;
	if (rc == 0)
		rc = model_table_gen_answer(t, id, data, len, nonblock, timeout, intr, out);
	free(data);
	return rc;
}

int model_table_spool_if_done(struct model_table *t, const char *id, const char *name,
			      struct model_table_answer *out)
{
	char *data = NULL, why[100];
	size_t len = 0;
	int rc = model_table_spool_read(t, id, name, &data, &len);

	memset(out, 0, sizeof *out);
	if (rc == 0 && model_table_spool_prompt(data, &len, why, sizeof why) < 0)
		rc = -EINVAL;
	if (rc == 0 && !model_table_gen_done(t, id, data, len))
		rc = -EAGAIN;
	if (rc == 0)
		rc = model_table_gen_answer(t, id, data, len, 1, 0, NULL, out);
	free(data);
	return rc;
}

int model_table_spool_partial(struct model_table *t, const char *id, const char *name, size_t have,
			      int nonblock, double timeout, model_table_interrupted_fn intr,
			      char **text, size_t *len)
{
	char *data = NULL, why[100];
	size_t plen = 0;
	int rc = model_table_spool_read(t, id, name, &data, &plen);

	if (rc == 0 && model_table_spool_prompt(data, &plen, why, sizeof why) == 0)
		rc = model_table_gen_partial(t, id, data, plen, have, nonblock, timeout, intr, text,
					     len);
	else
		rc = 0; /* the whole read says what is wrong */
	free(data);
	return rc;
}

int model_table_spool_done(struct model_table *t, const char *id, char ***names, size_t *n)
{
	char **all;
	size_t m, o = 0;
	int rc = model_table_spool_names(t, id, &all, &m);

	*names = all;
	*n = 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < m; i++) {
		char *data = NULL, why[100];
		size_t len = 0;
		int done = spool_read(t->o.spool, id, all[i], &data, &len) == 0 &&
			   model_table_spool_prompt(data, &len, why, sizeof why) == 0 &&
			   model_table_gen_done(t, id, data, len);
		free(data);
		if (done)
			all[o++] = all[i];
		else
			free(all[i]);
	}
	*n = o;
	return 0;
}

void model_table_spool_resume(struct model_table *t)
{
	char **models = NULL, **names;
	size_t nm = 0, n;

	if (!t->o.spool || spool_models(t->o.spool, &models, &nm) < 0)
		return;
	for (size_t i = 0; i < nm; i++) {
		struct model_table_attr a;
		if (model_table_attr(t, models[i], &a) < 0 || a.state != MODEL_TABLE_ACTIVE)
			continue;
		t->batch->resume(t, models[i]); /* before their prompts are asked anew */
		if (spool_list(t->o.spool, models[i], &names, &n) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			ask_one(t, models[i], names[k]);
		spool_names_free(names, n);
	}
	spool_names_free(models, nm);
}
