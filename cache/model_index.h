/* model_index.h - the model table's entries (model_index.c): one struct per model or
 * draft, sorted by name, and what sets its fields. Everything here runs under the
 * table's lock (struct model_table's mu) and never waits or calls the network. */
#ifndef TUNEDFS_MODEL_INDEX_H
#define TUNEDFS_MODEL_INDEX_H

#include <time.h>

#include "cache/model_table.h"
#include "cache/model_text.h"
#include "cache/rcache.h"

/* What only a model with a prompt or a generation carries: made at the first write
 * (model_table_prompt_part) and freed with the entry. */
struct model_table_prompt {
	char *prompt; /* as written (one trailing newline off); may hold NULs */
	size_t prompt_len;
	int prompt_bad; /* refused for its content: not sent */
	int prompt_nl;	/* the newline dropped from its end: 0, 1 (LF) or 2 (CRLF) */
	struct generation_settings gs;
	char *gen_canon;
	char *gen_bad; /* a refused generation as written (read back in its place), or NULL;
			* the settings in force stay gs */
	unsigned long user_rev, user_saved_rev; /* prompt/generation changes, and the saved */
	unsigned long user_round;		/* the save round it was last tried in */
	int user_failed;			/* its last save failed (said in the log) */
	/* the answer to the current key, when known */
	char resp_key[RCACHE_KEY_HEX];
	char *resp_json;
	size_t resp_len, resp_text_len;
};

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
	struct tuned_model model; /* id NULL when it is the entry's; raw_json NULL when in
				   * the text file (raw): model_index_copy_model fills both */
	struct model_text_ref raw;
	char *job;     /* the backend's handle of its tuning (tuned_model.job), NULL: unknown */
	int why_asked; /* FAILED: the backend was asked for the reason */
	int has_progress, total_steps, completed_steps;
	double percent;
	struct tuning_snapshot *snaps;
	size_t n_snaps;
	char *error;
	unsigned long seq;  /* table sequence of its last single-model update */
	unsigned long seen; /* listing round it was last seen in */
	double next_poll;
	double poll_gap;     /* the last gap between polls (model_table_poll_gap) */
	double submitted_at; /* when its create was answered, for the progress rate */
	time_t mtime, ctime;
	/* NULL until a prompt or generation is written or kept: most models never get one */
	struct model_table_prompt *p;
};

struct model_table_entry *model_table_find(struct model_table *t, const char *id);
/* The entry of id, made (and told to t->entry_added) when absent. */
struct model_table_entry *model_table_insert(struct model_table *t, const char *id);
void model_table_erase(struct model_table *t, const char *id);
void model_index_entry_free(struct model_table_entry *e);
/* What the FUSE handlers see of an entry. */
void model_table_fill_attr(const struct model_table_entry *e, struct model_table_attr *a);
/* Takes the contents of *m (left cleared). */
void model_table_entry_set_model(struct model_table *t, struct model_table_entry *e,
				 struct tuned_model *m);
/* Whether the service's resource text (model.json) is known, and a heap copy of it
 * (NULL when unreadable). */
int model_index_has_text(const struct model_table_entry *e);
char *model_index_text(struct model_table *t, const struct model_table_entry *e);
/* A copy of e's model with its resource text. */
void model_index_copy_model(struct model_table *t, const struct model_table_entry *e,
			    struct tuned_model *out);
/* The progress of a tuning (steps, percent, snapshots, job) from m. */
void model_table_entry_set_progress(struct model_table_entry *e, const struct tuned_model *m);
void model_table_entry_set_error(struct model_table_entry *e, const char *msg);
/* e->p, made (no prompt, default generation) when absent. */
struct model_table_prompt *model_table_prompt_part(struct model_table_entry *e);
/* e->p, or an empty part standing for it (read only). */
const struct model_table_prompt *model_table_prompt_get(const struct model_table_entry *e);
void model_table_gs_copy(struct generation_settings *dst, const struct generation_settings *src);

#endif
