/* checkpoint.c - the byte formats of a job's kept examples and of its checkpoint (see
 * checkpoint.h): a checked frame around each payload, and the payloads themselves. No file
 * access (the store writes and reads them) and no training (train.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/xalloc.h"
#include "server/checkpoint.h"

#define EXAMPLES_MAGIC "TUNEDEX\n"
#define CKPT_MAGIC     "TUNEDCK\n"
#define FRAME_VERSION  1u
#define FRAME_HEAD     (8 + 4 + 4 + 8) /* magic, version, zero, payload length */
#define FRAME_TAIL     8	       /* the checksum */
#define SNAP_SIZE      (4 + 4 + 8 + 8)

/* A buffer of FRAME_HEAD + payload + FRAME_TAIL bytes with the head written; the payload
 * goes at the returned + FRAME_HEAD, then frame_seal. */
static unsigned char *frame_new(const char *magic, size_t payload, size_t *len)
{
	*len = FRAME_HEAD + payload + FRAME_TAIL;
	unsigned char *buf = xcalloc(*len, 1);
	memcpy(buf, magic, 8);
	bytes_put_le(buf + 8, FRAME_VERSION, 4);
	bytes_put_le(buf + 16, payload, 8);
	return buf;
}

static void frame_seal(unsigned char *buf, size_t len)
{
	bytes_put_le(buf + len - FRAME_TAIL, bytes_fnv1a64(buf, len - FRAME_TAIL), 8);
}

/* The payload of a checked frame, or -EINVAL and why. */
static int frame_open(const unsigned char *buf, size_t len, const char *magic,
		      const unsigned char **payload, size_t *payload_len, char *why, size_t why_len)
{
	if (len < FRAME_HEAD + FRAME_TAIL || memcmp(buf, magic, 8) != 0) {
		snprintf(why, why_len, "%s",
			 len < FRAME_HEAD + FRAME_TAIL ? "cut short" : "not of its kind");
		return -EINVAL;
	}
	uint64_t version = bytes_get_le(buf + 8, 4), n = bytes_get_le(buf + 16, 8);
	if (version != FRAME_VERSION) {
		snprintf(why, why_len, "version %llu, this server reads version %u",
			 (unsigned long long)version, FRAME_VERSION);
		return -EINVAL;
	}
	if (n != len - FRAME_HEAD - FRAME_TAIL) {
		snprintf(why, why_len, "%zu bytes where its header promises %llu", len,
			 (unsigned long long)(n + FRAME_HEAD + FRAME_TAIL));
		return -EINVAL;
	}
	if (bytes_fnv1a64(buf, len - FRAME_TAIL) != bytes_get_le(buf + len - FRAME_TAIL, 8)) {
		snprintf(why, why_len, "checksum mismatch (corrupt file)");
		return -EINVAL;
	}
	*payload = buf + FRAME_HEAD;
	*payload_len = (size_t)n;
	return 0;
}

unsigned char *srv_examples_encode(const struct srv_example *ex, size_t n, size_t *len)
{
	size_t payload = 8;
	for (size_t i = 0; i < n; i++)
		payload += 16 + ex[i].input_len + ex[i].output_len;
	unsigned char *buf = frame_new(EXAMPLES_MAGIC, payload, len), *p = buf + FRAME_HEAD;
	bytes_put_le(p, n, 8);
	p += 8;
	for (size_t i = 0; i < n; i++) {
		bytes_put_le(p, ex[i].input_len, 8);
		memcpy(p + 8, ex[i].input, ex[i].input_len);
		p += 8 + ex[i].input_len;
		bytes_put_le(p, ex[i].output_len, 8);
		memcpy(p + 8, ex[i].output, ex[i].output_len);
		p += 8 + ex[i].output_len;
	}
	frame_seal(buf, *len);
	return buf;
}

/* A NUL-terminated heap copy of the next length-prefixed field, or NULL past the end. */
static char *take_field(const unsigned char **p, const unsigned char *end, size_t *len)
{
	if (end - *p < 8)
		return NULL;
	uint64_t n = bytes_get_le(*p, 8);
	if (n > (uint64_t)(end - *p - 8))
		return NULL;
	char *s = xmalloc((size_t)n + 1);
	memcpy(s, *p + 8, (size_t)n);
	s[n] = '\0';
	*p += 8 + n;
	*len = (size_t)n;
	return s;
}

