/* sessions.c - whose prompt a reader sees: every committed prompt is kept under the process
 * that wrote it and that process's parent; a reader gets the prompt kept under the nearest
 * of itself and its ancestors, else the model's last committed prompt. Processes are told
 * apart by pid and start time (/proc), so a reused pid inherits nothing. No FUSE here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "cache/model_index.h"
#include "cache/sessions.h"
#include "cache/model_table_impl.h"

/* Prompts kept per mount; past this the oldest goes (its writer has long moved on). */
#define SESS_MAX 4096

/* Parent and start time from /proc/PID/stat (one small read): 0, or -1 when it is gone. For
 * a thread id the start time is the thread's own. */
static int stat_read(int pid, unsigned long long *start, int *ppid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	/* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime */
	if (!p || sscanf(p + 2,
			 "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu",
			 ppid, start) != 2)
		return -1;
	return 0;
}

/* The process a thread id belongs to (its Tgid), or -1 when it is gone. */
static int tgid_of(int pid)
{
	char path[64], buf[256];
	int tgid = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(buf, sizeof buf, f))
		if (strncmp(buf, "Tgid:", 5) == 0) {
			tgid = atoi(buf + 5);
			break;
		}
	fclose(f);
	return tgid;
}

/* Chains read in the last second, by the id asked for: a read asks two or three times, a
 * prompt's write and read again, and ancestors do not change that fast. A chain is used
 * again only while its id is the same process: checked on a pidfd of it (one poll: a
 * pidfd turns readable when its process ends, and the id cannot be reused before), or,
 * for a thread id, against the start time in its stat. */
#define KEPT_CHAINS 128
#define KEPT_MS	    1000
static struct kept_chain {
	int pid, n;
	int pidfd; /* of pid's process when pid is one, else -1 (0 in an unused slot) */
	unsigned long long start;
	int64_t at_ms;
	struct model_table_proc chain[MODEL_TABLE_CHAIN];
} kept[KEPT_CHAINS];
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

