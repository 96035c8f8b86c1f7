/* model_table_impl.h - the model table's insides, shared by model_table.c (the table and what FUSE
 * handlers ask of it), model_table_poll.c (the background thread: listing, polling, creates)
 * and model_table_gen.c (answers). Not part of the contract: fs/ includes only model_table.h. */
#ifndef TUNEDFS_MODEL_TABLE_IMPL_H
#define TUNEDFS_MODEL_TABLE_IMPL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "base/xalloc.h"
#include "cache/model_table.h"
#include "cache/rcache.h"

struct model_table_entry {
	char *id; /* directory name */
	enum model_table_state state;
	int is_draft;	      /* has data in the draft store */
	unsigned draft_files; /* MODEL_TABLE_FILE_BIT of the draft files that exist */
	int locked;	      /* submitted: config/examples read-only */
	int remote;	      /* model below is the service's */
	int submitting;	      /* a create is queued or in flight */
	int create_sent;      /* ... and it went out: the inputs are final */
	int unverified;	      /* submitted draft from disk, not yet seen on the service */
	int changed;	      /* what its files show changed: tell options.changed */
	int writers;	      /* handles open for writing config/examples.jsonl */
	int create_tries;
	double next_submit;
	struct tuned_model model;
	char *job;     /* the backend's handle of its tuning (tuned_model.job), NULL: unknown */
	int why_asked; /* FAILED: the backend was asked for the reason */
	int has_progress, total_steps, completed_steps;
	double percent;
	struct tuning_snapshot *snaps;
	size_t n_snaps;
	char *error;
	char *prompt; /* as written (one trailing newline off); may hold NULs */
	size_t prompt_len;
	int prompt_bad; /* refused for its content: not sent */
	int prompt_nl;	/* the newline dropped from its end: 0, 1 (LF) or 2 (CRLF) */
	struct generation_settings gs;
	char *gen_canon;
	char *gen_bad;	    /* a refused generation as written (read back in its place), or NULL;
			     * the settings in force stay gs */
	unsigned long seq;  /* table sequence of its last single-model update */
	unsigned long seen; /* listing round it was last seen in */
	double next_poll;
	unsigned long user_rev, user_saved_rev; /* prompt/generation changes, and the saved */
	unsigned long user_round;		/* the save round it was last tried in */
	int user_failed;			/* its last save failed (said in the log) */
	double poll_gap;     /* the last gap between polls (model_table_poll_gap) */
	double submitted_at; /* when its create was answered, for the progress rate */
	time_t mtime, ctime;
	/* the answer to the current key, when known */
	char resp_key[RCACHE_KEY_HEX];
	char *resp_json;
	size_t resp_len, resp_text_len;
};

struct model_table_job {
	struct model_table_job *next;
	char key[RCACHE_KEY_HEX];
	char *id, *prompt;
	struct tuned_model model; /* id, job and endpoint: where the answer comes from */
	struct generation_settings gs;
	struct backend_cancel cancel;
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
};

/* A finished answer (or failure) kept a while beside the response cache. */
struct model_table_result {
	char key[RCACHE_KEY_HEX];
	int rc;
	char *json;
	size_t len;
};

/* A prompt kept under the process that wrote it (sessions.c). */
struct model_table_sess {
	char *id;
	struct model_table_proc writer, parent;
	char *prompt;
	size_t len;
	int bad, nl; /* nl: as model_table_entry's prompt_nl */
	unsigned long seq;
};

struct model_table_neg {
	char *id;
	double until;
};

