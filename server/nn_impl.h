/* nn_impl.h - what the nn_*.c files share and nothing outside them may include (but the
 * white-box tests of tests/nn): the parameter layout, the model struct, the per-sequence
 * activation buffers and the kernels. The public contract is nn.h. */
#ifndef TUNEDFS_NN_IMPL_H
#define TUNEDFS_NN_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "server/nn.h"

#define NN_VOCAB 258 /* 256 bytes, then the separator and the end mark */
#define NN_SEP	 256
#define NN_END	 257

struct nn_layer_view {
	float *ln1_g, *ln1_b, *wqkv, *bqkv, *wo, *bo;
	float *ln2_g, *ln2_b, *w1, *b1, *w2, *b2;
};

/* Named pointers into one flat float array (weights, gradients, Adam moments alike).
 * Matrices are [in][out], row-major, so the forward pass runs along contiguous rows. */
struct nn_view {
	float *wte, *wpe;
	struct nn_layer_view layer[NN_MAX_LAYERS];
	float *lnf_g, *lnf_b, *whead, *bhead;
};

/* Activations of one sequence of up to ctx tokens, kept for the backward pass. */
struct nn_layer_acts {
	float *x_in;	       /* [T][D] residual entering the block */
	float *h1, *mu1, *rs1; /* layer norm 1 output and its statistics */
	float *qkv;	       /* [T][3D] */
	float *att;	       /* [H][ctx][ctx] softmax probabilities */
	float *ao;	       /* [T][D] heads' outputs side by side */
	float *x_mid;	       /* [T][D] residual after attention */
	float *h2, *mu2, *rs2; /* layer norm 2 */
	float *fc, *fa;	       /* [T][F] MLP before and after GELU */
	float *th;	       /* [T][F] the tanh term of GELU, kept for the backward pass */
};

struct nn_acts {
	struct nn_layer_acts layer[NN_MAX_LAYERS];
	float *x_out;	       /* [T][D] final residual */
	float *hf, *muf, *rsf; /* final layer norm */
	float *probs;	       /* [T][V] softmax of the logits, target rows only */
	/* backward scratch */
	float *dx, *dh, *dqkv, *dao, *dfc, *drow;
	float *block; /* the single allocation behind all of the above */
};

struct nn_model {
	struct nn_dims dims;
	size_t n_params;
	float *params, *grads, *adam_m, *adam_v; /* grads and moments: NULL until trained */
	float *transposed; /* the matrices of params transposed, for the backward pass */
	struct nn_view w, g, m, v, wt;
	uint64_t adam_t;
	struct nn_acts *train_acts; /* training scratch, created on first use */
	int *tokens, *targets;	    /* ctx + 1 each, training scratch */
};

/* One token sequence in training form: tok[0..len), targets from first_target on. */
struct nn_seq {
	int len;
	int first_target; /* position of the separator: it predicts the first output byte */
	int n_targets;
};

uint64_t nn_rng_next(uint64_t *state);
double nn_rng_uniform(uint64_t *state); /* [0, 1) */

int nn_dims_valid(const struct nn_dims *d);
/* A model of that shape with zeroed weights (the file loader fills them). */
int nn_model_alloc(const struct nn_dims *d, struct nn_model **out);
/* Allocates the gradients, Adam's moments and the training scratch (once). */
void nn_train_prepare(struct nn_model *m);
size_t nn_view_map(const struct nn_dims *d, float *base, struct nn_view *v);
void nn_acts_alloc(const struct nn_dims *d, struct nn_acts *a);
void nn_acts_free(struct nn_acts *a);

/* Builds input (left-truncated), separator, output and end mark into tok/tgt. */
struct nn_seq nn_seq_build(const struct nn_dims *d, const struct nn_example *ex, int *tok,
			   int *tgt);
/* Forward pass over one sequence; returns the summed cross-entropy of its targets. */
double nn_seq_forward(const struct nn_dims *d, const struct nn_view *w, struct nn_acts *a,
		      const int *tok, const int *tgt, const struct nn_seq *s);
/* Backward pass after nn_seq_forward; adds scale * d(loss)/d(param) into g. wt holds the
 * weight matrices transposed ([out][in]; only its matrices are read). */
void nn_seq_backward(const struct nn_dims *d, const struct nn_view *w, const struct nn_view *wt,
		     const struct nn_view *g, struct nn_acts *a, const int *tok, const int *tgt,
		     const struct nn_seq *s, float scale);

/* Kernels shared by training and generation. */
void nn_linear(float *y, const float *x, const float *w, const float *b, int rows, int n_in,
	       int n_out);
void nn_layernorm(float *y, float *mu, float *rs, const float *x, const float *g, const float *b,
		  int rows, int n);
float nn_gelu(float x);
/* the tanh inside GELU, which the backward pass reuses */
float nn_gelu_tanh(float x);
/* Causal attention of query row t for head h over rows 0..t of qkv ([rows][3D]):
 * the probabilities go to p[0..t], the head's output to o[0..D/H). */
void nn_attend_row(float *o, float *p, const float *qkv, int t, int h, int d_model, int n_heads);
float nn_dot(const float *a, const float *b, int n);

#endif
