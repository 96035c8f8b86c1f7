/* validation.c - the validation set of a tuning job (see validation.h): the loss of the
 * set after each epoch, computed by the trainer without training on it. An epoch ends at
 * the step whose batch reaches its last example (a batch may straddle two epochs: that
 * step counts for the earlier one). A job resumed after a restart has no set in memory
 * any more and adds no loss; those computed before stay. */
#include <math.h>
#include <stdlib.h>

#include "base/xalloc.h"
#include "server/validation.h"

void srv_validation_begin(const struct srv_model *m, struct srv_validation *v)
{
	v->ex = NULL;
	v->n = 0;
	v->n_train = m->n_examples;
	v->batch_size = m->batch_size;
	if (!m->val_ex || !m->n_val)
		return;
	v->ex = xcalloc(m->n_val, sizeof(*v->ex));
	for (size_t i = 0; i < m->n_val; i++)
		v->ex[i] = (struct nn_example){m->val_ex[i].input, m->val_ex[i].input_len,
					       m->val_ex[i].output, m->val_ex[i].output_len};
	v->n = m->n_val;
}

void srv_validation_step(struct srv_store *st, struct srv_model *m, struct srv_train *t,
			 const struct srv_validation *v, const struct srv_train_step *s)
{
	long long seen = (long long)s->step * v->batch_size;
	double loss = NAN;

	if (!v->n || v->n_train <= 0)
		return;
	for (;;) {
		pthread_mutex_lock(&st->lock);
		int next = m->n_val_loss + 1;
		int ended = next <= s->epoch &&
			    (seen >= (long long)next * v->n_train || s->step == s->total_steps);
		pthread_mutex_unlock(&st->lock);
		if (!ended)
			return;
		if (isnan(loss))
			loss = srv_train_loss(t, v->ex, v->n);
		pthread_mutex_lock(&st->lock);
		m->val_loss = xrealloc(m->val_loss, (size_t)next * sizeof(*m->val_loss));
		m->val_loss[next - 1] = loss;
		m->n_val_loss = next;
		m->update_ns = srv_now_ns();
		pthread_mutex_unlock(&st->lock);
	}
}

void srv_validation_end(struct srv_validation *v)
{
	free(v->ex);
	v->ex = NULL;
	v->n = 0;
}
