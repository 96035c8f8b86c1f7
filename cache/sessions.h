/* sessions.h - whose prompt a reader sees (sessions.c): prompts kept under the process
 * that wrote them and its parent, looked up by the reader's chain of ancestors. Under the
 * table's lock. */
#ifndef TUNEDFS_SESSIONS_H
#define TUNEDFS_SESSIONS_H

#include "cache/model_table_impl.h"

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

/* The prompt a reader with this chain sees on e (its own, else the last committed), its
 * length, and whether it was refused and which newline it had. Under mu. */
const char *model_table_prompt_sel(struct model_table *t, struct model_table_entry *e,
				   const struct model_table_proc *chain, int n, size_t *len,
				   int *bad, int *nl);
#endif
