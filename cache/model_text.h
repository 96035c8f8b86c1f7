/* model_text.h - the services' resource texts (what model.json shows) kept in one
 * unlinked file instead of memory: a model costs a slot reference here, and its text is
 * read back only when model.json, an rmdir or the kept listing needs it. Slots are
 * reused when a new text fits; the file is rewritten when most of it is dead. Callers
 * serialise (the table's lock); no entries, no network. */
#ifndef TUNEDFS_MODEL_TEXT_H
#define TUNEDFS_MODEL_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct model_text;

/* Where one text lives: cap 0 for none. */
struct model_text_ref {
	uint64_t off;
	uint32_t len, cap;
};

/* A store in an unlinked file of dir (NULL: the temporary directory); NULL when no such
 * file can be made (the caller keeps texts in memory then). */
struct model_text *model_text_open(const char *dir);
void model_text_close(struct model_text *s);
/* Stores text in *r (its slot when it fits, else a new one). 0 or -errno (*r unchanged). */
int model_text_put(struct model_text *s, struct model_text_ref *r, const char *text, size_t len);
/* A heap copy of the text (NUL-terminated), or NULL when none or unreadable. */
char *model_text_get(struct model_text *s, const struct model_text_ref *r);
/* The slot is free again (*r zeroed). */
void model_text_drop(struct model_text *s, struct model_text_ref *r);
/* Whether the file is mostly dead slots and should be rewritten with model_text_move. */
int model_text_wants_compaction(const struct model_text *s);
/* Rewriting: model_text_begin makes a new file; model_text_move copies each live text into
 * it (its offset there in *new_off, for the caller to set once all moved); model_text_end
 * switches to it (ok) or drops it, the old offsets staying good. */
int model_text_begin(struct model_text *s);
int model_text_move(struct model_text *s, const struct model_text_ref *r, uint64_t *new_off);
void model_text_end(struct model_text *s, int ok);

#endif
