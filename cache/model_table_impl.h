/* model_table_impl.h - the model table's shared state (struct model_table: options, the
 * lock, the conditions, the background thread's bookkeeping) and the few primitives every
 * part uses (model_table_core.c). Each part declares its own functions in its own header:
 * model_index.h, negcache.h, sessions.h, model_table_{user,gen,poll,store,spool,log,eval,batch}.h.
 * Not part of the contract: fs/ includes only model_table.h. */
#ifndef TUNEDFS_MODEL_TABLE_IMPL_H
#define TUNEDFS_MODEL_TABLE_IMPL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "base/xalloc.h"
#include "cache/model_table.h"
#include "cache/model_table_answers.h"
#include "cache/negcache.h"
#include "cache/sessions.h"

struct model_table_entry;
struct model_table_job;
struct model_text;
struct model_table_batch;

struct model_table_job;
/* What the answers (model_table_gen.c) and the spool ask of the batch client: see
 * model_table_batch.h for each. */
struct model_table_batch_ops {
	int (*gather)(struct model_table *t, struct model_table_job *j);
	void (*due)(struct model_table *t);
	int (*held)(struct model_table *t);
	void (*resume)(struct model_table *t, const char *id);
	void (*stop)(struct model_table *t);
	void (*free)(struct model_table *t);
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
	struct negcache neg;	  /* remembered misses, its own lock */
	struct model_text *texts; /* the resources' texts on disk; NULL: kept in memory */
	/* told of every new entry, under mu: the prompt store's model_table_user_apply */
	void (*entry_added)(struct model_table *t, struct model_table_entry *e);
	/* the batch client above the answers and the spool (model_table_batch.c), which they
	 * call through this; set by model_table_new */
	const struct model_table_batch_ops *batch;
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
	struct model_table_answers ans;	  /* the jobs, their workers, the ring: its own lock */
	struct model_table_sessions sess; /* whose prompt a reader sees: its own lock */
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
/* Wakes the background thread (under t->mu). */
void model_table_kick(struct model_table *t);
/* Someone looked at the table: a stale listing is refreshed (under t->mu). */
void model_table_mark_interest(struct model_table *t);
/* spec_parse_examples with the character limits of the mount's backend (none without one). */
int model_table_parse_examples(struct model_table *t, const char *data, size_t len,
			       struct tuning_request *req, char *msg, size_t msg_len);
/* Calls options.changed for every entry marked changed; drops and retakes t->mu. */
void model_table_drain_changes(struct model_table *t);

#endif
