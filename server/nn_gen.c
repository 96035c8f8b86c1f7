/* nn_gen.c - decoding an answer from a trained byte model: the prompt fed as one set of
 * rows, then one token at a time with a per-call key/value cache, greedy at temperature
 * 0, else seeded sampling with temperature, top-k and top-p. Every buffer is the call's
 * own, so threads may share a model. No training and no files here. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/nn_impl.h"

struct gen_ws {
	int *tok;		   /* the sequence fed so far, up to ctx */
	int n;			   /* tokens fed */
	float *qkv[NN_MAX_LAYERS]; /* [ctx][3D]: the cache of keys and values */
	/* one row per position fed at once: [ctx][D] each, fc [ctx][F], mu and rs [ctx] */
	float *x, *h, *ao, *tmp, *fc, *mu, *rs;
	float *att, *logits, *prob; /* [ctx], [V], [V] */
	int *order;
	float *block;
};

static void ws_init(struct gen_ws *ws, const struct nn_dims *d)
{
	size_t C = (size_t)d->ctx, D = (size_t)d->d_model, F = (size_t)d->d_ff, V = NN_VOCAB;
	size_t L = (size_t)d->n_layers;
	float *p = xcalloc(L * C * 3 * D + C * (4 * D + F + 3) + 2 * V, sizeof(float));
	ws->block = p;
	for (size_t l = 0; l < L; l++, p += C * 3 * D)
		ws->qkv[l] = p;
	ws->x = p;
	ws->h = p + C * D;
	ws->ao = p + 2 * C * D;
	ws->tmp = p + 3 * C * D;
	ws->fc = p + 4 * C * D;
	ws->mu = ws->fc + C * F;
	ws->rs = ws->mu + C;
	ws->att = ws->rs + C;
	ws->logits = ws->att + C;
	ws->prob = ws->logits + V;
	ws->tok = xcalloc(C, sizeof(int));
	ws->order = xcalloc(V, sizeof(int));
	ws->n = 0;
}

static void ws_free(struct gen_ws *ws)
{
	free(ws->block);
	free(ws->tok);
	free(ws->order);
}

/* Runs tokens ws->tok[from..to) at their positions through every block at once (each
 * matrix read once per four rows, not once per token), caching their keys and values;
 * with want_logits, leaves the logits after the last one in ws->logits. Every row gets
 * exactly the sums, in the same order, that feeding it alone would give. */
static void feed_rows(const struct nn_model *m, struct gen_ws *ws, int from, int to,
		      int want_logits)
{
	const struct nn_dims *d = &m->dims;
	const struct nn_view *w = &m->w;
	int D = d->d_model, F = d->d_ff, H = d->n_heads, R = to - from;
	float *x = ws->x, *h = ws->h, *ao = ws->ao, *tmp = ws->tmp, *fc = ws->fc;
	for (int r = 0; r < R; r++)
		for (int i = 0; i < D; i++)
			x[r * D + i] = w->wte[(size_t)ws->tok[from + r] * D + i] +
				       w->wpe[(size_t)(from + r) * D + i];
	for (int l = 0; l < d->n_layers; l++) {
		const struct nn_layer_view *lw = &w->layer[l];
		float *qkv = ws->qkv[l] + (size_t)from * 3 * D;
		nn_layernorm(h, ws->mu, ws->rs, x, lw->ln1_g, lw->ln1_b, R, D);
		nn_linear(qkv, h, lw->wqkv, lw->bqkv, R, D, 3 * D);
		for (int r = 0; r < R; r++)
			for (int k = 0; k < H; k++)
				nn_attend_row(ao + r * D + k * (D / H), ws->att, ws->qkv[l],
					      from + r, k, D, H);
		nn_linear(tmp, ao, lw->wo, lw->bo, R, D, D);
		for (int i = 0; i < R * D; i++)
			x[i] += tmp[i];
		nn_layernorm(h, ws->mu, ws->rs, x, lw->ln2_g, lw->ln2_b, R, D);
		nn_linear(fc, h, lw->w1, lw->b1, R, D, F);
		for (int i = 0; i < R * F; i++)
			fc[i] = nn_gelu(fc[i]);
		nn_linear(tmp, fc, lw->w2, lw->b2, R, F, D);
		for (int i = 0; i < R * D; i++)
			x[i] += tmp[i];
	}
	if (want_logits) {
		float *last = x + (size_t)(R - 1) * D;
		nn_layernorm(h, ws->mu, ws->rs, last, w->lnf_g, w->lnf_b, 1, D);
		nn_linear(ws->logits, h, w->whead, w->bhead, 1, D, NN_VOCAB);
	}
}

static void feed_all(const struct nn_model *m, struct gen_ws *ws)
{
	feed_rows(m, ws, 0, ws->n, 1);
}

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int j = 1; j < n; j++)
		if (v[j] > v[best])
			best = j;
	return best;
}

