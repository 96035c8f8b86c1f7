/* handles.c - every handle the mount has given out (an open file's, a listed directory's)
 * until its release. An unmount drops the releases the kernel has queued and the mount has
 * not read yet (the last close of a lazily unmounted tree queues its release, then ends the
 * connection): the handles they name are released here, at the end, as those would have. */
#include <pthread.h>

#include "fs/tunedfs.h"

static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tfs_open *open_list;

void tfs_open_add(struct tfs_open *o, void (*release)(struct tfs_open *))
{
	o->release = release;
	o->prev = NULL;
	pthread_mutex_lock(&open_mu);
	o->next = open_list;
	if (open_list)
		open_list->prev = o;
	open_list = o;
	pthread_mutex_unlock(&open_mu);
}

static void unlink_open(struct tfs_open *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else if (open_list == o)
		open_list = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
}

void tfs_open_remove(struct tfs_open *o)
{
	pthread_mutex_lock(&open_mu);
	unlink_open(o);
	pthread_mutex_unlock(&open_mu);
}

size_t tfs_open_release_all(void)
{
	size_t n = 0;

	for (;;) {
		pthread_mutex_lock(&open_mu);
		struct tfs_open *o = open_list;
		if (o)
			unlink_open(o); /* out first: its release's remove is then a no-op */
		pthread_mutex_unlock(&open_mu);
		if (!o)
			return n;
		o->release(o);
		n++;
	}
}