/* Whether the process of a pidfd still runs. */
static int pidfd_alive(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

/* The kept chain of pid when its pidfd says the same process still runs: its length, or
 * -1. */
static int kept_by_pidfd(int pid, int64_t now, struct model_table_proc *chain, int max)
{
	struct kept_chain *k = &kept[(unsigned)pid % KEPT_CHAINS];
	int n = -1;

	pthread_mutex_lock(&kept_mu);
	if (k->pid == pid && k->pidfd > 0 && now - k->at_ms < KEPT_MS && pidfd_alive(k->pidfd)) {
		n = k->n < max ? k->n : max;
		memcpy(chain, k->chain, (size_t)n * sizeof *chain);
	}
	pthread_mutex_unlock(&kept_mu);
	return n;
}

/* The caller (a thread id: its process; process: the id is known to be one) and its
 * ancestors, nearest first. Ancestors are processes already, so their stat alone says who
 * and since when, and a kept chain of one (checked by its pidfd) ends the walk. start and
 * ppid: what the caller's own stat said (start 0: not read), used when the caller is its
 * process. */
static int chain_read(int pid, int process, unsigned long long start, int ppid, int64_t now,
		      struct model_table_proc *chain, int max)
{
	int n = 0, tid = pid, kept_n;

	if (pid <= 1 || max <= 0 || (!process && (pid = tgid_of(pid)) <= 1))
		return 0;
	while (pid > 1 && n < max) {
		if (n > 0 && (kept_n = kept_by_pidfd(pid, now, chain + n, max - n)) >= 0)
			return n + kept_n;
		if (n == 0 && pid == tid && start != 0)
			chain[n].start = start;
		else if (stat_read(pid, &chain[n].start, &ppid) < 0)
			break;
		chain[n++].pid = pid;
		pid = ppid;
	}
	return n;
}

/* Keeps fresh in pid's slot, closing what the slot held. */
static void kept_store(const struct kept_chain *fresh)
{
	struct kept_chain *k = &kept[(unsigned)fresh->pid % KEPT_CHAINS];
	int old;

	pthread_mutex_lock(&kept_mu);
	old = k->pidfd;
	*k = *fresh;
	pthread_mutex_unlock(&kept_mu);
	if (old > 0)
		close(old);
}

/* pid's stat (*start 0 when it cannot be read) and a pidfd of its process, or -1 when pid
 * is no process (a thread id) or that process ended: the pidfd is opened before the stat
 * is read and checked alive after it, so the stat is that process's. */
static int pid_open(int pid, unsigned long long *start, int *ppid)
{
	int fd = pid > 1 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;

	if (pid <= 1 || stat_read(pid, start, ppid) < 0)
		*start = 0;
	if (fd > 0 && (*start == 0 || !pidfd_alive(fd))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* After a chain was read afresh: its parent's part kept too, so that the next child of
 * the same parent (a shell's next command, a make -j's next job) reads one stat. */
static void keep_parent(const struct kept_chain *fresh, int64_t now)
{
	struct kept_chain p = {.pid = fresh->chain[1].pid, .start = fresh->chain[1].start};
	struct kept_chain *k = &kept[(unsigned)p.pid % KEPT_CHAINS];
	unsigned long long start;
	int have, ppid;

	pthread_mutex_lock(&kept_mu);
	have = k->pid == p.pid && k->start == p.start && k->pidfd > 0 && now - k->at_ms < KEPT_MS;
	pthread_mutex_unlock(&kept_mu);
	if (have || (p.pidfd = pid_open(p.pid, &start, &ppid)) < 0)
		return;
	if (start != p.start) { /* ended and its id reused since the chain was read */
		close(p.pidfd);
		return;
	}
	p.n = fresh->n - 1;
	memcpy(p.chain, fresh->chain + 1, (size_t)p.n * sizeof *p.chain);
	p.at_ms = now;
	kept_store(&p);
}

int model_table_proc_chain(int pid, struct model_table_proc *chain, int max)
{
	unsigned long long start = 0;
	int64_t now = clock_now_ms();
	struct kept_chain *k = &kept[(unsigned)pid % KEPT_CHAINS], fresh = {.pid = pid};
	int n, ppid = 0;

	if (pid > 1 && (n = kept_by_pidfd(pid, now, chain, max)) >= 0)
		return n;
	/* the id's own stat, read once: its start time keys the kept chains (a reused id
	 * starts later) and, when the id is a process, begins the chain */
	fresh.pidfd = pid_open(pid, &start, &ppid);
	if (start == 0)
		return chain_read(pid, 0, 0, 0, now, chain, max);
	fresh.n = -1;
	pthread_mutex_lock(&kept_mu);
	if (k->pid == pid && k->start == start && now - k->at_ms < KEPT_MS) {
		fresh.n = k->n; /* kept, and from now on checked by the pidfd */
		memcpy(fresh.chain, k->chain, sizeof fresh.chain);
		fresh.at_ms = k->at_ms;
	}
	pthread_mutex_unlock(&kept_mu);
	if (fresh.n < 0) {
		fresh.n = chain_read(pid, fresh.pidfd > 0, start, ppid, now, fresh.chain,
				     MODEL_TABLE_CHAIN);
		fresh.at_ms = now;
		if (fresh.pidfd > 0 && fresh.n >= 2)
			keep_parent(&fresh, now);
	}
	n = fresh.n < max ? fresh.n : max;
	memcpy(chain, fresh.chain, (size_t)n * sizeof *chain);
	fresh.start = start;
	if (fresh.pidfd > 0 || fresh.at_ms == now)
		kept_store(&fresh);
	return n;
}

static int same_proc(const struct model_table_proc *a, const struct model_table_proc *b)
{
	return a->pid != 0 && a->pid == b->pid && a->start == b->start;
}

static void sess_free_one(struct model_table_sess *s)
{
	free(s->id);
	free(s->prompt);
}

void model_table_sessions_init(struct model_table_sessions *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
}

void model_table_sessions_free(struct model_table_sessions *s)
{
	for (size_t i = 0; i < s->n; i++)
		sess_free_one(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	pthread_mutex_destroy(&s->mu);
}

/* The one kept by chain[0] on id, a freed slot for it, or NULL. Under s->mu. */
static struct model_table_sess *sess_slot(struct model_table_sessions *s, const char *id,
					  const struct model_table_proc *writer)
{
	for (size_t i = 0; i < s->n; i++) {
		if (same_proc(&s->v[i].writer, writer) && strcmp(s->v[i].id, id) == 0) {
			sess_free_one(&s->v[i]);
			return &s->v[i];
		}
	}
	if (s->n == SESS_MAX) {
		sess_free_one(&s->v[0]);
		memmove(s->v, s->v + 1, (s->n - 1) * sizeof *s->v);
		s->n--;
	}
	s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	return &s->v[s->n++];
}

void model_table_sess_record(struct model_table_sessions *s, const char *id,
			     const struct model_table_proc *chain, int n, const char *prompt,
			     size_t len, int nl)
{
	char *id_copy, *prompt_copy;
	struct model_table_sess *k;

	if (n < 1)
		return;
	id_copy = xstrdup(id);
	prompt_copy = xstrndup(prompt, len);
	pthread_mutex_lock(&s->mu);
	k = sess_slot(s, id, &chain[0]);
	memset(k, 0, sizeof *k);
	k->id = id_copy;
	k->writer = chain[0];
	if (n > 1)
		k->parent = chain[1];
	k->prompt = prompt_copy;
	k->len = len;
	k->nl = nl;
	k->seq = ++s->seq;
	pthread_mutex_unlock(&s->mu);
}

/* The newest kept on id by the nearest of chain's n processes, or NULL. Under s->mu. */
static const struct model_table_sess *sess_nearest(const struct model_table_sessions *s,
						   const char *id,
						   const struct model_table_proc *chain, int n)
{
	for (int d = 0; d < n; d++) {
		const struct model_table_sess *best = NULL;
		for (size_t i = 0; i < s->n; i++) {
			const struct model_table_sess *k = &s->v[i];
			if ((same_proc(&k->writer, &chain[d]) ||
			     same_proc(&k->parent, &chain[d])) &&
			    (!best || k->seq > best->seq) && strcmp(k->id, id) == 0)
				best = k;
		}
		if (best)
			return best;
	}
	return NULL;
}

int model_table_sess_find(struct model_table_sessions *s, const char *id,
			  const struct model_table_proc *chain, int n, char **prompt, size_t *len,
			  int *bad, int *nl)
{
	const struct model_table_sess *k;

	if (n < 1)
		return 0;
	pthread_mutex_lock(&s->mu);
	k = sess_nearest(s, id, chain, n);
	if (k) {
		*prompt = xstrndup(k->prompt, k->len);
		*len = k->len;
		*bad = k->bad;
		*nl = k->nl;
	}
	pthread_mutex_unlock(&s->mu);
	return k != NULL;
}

void model_table_sess_drop(struct model_table_sessions *s, const char *id)
{
	size_t o = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].id, id) == 0)
			sess_free_one(&s->v[i]);
		else
			s->v[o++] = s->v[i];
	}
	s->n = o;
	pthread_mutex_unlock(&s->mu);
}

