/* sessions.h - whose prompt a reader sees (sessions.c): prompts kept under the process
 * that wrote them and its parent, looked up by the reader's chain of ancestors. The kept
 * prompts have their own lock; the model table embeds them but is not needed to use them. */
#ifndef TUNEDFS_SESSIONS_H
#define TUNEDFS_SESSIONS_H

#include <pthread.h>
#include <stddef.h>

#include "cache/model_table.h"

struct model_table_entry;

/* A prompt kept under the process that wrote it (sessions.c). */
struct model_table_sess {
	char *id;
	struct model_table_proc writer, parent;
	char *prompt;
	size_t len;
	int bad, nl; /* nl: as model_table_entry's prompt_nl */
	unsigned long seq;
};

/* Every kept prompt of a mount. Lock order: the table's mu may be held when mu here is
 * taken, never the other way round; mu is a leaf (nothing is taken or called out while it
 * is held), so it is never held for long. */
struct model_table_sessions {
	pthread_mutex_t mu;
	struct model_table_sess *v; /* under mu: oldest first */
	size_t n;		    /* under mu */
	unsigned long seq;	    /* under mu: the newest one's seq */
};

void model_table_sessions_init(struct model_table_sessions *s);
void model_table_sessions_free(struct model_table_sessions *s);

#define MODEL_TABLE_CHAIN 8
/* Keeps prompt on id under chain[0] (the writer) and chain[1] (its parent), n of them. */
void model_table_sess_record(struct model_table_sessions *s, const char *id,
			     const struct model_table_proc *chain, int n, const char *prompt,
			     size_t len, int nl);
/* The prompt kept on id under the nearest of chain's n processes: 1 and a copy in *prompt
 * (with its length, refusal and newline), or 0 when none is kept. */
int model_table_sess_find(struct model_table_sessions *s, const char *id,
			  const struct model_table_proc *chain, int n, char **prompt, size_t *len,
			  int *bad, int *nl);
/* Forgets every prompt kept on id (the model is gone). */
void model_table_sess_drop(struct model_table_sessions *s, const char *id);

/* The prompt a reader with this chain sees on e (its own, else the last committed) as a
 * copy the caller frees, its length, and whether it was refused and which newline it had;
 * NULL when there is none. Under the table's mu (e is read). */
char *model_table_prompt_sel(struct model_table *t, struct model_table_entry *e,
			     const struct model_table_proc *chain, int n, size_t *len, int *bad,
			     int *nl);
#endif
