/* park.c - reads that wait (wait, response, responses/X) kept off the FUSE worker threads:
 * the session's read of /dev/fuse hands each READ of such a file here; it is answered at
 * once when it can be, else parked until one notifier thread finds it answerable (an answer
 * or more of one came, the state changed, its time ran out) or the kernel interrupts it.
 * A change is noted with its model (and spool name), and only the reads it concerns are
 * tried then; every read is tried at a slower tick, for what no note names. The reading
 * itself is io.c's; the replies to parked reads are written here only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "fs/tunedfs.h"

/* A READ not answered yet. */
struct parked {
	struct parked *next;
	uint64_t unique; /* the kernel's name of the request */
	int fd;		 /* the /dev/fuse descriptor it came on, where its reply goes */
	struct tfs_fh *fh;
	uint64_t off;
	uint32_t size;
	int pid;
	int waits_state; /* a wait file: a state change, not an answer, ends it */
	int64_t deadline_ms;
	int busy;	    /* being tried outside the lock: an interrupt only marks it */
	int interrupted;    /* FUSE_INTERRUPT came while busy */
	int again;	    /* a note for it came while it was tried: try it once more */
	unsigned long seen; /* the notes before this one were made before its last try */
};

/* What a change concerns: a model's reads, or only those of one spool name (else NULL). */
struct note {
	char *id, *name;
};

#define NOTES	     256  /* kept; a notifier further behind tries every read */
#define SWEEP_MS     1000 /* every read is tried this often ... */
#define SWEEP_FEW_MS 100  /* ... or this often with FEW parked */
#define FEW	     64
#define TICK_MS	     100 /* the notifier's longest sleep */

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_more; /* a CLOCK_MONOTONIC one, made by park_init */
static pthread_once_t park_once = PTHREAD_ONCE_INIT;
static struct parked *parked;
static size_t n_parked;
static int notifier_started, stopping;
static pthread_t notifier;
static struct note notes[NOTES]; /* a ring: note k is notes[k % NOTES] */
static unsigned long note_seq;	 /* notes made so far */
static int retry;		 /* some read has again set */

/* The one place a parked read's reply is written: rc < 0 an error, else rc bytes of data.
 * A write the kernel refuses (the request is gone: interrupted, or the mount aborted) has
 * nobody to tell. */
static void reply(const struct parked *p, int rc, const char *data)
{
	struct fuse_out_header out = {.unique = p->unique};
	struct iovec iov[2] = {{&out, sizeof out}, {(void *)data, rc > 0 ? (size_t)rc : 0}};

	out.error = rc < 0 ? rc : 0;
	out.len = (uint32_t)(sizeof out + iov[1].iov_len);
	if (writev(p->fd, iov, rc > 0 ? 2 : 1) < 0 && errno != ENOENT && errno != ENODEV)
		tfs_log(LOG_WARNING, "replying to a waiting read: %s", strerror(errno));
}

/* A read is first tried into a buffer this big: cat asks for 128 KiB, which malloc would
 * map and unmap whole each time (fs/main.c sets that threshold), while an answer is
 * mostly far shorter. */
#define ATTEMPT_FIRST (64 * 1024)

/* What tells the reading functions to give up at once instead of waiting. */
static int give_up(void)
{
	return 1;
}

/* Reads p without waiting: -EINTR while it would wait (a read's own -EAGAIN, a quota's,
 * is its answer). Expired: with no time left, so that the timeout is noted as a blocking
 * read notes it. */
static int attempt(struct parked *p, int expired, char **data)
{
	struct tfs_wait w = {.pid = p->pid,
			     .timeout = expired ? 0 : tfs_ctx.opt.timeout,
			     .intr = expired ? NULL : give_up};
	size_t first = p->size < ATTEMPT_FIRST ? p->size : ATTEMPT_FIRST;
	int rc;

	*data = xmalloc(first ? first : 1);
	rc = tfs_read_with(p->fh, &w, *data, first, (off_t)p->off);
	if (rc == (int)first && first < p->size) { /* there may be more: all it asked for */
		free(*data);
		*data = xmalloc(p->size);
		rc = tfs_read_with(p->fh, &w, *data, p->size, (off_t)p->off);
	}
	return rc;
}

/* Under park_mu. */
static void unlink_parked(struct parked *p)
{
	for (struct parked **q = &parked; *q; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			n_parked--;
			return;
		}
	}
}

