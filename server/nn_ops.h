/* nn_ops.h - backward kernels of nn_ops.c, private to the nn_*.c files (the forward
 * kernels, shared with generation, are declared in nn_impl.h). */
#ifndef TUNEDFS_NN_OPS_H
#define TUNEDFS_NN_OPS_H

#include <stddef.h>

/* dx = dy W^T (overwritten, skipped when dx is NULL), given wt = W^T as [n_out][n_in];
 * dW += x^T dy; db += column sums of dy. */
void nn_linear_backward(float *dx, float *dw, float *db, const float *x, const float *wt,
			const float *dy, int rows, int n_in, int n_out);
/* dst[c][r] = src[r][c] for a rows x cols matrix */
void nn_transpose(float *dst, const float *src, int rows, int cols);
/* dx += d(layer norm)^T dy; dg, db accumulate. */
void nn_layernorm_backward(float *dx, float *dg, float *db, const float *dy, const float *x,
			   const float *mu, const float *rs, const float *g, int rows, int n);
/* GELU's derivative at x, given th = nn_gelu_tanh(x) kept from the forward pass. */
float nn_gelu_grad(float x, float th);
/* Adds the gradients of query row t, head h into dqkv, given do_ (d output of the head). */
void nn_attend_row_backward(float *dqkv, float *dp, const float *do_, const float *p,
			    const float *qkv, int t, int h, int d_model, int n_heads);
/* One Adam update of n parameters p from gradients g, moments m and v (decays b1, b2),
 * with the bias-corrected step size and epsilon already folded in. */
void nn_adam_step(float *p, float *m, float *v, const float *g, size_t n, float b1, float b2,
		  float step, float eps_hat);

#endif
