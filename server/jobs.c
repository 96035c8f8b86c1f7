/* jobs.c - the worker pool that trains tunedfs-server's tuning jobs (see jobs.h): a FIFO
 * queue, n workers, per-step snapshots published under the store lock, job.json written
 * at most about once a second and a checkpoint every few seconds and at a shutdown. The
 * training loop itself is train.c, the kept files resume.c. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/checkpoint.h"
#include "server/ids.h"
#include "server/jobs.h"
#include "server/resume.h"
#include "server/train.h"
#include "server/validation.h"

#define PERSIST_EVERY_NS 1000000000LL

struct srv_job {
	struct srv_job *next;
	struct srv_jobs *pool;
	struct srv_model *m;
	struct srv_example *ex;
	size_t n;
	int kept;   /* its examples are in examples.bin: it can resume after a restart */
	int resume; /* examples and checkpoint are to be read back first */
	struct srv_validation val;
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
	atomic_llong checkpoint_ns;
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
	if (!deleted) {
		srv_store_persist(st, m);
		srv_store_drop_kept(st, m);
	}
}

/* Why a job stops before its end: a deleted or cancelled model, or a shutdown. */
enum stop_reason { GO_ON = 0, STOP_CANCEL, STOP_SHUTDOWN };

static enum stop_reason publish_step(struct srv_job *job, const struct srv_train_step *s)
{
	struct srv_store *st = job->pool->st;
	struct srv_model *m = job->m;
	struct srv_snapshot snap = {s->step, s->epoch, s->mean_loss, srv_now_ns()};
	pthread_mutex_lock(&st->lock);
	int stop = m->deleted || m->cancel_requested;
	srv_model_add_snapshot(m, &snap);
	m->completed_steps = s->step;
	m->total_steps = s->total_steps;
	int due = snap.compute_ns - m->persisted_ns >= PERSIST_EVERY_NS;
	pthread_mutex_unlock(&st->lock);
	if (due && !stop)
		srv_store_persist(st, m);
	return stop ? STOP_CANCEL : atomic_load(&job->pool->stopping) ? STOP_SHUTDOWN : GO_ON;
}

/* Writes checkpoint.bin: the trainer's state and the snapshots up to its step. */
static int checkpoint(struct srv_jobs *j, struct srv_job *job, const struct srv_train *t)
{
	struct srv_model *m = job->m;
	size_t train_len, len, n = (size_t)srv_train_steps_done(t);
	unsigned char *train = srv_train_encode(t, &train_len);
	pthread_mutex_lock(&j->st->lock);
	if (m->n_snaps < n)
		n = m->n_snaps;
	struct srv_snapshot *snaps = xcalloc(n ? n : 1, sizeof(*snaps));
	if (n)
		memcpy(snaps, m->snaps, n * sizeof(*snaps));
	pthread_mutex_unlock(&j->st->lock);
	unsigned char *buf = srv_ckpt_encode(train, train_len, snaps, n, &len);
	int rc = srv_store_keep(j->st, m, SRV_KEPT_CHECKPOINT, buf, len);
	if (rc)
		fprintf(stderr, "tunedfs-server: cannot write the checkpoint of job %s: %s\n",
			m->id, strerror(-rc));
	free(buf);
	free(snaps);
	free(train);
	return rc;
}

/* Trains to the end (0), or until stopped: -ECANCELED for a cancelled or deleted model,
 * -ESHUTDOWN at a shutdown (after a last checkpoint). */
