/* draft.h - the draft store: models being written before tuning starts, kept as user
 * data in the data directory (never evicted), every file written to a temporary name,
 * fsynced and renamed into place, directories 0700 and files 0600.
 * Layout: DATA/drafts/NAME/{config,examples.jsonl,submitted}. No parsing here (spec.h). */
#ifndef TUNEDFS_DRAFT_H
#define TUNEDFS_DRAFT_H

#include <stddef.h>

struct draft_store;

/* dir is the drafts directory itself (its entries are the NAME directories); it is created
 * (0700, with parents) when missing. Leftover temporaries of interrupted writes are
 * removed here. Names follow draft_valid_name, else -EINVAL. All calls
 * are safe from several threads. */
int draft_store_open(const char *dir, struct draft_store **out);
void draft_store_close(struct draft_store *ds);

/* Names of all drafts, heap array of heap strings. */
int draft_list(struct draft_store *ds, char ***names, size_t *n);
int draft_create(struct draft_store *ds, const char *name); /* -EEXIST if present */
/* -ENOENT if absent. Also clears a submitted mark (it lives in the draft's directory). */
int draft_remove(struct draft_store *ds, const char *name); /* whole draft */
int draft_exists(struct draft_store *ds, const char *name); /* 1 or 0 */

/* file is "config" or "examples.jsonl" (or, in a store of prompts, "prompt" or
 * "generation"; any other name: -EINVAL).
 * draft_read: -ENOENT when the file was never written (an empty file reads as len 0). */
int draft_read(struct draft_store *ds, const char *name, const char *file, char **data,
	       size_t *len);
/* Atomic replacement, durable when it returns 0; -ENOENT when the draft does not exist. */
int draft_write(struct draft_store *ds, const char *name, const char *file, const char *data,
		size_t len);
/* 1 when name/file was written (even empty), 0 when not. */
int draft_has(struct draft_store *ds, const char *name, const char *file);
/* Removes name/file, durably; -ENOENT when it was never written. */
int draft_unlink(struct draft_store *ds, const char *name, const char *file);

/* Marks a draft as submitted (its create call went out) with the operation name, so a
 * crash between create and the next listing neither loses nor duplicates the model. */
int draft_mark_submitted(struct draft_store *ds, const char *name, const char *op_name);
/* 1 and *op_name (heap) when submitted, 0 when not. */
int draft_submitted(struct draft_store *ds, const char *name, char **op_name);

/* The names the store takes (they are directory names on disk): 1-40 of a-z 0-9 -,
 * starting with a letter and not ending with -. */
int draft_valid_name(const char *name);

#endif
