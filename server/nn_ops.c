/* nn_ops.c - the numeric kernels of the byte model: matrix-vector rows, layer norm, GELU,
 * attention rows, and their backward forms. Inner loops run along contiguous rows so the
 * compiler can vectorise them; nothing here allocates or knows about the model's layout. */
#include <math.h>
#include <string.h>

#include "server/nn_impl.h"
#include "server/nn_ops.h"

float nn_dot(const float *restrict a, const float *restrict b, int n)
{
	/* Eight independent partial sums: the compiler may not reassociate one float sum,
	 * but it can turn these lanes into vector registers. */
	float acc[8] = {0};
	int i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			acc[k] += a[i + k] * b[i + k];
	float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* The loops below go in fixed blocks of eight: gcc's -O2 vectoriser only takes loops whose
 * vector form needs no scalar remainder, and a constant eight-wide body qualifies. */
static void axpy(float *restrict y, float a, const float *restrict x, int n)
{
	int j = 0;
	for (; j + 8 <= n; j += 8)
		for (int k = 0; k < 8; k++)
			y[j + k] += a * x[j + k];
	for (; j < n; j++)
		y[j] += a * x[j];
}

/* y0..y3 += a0..a3 * x: four output rows share each load of the weight row x */
static void axpy4(float *restrict y0, float *restrict y1, float *restrict y2, float *restrict y3,
		  const float a[4], const float *restrict x, int n)
{
	int j = 0;
	for (; j + 8 <= n; j += 8)
		for (int k = 0; k < 8; k++) {
			y0[j + k] += a[0] * x[j + k];
			y1[j + k] += a[1] * x[j + k];
			y2[j + k] += a[2] * x[j + k];
			y3[j + k] += a[3] * x[j + k];
		}
	for (; j < n; j++) {
		y0[j] += a[0] * x[j];
		y1[j] += a[1] * x[j];
		y2[j] += a[2] * x[j];
		y3[j] += a[3] * x[j];
	}
}

void nn_linear(float *restrict y, const float *restrict x, const float *restrict w,
	       const float *restrict b, int rows, int n_in, int n_out)
{
	for (int t = 0; t < rows; t++) {
		if (b)
			memcpy(y + (size_t)t * n_out, b, sizeof(float) * (size_t)n_out);
		else
			memset(y + (size_t)t * n_out, 0, sizeof(float) * (size_t)n_out);
	}
	/* Four rows at a time: the weight matrix is read once per four rows instead of
	 * once per row, which is what bounds this loop once W outgrows the L1 cache. */
	int t = 0;
	for (; t + 4 <= rows; t += 4) {
		float *y0 = y + (size_t)t * n_out;
		const float *x0 = x + (size_t)t * n_in;
		for (int i = 0; i < n_in; i++) {
			float a[4] = {x0[i], x0[n_in + i], x0[2 * n_in + i], x0[3 * n_in + i]};
			axpy4(y0, y0 + n_out, y0 + 2 * n_out, y0 + 3 * n_out, a,
			      w + (size_t)i * n_out, n_out);
		}
	}
	for (; t < rows; t++)
		for (int i = 0; i < n_in; i++)
			axpy(y + (size_t)t * n_out, x[(size_t)t * n_in + i], w + (size_t)i * n_out,
			     n_out);
}

/* y += a0 x0 + a1 x1 + a2 x2 + a3 x3: one read and write of y for four rows of x */
static void axpy_sum4(float *restrict y, const float a[4], const float *restrict x0,
		      const float *restrict x1, const float *restrict x2, const float *restrict x3,
		      int n)
{
	int j = 0;
	for (; j + 8 <= n; j += 8)
		for (int k = 0; k < 8; k++)
			y[j + k] += a[0] * x0[j + k] + a[1] * x1[j + k] + a[2] * x2[j + k] +
				    a[3] * x3[j + k];
	for (; j < n; j++)
		y[j] += a[0] * x0[j] + a[1] * x1[j] + a[2] * x2[j] + a[3] * x3[j];
}

void nn_linear_backward(float *restrict dx, float *restrict dw, float *restrict db,
			const float *restrict x, const float *restrict wt, const float *restrict dy,
			int rows, int n_in, int n_out)
{
	/* dx = dy W^T is a forward product with the transposed matrix, so it gets the
	 * forward kernel's contiguous rows instead of one short dot product per entry. */
	if (dx)
		nn_linear(dx, dy, wt, NULL, rows, n_out, n_in);
	/* Row i of dW stays in cache while every row of dy streams past it. */
	for (int i = 0; i < n_in; i++) {
		float *dwi = dw + (size_t)i * n_out;
		int t = 0;
		for (; t + 4 <= rows; t += 4) {
			const float *x0 = x + (size_t)t * n_in + i, *d0 = dy + (size_t)t * n_out;
			float a[4] = {x0[0], x0[n_in], x0[2 * n_in], x0[3 * n_in]};
			axpy_sum4(dwi, a, d0, d0 + n_out, d0 + 2 * n_out, d0 + 3 * n_out, n_out);
		}
		for (; t < rows; t++)
			axpy(dwi, x[(size_t)t * n_in + i], dy + (size_t)t * n_out, n_out);
	}
	for (int t = 0; t < rows; t++)
		axpy(db, 1.0f, dy + (size_t)t * n_out, n_out);
}

void nn_transpose(float *restrict dst, const float *restrict src, int rows, int cols)
{
	/* in 16 x 16 tiles, so both the reads and the strided writes stay in cache lines
	 * already loaded */
	for (int r0 = 0; r0 < rows; r0 += 16)
		for (int c0 = 0; c0 < cols; c0 += 16) {
			int r1 = r0 + 16 < rows ? r0 + 16 : rows,
			    c1 = c0 + 16 < cols ? c0 + 16 : cols;
			for (int r = r0; r < r1; r++)
				for (int c = c0; c < c1; c++)
					dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
		}
}

void nn_layernorm(float *restrict y, float *restrict mu, float *restrict rs,
		  const float *restrict x, const float *restrict g, const float *restrict b,
		  int rows, int n)
{
	for (int t = 0; t < rows; t++) {
		const float *xt = x + (size_t)t * n;
		float *yt = y + (size_t)t * n;
		float mean = 0, var = 0;
		for (int i = 0; i < n; i++)
			mean += xt[i];
		mean /= (float)n;
		for (int i = 0; i < n; i++)
			var += (xt[i] - mean) * (xt[i] - mean);
		var /= (float)n;
		float r = 1.0f / sqrtf(var + 1e-5f);
		for (int i = 0; i < n; i++)
			yt[i] = (xt[i] - mean) * r * g[i] + b[i];
		mu[t] = mean;
		rs[t] = r;
	}
}

void nn_layernorm_backward(float *restrict dx, float *restrict dg, float *restrict db,
			   const float *restrict dy, const float *restrict x,
			   const float *restrict mu, const float *restrict rs,
			   const float *restrict g, int rows, int n)
{
	for (int t = 0; t < rows; t++) {
		const float *xt = x + (size_t)t * n, *dyt = dy + (size_t)t * n;
		float *dxt = dx + (size_t)t * n;
		float m1 = 0, m2 = 0;
		for (int i = 0; i < n; i++) {
			float xhat = (xt[i] - mu[t]) * rs[t];
			float dxhat = dyt[i] * g[i];
			m1 += dxhat;
			m2 += dxhat * xhat;
			dg[i] += dyt[i] * xhat;
			db[i] += dyt[i];
		}
		m1 /= (float)n;
		m2 /= (float)n;
		for (int i = 0; i < n; i++) {
			float xhat = (xt[i] - mu[t]) * rs[t];
			dxt[i] += rs[t] * (dyt[i] * g[i] - m1 - xhat * m2);
		}
	}
}

#define GELU_C 0.7978845608f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

float nn_gelu_tanh(float x)
{
	return tanhf(GELU_C * (x + GELU_A * x * x * x));
}

float nn_gelu(float x)
{
	return 0.5f * x * (1.0f + nn_gelu_tanh(x));
}

float nn_gelu_grad(float x, float th)
{
	return 0.5f * (1.0f + th) +
	       0.5f * x * (1.0f - th * th) * GELU_C * (1.0f + 3.0f * GELU_A * x * x);
}

void nn_attend_row(float *restrict o, float *restrict p, const float *restrict qkv, int t, int h,
		   int d_model, int n_heads)
{
	int hd = d_model / n_heads, stride = 3 * d_model;
	float scale = 1.0f / sqrtf((float)hd);
	const float *q = qkv + (size_t)t * stride + h * hd;
	float mx = -INFINITY, sum = 0;
	for (int u = 0; u <= t; u++) {
		p[u] = nn_dot(q, qkv + (size_t)u * stride + d_model + h * hd, hd) * scale;
		if (p[u] > mx)
			mx = p[u];
	}
	for (int u = 0; u <= t; u++) {
		p[u] = expf(p[u] - mx);
		sum += p[u];
	}
	float inv = 1.0f / sum;
	memset(o, 0, sizeof(float) * (size_t)hd);
	for (int u = 0; u <= t; u++) {
		p[u] *= inv;
		axpy(o, p[u], qkv + (size_t)u * stride + 2 * d_model + h * hd, hd);
	}
}

void nn_attend_row_backward(float *restrict dqkv, float *restrict dp, const float *restrict do_,
			    const float *restrict p, const float *restrict qkv, int t, int h,
			    int d_model, int n_heads)
{
	int hd = d_model / n_heads, stride = 3 * d_model;
	float scale = 1.0f / sqrtf((float)hd);
	const float *q = qkv + (size_t)t * stride + h * hd;
	float *dq = dqkv + (size_t)t * stride + h * hd;
	float pdp = 0;
	for (int u = 0; u <= t; u++) {
		size_t vo = (size_t)u * stride + 2 * d_model + h * hd;
		dp[u] = nn_dot(do_, qkv + vo, hd);
		pdp += p[u] * dp[u];
		axpy(dqkv + vo, p[u], do_, hd);
	}
	for (int u = 0; u <= t; u++) {
		size_t ko = (size_t)u * stride + d_model + h * hd;
		float ds = p[u] * (dp[u] - pdp) * scale;
		axpy(dq, ds, qkv + ko, hd);
		axpy(dqkv + ko, ds, q, hd);
	}
}

void nn_adam_step(float *restrict p, float *restrict m, float *restrict v, const float *restrict g,
		  size_t n, float b1, float b2, float step, float eps_hat)
{
	for (size_t i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		p[i] -= step * m[i] / (sqrtf(v[i]) + eps_hat);
	}
}
