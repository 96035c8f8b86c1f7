/* model_table.h - the model table: every tuned model and draft the mount shows, kept in memory
 * behind short-held locks, refreshed and polled by a background thread, plus the
 * generation of answers (one request per response key). No FUSE and no file formats here:
 * fs/ turns what this returns into file contents. */
#ifndef TUNEDFS_MODEL_TABLE_H
#define TUNEDFS_MODEL_TABLE_H

#include <stddef.h>
#include <time.h>

#include "api/backend.h"

struct draft_store;
struct rcache;
struct spool;
struct answer_log;
struct eval_store;

enum model_table_state {
	MODEL_TABLE_DRAFT,
	MODEL_TABLE_CREATING,
	MODEL_TABLE_ACTIVE,
	MODEL_TABLE_FAILED
};

/* The files whose content a user writes. */
enum model_table_file {
	MODEL_TABLE_CONFIG,
	MODEL_TABLE_EXAMPLES,
	MODEL_TABLE_PROMPT,
	MODEL_TABLE_GENERATION
};
#define MODEL_TABLE_FILE_BIT(f) (1u << (f))

struct model_table_options {
	struct backend *backend;       /* not owned; NULL: no service (tests) */
	struct draft_store *drafts;    /* not owned */
	struct draft_store *prompts;   /* not owned, may be NULL: prompt and generation kept */
	struct rcache *rcache;	       /* not owned */
	struct spool *spool;	       /* not owned, may be NULL: the prompt spools */
	struct answer_log *answer_log; /* not owned, may be NULL: each answer gets a line */
	struct eval_store *eval;       /* not owned, may be NULL: the eval/ files and scores */
	double list_ttl;	       /* seconds a listing stays fresh */
	double poll_interval;	       /* seconds between polls of a CREATING model */
	double negative_ttl;	       /* seconds a failed lookup is remembered */
	unsigned max_requests;	       /* answers generated at once; more wait in a queue (32) */
	unsigned batch_min;    /* spool prompts waiting at once that go as one batch; 0: never */
	double submit_delay;   /* seconds a draft stays unwritten before its submit */
	double lookup_timeout; /* seconds a lookup of an unknown name may take (2) */
	/* where messages go (syslog priorities); may be NULL */
	void (*log)(int prio, const char *msg);
	/* where the last listing is kept for mounts made offline; may be NULL */
	const char *listing_path;
	/* told (from a background thread, no lock held) that what a model's files show
	 * changed: state, progress, error, model, answer. May be NULL. */
	void (*changed)(const char *id);
	/* told, under the table's lock, of each answer or more of one: its model and the
	 * spool name of its prompt (NULL: the prompt was not a spool's). Must not call the
	 * table. May be NULL. */
	void (*answered)(const char *id, const char *spool_name);
};

/* What stat needs; cheap to fetch. */
struct model_table_attr {
	enum model_table_state state;
	int is_draft;	      /* made here: config and examples.jsonl are draft data */
	unsigned draft_files; /* of those, the ones written or created: MODEL_TABLE_FILE_BIT */
	int locked;	      /* tuning submitted: config and examples.jsonl read-only */
	int has_snapshots;    /* the tuning's progress has at least one snapshot */
	time_t mtime;
	time_t ctime;
};

/* A private copy of one model's state for rendering its files. */
struct model_table_view {
	struct model_table_attr attr;
	int remote;		  /* the service knows it; model is filled */
	struct tuned_model model; /* model.json is model.json */
	int has_progress;
	int total_steps, completed_steps;
	double percent;
	struct tuning_snapshot *snapshots; /* the tuning's progress, else the model's */
	size_t n_snapshots;
	char *error;	  /* "" when none */
	char *evaluation; /* the service's evaluation lines (tuned_model), NULL when none */
	char *prompt;	  /* NULL when none; may hold NUL bytes */
	size_t prompt_len;
	char *generation; /* canonical text, "" for defaults */
};

