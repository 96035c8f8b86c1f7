/* nn_state.c - a model's whole training state as bytes, for checkpoints: the shape, the
 * weights, Adam's two moments and its step count. No files and no checksum here (the
 * checkpoint file around it has them); decoding checks every size before use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "server/nn_impl.h"

/* d_model, n_layers, n_heads, d_ff, ctx; the count; adam_t; whether moments follow */
#define STATE_HEADER (5 * 4 + 8 + 8 + 4)

size_t nn_state_size(const struct nn_model *m)
{
	return STATE_HEADER + 4 * m->n_params * (m->adam_m ? 3 : 1);
}

static unsigned char *put_floats(unsigned char *p, const float *f, size_t n)
{
	for (size_t i = 0; i < n; i++, p += 4)
		bytes_put_f32(p, f[i]);
	return p;
}

void nn_state_encode(const struct nn_model *m, unsigned char *buf)
{
	const struct nn_dims *d = &m->dims;
	int fields[5] = {d->d_model, d->n_layers, d->n_heads, d->d_ff, d->ctx};
	unsigned char *p = buf;
	for (int i = 0; i < 5; i++, p += 4)
		bytes_put_le(p, (uint32_t)fields[i], 4);
	bytes_put_le(p, m->n_params, 8);
	bytes_put_le(p + 8, m->adam_t, 8);
	bytes_put_le(p + 16, m->adam_m != NULL, 4);
	p += 20;
	p = put_floats(p, m->params, m->n_params);
	if (m->adam_m) {
		p = put_floats(p, m->adam_m, m->n_params);
		put_floats(p, m->adam_v, m->n_params);
	}
}

/* Reads n finite floats; -EINVAL at the first that is not. */
static int get_floats(const unsigned char *p, float *f, size_t n)
{
	for (size_t i = 0; i < n; i++, p += 4) {
		f[i] = bytes_get_f32(p);
		if (!isfinite(f[i]))
			return -EINVAL;
	}
	return 0;
}

int nn_state_decode(const unsigned char *buf, size_t size, struct nn_model **out, char *why,
		    size_t why_len)
{
	if (size < STATE_HEADER) {
		snprintf(why, why_len, "training state cut short (%zu bytes)", size);
		return -EINVAL;
	}
	struct nn_dims d;
	int *fields[5] = {&d.d_model, &d.n_layers, &d.n_heads, &d.d_ff, &d.ctx};
	for (int i = 0; i < 5; i++)
		*fields[i] = (int)(bytes_get_le(buf + 4 * i, 4) & 0xffff);
	uint64_t count = bytes_get_le(buf + 20, 8), adam_t = bytes_get_le(buf + 28, 8);
	uint32_t moments = (uint32_t)bytes_get_le(buf + 36, 4);
	struct nn_model *m;
	if (!nn_dims_valid(&d) || nn_model_alloc(&d, &m) < 0) {
		snprintf(why, why_len, "training state of an unsupported shape");
		return -EINVAL;
	}
	if (count != m->n_params || moments > 1 ||
	    size != STATE_HEADER + 4 * m->n_params * (moments ? 3 : 1)) {
		snprintf(why, why_len, "training state of %zu bytes does not match its header",
			 size);
		nn_model_free(m);
		return -EINVAL;
	}
	const unsigned char *p = buf + STATE_HEADER;
	int rc = get_floats(p, m->params, m->n_params);
	if (rc == 0 && moments) {
		nn_train_prepare(m);
		rc = get_floats(p + 4 * m->n_params, m->adam_m, m->n_params);
		if (rc == 0)
			rc = get_floats(p + 8 * m->n_params, m->adam_v, m->n_params);
		m->adam_t = adam_t;
	}
	if (rc) {
		snprintf(why, why_len, "training state holds a number that is not finite");
		nn_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