/* Whether n concerns p: p's model, and p's name when p reads a spool answer by name. */
static int concerns(const struct note *n, const struct parked *p)
{
	const struct tfs_fh *fh = p->fh;
	int by_name = (fh->kind == TFS_SPOOL_RESPONSE || fh->kind == TFS_SPOOL_JSON) && fh->name &&
		      !fh->batch;

	return strcmp(n->id, fh->id) == 0 &&
	       (!n->name || !by_name || strcmp(n->name, fh->name) == 0);
}

/* Whether a note made since the from-th concerns p (or some were dropped). Under park_mu. */
static int noted_since(const struct parked *p, unsigned long from)
{
	if (note_seq - from > NOTES)
		return 1;
	for (unsigned long k = from; k < note_seq; k++)
		if (concerns(&notes[k % NOTES], p))
			return 1;
	return 0;
}

/* After an attempt at p (busy): replies and frees it when its read is over (whatever an
 * expired attempt gave is its end); else a note made meanwhile has it tried again. */
static void settle(struct parked *p, int expired, int rc, char *data)
{
	int over;

	pthread_mutex_lock(&park_mu);
	p->busy = 0;
	over = rc != -EINTR || expired || p->interrupted || stopping;
	if (over) {
		unlink_parked(p);
	} else if (noted_since(p, p->seen)) {
		p->again = retry = 1;
		pthread_cond_signal(&park_more);
	}
	pthread_mutex_unlock(&park_mu);
	if (over) {
		reply(p, rc, data);
		free(p);
	}
	free(data);
}

/* Which parked reads to try now: all on a sweep, else those a note since the from-th
 * concerns, those noted while tried, those that wait on a state (a wait file) and those
 * whose time ran out. Marked busy; *n gets the count. Under park_mu. */
static struct parked **pick(int all, unsigned long from, size_t *n)
{
	int64_t now = clock_now_ms();
	struct parked **v = xmalloc((n_parked ? n_parked : 1) * sizeof *v);

	*n = 0;
	retry = 0;
	for (struct parked *p = parked; p; p = p->next) {
		if (p->busy || !(all || p->again || p->waits_state || now >= p->deadline_ms ||
				 noted_since(p, from)))
			continue;
		p->busy = 1;
		p->again = 0;
		p->seen = note_seq;
		v[(*n)++] = p;
	}
	return v;
}

/* Under park_mu: waits a tick unless a note or a retry is waiting already. The tick is
 * on the monotonic clock, so a change of the wall clock neither stalls nor hurries it. */
static void tick(unsigned long from)
{
	struct timespec ts;

	if (note_seq != from || retry || stopping)
		return;
	ts = clock_deadline_in(TICK_MS);
	pthread_cond_timedwait(&park_more, &park_mu, &ts);
}

static void park_init(void)
{
	clock_cond_init(&park_more);
}

static void *notify_main(void *arg)
{
	unsigned long from = 0;
	int64_t next_sweep = 0;

	for (;;) {
		struct parked **v;
		int64_t now;
		size_t n;
		int all;

		pthread_mutex_lock(&park_mu);
		while (!parked && !stopping)
			pthread_cond_wait(&park_more, &park_mu);
		if (stopping) {
			pthread_mutex_unlock(&park_mu);
			return NULL;
		}
		/* every read now and then: what no note names (a batch ending, a listing) and
		 * a prompt shared by two spool names, whose note names only one of them */
		now = clock_now_ms();
		all = now >= next_sweep;
		if (all)
			next_sweep = now + (n_parked <= FEW ? SWEEP_FEW_MS : SWEEP_MS);
		v = pick(all, from, &n);
		from = note_seq;
		pthread_mutex_unlock(&park_mu);
		for (size_t i = 0; i < n; i++) {
			char *data = NULL;
			int expired = clock_now_ms() >= v[i]->deadline_ms;
			int rc = attempt(v[i], expired, &data);
			settle(v[i], expired, rc, data);
		}
		free(v);
		pthread_mutex_lock(&park_mu);
		tick(from);
		pthread_mutex_unlock(&park_mu);
	}
}

void tfs_park_note(const char *id, const char *name)
{
	struct note *n;

	pthread_once(&park_once, park_init);
	pthread_mutex_lock(&park_mu);
	if (parked) { /* else a read parked later reads the table after this change */
		n = &notes[note_seq % NOTES];
		free(n->id);
		free(n->name);
		n->id = xstrdup(id);
		n->name = name ? xstrdup(name) : NULL;
		note_seq++;
		pthread_cond_signal(&park_more);
	}
	pthread_mutex_unlock(&park_mu);
}

