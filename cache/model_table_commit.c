/* model_table_commit.c - what closing a user-written file does to the model table: config and
 * examples.jsonl saved to the draft store, then validated, then a create queued once both
 * are valid; prompt and generation validated and made current. The create itself is sent
 * by the background thread (model_table_poll.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cache/draft.h"
#include "cache/model_index.h"
#include "cache/model_table_gen.h"
#include "cache/model_table_user.h"
#include "cache/sessions.h"
#include "cache/model_table_eval.h"
#include "cache/model_table_impl.h"
#include "cache/spec.h"

int model_table_read_draft(struct model_table *t, const char *id, enum model_table_file f,
			   char **data, size_t *len)
{
	int rc;
	if (f != MODEL_TABLE_CONFIG && f != MODEL_TABLE_EXAMPLES)
		return -EINVAL;
	pthread_mutex_lock(&t->draft_mu);
	rc = draft_read(t->o.drafts, id, model_table_file_name(f), data, len);
	pthread_mutex_unlock(&t->draft_mu);
	return rc;
}

/* The message goes to the model's error, and to the log unless quiet. */
static void report(struct model_table *t, const char *id, const char *msg, int quiet)
{
	struct model_table_entry *e;

	if (!quiet) {
		model_table_set_error(t, id, msg);
		return;
	}
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e)
		model_table_entry_set_error(e, msg);
	pthread_mutex_unlock(&t->mu);
}

/* Parses the draft's stored file f into req: 1 valid, 0 never written, -EINVAL (msg). */
static int parse_draft_file(struct model_table *t, const char *id, enum model_table_file f,
			    struct tuning_request *req, char *msg, size_t msg_len)
{
	char *data = NULL;
	size_t len = 0;
	int rc = model_table_read_draft(t, id, f, &data, &len);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		snprintf(msg, msg_len, "%s: cannot read the draft: %s", model_table_file_name(f),
			 strerror(-rc));
		return rc;
	}
	if (f == MODEL_TABLE_CONFIG)
		rc = spec_parse_config(data, len, req, msg, msg_len);
	else
		rc = model_table_parse_examples(t, data, len, req, msg, msg_len);
	free(data);
	return rc < 0 ? rc : 1;
}

/* Records that the draft's file f exists, or is gone: then a complaint about it, which
 * starts with its name, is no longer the news either. */
static void set_draft_file(struct model_table *t, const char *id, enum model_table_file f,
			   int exists)
{
	const char *name = model_table_file_name(f);
	struct model_table_entry *e;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e && exists) {
		e->draft_files |= MODEL_TABLE_FILE_BIT(f);
	} else if (e) {
		e->draft_files &= ~MODEL_TABLE_FILE_BIT(f);
		if (strncmp(e->error, name, strlen(name)) == 0 && e->error[strlen(name)] == ':')
			model_table_entry_set_error(e, "");
	}
	if (e)
		e->mtime = time(NULL);
	pthread_mutex_unlock(&t->mu);
}

/* 0 when id is a draft whose config and examples.jsonl still take writes. Under t->mu. */
static int draft_open_for_writes(struct model_table *t, const char *id)
{
	struct model_table_entry *e = model_table_find(t, id);

	if (!e)
		return -ENOENT;
	if (!e->is_draft)
		return -EACCES;
	/* a create not yet sent still takes the writes of handles open before it */
	if (e->locked && !(e->submitting && !e->create_sent))
		return -EACCES;
	return 0;
}

int model_table_draft_touch(struct model_table *t, const char *id, enum model_table_file f)
{
	int rc;

	if (f != MODEL_TABLE_CONFIG && f != MODEL_TABLE_EXAMPLES)
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	rc = draft_open_for_writes(t, id);
	if (rc == 0 && (model_table_find(t, id)->draft_files & MODEL_TABLE_FILE_BIT(f)))
		rc = 1;
	pthread_mutex_unlock(&t->mu);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	pthread_mutex_lock(&t->draft_mu);
	rc = draft_has(t->o.drafts, id, model_table_file_name(f))
		 ? 0
		 : draft_write(t->o.drafts, id, model_table_file_name(f), "", 0);
	pthread_mutex_unlock(&t->draft_mu);
	if (rc == 0)
		set_draft_file(t, id, f, 1);
	return rc;
}

int model_table_draft_unlink(struct model_table *t, const char *id, enum model_table_file f)
{
	struct model_table_entry *e;
	int rc;

	if (f != MODEL_TABLE_CONFIG && f != MODEL_TABLE_EXAMPLES)
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	rc = draft_open_for_writes(t, id);
	e = model_table_find(t, id);
	if (rc == 0 && e->locked)
		rc = -EACCES; /* the create went out with these files */
	if (rc == 0 && !(e->draft_files & MODEL_TABLE_FILE_BIT(f)))
		rc = -ENOENT;
	if (rc == 0 && e->submitting) { /* still settling: not both files any more */
		e->submitting = 0;
		e->state = MODEL_TABLE_DRAFT;
		pthread_cond_broadcast(&t->changed);
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&t->draft_mu);
	rc = draft_unlink(t->o.drafts, id, model_table_file_name(f));
	pthread_mutex_unlock(&t->draft_mu);
	if (rc == 0 || rc == -ENOENT)
		set_draft_file(t, id, f, 0);
	return rc;
}

