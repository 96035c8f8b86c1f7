/* model_table_impl.h - the model table's shared state (struct model_table: options, the
 * lock, the conditions, the background thread's bookkeeping, the lock order) and the few
 * primitives every part uses (model_table_core.c). The parts with a lock of their own keep
 * their state in their own header (negcache.h, sessions.h, model_table_answers.h); each
 * part declares its functions in its own header: model_index.h,
 * model_table_{user,gen,poll,store,spool,log,eval,batch}.h. Not part of the contract:
 * fs/ includes only model_table.h. */
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
	void (*unlinked)(struct model_table *t, const char *id, const char *name);
	void (*drop)(struct model_table *t, const char *id);
};

/* The background thread's own bookkeeping (model_table_poll.c, model_table_store.c): only
 * that thread reads or writes it, so it needs no lock. */
struct model_table_poller {
	double last_list;     /* when the last listing ended */
	unsigned long round;  /* listings published (an entry's seen) */
	double listing_due;   /* when its work is to be saved; 0: none */
	uint64_t listing_sig; /* of the listing last saved */
	int rcache_ready;     /* the response cache's directories are made */
};

/* The locks, in the order they may be taken (never backwards, so no circle):
 *   user_mu -> mu -> { draft_mu, sess.mu, ans.mu, neg.mu }
 * The four on the right are leaves: none is held while another lock is taken or a part
 * above is called. Each field below says what guards it: "mu" (the table's lock, which
 * waiters on changed and the background thread on wake hold), "the thread's" (only the
 * background thread reads and writes it, so no lock), "set once" (before any thread
 * starts), or the part's own struct with its own lock. */
struct model_table {
	struct model_table_options o; /* set once */
	pthread_mutex_t mu;
	pthread_cond_t wake;	      /* mu: the background thread's */
	pthread_cond_t changed;	      /* mu: state changes, answers, listings */
	pthread_mutex_t draft_mu;     /* the draft store's files (o.drafts); a leaf after mu */
	struct model_table_entry **v; /* mu: the entries (model_index.c), sorted by id */
	size_t n, cap;		      /* mu */
	char **gone;		      /* mu: ids erased since the last drain (deleted elsewhere) */
	size_t n_gone;		      /* mu */
	unsigned long seq;	      /* mu: the last entry's seq (an entry's age) */
	struct negcache neg;	      /* remembered misses: its own lock */
	struct model_text *texts;     /* set once: the resources' texts on disk; NULL: memory */
	/* set once: told of every new entry, under mu: the prompt store's
	 * model_table_user_apply */
	void (*entry_added)(struct model_table *t, struct model_table_entry *e);
	/* set once: the batch client above the answers and the spool (model_table_batch.c),
	 * which they call through this */
	const struct model_table_batch_ops *batch;
	char **lookups;	    /* mu: unknown names being asked for, each by a thread of its own */
	size_t n_lookups;   /* mu */
	int lookup_threads; /* mu */
	struct model_table_poller bg; /* the thread's (see above) */
	/* The background thread's flags under mu (readers set these or wait on them, the
	 * thread is woken with wake): */
	int listing_stale;     /* changed outside the thread's work: save the listing */
	int list_tries;	       /* failed listings in a row (an empty root is then -EIO) */
	int listed;	       /* first listing attempted */
	int spool_due;	       /* a model became ACTIVE (or the mount started): resume spools */
	int list_waited;       /* a listing waited the bound for the first listing */
	int interest;	       /* someone looked since the last listing */
	int started, stopping; /* mu */
	pthread_t thread;      /* written before the thread runs, read at its join */
	struct backend_cancel bg_cancel;   /* atomic: the thread's requests */
	struct model_table_answers ans;	   /* the jobs, their workers, the ring: its own lock */
	struct model_table_sessions sess;  /* whose prompt a reader sees: its own lock */
	struct model_table_stats stats;	   /* mu */
	struct model_table_batch *batches; /* mu: model_table_batch.c, the latest of each model */
	int batch_threads;		   /* mu */
	/* prompts and generation kept across mounts (model_table_user.c) */
	pthread_mutex_t user_mu; /* the prompt store's writes; taken before mu */
	char **user_pending;	 /* mu: stored names not yet applied to an entry, sorted */
	size_t n_user_pending;	 /* mu */
	char **user_drops;	 /* mu: names whose stored files go */
	size_t n_user_drops;	 /* mu */
	unsigned long user_seq, user_round;	      /* mu */
	int user_dirty, user_in_round, user_failures; /* mu */
	double user_due;			      /* mu: when the next round of saves starts */
};

void model_table_logf(struct model_table *t, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double model_table_now(void);
/* Waits on t->changed under t->mu for at most a tenth of a second (a waiter's tick:
 * interrupts and deadlines are checked between ticks). */
void model_table_tick(struct model_table *t);
/* The same tick on any condition and the mutex it is waited under (the answers' own). */
void model_table_tick_on(pthread_cond_t *cond, pthread_mutex_t *mu);
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
