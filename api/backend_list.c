/* backend_list.c - the pages of one listing, the next asked for as soon as its token is
 * known: a quick look at a page's answer finds the token, a thread asks for that page
 * while this one is read in full, and the full reading confirms the token (a wrong guess
 * only costs the page asked for in vain). Not the checks on a listing: backend.c. */
#include "api/backend_impl.h"
#include "api/backend_list.h"
#include "base/strset.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct backend_lister {
	const struct backend_ops *ops;
	void *impl;
	struct backend_cancel *c;
	size_t max_token;
	struct strset asked; /* the tokens asked for */
	/* the page asked for ahead, while ahead_running on th */
	int ahead_running;
	pthread_t th;
	char *ahead_token, *ahead_next;
	void *ahead_raw;
	int ahead_rc;
	struct backend_error ahead_err;
};

struct backend_lister *backend_lister_new(const struct backend_ops *ops, void *impl,
					  struct backend_cancel *c, size_t max_token)
{
	struct backend_lister *l = xcalloc(1, sizeof(*l));

	l->ops = ops;
	l->impl = impl;
	l->c = c;
	l->max_token = max_token;
	return l;
}

/* 1 when t was asked for before; else remembers it and returns 0. */
static int lister_asked(struct backend_lister *l, const char *t)
{
	return strset_add(&l->asked, t) == 0;
}

static void *lister_ahead_thread(void *arg)
{
	struct backend_lister *l = arg;

	l->ahead_rc = l->ops->list_fetch(l->impl, l->ahead_token, &l->ahead_raw, &l->ahead_next,
					 l->c, &l->ahead_err);
	return NULL;
}

/* Asks for the page of token on a thread of its own; takes token. */
static void lister_ask_ahead(struct backend_lister *l, char *token)
{
	if (strlen(token) > l->max_token || lister_asked(l, token)) {
		free(token);
		return;
	}
	l->ahead_token = token;
	l->ahead_raw = NULL;
	l->ahead_next = NULL;
	memset(&l->ahead_err, 0, sizeof(l->ahead_err));
	if (pthread_create(&l->th, NULL, lister_ahead_thread, l) != 0) {
		free(l->ahead_token);
		l->ahead_token = NULL;
		return;
	}
	l->ahead_running = 1;
}

/* Waits for the page asked ahead; 1 with it in *raw, *next, *rc and err when it is the page
 * of token, else 0 (it is dropped). */
static int lister_take_ahead(struct backend_lister *l, const char *token, void **raw, char **next,
			     int *rc, struct backend_error *err)
{
	int hit;

	if (!l->ahead_running)
		return 0;
	pthread_join(l->th, NULL);
	l->ahead_running = 0;
	hit = token && strcmp(token, l->ahead_token) == 0;
	if (hit) {
		*raw = l->ahead_raw;
		*next = l->ahead_next;
		*rc = l->ahead_rc;
		if (*rc < 0)
			*err = l->ahead_err;
	} else {
		if (l->ahead_rc == 0)
			l->ops->list_parse(l->impl, l->ahead_raw, NULL, NULL);
		free(l->ahead_next);
	}
	free(l->ahead_token);
	l->ahead_token = NULL;
	return hit;
}

int backend_lister_page(struct backend_lister *l, const char *token, int ahead,
			struct model_page *out, struct backend_error *err)
{
	void *raw = NULL;
	char *next = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!l->ops->list_fetch || !l->ops->list_parse)
		return l->ops->list(l->impl, token, out, l->c, err);
	if (!lister_take_ahead(l, token, &raw, &next, &rc, err)) {
		if (token)
			lister_asked(l, token);
		rc = l->ops->list_fetch(l->impl, token, &raw, &next, l->c, err);
	}
	if (rc < 0) {
		free(next);
		return rc;
	}
	if (next && ahead)
		lister_ask_ahead(l, next);
	else
		free(next);
	return l->ops->list_parse(l->impl, raw, out, err);
}

void backend_lister_free(struct backend_lister *l)
{
	if (!l)
		return;
	lister_take_ahead(l, NULL, NULL, NULL, NULL, NULL);
	strset_free(&l->asked);
	free(l);
}
