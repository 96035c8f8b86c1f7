/* nn_pass.c - one training sequence through the byte model: building the token sequence
 * (input, separator, output, end mark), the forward pass keeping its activations, and
 * the backward pass adding gradients. No optimiser, no generation, no files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/nn_impl.h"
#include "server/nn_ops.h"

struct nn_seq nn_seq_build(const struct nn_dims *d, const struct nn_example *ex, int *tok, int *tgt)
{
	size_t c = (size_t)d->ctx, in = ex->input_len, out = ex->output_len;
	size_t l_in = in, l_out = out;
	if (in + 1 + out > c) {
		/* Keep the output whole when it fits beside a quarter of the window of
		 * input; the input loses its beginning, the part farthest from the answer. */
		size_t keep_in = in < c / 4 ? in : c / 4;
		if (out <= c - 1 - keep_in) {
			l_in = c - 1 - out;
		} else {
			l_in = keep_in;
			l_out = c - 1 - keep_in;
		}
	}
	const unsigned char *ip = (const unsigned char *)ex->input;
	const unsigned char *op = (const unsigned char *)ex->output;
	for (size_t i = 0; i < l_in; i++)
		tok[i] = ip[in - l_in + i];
	tok[l_in] = NN_SEP;
	for (size_t k = 0; k < l_out; k++)
		tok[l_in + 1 + k] = op[k];
	/* Position l_in + k predicts output byte k, and the one after the last output
	 * byte predicts the end mark (or the next byte when the output was cut). */
	for (size_t k = 0; k <= l_out; k++)
		tgt[l_in + k] = k < out ? op[k] : NN_END;
	return (struct nn_seq){(int)(l_in + 1 + l_out), (int)l_in, (int)l_out + 1};
}

static void add_rows(float *restrict y, const float *restrict x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += x[i];
}

static void block_forward(const struct nn_dims *d, const struct nn_layer_view *lw,
			  struct nn_layer_acts *la, float *x_next, int T)
{
	int D = d->d_model, F = d->d_ff, H = d->n_heads, C = d->ctx;
	nn_layernorm(la->h1, la->mu1, la->rs1, la->x_in, lw->ln1_g, lw->ln1_b, T, D);
	nn_linear(la->qkv, la->h1, lw->wqkv, lw->bqkv, T, D, 3 * D);
	for (int h = 0; h < H; h++)
		for (int t = 0; t < T; t++)
			nn_attend_row(la->ao + (size_t)t * D + h * (D / H),
				      la->att + ((size_t)h * C + t) * C, la->qkv, t, h, D, H);
	nn_linear(la->x_mid, la->ao, lw->wo, lw->bo, T, D, D);
	add_rows(la->x_mid, la->x_in, (size_t)T * D);
	nn_layernorm(la->h2, la->mu2, la->rs2, la->x_mid, lw->ln2_g, lw->ln2_b, T, D);
	nn_linear(la->fc, la->h2, lw->w1, lw->b1, T, D, F);
	for (size_t i = 0; i < (size_t)T * F; i++) {
		la->th[i] = nn_gelu_tanh(la->fc[i]);
		la->fa[i] = 0.5f * la->fc[i] * (1.0f + la->th[i]);
	}
	nn_linear(x_next, la->fa, lw->w2, lw->b2, T, F, D);
	add_rows(x_next, la->x_mid, (size_t)T * D);
}

double nn_seq_forward(const struct nn_dims *d, const struct nn_view *w, struct nn_acts *a,
		      const int *tok, const int *tgt, const struct nn_seq *s)
{
	int T = s->len, D = d->d_model, L = d->n_layers, V = NN_VOCAB;
	float *x = a->layer[0].x_in;
	for (int t = 0; t < T; t++)
		for (int i = 0; i < D; i++)
			x[(size_t)t * D + i] =
			    w->wte[(size_t)tok[t] * D + i] + w->wpe[(size_t)t * D + i];
	for (int l = 0; l < L; l++)
		block_forward(d, &w->layer[l], &a->layer[l],
			      l + 1 < L ? a->layer[l + 1].x_in : a->x_out, T);
	nn_layernorm(a->hf, a->muf, a->rsf, a->x_out, w->lnf_g, w->lnf_b, T, D);

	double loss = 0;
	for (int t = s->first_target; t < T; t++) {
		float *pr = a->probs + (size_t)t * V;
		nn_linear(pr, a->hf + (size_t)t * D, w->whead, w->bhead, 1, D, V);
		float mx = pr[0];
		for (int j = 1; j < V; j++)
			mx = pr[j] > mx ? pr[j] : mx;
		double sum = 0;
		float z = pr[tgt[t]] - mx;
		for (int j = 0; j < V; j++) {
			pr[j] = expf(pr[j] - mx);
			sum += pr[j];
		}
		float inv = (float)(1.0 / sum);
		for (int j = 0; j < V; j++)
			pr[j] *= inv;
		loss += log(sum) - z;
	}
	return loss;
}

