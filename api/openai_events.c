/* openai_events.c - a job's progress for the openai backend: its metrics events, read
 * newest first and only as far as the last poll read (the snapshots so far are kept per
 * job in training), then its checkpoints once it succeeded. */
#include "api/backend.h"
#include "api/http.h"
#include "api/openai_internal.h"
#include "base/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define OPENAI_SEEN_MAX	  256 /* jobs followed at once; past it the oldest is read afresh */
#define OPENAI_EVENT_PAGE 100
#define OPENAI_EVENT_MAX  100000 /* pages: a service that never stops is a broken one */

struct openai_job_seen {
	char *job, *newest; /* the newest event read */
	struct tuning_snapshot *snaps;
	size_t n;
	int total_steps;
};

struct openai_seen {
	pthread_mutex_t lock;
	struct openai_job_seen v[OPENAI_SEEN_MAX];
	size_t n, next; /* next: the slot reused when full */
};

struct openai_seen *openai_seen_new(void)
{
	struct openai_seen *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void oe_clear(struct openai_job_seen *e)
{
	free(e->job);
	free(e->newest);
	free(e->snaps);
	memset(e, 0, sizeof(*e));
}

void openai_seen_free(struct openai_seen *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		oe_clear(&s->v[i]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct openai_job_seen *oe_find(struct openai_seen *s, const char *job)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].job, job))
			return &s->v[i];
	return NULL;
}

/* What earlier polls read of job: its snapshots into m; the newest event's id. */
static char *oe_recall(struct openai_seen *s, struct tuned_model *m)
{
	struct openai_job_seen *e;
	char *newest = NULL;

	pthread_mutex_lock(&s->lock);
	e = oe_find(s, m->job);
	if (e && e->n) {
		m->snapshots = xrealloc(m->snapshots, (m->n_snapshots + e->n) * sizeof(*e->snaps));
		memcpy(m->snapshots + m->n_snapshots, e->snaps, e->n * sizeof(*e->snaps));
		m->n_snapshots += e->n;
		m->total_steps = e->total_steps;
		newest = e->newest ? xstrdup(e->newest) : NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return newest;
}

/* Keeps what m's events showed for the next poll; a job that ended is forgotten. */
static void oe_remember(struct openai_seen *s, const struct tuned_model *m, const char *newest)
{
	struct openai_job_seen *e;

	pthread_mutex_lock(&s->lock);
	e = oe_find(s, m->job);
	if (!e && m->state == BACKEND_CREATING && newest) {
		if (s->n < OPENAI_SEEN_MAX)
			e = &s->v[s->n++];
		else
			e = &s->v[s->next++ % OPENAI_SEEN_MAX];
		oe_clear(e);
		e->job = xstrdup(m->job);
	}
	if (e && m->state != BACKEND_CREATING) {
		oe_clear(e);
		if (e != &s->v[--s->n]) {
			*e = s->v[s->n];
			memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
		}
	} else if (e && newest) {
		free(e->newest);
		e->newest = xstrdup(newest);
		e->snaps = xrealloc(e->snaps, (m->n_snapshots + 1) * sizeof(*e->snaps));
		if (m->n_snapshots)
			memcpy(e->snaps, m->snapshots, m->n_snapshots * sizeof(*e->snaps));
		e->n = m->n_snapshots;
		e->total_steps = m->total_steps;
	}
	pthread_mutex_unlock(&s->lock);
}

static int oe_malformed(const struct http_response *resp, const char *what,
			struct backend_error *err)
{
	http_error_set(err, resp->status, "",
		       "malformed answer from OpenAI: %s is not the expected JSON", what);
	return -EIO;
}

/* The events newer than known, newest first, page after page. */
static int oe_events(struct http_client *hc, const char *prefix, const char *known,
		     struct tuned_model *m, char **newest, struct backend_cancel *c,
		     struct backend_error *err)
{
	char *after = NULL;
	int rc = 0, more = 1;

	for (int page = 0; more && page < OPENAI_EVENT_MAX && rc == 0; page++) {
		struct http_response resp = {0};
		char *path =
		    xasprintf("%s/fine_tuning/jobs/%s/events?limit=%d%s%s", prefix, m->job,
			      OPENAI_EVENT_PAGE, after ? "&after=" : "", after ? after : "");
		free(after);
		after = NULL;
		rc = http_request(hc, HTTP_GET, path, NULL, 0, c, &resp, err);
		if (rc == 0 &&
		    openai_parse_events(resp.body, resp.len, known, m, &more, &after, newest) < 0)
			rc = oe_malformed(&resp, "the job's events", err);
		if (rc == 0 && after && strpbrk(after, "/?#&% "))
			more = 0;
		http_response_clear(&resp);
		free(path);
	}
	free(after);
	return rc;
}

int openai_progress_of(struct http_client *hc, const char *prefix, struct openai_seen *seen,
		       struct tuned_model *m, struct backend_cancel *c, struct backend_error *err)
{
	char *known = oe_recall(seen, m), *newest = NULL;
	int rc = oe_events(hc, prefix, known, m, &newest, c, err);

	openai_finish_progress(m);
	if (rc == 0)
		oe_remember(seen, m, newest ? newest : known);
	if (rc == 0 && m->state == BACKEND_ACTIVE) {
		struct http_response resp = {0};
		char *path = xasprintf("%s/fine_tuning/jobs/%s/checkpoints?limit=%d", prefix,
				       m->job, OPENAI_EVENT_PAGE);
		rc = http_request(hc, HTTP_GET, path, NULL, 0, c, &resp, err);
		if (rc == 0 && openai_parse_checkpoints(resp.body, resp.len, m) < 0)
			rc = oe_malformed(&resp, "the job's checkpoints", err);
		http_response_clear(&resp);
		free(path);
		openai_finish_progress(m);
	}
	free(known);
	free(newest);
	return rc;
}