char *model_table_prompt_sel(struct model_table *t, struct model_table_entry *e,
			     const struct model_table_proc *chain, int n, size_t *len, int *bad,
			     int *nl)
{
	const struct model_table_prompt *kp;
	char *p = NULL;

	if (model_table_sess_find(&t->sess, e->id, chain, n, &p, len, bad, nl))
		return p;
	kp = model_table_prompt_get(e);
	if (!kp->prompt)
		return NULL;
	*len = kp->prompt_len;
	*bad = kp->prompt_bad;
	*nl = kp->prompt_nl;
	return xstrndup(kp->prompt, kp->prompt_len);
}

int model_table_prompt_of(struct model_table *t, int pid, const char *id, int as_written,
			  char **data, size_t *len)
{
	struct model_table_proc chain[MODEL_TABLE_CHAIN];
	int n = pid > 0 ? model_table_proc_chain(pid, chain, MODEL_TABLE_CHAIN) : 0, bad, nl,
	    rc = -ENODATA;
	struct model_table_entry *e;
	char *p;

	pthread_mutex_lock(&t->mu);
	e = model_table_find(t, id);
	p = e ? model_table_prompt_sel(t, e, chain, n, len, &bad, &nl) : NULL;
	pthread_mutex_unlock(&t->mu);
	if (p) {
		*data = xrealloc(p, *len + 3);
		if (as_written && nl) {
			memcpy(*data + *len, nl == 2 ? "\r\n" : "\n", (size_t)nl);
			*len += (size_t)nl;
		}
		(*data)[*len] = 0;
		rc = 0;
	} else if (!e) {
		rc = -ENOENT;
	}
	return rc;
}