/* config / examples.jsonl: durable first, then validated, then maybe submitted. */
static int commit_draft_file(struct model_table *t, const char *id, enum model_table_file f,
			     const char *data, size_t len, int quiet)
{
	struct tuning_request req = {0};
	struct model_table_entry *e;
	enum model_table_file other =
	    f == MODEL_TABLE_CONFIG ? MODEL_TABLE_EXAMPLES : MODEL_TABLE_CONFIG;
	char msg[600] = "";
	int rc, rc_other;

	pthread_mutex_lock(&t->mu);
	rc = draft_open_for_writes(t, id);
	pthread_mutex_unlock(&t->mu);
	if (rc < 0)
		return rc;

	pthread_mutex_lock(&t->draft_mu);
	rc = draft_write(t->o.drafts, id, model_table_file_name(f), data, len);
	pthread_mutex_unlock(&t->draft_mu);
	if (rc == 0)
		set_draft_file(t, id, f, 1);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "%s: cannot save the draft: %s", model_table_file_name(f),
			 strerror(-rc));
		report(t, id, msg, quiet);
		return rc;
	}
	rc = parse_draft_file(t, id, f, &req, msg, sizeof msg);
	if (rc < 0) {
		tuning_request_clear(&req);
		pthread_mutex_lock(&t->mu);
		e = model_table_find(t, id);
		if (e && e->submitting && !e->create_sent) {
			e->submitting = 0; /* the content changed under a pending create */
			e->locked = 0;
			e->state = MODEL_TABLE_DRAFT;
			pthread_cond_broadcast(&t->changed);
		}
		pthread_mutex_unlock(&t->mu);
		report(t, id, msg, quiet);
		return -EINVAL;
	}
	rc_other = parse_draft_file(t, id, other, &req, msg, sizeof msg);
	tuning_request_clear(&req);

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e && rc_other == 1 && e->submitting && !e->create_sent) {
		/* pending create: it reads the new content, a settle time after this write */
		model_table_entry_set_error(e, "");
		e->next_submit = model_table_now() + t->o.submit_delay;
		model_table_kick(t);
	} else if (e && rc_other == 1 && !e->locked && !e->submitting) {
		/* submitted once nothing was written for submit_delay: a config written first
		 * and examples appended after it make one tuning; the files stay writable
		 * until the create goes out */
		e->state = MODEL_TABLE_CREATING;
		e->submitting = 1;
		e->create_tries = 0;
		e->next_submit = model_table_now() + t->o.submit_delay;
		e->has_progress = 0;
		model_table_entry_set_error(e, "");
		pthread_cond_broadcast(&t->changed);
		model_table_kick(t);
	} else if (e && rc_other <= 0) {
		/* this file is fine: what is left to fix is the other one, if anything */
		model_table_entry_set_error(e, rc_other == 0 ? "" : msg);
	}
	if (e)
		e->mtime = time(NULL);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* Why a prompt cannot be sent, in msg: -EINVAL, or 0 when it can. */
static int prompt_refused(const char *data, size_t len, char *msg, size_t msg_len)
{
	size_t ok;

	if (len == 0) {
		snprintf(msg, msg_len, "prompt: empty prompt; write the text to send");
		return -EINVAL;
	}
	if (memchr(data, 0, len)) {
		snprintf(msg, msg_len, "prompt: contains a NUL byte");
		return -EINVAL;
	}
	ok = spec_utf8_valid((const unsigned char *)data, len);
	if (ok < len) {
		snprintf(msg, msg_len, "prompt: not valid UTF-8 at byte %zu; write UTF-8 text",
			 ok + 1);
		return -EINVAL;
	}
	return 0;
}