struct model_table {
	struct model_table_options o;
	pthread_mutex_t mu;
	pthread_cond_t wake;	/* the background thread's */
	pthread_cond_t changed; /* state changes, answers, listings */
	unsigned long answers;	/* +1 with each answer or more of one (model_table_await) */
	pthread_mutex_t draft_mu;
	struct model_table_entry **v; /* sorted by id */
	size_t n, cap;
	uint64_t listing_sig; /* of the listing last saved (model_table_store.c) */
	int listing_stale;    /* changed outside the background thread's work: save it */
	double listing_due;   /* when the background thread's work is to be saved; 0: none */
	char **gone;	      /* ids erased since the last drain (deleted elsewhere) */
	size_t n_gone;
	struct model_table_neg *neg;
	size_t n_neg;
	char **lookups; /* unknown names being asked for, each by a thread of its own */
	size_t n_lookups;
	int lookup_threads;
	double last_list;
	int list_tries;
	int listed;	 /* first listing attempted */
	int spool_due;	 /* a model became ACTIVE (or the mount started): resume spools */
	int list_waited; /* a listing waited the bound for the first listing */
	int interest;
	unsigned long seq, round;
	int started, stopping;
	pthread_t thread;
	struct backend_cancel bg_cancel;
	struct model_table_job *jobs; /* queued and running, oldest first */
	int job_threads;
	struct model_table_result *results; /* the latest finished, a ring */
	size_t n_results, next_result;
	struct model_table_sess *sess;
	size_t n_sess;
	unsigned long sess_seq;
	struct model_table_stats stats;
	struct model_table_batch *batches; /* model_table_batch.c: the latest of each model */
	int batch_threads;
	/* prompts and generation kept across mounts (model_table_user.c) */
	pthread_mutex_t user_mu; /* the prompt store's writes; taken before mu */
	char **user_pending;	 /* stored names not yet applied to an entry, sorted */
	size_t n_user_pending;
	char **user_drops; /* names whose stored files go */
	size_t n_user_drops;
	unsigned long user_seq, user_round;
	int user_dirty, user_in_round, user_failures;
	double user_due; /* when the next round of saves starts */
};