static int run_steps(struct srv_jobs *j, struct srv_job *job, struct srv_train *t)
{
	struct srv_train_step s;
	int64_t last = srv_now_ns();
	int rc;
	while ((rc = srv_train_next(t, &s)) == 0) {
		enum stop_reason why = publish_step(job, &s);
		srv_validation_step(j->st, job->m, t, &job->val, &s);
		if (why == STOP_CANCEL)
			return -ECANCELED;
		if (why == STOP_SHUTDOWN && !job->kept)
			return -ECANCELED;
		if (why == STOP_SHUTDOWN && s.step < s.total_steps) {
			/* Failing that, the next start resumes from the one before. */
			checkpoint(j, job, t);
			srv_store_persist(j->st, job->m);
			return -ESHUTDOWN;
		}
		int64_t now = srv_now_ns();
		if (job->kept && s.step < s.total_steps &&
		    now - last >= atomic_load(&j->checkpoint_ns)) {
			checkpoint(j, job, t);
			last = now;
		}
	}
	return rc == 1 ? 0 : rc;
}

static struct srv_train_params params_of(struct srv_jobs *j, struct srv_model *m)
{
	struct srv_train_params p = {0};
	pthread_mutex_lock(&j->st->lock);
	p.epoch_count = m->epoch_count;
	p.batch_size = m->batch_size;
	p.learning_rate = m->learning_rate;
	p.seed = m->seed ? m->seed : j->seed ? j->seed * 0x9e3779b97f4a7c15ULL + m->seq : 0;
	pthread_mutex_unlock(&j->st->lock);
	if (!p.seed)
		srv_random_bytes(&p.seed, sizeof(p.seed));
	return p;
}

