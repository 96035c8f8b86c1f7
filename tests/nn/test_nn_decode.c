/* test_nn_decode.c - a white-box check of decoding (server/nn_gen.c): answers of fresh
 * models, greedy, equal byte for byte those of a reference decoder here that feeds every
 * position alone through the same kernels, for prompts short, cut to the window and long
 * enough answers that the window is refilled. Training and sampling are tested elsewhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/nn_impl.h"
#include "nn_check.h"

struct ref {
	const struct nn_model *m;
	int tok[1024], n;
	float *qkv[NN_MAX_LAYERS];
	float x[256], h[256], ao[256], tmp[256], fc[1024], att[1024], logits[NN_VOCAB];
};

/* One position alone, as decoding did before it fed rows together. */
static void ref_feed(struct ref *r, int pos)
{
	const struct nn_dims *d = &r->m->dims;
	const struct nn_view *w = &r->m->w;
	int D = d->d_model, F = d->d_ff, H = d->n_heads;
	float mu, rs;
	for (int i = 0; i < D; i++)
		r->x[i] = w->wte[(size_t)r->tok[pos] * D + i] + w->wpe[(size_t)pos * D + i];
	for (int l = 0; l < d->n_layers; l++) {
		const struct nn_layer_view *lw = &w->layer[l];
		nn_layernorm(r->h, &mu, &rs, r->x, lw->ln1_g, lw->ln1_b, 1, D);
		nn_linear(r->qkv[l] + (size_t)pos * 3 * D, r->h, lw->wqkv, lw->bqkv, 1, D, 3 * D);
		for (int k = 0; k < H; k++)
			nn_attend_row(r->ao + k * (D / H), r->att, r->qkv[l], pos, k, D, H);
		nn_linear(r->tmp, r->ao, lw->wo, lw->bo, 1, D, D);
		for (int i = 0; i < D; i++)
			r->x[i] += r->tmp[i];
		nn_layernorm(r->h, &mu, &rs, r->x, lw->ln2_g, lw->ln2_b, 1, D);
		nn_linear(r->fc, r->h, lw->w1, lw->b1, 1, D, F);
		for (int i = 0; i < F; i++)
			r->fc[i] = nn_gelu(r->fc[i]);
		nn_linear(r->tmp, r->fc, lw->w2, lw->b2, 1, F, D);
		for (int i = 0; i < D; i++)
			r->x[i] += r->tmp[i];
	}
	nn_layernorm(r->h, &mu, &rs, r->x, w->lnf_g, w->lnf_b, 1, D);
	nn_linear(r->logits, r->h, w->whead, w->bhead, 1, D, NN_VOCAB);
}

static int ref_pick(struct ref *r)
{
	int best = 0;
	r->logits[NN_SEP] = -INFINITY;
	for (int j = 1; j < NN_VOCAB; j++)
		if (r->logits[j] > r->logits[best])
			best = j;
	return best;
}

/* The greedy answer to in, at most max bytes, into out; returns its length. */
static size_t ref_answer(const struct nn_model *m, const char *in, size_t len, size_t max,
			 char *out)
{
	static struct ref r;
	int C = m->dims.ctx, D = m->dims.d_model;
	r.m = m;
	for (int l = 0; l < m->dims.n_layers; l++)
		r.qkv[l] = calloc((size_t)C * 3 * D, sizeof(float));
	size_t reserve = max < (size_t)C / 4 ? max : (size_t)C / 4, n = 0;
	size_t l_in = len < C - 1 - reserve ? len : C - 1 - reserve;
	for (size_t i = 0; i < l_in; i++)
		r.tok[i] = (unsigned char)in[len - l_in + i];
	r.tok[l_in] = NN_SEP;
	r.n = (int)l_in + 1;
	for (int p = 0; p < r.n; p++)
		ref_feed(&r, p);
	for (int t; (t = ref_pick(&r)) != NN_END && n < max;) {
		out[n++] = (char)t;
		if (r.n == C) { /* the window is full: its second half, fed again */
			memmove(r.tok, r.tok + C / 2, sizeof(int) * (size_t)(C / 2));
			r.n = C / 2;
			r.tok[r.n++] = t;
			for (int p = 0; p < r.n; p++)
				ref_feed(&r, p);
		} else {
			r.tok[r.n++] = t;
			ref_feed(&r, r.n - 1);
		}
	}
	for (int l = 0; l < m->dims.n_layers; l++)
		free(r.qkv[l]);
	return n;
}

int main(void)
{
	static const char long_in[] = "a prompt longer than the window: the decoder keeps only "
				      "its last bytes, and the reference must cut it the same "
				      "way before the separator and the answer follow it";
	const char *ins[] = {"", "7", "hello", long_in};
	static char want[700];
	int refilled = 0;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct nn_model *m;
		CHECK(nn_model_new(seed, &m) == 0);
		CHECK(m->dims.d_model <= 256 && m->dims.d_ff <= 1024 && m->dims.ctx <= 1024);
		for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
			struct nn_sampling s = {0, 0, 0, 600, 0};
			char *got;
			size_t got_len, want_len = ref_answer(m, ins[i], strlen(ins[i]), 600, want);
			CHECK(nn_generate(m, ins[i], strlen(ins[i]), &s, &got, &got_len, NULL) ==
			      0);
			CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
			refilled += want_len > 200;
			free(got);
		}
		nn_model_free(m);
	}
	CHECK(refilled > 0); /* some answer ran past a window refill */
	printf("ok\n");
	return 0;
}