void model_table_logf(struct model_table *t, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double model_table_now(void);
/* Waits on t->changed under t->mu for at most a tenth of a second (a waiter's tick:
 * interrupts and deadlines are checked between ticks). */
void model_table_tick(struct model_table *t);
/* A name as it may appear in a log line: control bytes escaped as \xNN, cut short. */
void model_table_printable(const char *s, char *out, size_t size);

/* spec_parse_examples with the character limits of the mount's backend (none without one). */
int model_table_parse_examples(struct model_table *t, const char *data, size_t len,
			       struct tuning_request *req, char *msg, size_t msg_len);

/* Under t->mu. */
struct model_table_entry *model_table_find(struct model_table *t, const char *id);
struct model_table_entry *model_table_insert(struct model_table *t, const char *id);
void model_table_erase(struct model_table *t, const char *id);
/* Erases an entry the service no longer has; options.changed hears of it. */
void model_table_erase_gone(struct model_table *t, const char *id);
/* What the FUSE handlers see of an entry (under t->mu). */
void model_table_fill_attr(const struct model_table_entry *e, struct model_table_attr *a);
/* Remembers that id is not on the service, for -o negative_ttl (under t->mu). */
void model_table_neg_add(struct model_table *t, const char *id);
void model_table_entry_set_model(struct model_table *t, struct model_table_entry *e,
				 struct tuned_model *m);
/* The progress of a tuning (steps, percent, snapshots, job) from m. */
void model_table_entry_set_progress(struct model_table_entry *e, const struct tuned_model *m);
void model_table_entry_set_error(struct model_table_entry *e, const char *msg);
void model_table_gs_copy(struct generation_settings *dst, const struct generation_settings *src);

/* Calls options.changed for every entry marked changed; drops and retakes t->mu. */
void model_table_drain_changes(struct model_table *t);

/* model_table_store.c */
void model_table_listing_save(struct model_table *t);
void model_table_listing_load(struct model_table *t);

/* model_table_poll.c */
int model_table_poll_start(struct model_table *t);
void model_table_poll_stop(struct model_table *t);
void model_table_kick(struct model_table *t); /* under t->mu */

/* model_table_log.c: lines of log.jsonl (no lock held) for an answer generated, and for one
 * answered again from what is kept (json, as cached) */
void model_table_log_answer(struct model_table *t, const char *id, const char *prompt, size_t len,
			    const struct generation_answer *a, long latency_ms, int cached);
void model_table_log_kept(struct model_table *t, const char *id, const char *prompt, size_t len,
			  const char *json, size_t jlen, long latency_ms);

/* model_table_results.c: the latest finished answers and failures, by key (under t->mu) */
void model_table_result_keep(struct model_table *t, const char *key, int rc, const char *json,
			     size_t len);
struct model_table_result *model_table_result_find(struct model_table *t, const char *key);
void model_table_result_forget(struct model_table *t, const char *key);

/* model_table_gen.c */
/* The rcache key of prompt on e. */
void model_table_gen_key(const struct model_table *t, const struct model_table_entry *e,
			 const char *prompt, char key[RCACHE_KEY_HEX]);
/* model_table_gen_ask for prompts/NAME of the spool (may be gathered into a batch). */
void model_table_gen_ask_spool(struct model_table *t, const char *id, const char *name,
			       const char *prompt, size_t len, int by_user);
/* Jobs, under t->mu: the queued or running one of key; its end (res's raw_json taken, the
 * readers woken); a reference dropped; workers started up to max_requests. */
struct model_table_job *model_table_job_find(struct model_table *t, const char *key);
/* A new job queued for prompt on e (no worker started). */
struct model_table_job *model_table_job_add(struct model_table *t, struct model_table_entry *e,
					    const char *prompt, const char *key,
					    const char *spool_name);
void model_table_job_finish(struct model_table *t, struct model_table_job *j, int rc,
			    struct generation_answer *res, const struct backend_error *err);
void model_table_job_unref(struct model_table_job *j);
void model_table_job_workers(struct model_table *t);
void model_table_gen_stop(struct model_table *t);
void model_table_gen_free(struct model_table *t);
/* Starts the answer to prompt on id unless it is known or under way. Not under mu. */
/* model_table_eval.c: the eval files of every ACTIVE model, or of one, asked for. */
void model_table_eval_resume(struct model_table *t);
void model_table_eval_ask_model(struct model_table *t, const char *id);
void model_table_eval_drop(struct model_table *t, const char *id);
/* The config's validation_examples read into req->validation from the draft's eval/ (0
 * when the config names none); -EINVAL with "config: validation_examples: ..." in msg. */
int model_table_eval_validation(struct model_table *t, const char *id, struct tuning_request *req,
				char *msg, size_t msg_len);
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

/* model_table_batch.c: spool prompts gathered into batches of the service (-o batch_min) */
/* A new queued spool job j: held a moment for others to join (0: it waits in the queue).
 * Under t->mu. */
int model_table_batch_gather(struct model_table *t, struct model_table_job *j);
/* Spools whose gathering ended: batch_min or more prompts go as one batch, fewer are
 * left to the workers. Under t->mu, before a worker picks a job. */
void model_table_batch_due(struct model_table *t);
/* Whether some job waits to be gathered (workers wait for it). Under t->mu. */
int model_table_batch_held(struct model_table *t);
/* Batches of id a killed mount left: their jobs are made and followed again. Not under mu. */
void model_table_batch_resume(struct model_table *t, const char *id);
void model_table_batch_stop(struct model_table *t); /* not under mu */
void model_table_batch_free(struct model_table *t);

/* model_table_spool.c */
/* The prompt a spool file holds (one trailing newline off: *len shortened); -EINVAL with
 * the reason in msg when it cannot be sent. */
int model_table_spool_prompt(const char *data, size_t *len, char *msg, size_t msg_len);
void model_table_spool_drop(struct model_table *t, const char *id); /* rmdir; not under mu */
void model_table_spool_resume(struct model_table *t); /* asks what spools miss; not under mu */

/* sessions.c: whose prompt a reader sees */
#define MODEL_TABLE_CHAIN 8
/* pid (as FUSE names the caller) and up to max-1 of its ancestors: how many were found. */
void model_table_sess_record(struct model_table *t, const char *id,
			     const struct model_table_proc *chain, int n, const char *prompt,
			     size_t len, int nl); /* under mu */
const struct model_table_sess *model_table_sess_find(struct model_table *t, const char *id,
						     const struct model_table_proc *chain,
						     int n);	   /* under mu */
void model_table_sess_drop(struct model_table *t, const char *id); /* under mu */
void model_table_sess_free(struct model_table *t);

/* model_table_user.c: prompt and generation kept across mounts (options.prompts) */
void model_table_user_load_names(struct model_table *t); /* at model_table_new */
void model_table_user_apply(struct model_table *t,
			    struct model_table_entry *e); /* a new entry; under mu */
void model_table_user_reset(struct model_table *t,
			    struct model_table_entry *e); /* a new draft; under mu */
void model_table_user_mark(struct model_table *t,
			   struct model_table_entry *e);	     /* changed; under mu */
void model_table_user_drop(struct model_table *t, const char *id);   /* gone; under mu */
int model_table_user_save(struct model_table *t, int force);	     /* under mu */
void model_table_user_forget(struct model_table *t, const char *id); /* rmdir; not under mu */
void model_table_user_free(struct model_table *t);

#endif
