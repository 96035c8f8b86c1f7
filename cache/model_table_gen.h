/* model_table_gen.h - the answers (model_table_gen.c): generation jobs, one per response
 * key, served by at most max_requests workers, and the latest finished kept in a ring.
 * Their state and lock are model_table_answers.h's (t->ans); see each field for its lock. */
#ifndef TUNEDFS_MODEL_TABLE_GEN_H
#define TUNEDFS_MODEL_TABLE_GEN_H

#include "cache/model_table_impl.h"
#include "cache/rcache.h"

/* One response key's request. Set at its start and never changed: key, id, prompt, model,
 * gs, spool_name. Under the table's mu (the scheduling, which the batch client shares):
 * started, held_at, hold_until, batch. Under t->ans.mu: the rest. */
struct model_table_job {
	struct model_table_job *next; /* both (see model_table_answers.h) */
	char key[RCACHE_KEY_HEX];
	char *id, *prompt;
	struct tuned_model model; /* id, job and endpoint: where the answer comes from */
	struct generation_settings gs;
	struct backend_cancel cancel; /* atomic */
	int waiters, refs, started, done, rc;
	char *json;
	size_t len;
	/* the answer's text as it streams in, shown to readers before it is done */
	char *partial;
	size_t partial_len, partial_cap;
	size_t delivered;  /* bytes of partial some reader was given */
	int diverged;	   /* a retried stream's text differs from bytes given */
	char *spool_name;  /* prompts/NAME it answers, NULL for `prompt` */
	double held_at;	   /* gathering for a batch since (no worker takes it); 0: not */
	double hold_until; /* ... until then, unless more come */
	struct model_table_batch *batch; /* the batch that answers it, NULL: online */
	int asked_plainly; /* `prompt` asked it too: a batch dropped by its prompts' removal
			    * hands it back to the workers instead of ending it (t->mu) */
};

/* A finished answer (or failure) kept a while beside the response cache. */
struct model_table_result {
	char key[RCACHE_KEY_HEX];
	int rc;
	char *json;
	size_t len;
};

/* model_table_results.c: the latest finished answers and failures, by key. Each takes
 * t->ans.mu itself: not under it. */
void model_table_result_keep(struct model_table *t, const char *key, int rc, const char *json,
			     size_t len);
/* 1 and a copy of the answer in *json (unless json is NULL), its failure (< 0), or 0 when
 * none of key is kept. */
int model_table_result_get(struct model_table *t, const char *key, char **json, size_t *len);
void model_table_result_forget(struct model_table *t, const char *key);

/* The rcache key of prompt on e. */
void model_table_gen_key(const struct model_table *t, const struct model_table_entry *e,
			 const char *prompt, char key[RCACHE_KEY_HEX]);
/* model_table_gen_ask for prompts/NAME of the spool (may be gathered into a batch). */
void model_table_gen_ask_spool(struct model_table *t, const char *id, const char *name,
			       const char *prompt, size_t len, int by_user);
/* Jobs, under t->mu (not under t->ans.mu): the queued or running one of key; its end
 * (res's raw_json taken, the readers woken; rc -ECANCELED: no answer will come, its
 * prompt or model was removed, which its readers are told; -EINTR: the mount stops); a
 * reference dropped; workers started up to max_requests. */
struct model_table_job *model_table_job_find(struct model_table *t, const char *key);
/* A new job queued for prompt on e (no worker started). */
struct model_table_job *model_table_job_add(struct model_table *t, struct model_table_entry *e,
					    const char *prompt, const char *key,
					    const char *spool_name);
void model_table_job_finish(struct model_table *t, struct model_table_job *j, int rc,
			    struct generation_answer *res, const struct backend_error *err);
/* model_table_answers.c; takes t->ans.mu itself. */
void model_table_job_unref(struct model_table *t, struct model_table_job *j);
void model_table_job_workers(struct model_table *t);
/* model_table_answers.c: at unmount, every job cancelled and the workers awaited (not
 * under t->mu); then the batch client and the answers' state freed. */
void model_table_gen_stop(struct model_table *t);
void model_table_gen_free(struct model_table *t);
/* Starts the answer to prompt on id unless it is known or under way. Not under mu. */
void model_table_gen_ask(struct model_table *t, const char *id, const char *prompt, size_t len,
			 int by_user);
/* Whether the answer to prompt on id is done (memory or response cache). Not under mu. */
int model_table_gen_done(struct model_table *t, const char *id, const char *prompt, size_t len);
/* The answer to prompt on id: waits (bounded) while the model is not yet ACTIVE or the
 * answer not yet asked for or under way. Not under mu. */
/* model_table_response_partial for the answer to prompt on id. */
int model_table_gen_partial(struct model_table *t, const char *id, const char *prompt, size_t len,
			    size_t have, int nonblock, double timeout,
			    model_table_interrupted_fn intr, char **text, size_t *text_len);
int model_table_gen_answer(struct model_table *t, const char *id, const char *prompt, size_t len,
			   int nonblock, double timeout, model_table_interrupted_fn intr,
			   struct model_table_answer *out);

#endif
