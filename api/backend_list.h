/* backend_list.h - one listing's pages, each asked for while the one before is read when
 * the backend can list in two halves (list_fetch, list_parse). Used by backend.c's
 * backend_list_all only; the checks on tokens, pages and models stay there. */
#ifndef TUNEDFS_BACKEND_LIST_H
#define TUNEDFS_BACKEND_LIST_H

#include "api/backend.h"

struct backend_ops;
struct backend_lister;

/* A lister for one listing; it never asks ahead for a token over max_token bytes or one
 * it asked for before. */
struct backend_lister *backend_lister_new(const struct backend_ops *ops, void *impl,
					  struct backend_cancel *c, size_t max_token);
/* The page of token (NULL: the first), as the backend's list call gives it: 0 with out
 * filled, or -errno with err filled. With ahead set, the page after it is asked for
 * while this one is read (the caller's caps would allow one more page). */
int backend_lister_page(struct backend_lister *l, const char *token, int ahead,
			struct model_page *out, struct backend_error *err);
/* Waits for a page still being asked for, drops it, frees l. */
void backend_lister_free(struct backend_lister *l);

#endif
