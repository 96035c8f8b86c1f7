/* jobs.c - the worker pool that trains tunedfs-server's tuning jobs (see jobs.h): a FIFO
 * queue, n workers, per-step snapshots published under the store lock and files written
 * at most about once a second. The training loop itself is train.c. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/ids.h"
#include "server/jobs.h"
#include "server/train.h"

#define PERSIST_EVERY_NS 1000000000LL

struct srv_job {
	struct srv_job *next;
	struct srv_jobs *pool;
	struct srv_model *m;
	struct srv_example *ex;
	size_t n;
};

struct srv_jobs {
	struct srv_store *st;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct srv_job *head, *tail;
	atomic_int stopping;
	pthread_t *threads;
	int n_threads;
	uint64_t seed;
	unsigned long queued, running, done;
};

int srv_jobs_default_batch(long n_examples)
{
	return n_examples > 500 ? 16 : 4;
}

/* Ends a job that did not train to the end; a deleted model is left alone. */
static void finish_failed(struct srv_jobs *j, struct srv_model *m, int code, const char *msg)
{
	struct srv_store *st = j->st;
	pthread_mutex_lock(&st->lock);
	int deleted = m->deleted;
	if (!deleted) {
		m->state = SRV_STATE_FAILED;
		m->err_code = code;
		free(m->err_msg);
		m->err_msg = xstrdup(msg);
		m->complete_ns = m->update_ns = srv_now_ns();
	}
	pthread_mutex_unlock(&st->lock);
	if (!deleted)
		srv_store_persist(st, m);
}

static int on_step(void *ctx, int step, int total_steps, int epoch, double mean_loss)
{
	struct srv_job *job = ctx;
	struct srv_store *st = job->pool->st;
	struct srv_model *m = job->m;
	struct srv_snapshot snap = {step, epoch, mean_loss, srv_now_ns()};
	pthread_mutex_lock(&st->lock);
	int stop = m->deleted || m->cancel_requested;
	srv_model_add_snapshot(m, &snap);
	m->completed_steps = step;
	m->total_steps = total_steps;
	int due = snap.compute_ns - m->persisted_ns >= PERSIST_EVERY_NS;
	pthread_mutex_unlock(&st->lock);
	if (due && !stop)
		srv_store_persist(st, m);
	return stop || atomic_load(&job->pool->stopping);
}

static void train(struct srv_jobs *j, struct srv_job *job)
{
	struct srv_store *st = j->st;
	struct srv_model *m = job->m;
	struct nn_example *ex = xcalloc(job->n, sizeof(*ex));
	for (size_t i = 0; i < job->n; i++)
		ex[i] = (struct nn_example){job->ex[i].input, job->ex[i].input_len,
					    job->ex[i].output, job->ex[i].output_len};
	struct srv_train_params p = {0};
	pthread_mutex_lock(&st->lock);
	p.epoch_count = m->epoch_count;
	p.batch_size = m->batch_size;
	p.learning_rate = m->learning_rate;
	p.seed = m->seed ? m->seed : j->seed ? j->seed * 0x9e3779b97f4a7c15ULL + m->seq : 0;
	pthread_mutex_unlock(&st->lock);
	if (!p.seed)
		srv_random_bytes(&p.seed, sizeof(p.seed));
	struct nn_model *out = NULL;
	int rc = srv_train_run(ex, job->n, &p, on_step, job, &out);
	free(ex);
	char msg[256];
	if (rc == 0) {
		char path[4200];
		srv_store_weights_path(st, m->id, path, sizeof(path));
		rc = nn_model_save(out, path);
		if (rc) {
			nn_model_free(out);
			pthread_mutex_lock(&st->lock);
			int deleted = m->deleted;
			pthread_mutex_unlock(&st->lock);
			if (!deleted) {
				snprintf(msg, sizeof(msg), "cannot save the trained weights: %s",
					 strerror(-rc));
				finish_failed(j, m, 13, msg);
			}
			return;
		}
		struct srv_net *net = xcalloc(1, sizeof(*net));
		net->nn = out;
		net->refs = 1;
		pthread_mutex_lock(&st->lock);
		struct srv_net *old;
		srv_store_attach_net_locked(st, m, net, &old);
		m->state = SRV_STATE_ACTIVE;
		m->complete_ns = m->update_ns = srv_now_ns();
		pthread_mutex_unlock(&st->lock);
		srv_net_put(st, old);
		srv_store_persist(st, m);
	} else if (rc == -ECANCELED) {
		pthread_mutex_lock(&st->lock);
		snprintf(msg, sizeof(msg), "training cancelled at step %d of %d: %s",
			 m->completed_steps, m->total_steps,
			 m->cancel_requested ? "the operation was cancelled"
					     : "the server shut down");
		pthread_mutex_unlock(&st->lock);
		finish_failed(j, m, 1, msg);
	} else {
		snprintf(msg, sizeof(msg), "training failed: %s", strerror(-rc));
		finish_failed(j, m, 13, msg);
	}
}