static void block_backward(const struct nn_dims *d, const struct nn_layer_view *lw,
			   const struct nn_layer_view *lt, const struct nn_layer_view *lg,
			   struct nn_layer_acts *la, struct nn_acts *a, int T)
{
	int D = d->d_model, F = d->d_ff, H = d->n_heads, C = d->ctx;
	/* a->dx holds d(loss)/d(block output) and leaves as d(loss)/d(block input). */
	nn_linear_backward(a->dfc, lg->w2, lg->b2, la->fa, lt->w2, a->dx, T, F, D);
	for (size_t i = 0; i < (size_t)T * F; i++)
		a->dfc[i] *= nn_gelu_grad(la->fc[i], la->th[i]);
	nn_linear_backward(a->dh, lg->w1, lg->b1, la->h2, lt->w1, a->dfc, T, D, F);
	nn_layernorm_backward(a->dx, lg->ln2_g, lg->ln2_b, a->dh, la->x_mid, la->mu2, la->rs2,
			      lw->ln2_g, T, D);

	nn_linear_backward(a->dao, lg->wo, lg->bo, la->ao, lt->wo, a->dx, T, D, D);
	memset(a->dqkv, 0, sizeof(float) * (size_t)T * 3 * D);
	for (int h = 0; h < H; h++)
		for (int t = 0; t < T; t++)
			nn_attend_row_backward(
			    a->dqkv, a->drow, a->dao + (size_t)t * D + h * (D / H),
			    la->att + ((size_t)h * C + t) * C, la->qkv, t, h, D, H);
	nn_linear_backward(a->dh, lg->wqkv, lg->bqkv, la->h1, lt->wqkv, a->dqkv, T, D, 3 * D);
	nn_layernorm_backward(a->dx, lg->ln1_g, lg->ln1_b, a->dh, la->x_in, la->mu1, la->rs1,
			      lw->ln1_g, T, D);
}

void nn_seq_backward(const struct nn_dims *d, const struct nn_view *w, const struct nn_view *wt,
		     const struct nn_view *g, struct nn_acts *a, const int *tok, const int *tgt,
		     const struct nn_seq *s, float scale)
{
	int T = s->len, D = d->d_model, V = NN_VOCAB, t0 = s->first_target;
	/* Softmax and cross-entropy together: d(loss)/d(logit) = p - onehot. */
	for (int t = t0; t < T; t++) {
		float *pr = a->probs + (size_t)t * V;
		pr[tgt[t]] -= 1.0f;
		for (int j = 0; j < V; j++)
			pr[j] *= scale;
	}
	memset(a->dh, 0, sizeof(float) * (size_t)T * D);
	nn_linear_backward(a->dh + (size_t)t0 * D, g->whead, g->bhead, a->hf + (size_t)t0 * D,
			   wt->whead, a->probs + (size_t)t0 * V, T - t0, D, V);
	memset(a->dx, 0, sizeof(float) * (size_t)T * D);
	nn_layernorm_backward(a->dx, g->lnf_g, g->lnf_b, a->dh, a->x_out, a->muf, a->rsf, w->lnf_g,
			      T, D);
	for (int l = d->n_layers - 1; l >= 0; l--)
		block_backward(d, &w->layer[l], &wt->layer[l], &g->layer[l], &a->layer[l], a, T);
	for (int t = 0; t < T; t++) {
		add_rows(g->wte + (size_t)tok[t] * D, a->dx + (size_t)t * D, (size_t)D);
		add_rows(g->wpe + (size_t)t * D, a->dx + (size_t)t * D, (size_t)D);
	}
}

void nn_acts_alloc(const struct nn_dims *d, struct nn_acts *a)
{
	size_t C = (size_t)d->ctx, D = (size_t)d->d_model, F = (size_t)d->d_ff;
	size_t H = (size_t)d->n_heads, L = (size_t)d->n_layers, V = NN_VOCAB;
	size_t per_layer = 8 * C * D + 4 * C + H * C * C + 3 * C * F;
	size_t total = L * per_layer + 2 * C * D + 2 * C + C * V + 6 * C * D + C * F + C;
	float *p = xcalloc(total, sizeof(float));
	a->block = p;
#define TAKE(field, n)                                                                             \
	do {                                                                                       \
		(field) = p;                                                                       \
		p += (n);                                                                          \
	} while (0)
	for (size_t l = 0; l < L; l++) {
		struct nn_layer_acts *la = &a->layer[l];
		TAKE(la->x_in, C * D);
		TAKE(la->h1, C * D);
		TAKE(la->mu1, C);
		TAKE(la->rs1, C);
		TAKE(la->qkv, 3 * C * D);
		TAKE(la->att, H * C * C);
		TAKE(la->ao, C * D);
		TAKE(la->x_mid, C * D);
		TAKE(la->h2, C * D);
		TAKE(la->mu2, C);
		TAKE(la->rs2, C);
		TAKE(la->fc, C * F);
		TAKE(la->fa, C * F);
		TAKE(la->th, C * F);
	}
	TAKE(a->x_out, C * D);
	TAKE(a->hf, C * D);
	TAKE(a->muf, C);
	TAKE(a->rsf, C);
	TAKE(a->probs, C * V);
	TAKE(a->dx, C * D);
	TAKE(a->dh, C * D);
	TAKE(a->dqkv, 3 * C * D);
	TAKE(a->dao, C * D);
	TAKE(a->dfc, C * F);
	TAKE(a->drow, C);
#undef TAKE
}

void nn_acts_free(struct nn_acts *a)
{
	free(a->block);
	a->block = NULL;
}