/* A generated answer. */
struct model_table_answer {
	char *json; /* the service's answer as received */
	size_t len;
	char *text;	    /* candidates' text, "" when none */
	char *block_reason; /* why the service refused the prompt, NULL when it did not */
};

/* Returns nonzero when the waiting caller gave up (a FUSE interrupt). */
typedef int (*model_table_interrupted_fn)(void);

struct model_table;

/* Loads the drafts; no network. */
int model_table_new(const struct model_table_options *opt, struct model_table **out);
/* Starts the background thread (after any fork). */
int model_table_start(struct model_table *t);
/* Cancels requests in flight and joins every thread; safe to call twice. */
void model_table_stop(struct model_table *t);
void model_table_free(struct model_table *t);

const char *model_table_state_name(enum model_table_state s);
const char *model_table_file_name(enum model_table_file f);

/* Directory names, sorted, and (when attrs is not NULL) their attributes. Marks interest
 * (a stale listing is refreshed in the background); waits only for the very first
 * listing of the mount. -EIO (names still filled, empty) when nothing is known and the
 * last listing failed. */
int model_table_names(struct model_table *t, char ***names, struct model_table_attr **attrs,
		      size_t *n);
void model_table_names_free(char **names, size_t n);

/* 0 and *out, or -ENOENT. A name not in the table is asked of the service in the
 * background, waited for up to lookup_timeout, then answered from what is known (misses
 * remembered for negative_ttl); known names never touch the network. */
int model_table_lookup(struct model_table *t, const char *id, struct model_table_attr *out);
/* Like lookup without any network: -ENOENT unless in the table. */
int model_table_attr(struct model_table *t, const char *id, struct model_table_attr *out);
/* with_model: also copy the model resource (config of a remote model, model.json);
 * without it out->model stays empty but remote is still set. */
int model_table_view(struct model_table *t, const char *id, int with_model,
		     struct model_table_view *out);
void model_table_view_clear(struct model_table_view *v);

/* mkdir: -EINVAL for an invalid tunedModelId, -EEXIST when taken. */
int model_table_create_draft(struct model_table *t, const char *id);
/* rmdir: deletes the model on the service (when known there) and the draft data. */
int model_table_remove(struct model_table *t, const char *id);

/* The draft's config or examples.jsonl as last written: -ENOENT when never written. */
int model_table_read_draft(struct model_table *t, const char *id, enum model_table_file f,
			   char **data, size_t *len);
/* Commits a whole new content of a user-written file. config/examples: stored as draft
 * data first, then validated; tuning is submitted in the background once both are valid.
 * prompt/generation: validated and made current. -EINVAL with the message in the model's
 * error (and the log, unless quiet) for bad content, -EACCES when the file is read-only. */
int model_table_commit(struct model_table *t, const char *id, enum model_table_file f,
		       const char *data, size_t len, int quiet);
/* The same, by the process pid (as FUSE names the caller; 0 for nobody in particular): a
 * prompt is kept for that process too (see model_table_prompt_of), and its answer is started. */
int model_table_commit_by(struct model_table *t, int pid, const char *id, enum model_table_file f,
			  const char *data, size_t len, int quiet);

/* A process, told apart from a later one with its pid by its start time. */
struct model_table_proc {
	int pid;
	unsigned long long start;
};
/* A writer and its parent as they were when it opened a file: a commit made later (at the
 * release of a handle, when the process may be gone and /proc no longer names it) still
 * keeps the prompt under them. n: how many of chain are known (0 for nobody). */
struct model_table_writer {
	struct model_table_proc chain[2];
	int n;
};
/* pid and the nearest of its ancestors, up to max, from /proc: how many were read. */
int model_table_proc_chain(int pid, struct model_table_proc *chain, int max);
void model_table_writer_of(int pid, struct model_table_writer *w);
/* model_table_commit_by for a writer taken earlier with model_table_writer_of. */
int model_table_commit_as(struct model_table *t, const struct model_table_writer *w, const char *id,
			  enum model_table_file f, const char *data, size_t len, int quiet);
