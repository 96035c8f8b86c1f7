/* resume.c - a job's kept examples written and read back, and its training restored from
 * checkpoint.bin at a restart (see resume.h). A checkpoint that cannot be used is never
 * fatal: the training starts again from step 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/checkpoint.h"
#include "server/resume.h"

int srv_resume_keep_examples(struct srv_store *st, struct srv_model *m,
			     const struct srv_example *ex, size_t n)
{
	size_t len;
	unsigned char *buf = srv_examples_encode(ex, n, &len);
	int rc = srv_store_keep(st, m, SRV_KEPT_EXAMPLES, buf, len);
	free(buf);
	if (rc)
		fprintf(stderr,
			"tunedfs-server: cannot keep the examples of job %s (%s): it will not "
			"resume after a restart\n",
			m->id, strerror(-rc));
	return rc;
}

int srv_resume_load_examples(struct srv_store *st, struct srv_model *m, struct srv_example **ex,
			     size_t *n)
{
	char *buf = NULL, why[256] = "";
	size_t len = 0;
	int rc = srv_store_read_kept(st, m->id, SRV_KEPT_EXAMPLES, &buf, &len);
	if (rc == 0)
		rc = srv_examples_decode((unsigned char *)buf, len, ex, n, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-rc));
	free(buf);
	if (rc)
		fprintf(stderr, "tunedfs-server: job %s cannot resume: its %s: %s\n", m->id,
			SRV_KEPT_EXAMPLES, why);
	return rc;
}

/* The trainer's state and snapshots from checkpoint.bin; -ENOENT when there is none,
 * -EINVAL (with why) when it is unusable. */
static int read_checkpoint(struct srv_store *st, struct srv_model *m, const struct nn_example *ex,
			   size_t n, const struct srv_train_params *p, struct srv_train **t,
			   struct srv_snapshot **snaps, size_t *n_snaps, char *why, size_t why_len)
{
	char *buf = NULL;
	size_t len = 0, train_len = 0;
	const unsigned char *train = NULL;
	int rc = srv_store_read_kept(st, m->id, SRV_KEPT_CHECKPOINT, &buf, &len);
	if (rc) {
		snprintf(why, why_len, "%s", strerror(-rc));
		return rc;
	}
	rc = srv_ckpt_decode((unsigned char *)buf, len, &train, &train_len, snaps, n_snaps, why,
			     why_len);
	if (rc == 0)
		rc = srv_train_decode(train, train_len, ex, n, p, t, why, why_len);
	if (rc == 0 && (size_t)srv_train_steps_done(*t) != *n_snaps) {
		snprintf(why, why_len, "%zu snapshots for step %d", *n_snaps,
			 srv_train_steps_done(*t));
		srv_train_free(*t);
		*t = NULL;
		rc = -EINVAL;
	}
	if (rc) {
		free(*snaps);
		*snaps = NULL;
		*n_snaps = 0;
	}
	free(buf);
	return rc;
}

int srv_resume_training(struct srv_store *st, struct srv_model *m, const struct nn_example *ex,
			size_t n, const struct srv_train_params *p, struct srv_train **out)
{
	char why[256] = "";
	struct srv_snapshot *snaps = NULL;
	size_t n_snaps = 0;
	struct srv_train *t = NULL;
	int rc = read_checkpoint(st, m, ex, n, p, &t, &snaps, &n_snaps, why, sizeof(why));
	if (rc && rc != -ENOENT)
		fprintf(stderr,
			"tunedfs-server: job %s: %s is unusable (%s); its training starts again "
			"from step 1\n",
			m->id, SRV_KEPT_CHECKPOINT, why);
	if (rc) {
		rc = srv_train_new(ex, n, p, &t);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&st->lock);
	free(m->snaps);
	m->snaps = snaps;
	m->n_snaps = m->cap_snaps = n_snaps;
	m->completed_steps = srv_train_steps_done(t);
	m->total_steps = srv_train_total_of(t);
	m->update_ns = srv_now_ns();
	pthread_mutex_unlock(&st->lock);
	fprintf(stderr, "tunedfs-server: job %s resumes at step %d of %d\n", m->id,
		srv_train_steps_done(t), srv_train_total_of(t));
	srv_store_persist(st, m);
	*out = t;
	return 0;
}
