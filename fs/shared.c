/* shared.c - the content of a writable file while handles are open on it, shared by all of
 * them as a local file's inode is: parallel `>>` appenders each add their lines, a write
 * through one handle is seen by the next open, and the last busy handle commits at its
 * close. Which files share, and the commits themselves, are io.c's. */
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "fs/tunedfs.h"

static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tfs_shared *list;

static struct tfs_shared *find(const char *id, enum tfs_kind k)
{
	for (struct tfs_shared *s = list; s; s = s->next)
		if (s->kind == k && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

struct tfs_shared *tfs_shared_ref(const char *id, enum tfs_kind k)
{
	struct tfs_shared *s;

	pthread_mutex_lock(&list_mu);
	s = find(id, k);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&list_mu);
	return s;
}

struct tfs_shared *tfs_shared_make(const char *id, enum tfs_kind k, char *data, size_t len)
{
	struct tfs_shared *s;

	pthread_mutex_lock(&list_mu);
	s = find(id, k);
	if (s) { /* another open made it meanwhile: its content wins */
		s->refs++;
		pthread_mutex_unlock(&list_mu);
		free(data);
		return s;
	}
	s = xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	s->id = xstrdup(id);
	s->kind = k;
	s->buf = data;
	s->len = len;
	s->cap = len + 1;
	s->refs = 1;
	pthread_mutex_init(&s->mu, NULL);
	s->next = list;
	list = s;
	pthread_mutex_unlock(&list_mu);
	return s;
}

void tfs_shared_busy(struct tfs_fh *fh)
{
	if (!fh->busy) {
		fh->busy = 1;
		fh->sh->busy++;
	}
}

void tfs_shared_idle(struct tfs_fh *fh)
{
	if (fh->busy) {
		fh->busy = 0;
		fh->sh->busy--;
	}
}

int tfs_shared_last_busy(const struct tfs_fh *fh)
{
	return fh->sh->busy - fh->busy == 0;
}

void tfs_shared_put(struct tfs_shared *s)
{
	int gone;

	pthread_mutex_lock(&list_mu);
	gone = --s->refs == 0;
	if (gone) {
		for (struct tfs_shared **p = &list; *p; p = &(*p)->next) {
			if (*p == s) {
				*p = s->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&list_mu);
	if (!gone)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->id);
	free(s->buf);
	free(s);
}