/* The prompt process pid reads: the one kept under the nearest of itself and its ancestors
 * that wrote one to this model (the writer and the writer's parent keep it), else the
 * last committed. 0 and a heap copy, -ENODATA when there is none. as_written: with the
 * trailing newline it was written with (what an append adds to). */
int model_table_prompt_of(struct model_table *t, int pid, const char *id, int as_written,
			  char **data, size_t *len);

/* A draft's config or examples.jsonl that was never written comes into being (a create):
 * stored empty, without validation. 0 also when it exists already; -EACCES when the model
 * is not an unsubmitted draft. */
int model_table_draft_touch(struct model_table *t, const char *id, enum model_table_file f);
/* unlink of a draft's config or examples.jsonl: -ENOENT when never written, -EACCES once
 * submitted. Nothing else changes: the draft stays a draft. */
int model_table_draft_unlink(struct model_table *t, const char *id, enum model_table_file f);

/* A handle open for writing config or examples.jsonl: +1 at open, -1 at release.
 * A create waits until none is open, so every close of a shared descriptor (a shell's
 * `(cat a; echo b) > config`) still adds to what gets submitted. */
void model_table_hold(struct model_table *t, const char *id, int delta);

/* Seconds until the next poll of a training model: at most interval, sooner when the
 * progress so far (completed of total steps in elapsed seconds since the create) says
 * the job ends before that; doubling from a quarter second while that is not known
 * (no steps yet, or all done and still finishing). prev_gap: the last gap, 0 at first. */
double model_table_poll_gap(double interval, double prev_gap, int completed, int total,
			    double elapsed);

/* Blocks until the model is not CREATING (bounded by timeout seconds: -ETIMEDOUT;
 * intr: -EINTR). *out gets the state then. */
int model_table_wait(struct model_table *t, const char *id, double timeout,
		     model_table_interrupted_fn intr, enum model_table_state *out);

/* The answer to the model's last committed prompt: from memory or the response cache, or
 * the request under way (one per key, shared by every reader). nonblock: -EAGAIN while the
 * answer is pending. -ENODATA when no prompt is set. Errors of the request come back as
 * their errno, the message in the model's error. */
int model_table_response(struct model_table *t, const char *id, int nonblock, double timeout,
			 model_table_interrupted_fn intr, struct model_table_answer *out);
/* The answer to the prompt process pid reads (model_table_prompt_of). Reading never starts a
 * request: an answer is started when its prompt is committed. -ENODATA when no prompt is
 * set or its answer was never asked for. */
int model_table_response_by(struct model_table *t, int pid, const char *id, int nonblock,
			    double timeout, model_table_interrupted_fn intr,
			    struct model_table_answer *out);
/* For a reader of an answer being generated: while the request for the prompt pid reads
 * streams in, waits until its text is longer than have bytes, then 1 with a copy of the
 * text so far (no trailing newline) in *text; 0 when no request is under way (the answer
 * is done or failed: read it with model_table_response_by). -EAGAIN (nonblock, nothing new),
 * -EINTR, -ETIMEDOUT (the message in error) and key_by's errors otherwise. */
int model_table_response_partial(struct model_table *t, int pid, const char *id, size_t have,
				 int nonblock, double timeout, model_table_interrupted_fn intr,
				 char **text, size_t *len);
/* Size of the current answer when already known (no I/O), else -ENODATA. */
int model_table_response_size(struct model_table *t, const char *id, size_t *text_len,
			      size_t *json_len);
void model_table_answer_clear(struct model_table_answer *a);

/* The prompt spool (model_table_spool.c): prompts/X and responses/X of a model. */
/* Names of the stored prompts, and of those whose answer is done: sorted heap arrays
 * (free with model_table_names_free). */
int model_table_spool_names(struct model_table *t, const char *id, char ***names, size_t *n);
int model_table_spool_done(struct model_table *t, const char *id, char ***names, size_t *n);
/* -ENOENT when never written. */
int model_table_spool_read(struct model_table *t, const char *id, const char *name, char **data,
			   size_t *len);
/* Stores prompts/X (durable), then queues its answer once the model is ACTIVE; -EINVAL
 * (the reason in error, the file kept) for content that cannot be sent. */
