/* nn.h - the small byte-level sequence model tunedfs-server trains and serves.
 * A tiny decoder-only network over bytes, trained from scratch by gradient descent:
 * the input, a separator, the output and an end mark form one sequence; the loss is
 * the mean cross-entropy over the output bytes. Holds the maths and the weight file,
 * not jobs, threads or HTTP (those are train.c and the routes).
 *
 * Threads: nn_generate only reads the model, so any number of threads may answer from
 * one model at once. Training (nn_train_step, nn_backward, nn_loss) writes the model's
 * own scratch: one thread per model, but different models train in parallel.
 * Long sequences: the input loses its beginning to fit the context; the output is kept. */
#ifndef TUNEDFS_NN_H
#define TUNEDFS_NN_H

#include <stddef.h>
#include <stdint.h>

struct nn_model;

struct nn_example {
	const char *input;
	size_t input_len;
	const char *output;
	size_t output_len;
};

/* The network's shape. nn_model_new uses NN_DIMS_DEFAULT; the file stores the shape. */
struct nn_dims {
	int d_model;  /* width of the residual stream */
	int n_layers; /* transformer blocks */
	int n_heads;  /* attention heads; must divide d_model */
	int d_ff;     /* hidden width of each block's MLP */
	int ctx;      /* longest sequence (input + separator + output) in bytes */
};
#define NN_DIMS_DEFAULT ((struct nn_dims){64, 2, 4, 256, 128})
#define NN_MAX_LAYERS	16

/* Creates a model with fresh weights from a seed. */
int nn_model_new(uint64_t seed, struct nn_model **out);
/* Same with an explicit shape; -EINVAL when the shape is out of range. */
int nn_model_new_dims(const struct nn_dims *dims, uint64_t seed, struct nn_model **out);
struct nn_dims nn_model_dims(const struct nn_model *m);
void nn_model_free(struct nn_model *m);

/* One optimiser step (Adam) on a batch; *mean_loss gets the batch's mean
 * cross-entropy over output bytes. Returns 0 or a negative errno. */
int nn_train_step(struct nn_model *m, const struct nn_example *batch, size_t n, double lr,
		  double *mean_loss);

#define NN_DEFAULT_MAX_BYTES 1024
#define NN_MAX_BYTES_CAP     65536 /* larger max_bytes are cut to this */

struct nn_sampling {
	double temperature; /* 0 = greedy */
	double top_p;	    /* 0 or 1 = off */
	int top_k;	    /* 0 = off */
	size_t max_bytes;   /* max output length in bytes; 0 = NN_DEFAULT_MAX_BYTES */
	uint64_t seed;	    /* for sampling */
};

/* Generates the answer for input into a heap buffer (not NUL-counted in *len, but
 * NUL-terminated; free() it). It stops at the end mark, or after max_bytes bytes when
 * more were coming and then sets *hit_limit (MAX_TOKENS). Greedy when temperature <= 0,
 * else seeded sampling. */
int nn_generate(const struct nn_model *m, const char *input, size_t input_len,
		const struct nn_sampling *s, char **out, size_t *len, int *hit_limit);

/* Weight file: versioned binary with a checksum, written atomically (tmp + rename).
 * Loading a corrupt, truncated or foreign file returns -EINVAL with a reason in why. */
int nn_model_save(const struct nn_model *m, const char *path);
int nn_model_load(const char *path, struct nn_model **out, char *why, size_t why_len);

/* A model's whole training state (shape, weights, Adam's moments and step count) as
 * bytes, for checkpoints: nn_state_size bytes written by nn_state_encode; decoding gives a
 * model that trains on exactly as the encoded one would, or -EINVAL with a reason. */
size_t nn_state_size(const struct nn_model *m);
void nn_state_encode(const struct nn_model *m, unsigned char *buf);
int nn_state_decode(const unsigned char *buf, size_t size, struct nn_model **out, char *why,
		    size_t why_len);

/* For the gradient check in the unit tests: the loss of a batch without updating,
 * the number of parameters, and access to parameter i and its last gradient. */
double nn_loss(struct nn_model *m, const struct nn_example *batch, size_t n);
size_t nn_param_count(const struct nn_model *m);
float *nn_param(struct nn_model *m, size_t i);
/* Computes gradients of the loss of batch into the model's gradient buffer. */
int nn_backward(struct nn_model *m, const struct nn_example *batch, size_t n, double *loss);
float nn_grad(const struct nn_model *m, size_t i);
/* The parameter groups (embeddings, each layer's matrices, norms and biases, the head) in
 * layout order, so a gradient check can cover every one; returns the total count. */
struct nn_param_group {
	char name[32];
	size_t offset, count;
};
size_t nn_param_groups(const struct nn_model *m, struct nn_param_group *out, size_t max);

#endif