static void sort_desc(int *order, const float *key, int n)
{
	/* insertion sort by probability, ties by byte: qsort's comparator could not see the
	 * keys without a global, which threads would share */
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++) {
		int o = order[i], j = i;
		while (j > 0 && (key[order[j - 1]] < key[o] ||
				 (key[order[j - 1]] == key[o] && order[j - 1] > o))) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = o;
	}
}

/* Picks the next token; the separator is never a valid answer byte. */
static int pick(struct gen_ws *ws, const struct nn_sampling *s, uint64_t *rng)
{
	float *lg = ws->logits, *pr = ws->prob;
	lg[NN_SEP] = -INFINITY;
	if (!(s->temperature > 0))
		return argmax(lg, NN_VOCAB);
	float mx = lg[argmax(lg, NN_VOCAB)];
	for (int j = 0; j < NN_VOCAB; j++)
		pr[j] = expf((float)((lg[j] - mx) / s->temperature));
	sort_desc(ws->order, pr, NN_VOCAB);
	int keep = NN_VOCAB - 1; /* the separator sorts last at probability 0 */
	if (s->top_k > 0 && s->top_k < keep)
		keep = s->top_k;
	double total = 0;
	for (int r = 0; r < keep; r++)
		total += pr[ws->order[r]];
	if (s->top_p > 0 && s->top_p < 1) {
		double cum = 0;
		for (int r = 0; r < keep; r++) {
			cum += pr[ws->order[r]] / total;
			if (cum >= s->top_p) {
				keep = r + 1;
				break;
			}
		}
		total = 0;
		for (int r = 0; r < keep; r++)
			total += pr[ws->order[r]];
	}
	double u = nn_rng_uniform(rng) * total, cum = 0;
	for (int r = 0; r < keep; r++) {
		cum += pr[ws->order[r]];
		if (u < cum)
			return ws->order[r];
	}
	return ws->order[0]; /* only when rounding left u past the sum */
}

static void append(char **buf, size_t *len, size_t *cap, char c)
{
	if (*len + 1 >= *cap) {
		*cap *= 2;
		char *nb = realloc(*buf, *cap);
		if (!nb) {
			fprintf(stderr, "tunedfs-server: out of memory (answer of %zu bytes)\n",
				*cap);
			abort();
		}
		*buf = nb;
	}
	(*buf)[(*len)++] = c;
	(*buf)[*len] = '\0';
}

/* Starts the window: the input's last bytes, the separator, room left for the answer. */
static void start_window(const struct nn_model *m, struct gen_ws *ws, const char *input,
			 size_t input_len, size_t max_bytes)
{
	size_t c = (size_t)m->dims.ctx;
	size_t reserve = max_bytes < c / 4 ? max_bytes : c / 4;
	size_t l_in = input_len < c - 1 - reserve ? input_len : c - 1 - reserve;
	const unsigned char *ip = (const unsigned char *)input;
	for (size_t i = 0; i < l_in; i++)
		ws->tok[i] = ip[input_len - l_in + i];
	ws->tok[l_in] = NN_SEP;
	ws->n = (int)l_in + 1;
	feed_all(m, ws);
}

int nn_generate(const struct nn_model *m, const char *input, size_t input_len,
		const struct nn_sampling *s, char **out, size_t *len, int *hit_limit)
{
	if (!m || !s || !out || !len || (!input && input_len) || isnan(s->temperature))
		return -EINVAL;
	size_t max_bytes = s->max_bytes ? s->max_bytes : NN_DEFAULT_MAX_BYTES;
	/* a model that never learned to stop would otherwise run for as long as asked */
	if (max_bytes > NN_MAX_BYTES_CAP)
		max_bytes = NN_MAX_BYTES_CAP;
	struct gen_ws ws;
	ws_init(&ws, &m->dims);
	uint64_t rng = s->seed;
	size_t n = 0, cap = 64;
	char *buf = xcalloc(cap, 1);
	int limit = 0;
	start_window(m, &ws, input, input_len, max_bytes);
	for (;;) {
		int t = pick(&ws, s, &rng);
		if (t == NN_END)
			break;
		/* The limit is hit only when one more byte was coming: an answer that ends
		 * exactly at max_bytes is a normal stop. */
		if (n >= max_bytes) {
			limit = 1;
			break;
		}
		append(&buf, &n, &cap, (char)t);
		if (ws.n == m->dims.ctx) {
			/* The window is full: keep its second half and recompute the cache,
			 * which costs one pass per ctx/2 new bytes. */
			int keep = m->dims.ctx / 2;
			memmove(ws.tok, ws.tok + ws.n - keep, sizeof(int) * (size_t)keep);
			ws.n = keep;
			ws.tok[ws.n++] = t;
			feed_all(m, &ws);
		} else {
			ws.tok[ws.n++] = t;
			feed_rows(m, &ws, ws.n - 1, ws.n, 1);
		}
	}
	ws_free(&ws);
	*out = buf;
	*len = n;
	if (hit_limit)
		*hit_limit = limit;
	return 0;
}