int model_table_spool_commit(struct model_table *t, const char *id, const char *name,
			     const char *data, size_t len);
int model_table_spool_unlink(struct model_table *t, const char *id, const char *name);
/* A prompt file being created: stored empty (not sent) until its close commits it. */
int model_table_spool_touch(struct model_table *t, const char *id, const char *name);
/* The answer to prompts/X: waits (bounded by timeout) for it; -ENOENT for no such
 * prompt, -EINVAL for one that cannot be sent or a model that failed. */
int model_table_spool_answer(struct model_table *t, const char *id, const char *name, int nonblock,
			     double timeout, model_table_interrupted_fn intr,
			     struct model_table_answer *out);

/* The answer to prompts/X when it is done, never waiting nor asking: -EAGAIN when it is
 * not (yet), -ENOENT / -EINVAL as model_table_spool_answer. */
int model_table_spool_if_done(struct model_table *t, const char *id, const char *name,
			      struct model_table_answer *out);

/* The `batch` file of id: the latest batch job of its spool (name, state, counts, cost in
 * tokens); -ENOENT when none ran since the mount. */
int model_table_batch_text(struct model_table *t, const char *id, char **text, size_t *len);

/* A draft's estimate (model_table_estimate.c): 0 when its examples.jsonl parses, else -ENOENT.
 * Local work only: stat may ask it. */
int model_table_estimate_ready(struct model_table *t, const char *id);
/* The text of its `estimate` file: tokens counted by the service on the config's base
 * model (once per examples content: a count is kept), else estimated locally. May take a
 * request; only an open of the file itself asks it. price_per_mtok < 0: no cost line
 * unless the config sets price_per_mtok. -ENOENT as above. */
int model_table_estimate(struct model_table *t, const char *id, double price_per_mtok, char **out,
			 size_t *len);
/* model_table_response_partial for responses/X (then read whole with model_table_spool_answer). */
int model_table_spool_partial(struct model_table *t, const char *id, const char *name, size_t have,
			      int nonblock, double timeout, model_table_interrupted_fn intr,
			      char **text, size_t *len);

/* eval/ of a model (model_table_eval.c): NAME.jsonl files of held-out examples. */
/* The stored files' names (NAME.jsonl), sorted (free with model_table_names_free). */
int model_table_eval_names(struct model_table *t, const char *id, char ***names, size_t *n);
/* -ENOENT when never written. */
int model_table_eval_read(struct model_table *t, const char *id, const char *file, char **data,
			  size_t *len);
/* A file being created: stored empty until its close commits it. */
int model_table_eval_touch(struct model_table *t, const char *id, const char *file);
/* Stores the file (durable, kept byte for byte), then -EINVAL (file, line and reason in
 * error) when its examples do not read; else asks their answers once the model is ACTIVE. */
int model_table_eval_commit(struct model_table *t, const char *id, const char *file,
			    const char *data, size_t len);
/* The file and its kept scores. */
int model_table_eval_unlink(struct model_table *t, const char *id, const char *file);
/* Whether the scores of the file as it is now are kept (no waiting, no request). */
int model_table_eval_done(struct model_table *t, const char *id, const char *file);
/* The .result text (lines 0) or the .out.jsonl lines (lines 1) of file: kept ones, else
 * scored once every answer is in (waits for ACTIVE and for the answers, bounded by
 * timeout; nonblock: -EAGAIN). Never asks a request itself. -EINVAL (reason in error)
 * for a failed model or a file that does not read. */
int model_table_eval_result(struct model_table *t, const char *id, const char *file, int lines,
			    int nonblock, double timeout, model_table_interrupted_fn intr,
			    char **out, size_t *out_len);

/* Sets the model's error text (and logs it); "" clears it. */
void model_table_set_error(struct model_table *t, const char *id, const char *msg);

struct model_table_stats {
	unsigned long lists, lookups, polls, creates, generations;
};
void model_table_stats(struct model_table *t, struct model_table_stats *out);

#endif