/* Under park_mu. */
static void start_notifier(void)
{
	if (notifier_started)
		return;
	if (pthread_create(&notifier, NULL, notify_main, NULL) == 0) {
		notifier_started = 1;
		pthread_setname_np(notifier, "tfs-notify"); /* its CPU apart in /proc */
	} else {
		tfs_log(LOG_ERR, "cannot start the thread that answers waiting reads");
	}
}

/* A FUSE_INTERRUPT: 1 when it named a parked read (answered -EINTR, or marked). */
static int take_interrupt(const char *buf, size_t n)
{
	struct fuse_interrupt_in ii;
	struct parked *p;

	if (n < sizeof(struct fuse_in_header) + sizeof ii)
		return 0;
	memcpy(&ii, buf + sizeof(struct fuse_in_header), sizeof ii);
	pthread_mutex_lock(&park_mu);
	for (p = parked; p && p->unique != ii.unique; p = p->next)
		;
	if (p && p->busy) {
		p->interrupted = 1;
		p = NULL;
	} else if (p) {
		unlink_parked(p);
	}
	pthread_mutex_unlock(&park_mu);
	if (p) {
		reply(p, -EINTR, NULL);
		free(p);
		return 1;
	}
	return 0; /* libfuse's (a worker's request), or marked above */
}

int tfs_park_take(int fd, const void *buf, size_t n)
{
	struct fuse_in_header in;
	struct fuse_read_in rd;
	struct parked *p;
	struct tfs_fh *fh;
	char *data = NULL;
	int rc;

	pthread_once(&park_once, park_init);
	memcpy(&in, buf, sizeof in);
	if (in.opcode == FUSE_INTERRUPT)
		return take_interrupt(buf, n);
	if (in.opcode != FUSE_READ || n < sizeof in + sizeof rd || !tfs_ctx.mt)
		return 0;
	memcpy(&rd, (const char *)buf + sizeof in, sizeof rd);
	fh = (struct tfs_fh *)(uintptr_t)rd.fh; /* what open set: the kernel gives it back */
	if ((rd.flags & O_NONBLOCK) || !tfs_read_may_wait(fh))
		return 0;
	p = xmalloc(sizeof *p);
	memset(p, 0, sizeof *p);
	p->unique = in.unique;
	p->fd = fd;
	p->fh = fh;
	p->off = rd.offset;
	p->size = rd.size;
	p->pid = (int)in.pid;
	p->waits_state = fh->kind == TFS_WAIT;
	p->deadline_ms = clock_now_ms() + (int64_t)(tfs_ctx.opt.timeout * 1000);
	p->busy = 1; /* listed before the attempt: an interrupt meanwhile is not lost */
	pthread_mutex_lock(&park_mu);
	p->seen = note_seq; /* and a note meanwhile has it tried again */
	if (stopping) {
		pthread_mutex_unlock(&park_mu);
		free(p);
		return 0;
	}
	p->next = parked;
	parked = p;
	n_parked++;
	start_notifier();
	pthread_mutex_unlock(&park_mu);
	rc = attempt(p, 0, &data);
	settle(p, 0, rc, data);
	if (rc == -EINTR) {
		pthread_mutex_lock(&park_mu);
		pthread_cond_signal(&park_more);
		pthread_mutex_unlock(&park_mu);
	}
	return 1;
}

size_t tfs_park_count(void)
{
	size_t n;

	pthread_mutex_lock(&park_mu);
	n = n_parked;
	pthread_mutex_unlock(&park_mu);
	return n;
}

void tfs_park_stop(void)
{
	struct parked *all;
	int joined;

	pthread_once(&park_once, park_init);
	pthread_mutex_lock(&park_mu);
	stopping = 1;
	joined = notifier_started;
	notifier_started = 0;
	pthread_cond_broadcast(&park_more);
	pthread_mutex_unlock(&park_mu);
	if (joined)
		pthread_join(notifier, NULL);
	pthread_mutex_lock(&park_mu);
	all = parked;
	parked = NULL;
	n_parked = 0;
	pthread_mutex_unlock(&park_mu);
	while (all) {
		struct parked *p = all;
		all = p->next;
		reply(p, -EINTR, NULL);
		free(p);
	}
	pthread_mutex_lock(&park_mu);
	for (size_t k = 0; k < NOTES; k++) {
		free(notes[k].id);
		free(notes[k].name);
		notes[k].id = notes[k].name = NULL;
	}
	pthread_mutex_unlock(&park_mu);
}
