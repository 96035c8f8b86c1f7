/* nn.c - the byte model's life: shape checks, parameter layout and initialisation, the
 * Adam step over a batch, and the loss/gradient accessors the unit tests use. The passes
 * are in nn_pass.c, the kernels in nn_ops.c, decoding in nn_gen.c, the file in nn_file.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/nn_impl.h"
#include "server/nn_ops.h"

uint64_t nn_rng_next(uint64_t *state)
{
	/* splitmix64: tiny, seedable with any value, good enough for init and sampling */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double nn_rng_uniform(uint64_t *state)
{
	return (double)(nn_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_normal(uint64_t *state)
{
	double u1 = nn_rng_uniform(state), u2 = nn_rng_uniform(state);
	return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

int nn_dims_valid(const struct nn_dims *d)
{
	return d->d_model >= 1 && d->d_model <= 1024 && d->n_layers >= 1 &&
	       d->n_layers <= NN_MAX_LAYERS && d->n_heads >= 1 && d->d_model % d->n_heads == 0 &&
	       d->d_ff >= 1 && d->d_ff <= 8192 && d->ctx >= 8 && d->ctx <= 4096;
}

size_t nn_view_map(const struct nn_dims *d, float *base, struct nn_view *v)
{
	size_t D = (size_t)d->d_model, F = (size_t)d->d_ff, C = (size_t)d->ctx, V = NN_VOCAB;
	float *p = base;
#define TAKE(field, n)                                                                             \
	do {                                                                                       \
		(field) = p;                                                                       \
		p = p ? p + (n) : NULL;                                                            \
		count += (n);                                                                      \
	} while (0)
	size_t count = 0;
	TAKE(v->wte, V * D);
	TAKE(v->wpe, C * D);
	for (int l = 0; l < d->n_layers; l++) {
		struct nn_layer_view *lv = &v->layer[l];
		TAKE(lv->ln1_g, D);
		TAKE(lv->ln1_b, D);
		TAKE(lv->wqkv, D * 3 * D);
		TAKE(lv->bqkv, 3 * D);
		TAKE(lv->wo, D * D);
		TAKE(lv->bo, D);
		TAKE(lv->ln2_g, D);
		TAKE(lv->ln2_b, D);
		TAKE(lv->w1, D * F);
		TAKE(lv->b1, F);
		TAKE(lv->w2, F * D);
		TAKE(lv->b2, D);
	}
	TAKE(v->lnf_g, D);
	TAKE(v->lnf_b, D);
	TAKE(v->whead, D * V);
	TAKE(v->bhead, V);
#undef TAKE
	return count;
}

static void fill_normal(float *p, size_t n, double std, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(std * rng_normal(rng));
}

static void fill_const(float *p, size_t n, float value)
{
	for (size_t i = 0; i < n; i++)
		p[i] = value;
}

static void init_weights(struct nn_model *m, uint64_t seed)
{
	const struct nn_dims *d = &m->dims;
	size_t D = (size_t)d->d_model, F = (size_t)d->d_ff;
	uint64_t rng = seed ^ 0x6e6e2d7475726564ULL;
	double std = 0.02, proj_std = 0.02 / sqrt(2.0 * d->n_layers);
	fill_normal(m->w.wte, NN_VOCAB * D, std, &rng);
	fill_normal(m->w.wpe, (size_t)d->ctx * D, std, &rng);
	for (int l = 0; l < d->n_layers; l++) {
		struct nn_layer_view *lv = &m->w.layer[l];
		fill_const(lv->ln1_g, D, 1.0f);
		fill_const(lv->ln2_g, D, 1.0f);
		fill_normal(lv->wqkv, D * 3 * D, std, &rng);
		/* the two projections back into the residual stream start smaller so the
		 * stream's variance does not grow with depth */
		fill_normal(lv->wo, D * D, proj_std, &rng);
		fill_normal(lv->w1, D * F, std, &rng);
		fill_normal(lv->w2, F * D, proj_std, &rng);
	}
	fill_const(m->w.lnf_g, D, 1.0f);
	fill_normal(m->w.whead, D * NN_VOCAB, std, &rng);
}

int nn_model_alloc(const struct nn_dims *dims, struct nn_model **out)
{
	if (!nn_dims_valid(dims))
		return -EINVAL;
	struct nn_model *m = xcalloc(1, sizeof(*m));
	m->dims = *dims;
	m->n_params = nn_view_map(dims, NULL, &m->w);
	m->params = xcalloc(m->n_params, sizeof(float));
	nn_view_map(dims, m->params, &m->w);
	*out = m;
	return 0;
}

int nn_model_new_dims(const struct nn_dims *dims, uint64_t seed, struct nn_model **out)
{
	struct nn_model *m;
	int rc = nn_model_alloc(dims, &m);
	if (rc < 0)
		return rc;
	init_weights(m, seed);
	*out = m;
	return 0;
}

int nn_model_new(uint64_t seed, struct nn_model **out)
{
	struct nn_dims d = NN_DIMS_DEFAULT;
	return nn_model_new_dims(&d, seed, out);
}

struct nn_dims nn_model_dims(const struct nn_model *m)
{
	return m->dims;
}

void nn_model_free(struct nn_model *m)
{
	if (!m)
		return;
	if (m->train_acts) {
		nn_acts_free(m->train_acts);
		free(m->train_acts);
	}
	free(m->tokens);
	free(m->targets);
	free(m->params);
	free(m->grads);
	free(m->adam_m);
	free(m->adam_v);
	free(m->transposed);
	free(m);
}

static void ensure_train_state(struct nn_model *m)
{
	if (m->grads)
		return;
	m->grads = xcalloc(m->n_params, sizeof(float));
	m->adam_m = xcalloc(m->n_params, sizeof(float));
	m->adam_v = xcalloc(m->n_params, sizeof(float));
	nn_view_map(&m->dims, m->grads, &m->g);
	nn_view_map(&m->dims, m->adam_m, &m->m);
	nn_view_map(&m->dims, m->adam_v, &m->v);
	m->transposed = xcalloc(m->n_params, sizeof(float));
	nn_view_map(&m->dims, m->transposed, &m->wt);
	m->train_acts = xcalloc(1, sizeof(*m->train_acts));
	nn_acts_alloc(&m->dims, m->train_acts);
	m->tokens = xcalloc((size_t)m->dims.ctx + 1, sizeof(int));
	m->targets = xcalloc((size_t)m->dims.ctx + 1, sizeof(int));
}

static int batch_valid(const struct nn_example *batch, size_t n)
{
	if (!batch || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((!batch[i].input && batch[i].input_len) ||
		    (!batch[i].output && batch[i].output_len))
			return 0;
	return 1;
}

/* Brings m->wt up to date with the weights (once a batch, after each update). */
static void refresh_transposed(struct nn_model *m)
{
	int D = m->dims.d_model, F = m->dims.d_ff;
	nn_transpose(m->wt.whead, m->w.whead, D, NN_VOCAB);
	for (int l = 0; l < m->dims.n_layers; l++) {
		const struct nn_layer_view *w = &m->w.layer[l];
		struct nn_layer_view *t = &m->wt.layer[l];
		nn_transpose(t->wqkv, w->wqkv, D, 3 * D);
		nn_transpose(t->wo, w->wo, D, D);
		nn_transpose(t->w1, w->w1, D, F);
		nn_transpose(t->w2, w->w2, F, D);
	}
}

/* Sums the batch's cross-entropy; with grads, also fills m->grads with the gradient of
 * the mean (every target byte of the batch weighs the same). */
static int batch_pass(struct nn_model *m, const struct nn_example *batch, size_t n, int with_grads,
		      double *mean_loss)
{
	if (!batch_valid(batch, n))
		return -EINVAL;
	ensure_train_state(m);
	size_t n_targets = 0;
	for (size_t i = 0; i < n; i++)
		n_targets +=
		    (size_t)nn_seq_build(&m->dims, &batch[i], m->tokens, m->targets).n_targets;
	if (with_grads) {
		memset(m->grads, 0, sizeof(float) * m->n_params);
		refresh_transposed(m);
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		struct nn_seq s = nn_seq_build(&m->dims, &batch[i], m->tokens, m->targets);
		sum += nn_seq_forward(&m->dims, &m->w, m->train_acts, m->tokens, m->targets, &s);
		if (with_grads)
			nn_seq_backward(&m->dims, &m->w, &m->wt, &m->g, m->train_acts, m->tokens,
					m->targets, &s, (float)(1.0 / (double)n_targets));
	}
	*mean_loss = sum / (double)n_targets;
	return isfinite(*mean_loss) ? 0 : -ERANGE;
}

static void adam_update(struct nn_model *m, double lr)
{
	const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
	m->adam_t++;
	/* bias corrections folded into the step size, as in the Adam paper's last form */
	double c1 = 1.0 - pow(b1, (double)m->adam_t), c2 = 1.0 - pow(b2, (double)m->adam_t);
	float step = (float)(lr * sqrt(c2) / c1);
	float eps_hat = (float)(eps * sqrt(c2));
	nn_adam_step(m->params, m->adam_m, m->adam_v, m->grads, m->n_params, b1, b2, step, eps_hat);
}

int nn_train_step(struct nn_model *m, const struct nn_example *batch, size_t n, double lr,
		  double *mean_loss)
{
	if (!(lr > 0) || !isfinite(lr))
		return -EINVAL;
	int rc = batch_pass(m, batch, n, 1, mean_loss);
	if (rc < 0)
		return rc;
	adam_update(m, lr);
	return 0;
}

double nn_loss(struct nn_model *m, const struct nn_example *batch, size_t n)
{
	double loss;
	return batch_pass(m, batch, n, 0, &loss) < 0 ? NAN : loss;
}

int nn_backward(struct nn_model *m, const struct nn_example *batch, size_t n, double *loss)
{
	return batch_pass(m, batch, n, 1, loss);
}

size_t nn_param_count(const struct nn_model *m)
{
	return m->n_params;
}

float *nn_param(struct nn_model *m, size_t i)
{
	return i < m->n_params ? &m->params[i] : NULL;
}

float nn_grad(const struct nn_model *m, size_t i)
{
	return m->grads && i < m->n_params ? m->grads[i] : 0.0f;
}

size_t nn_param_groups(const struct nn_model *m, struct nn_param_group *out, size_t max)
{
	/* every field of the view in layout order; counts follow from the next offset */
	const float *starts[4 + 12 * NN_MAX_LAYERS + 4];
	char names[4 + 12 * NN_MAX_LAYERS + 4][32];
	static const char *const layer_names[12] = {"ln1_g", "ln1_b", "wqkv", "bqkv", "wo", "bo",
						    "ln2_g", "ln2_b", "w1",   "b1",   "w2", "b2"};
	size_t n = 0;
	const struct nn_view *w = &m->w;
	starts[n] = w->wte;
	snprintf(names[n++], 32, "wte");
	starts[n] = w->wpe;
	snprintf(names[n++], 32, "wpe");
	for (int l = 0; l < m->dims.n_layers; l++) {
		const struct nn_layer_view *lv = &w->layer[l];
		const float *f[12] = {lv->ln1_g, lv->ln1_b, lv->wqkv, lv->bqkv, lv->wo, lv->bo,
				      lv->ln2_g, lv->ln2_b, lv->w1,   lv->b1,	lv->w2, lv->b2};
		for (int k = 0; k < 12; k++) {
			starts[n] = f[k];
			snprintf(names[n++], 32, "layer%d.%s", l, layer_names[k]);
		}
	}
	starts[n] = w->lnf_g;
	snprintf(names[n++], 32, "lnf_g");
	starts[n] = w->lnf_b;
	snprintf(names[n++], 32, "lnf_b");
	starts[n] = w->whead;
	snprintf(names[n++], 32, "whead");
	starts[n] = w->bhead;
	snprintf(names[n++], 32, "bhead");
	for (size_t i = 0; i < n && i < max; i++) {
		size_t off = (size_t)(starts[i] - m->params);
		size_t end = i + 1 < n ? (size_t)(starts[i + 1] - m->params) : m->n_params;
		memcpy(out[i].name, names[i], sizeof(out[i].name));
		out[i].offset = off;
		out[i].count = end - off;
	}
	return n;
}