/* The trained weights saved and attached: the job ends ACTIVE. */
static void finish_active(struct srv_jobs *j, struct srv_model *m, struct nn_model *out)
{
	struct srv_store *st = j->st;
	char path[4200], msg[256];
	srv_store_weights_path(st, m->id, path, sizeof(path));
	int rc = nn_model_save(out, path);
	if (rc) {
		nn_model_free(out);
		snprintf(msg, sizeof(msg), "cannot save the trained weights: %s", strerror(-rc));
		finish_failed(j, m, 13, msg);
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
	srv_store_drop_kept(st, m);
}

static void train(struct srv_jobs *j, struct srv_job *job)
{
	struct srv_store *st = j->st;
	struct srv_model *m = job->m;
	if (job->resume && srv_resume_load_examples(j->st, m, &job->ex, &job->n)) {
		finish_failed(j, m, 10,
			      "training interrupted by a server restart, and its kept training "
			      "data cannot be read back");
		return;
	}
	struct nn_example *ex = xcalloc(job->n, sizeof(*ex));
	for (size_t i = 0; i < job->n; i++)
		ex[i] = (struct nn_example){job->ex[i].input, job->ex[i].input_len,
					    job->ex[i].output, job->ex[i].output_len};
	struct srv_train_params p = params_of(j, m);
	struct srv_train *t = NULL;
	int rc = job->resume ? srv_resume_training(st, m, ex, job->n, &p, &t)
			     : srv_train_new(ex, job->n, &p, &t);
	srv_validation_begin(m, &job->val);
	if (rc == 0)
		rc = run_steps(j, job, t);
	srv_validation_end(&job->val);
	char msg[256];
	if (rc == 0) {
		finish_active(j, m, srv_train_take_model(t));
	} else if (rc == -ECANCELED) {
		pthread_mutex_lock(&st->lock);
		snprintf(msg, sizeof(msg), "training cancelled at step %d of %d: %s",
			 m->completed_steps, m->total_steps,
			 m->cancel_requested ? "the operation was cancelled"
					     : "the server shut down");
		pthread_mutex_unlock(&st->lock);
		finish_failed(j, m, 1, msg);
	} else if (rc != -ESHUTDOWN) {
		snprintf(msg, sizeof(msg), "training failed: %s", strerror(-rc));
		finish_failed(j, m, 13, msg);
	}
	srv_train_free(t);
	free(ex);
}

static void job_free(struct srv_jobs *j, struct srv_job *job)
{
	srv_examples_free(job->ex, job->n);
	srv_model_put(j->st, job->m);
	free(job);
}

/* A job cancelled while queued (or cancelled, then cut by a restart before it stopped). */
static void finish_cancelled(struct srv_jobs *j, struct srv_model *m)
{
	char msg[256] = "training cancelled before it started: the operation was cancelled";
	pthread_mutex_lock(&j->st->lock);
	if (m->completed_steps > 0)
		snprintf(msg, sizeof(msg),
			 "training cancelled at step %d of %d: the operation was cancelled",
			 m->completed_steps, m->total_steps);
	pthread_mutex_unlock(&j->st->lock);
	finish_failed(j, m, 1, msg);
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
		if (!deleted && !cancelled) {
			job->m->update_ns = srv_now_ns();
			if (!job->m->start_ns) /* a resumed job keeps its first start */
				job->m->start_ns = job->m->update_ns;
		}
		pthread_mutex_unlock(&j->st->lock);
		if (cancelled)
			finish_cancelled(j, job->m);
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
	atomic_store(&j->checkpoint_ns, (long long)SRV_CHECKPOINT_EVERY_MS * 1000000);
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

static void enqueue(struct srv_jobs *j, struct srv_model *m, struct srv_example *ex, size_t n,
		    int kept, int resume)
{
	struct srv_job *job = xcalloc(1, sizeof(*job));
	srv_model_get(j->st, m);
	job->pool = j;
	job->m = m;
	job->ex = ex;
	job->n = n;
	job->kept = kept;
	job->resume = resume;
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

void srv_jobs_submit(struct srv_jobs *j, struct srv_model *m, struct srv_example *ex, size_t n)
{
	/* Examples first: once job.json says CREATING, a restart finds them to resume from. */
	int kept = srv_resume_keep_examples(j->st, m, ex, n) == 0;
	srv_store_persist(j->st, m);
	enqueue(j, m, ex, n, kept, 0);
}

void srv_jobs_submit_or_fail(struct srv_jobs *j, struct srv_model *m, char *msg,
			     struct srv_example *ex, size_t n)
{
	if (!msg) {
		srv_jobs_submit(j, m, ex, n);
		return;
	}
	pthread_mutex_lock(&j->st->lock);
	m->state = SRV_STATE_FAILED;
	m->err_code = 3; /* INVALID_ARGUMENT */
	free(m->err_msg);
	m->err_msg = msg;
	m->start_ns = m->complete_ns = m->update_ns = srv_now_ns();
	pthread_mutex_unlock(&j->st->lock);
	srv_store_persist(j->st, m);
	srv_examples_free(ex, n);
}

void srv_jobs_checkpoint_every(struct srv_jobs *j, long ms)
{
	atomic_store(&j->checkpoint_ns, (long long)ms * 1000000);
}

size_t srv_jobs_resume(struct srv_jobs *j)
{
	struct srv_store *st = j->st;
	pthread_mutex_lock(&st->lock);
	size_t n = 0;
	struct srv_model **v = xcalloc(st->n ? st->n : 1, sizeof(*v));
	for (size_t i = 0; i < st->n; i++) {
		struct srv_model *m = st->by_seq[i];
		if (m->state == SRV_STATE_CREATING && !m->deleted) {
			m->refs++;
			v[n++] = m;
		}
	}
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++) {
		enqueue(j, v[i], NULL, 0, 1, 1);
		srv_model_put(st, v[i]);
	}
	free(v);
	return n;
}

void srv_jobs_quiesce(struct srv_jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	atomic_store(&j->stopping, 1);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void srv_jobs_stop(struct srv_jobs *j)
{
	if (!j)
		return;
	srv_jobs_quiesce(j);
	for (int i = 0; i < j->n_threads; i++)
		pthread_join(j->threads[i], NULL);
	/* Jobs still queued with their examples kept start at the next start; the others end
	 * FAILED, none stays CREATING with nothing to resume from. */
	struct srv_job *job = j->head;
	while (job) {
		struct srv_job *next = job->next;
		if (!job->kept)
			finish_failed(j, job->m, 1,
				      "training cancelled before it started: the server shut "
				      "down");
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