static void job_free(struct srv_jobs *j, struct srv_job *job)
{
	srv_examples_free(job->ex, job->n);
	srv_model_put(j->st, job->m);
	free(job);
}

static void *worker(void *arg)
{
	struct srv_jobs *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		while (!j->head && !atomic_load(&j->stopping))
			pthread_cond_wait(&j->cond, &j->lock);
		if (atomic_load(&j->stopping)) {
			pthread_mutex_unlock(&j->lock);
			return NULL;
		}
		struct srv_job *job = j->head;
		j->head = job->next;
		if (!j->head)
			j->tail = NULL;
		j->queued--;
		j->running++;
		pthread_mutex_unlock(&j->lock);

		pthread_mutex_lock(&j->st->lock);
		int deleted = job->m->deleted, cancelled = job->m->cancel_requested;
		if (!deleted && !cancelled)
			job->m->start_ns = job->m->update_ns = srv_now_ns();
		pthread_mutex_unlock(&j->st->lock);
		if (cancelled)
			finish_failed(j, job->m, 1,
				      "training cancelled before it started: the operation was "
				      "cancelled");
		else if (!deleted)
			train(j, job);
		job_free(j, job);

		pthread_mutex_lock(&j->lock);
		j->running--;
		j->done++;
		pthread_mutex_unlock(&j->lock);
	}
}

int srv_jobs_start(struct srv_store *st, int n_workers, uint64_t seed, struct srv_jobs **out)
{
	struct srv_jobs *j = xcalloc(1, sizeof(*j));
	j->st = st;
	j->seed = seed;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->threads = xcalloc((size_t)n_workers, sizeof(*j->threads));
	for (int i = 0; i < n_workers; i++) {
		int rc = pthread_create(&j->threads[i], NULL, worker, j);
		if (rc) {
			srv_jobs_stop(j);
			return -rc;
		}
		j->n_threads++;
	}
	*out = j;
	return 0;
}

void srv_jobs_submit(struct srv_jobs *j, struct srv_model *m, struct srv_example *ex, size_t n)
{
	struct srv_job *job = xcalloc(1, sizeof(*job));
	srv_model_get(j->st, m);
	job->pool = j;
	job->m = m;
	job->ex = ex;
	job->n = n;
	pthread_mutex_lock(&j->lock);
	if (j->tail)
		j->tail->next = job;
	else
		j->head = job;
	j->tail = job;
	j->queued++;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void srv_jobs_stop(struct srv_jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	atomic_store(&j->stopping, 1);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	for (int i = 0; i < j->n_threads; i++)
		pthread_join(j->threads[i], NULL);
	/* Jobs still queued never started: they end FAILED too, none stays CREATING. */
	struct srv_job *job = j->head;
	while (job) {
		struct srv_job *next = job->next;
		finish_failed(j, job->m, 1,
			      "training cancelled before it started: the server shut down");
		job_free(j, job);
		job = next;
	}
	free(j->threads);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

void srv_jobs_counts(struct srv_jobs *j, unsigned long *queued, unsigned long *running,
		     unsigned long *done)
{
	pthread_mutex_lock(&j->lock);
	*queued = j->queued;
	*running = j->running;
	*done = j->done;
	pthread_mutex_unlock(&j->lock);
}