/* A refused prompt leaves the previous one current (and error says why). */
static int commit_prompt(struct model_table *t, const struct model_table_proc *chain, int n,
			 const char *id, const char *data, size_t len, int quiet)
{
	struct model_table_entry *e;
	char msg[300];
	int rc, nl = 0;

	if (len && data[len - 1] == '\n')
		len--, nl++;
	if (nl && len && data[len - 1] == '\r')
		len--, nl++; /* a CRLF ending is one newline too */
	rc = prompt_refused(data, len, msg, sizeof msg);
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (!e) {
		pthread_mutex_unlock(&t->mu);
		return -ENOENT;
	}
	if (len == 0 && nl == 0 && !model_table_prompt_get(e)->prompt) {
		/* nothing written over no prompt (a restore copying an empty prompt file, a
		 * shell's first close): the file stays as it reads, empty */
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	if (rc == 0 && e->state != MODEL_TABLE_ACTIVE) {
		snprintf(msg, sizeof msg,
			 "prompt: %s is %s; prompts need an ACTIVE model (read wait first)", id,
			 model_table_state_name(e->state));
		rc = -EINVAL;
	}
	if (rc == 0) {
		model_table_prompt_part(e);
		free(e->p->prompt);
		e->p->prompt = xstrndup(data, len);
		e->p->prompt_len = len;
		e->p->prompt_bad = 0;
		e->p->prompt_nl = nl;
		model_table_entry_set_error(e, "");
		e->mtime = time(NULL);
		model_table_user_mark(t, e);
		model_table_sess_record(&t->sess, id, chain, n, data, len, nl);
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0) {
		report(t, id, msg, quiet);
		return rc;
	}
	model_table_gen_ask(t, id, data, len, 1); /* the answer is generated now, not when read */
	return 0;
}

static int commit_generation(struct model_table *t, const char *id, const char *data, size_t len,
			     int quiet)
{
	struct generation_settings gs = {0};
	struct model_table_entry *e;
	char msg[600] = "", *prompt = NULL;
	size_t prompt_len = 0;
	char *canon;
	int rc = spec_parse_generation(data, len, &gs, msg, sizeof msg);

	if (rc < 0) {
		generation_settings_clear(&gs);
		if (!msg[0])
			snprintf(msg, sizeof msg, "generation: invalid settings");
		pthread_mutex_lock(&t->mu);
		e = model_table_find(t, id);
		if (e) { /* kept as written, to be fixed; the settings in force stay */
			model_table_prompt_part(e);
			free(e->p->gen_bad);
			e->p->gen_bad = xstrndup(data, len);
		}
		pthread_mutex_unlock(&t->mu);
		report(t, id, msg, quiet);
		return -EINVAL;
	}
	canon = spec_generation_canonical(&gs);
	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e)
		model_table_prompt_part(e); /* written below */
	if (e && e->p->gen_bad) {	    /* fixed: its error goes */
		free(e->p->gen_bad);
		e->p->gen_bad = NULL;
		if (strncmp(e->error, "generation", 10) == 0)
			model_table_entry_set_error(e, "");
	}
	if (e && e->p->prompt && !e->p->prompt_bad && e->state == MODEL_TABLE_ACTIVE) {
		prompt = xstrndup(e->p->prompt, e->p->prompt_len);
		prompt_len = e->p->prompt_len;
	}
	if (e) {
		generation_settings_clear(&e->p->gs);
		e->p->gs = gs;
		memset(&gs, 0, sizeof gs);
		free(e->p->gen_canon);
		e->p->gen_canon = canon ? canon : xstrdup("");
		canon = NULL;
		e->mtime = time(NULL);
		model_table_user_mark(t, e);
	}
	pthread_mutex_unlock(&t->mu);
	generation_settings_clear(&gs);
	free(canon);
	if (prompt) /* the current prompt under the new settings is a new answer to start */
		model_table_gen_ask(t, id, prompt, prompt_len, 0);
	free(prompt);
	if (e) /* and so are the eval files' examples */
		model_table_eval_ask_model(t, id);
	return e ? 0 : -ENOENT;
}

int model_table_commit(struct model_table *t, const char *id, enum model_table_file f,
		       const char *data, size_t len, int quiet)
{
	return model_table_commit_by(t, 0, id, f, data, len, quiet);
}

void model_table_writer_of(int pid, struct model_table_writer *w)
{
	w->n = pid > 0 ? model_table_proc_chain(pid, w->chain, 2) : 0;
}

int model_table_commit_by(struct model_table *t, int pid, const char *id, enum model_table_file f,
			  const char *data, size_t len, int quiet)
{
	struct model_table_writer w = {.n = 0};

	if (f == MODEL_TABLE_PROMPT)
		model_table_writer_of(pid, &w); /* the others do not ask whose they are */
	return model_table_commit_as(t, &w, id, f, data, len, quiet);
}

int model_table_commit_as(struct model_table *t, const struct model_table_writer *w, const char *id,
			  enum model_table_file f, const char *data, size_t len, int quiet)
{
	switch (f) {
	case MODEL_TABLE_CONFIG:
	case MODEL_TABLE_EXAMPLES:
		return commit_draft_file(t, id, f, data, len, quiet);
	case MODEL_TABLE_PROMPT:
		return commit_prompt(t, w->chain, w->n, id, data, len, quiet);
	case MODEL_TABLE_GENERATION:
		return commit_generation(t, id, data, len, quiet);
	}
	return -EINVAL;
}

void model_table_hold(struct model_table *t, const char *id, int delta)
{
	struct model_table_entry *e;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	if (e) {
		e->writers += delta;
		if (e->writers < 0)
			e->writers = 0;
		if (e->writers == 0 && e->submitting && !e->create_sent) {
			double settle = model_table_now() + t->o.submit_delay;
			if (e->next_submit < settle)
				e->next_submit = settle;
			model_table_kick(t);
		}
	}
	pthread_mutex_unlock(&t->mu);
}