int srv_examples_decode(const unsigned char *buf, size_t len, struct srv_example **ex, size_t *n,
			char *why, size_t why_len)
{
	const unsigned char *p;
	size_t plen;
	int rc = frame_open(buf, len, EXAMPLES_MAGIC, &p, &plen, why, why_len);
	if (rc)
		return rc;
	const unsigned char *end = p + plen;
	uint64_t count = plen >= 8 ? bytes_get_le(p, 8) : 0;
	if (plen < 8 || count == 0 || count > (plen - 8) / 16) {
		snprintf(why, why_len, "an example count that does not fit its size");
		return -EINVAL;
	}
	p += 8;
	struct srv_example *v = xcalloc((size_t)count, sizeof(*v));
	for (size_t i = 0; i < count; i++) {
		v[i].input = take_field(&p, end, &v[i].input_len);
		v[i].output = v[i].input ? take_field(&p, end, &v[i].output_len) : NULL;
		if (!v[i].output) {
			srv_examples_free(v, (size_t)count);
			snprintf(why, why_len, "example %zu is cut short", i + 1);
			return -EINVAL;
		}
	}
	if (p != end) {
		srv_examples_free(v, (size_t)count);
		snprintf(why, why_len, "trailing bytes after the last example");
		return -EINVAL;
	}
	*ex = v;
	*n = (size_t)count;
	return 0;
}

unsigned char *srv_ckpt_encode(const unsigned char *train, size_t train_len,
			       const struct srv_snapshot *snaps, size_t n_snaps, size_t *len)
{
	size_t payload = 8 + n_snaps * SNAP_SIZE + 8 + train_len;
	unsigned char *buf = frame_new(CKPT_MAGIC, payload, len), *p = buf + FRAME_HEAD;
	bytes_put_le(p, n_snaps, 8);
	p += 8;
	for (size_t i = 0; i < n_snaps; i++, p += SNAP_SIZE) {
		bytes_put_le(p, (uint32_t)snaps[i].step, 4);
		bytes_put_le(p + 4, (uint32_t)snaps[i].epoch, 4);
		bytes_put_f64(p + 8, snaps[i].mean_loss);
		bytes_put_le(p + 16, (uint64_t)snaps[i].compute_ns, 8);
	}
	bytes_put_le(p, train_len, 8);
	memcpy(p + 8, train, train_len);
	frame_seal(buf, *len);
	return buf;
}

int srv_ckpt_decode(const unsigned char *buf, size_t len, const unsigned char **train,
		    size_t *train_len, struct srv_snapshot **snaps, size_t *n_snaps, char *why,
		    size_t why_len)
{
	const unsigned char *p;
	size_t plen;
	int rc = frame_open(buf, len, CKPT_MAGIC, &p, &plen, why, why_len);
	if (rc)
		return rc;
	uint64_t n = plen >= 8 ? bytes_get_le(p, 8) : UINT64_MAX;
	if (n > (plen - 8) / SNAP_SIZE || plen - 8 - n * SNAP_SIZE < 8 ||
	    bytes_get_le(p + 8 + n * SNAP_SIZE, 8) != plen - 16 - n * SNAP_SIZE) {
		snprintf(why, why_len, "section lengths that do not fit its size");
		return -EINVAL;
	}
	struct srv_snapshot *s = n ? xcalloc((size_t)n, sizeof(*s)) : NULL;
	const unsigned char *q = p + 8;
	for (size_t i = 0; i < n; i++, q += SNAP_SIZE) {
		s[i].step = (int)(int32_t)bytes_get_le(q, 4);
		s[i].epoch = (int)(int32_t)bytes_get_le(q + 4, 4);
		s[i].mean_loss = bytes_get_f64(q + 8);
		s[i].compute_ns = (int64_t)bytes_get_le(q + 16, 8);
		if (s[i].step != (int)i + 1) {
			free(s);
			snprintf(why, why_len, "snapshot %zu is not of step %zu", i + 1, i + 1);
			return -EINVAL;
		}
	}
	*train = q + 8;
	*train_len = plen - 16 - (size_t)n * SNAP_SIZE;
	*snaps = s;
	*n_snaps = (size_t)n;
	return 0;
}
