/* nn_file.c - the byte model's weight file: a magic, a version, the shape, the weights as
 * little-endian floats and an FNV-1a 64 checksum of everything before it. Saving goes
 * through a temporary file, fsync and rename; loading checks every field before use. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/xalloc.h"
#include "server/nn_impl.h"

#define FILE_MAGIC   "TUNEDNN\n"
#define FILE_VERSION 1u
/* magic, version, vocab, d_model, n_layers, n_heads, d_ff, ctx, then the count */
#define HEADER_SIZE  (8 + 7 * 4 + 8)
#define TRAILER_SIZE 8

static unsigned char *encode(const struct nn_model *m, size_t *size)
{
	const struct nn_dims *d = &m->dims;
	*size = HEADER_SIZE + 4 * m->n_params + TRAILER_SIZE;
	unsigned char *buf = xcalloc(*size, 1), *p = buf;
	memcpy(p, FILE_MAGIC, 8);
	p += 8;
	uint32_t fields[7] = {
	    FILE_VERSION,	  NN_VOCAB,	     (uint32_t)d->d_model, (uint32_t)d->n_layers,
	    (uint32_t)d->n_heads, (uint32_t)d->d_ff, (uint32_t)d->ctx};
	for (int i = 0; i < 7; i++, p += 4)
		bytes_put_le(p, fields[i], 4);
	bytes_put_le(p, m->n_params, 8);
	p += 8;
	for (size_t i = 0; i < m->n_params; i++, p += 4) {
		uint32_t bits;
		memcpy(&bits, &m->params[i], 4);
		bytes_put_le(p, bits, 4);
	}
	bytes_put_le(p, bytes_fnv1a64(buf, (size_t)(p - buf)), 8);
	return buf;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void sync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) + (slash == path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* best effort: the rename itself already happened */
		close(fd);
	}
}

int nn_model_save(const struct nn_model *m, const char *path)
{
	if (!m || !path)
		return -EINVAL;
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t size;
	unsigned char *buf = encode(m, &size);
	int rc = write_all(fd, buf, size);
	free(buf);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	sync_parent_dir(path);
	return 0;
}

static int read_file(const char *path, unsigned char **out, size_t *size, char *why, size_t why_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_len, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)1 << 30) {
		snprintf(why, why_len, "%s is not a regular file of at most 1 GiB", path);
		close(fd);
		return -EINVAL;
	}
	size_t n = (size_t)st.st_size, got = 0;
	unsigned char *buf = xcalloc(n, 1);
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EINVAL;
			snprintf(why, why_len, "cannot read %s: %s", path,
				 r < 0 ? strerror(e) : "file shrank while reading");
			free(buf);
			close(fd);
			return -e;
		}
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*size = n;
	return 0;
}

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t why_len, const char *fmt,
						     ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int decode(const unsigned char *buf, size_t size, struct nn_model **out, char *why,
		  size_t why_len)
{
	if (size < HEADER_SIZE + TRAILER_SIZE)
		return bad(why, why_len, "truncated: %zu bytes is shorter than the header", size);
	if (memcmp(buf, FILE_MAGIC, 8) != 0)
		return bad(why, why_len, "not a tunedfs weight file (bad magic)");
	uint32_t f[7];
	for (int i = 0; i < 7; i++)
		f[i] = (uint32_t)bytes_get_le(buf + 8 + 4 * i, 4);
	if (f[0] != FILE_VERSION)
		return bad(why, why_len, "weight file version %u, this program reads version %u",
			   f[0], FILE_VERSION);
	struct nn_dims d = {(int)(f[2] & 0xffff), (int)(f[3] & 0xffff), (int)(f[4] & 0xffff),
			    (int)(f[5] & 0xffff), (int)(f[6] & 0xffff)};
	if (f[1] != NN_VOCAB || f[2] != (uint32_t)d.d_model || f[3] != (uint32_t)d.n_layers ||
	    f[4] != (uint32_t)d.n_heads || f[5] != (uint32_t)d.d_ff || f[6] != (uint32_t)d.ctx ||
	    !nn_dims_valid(&d))
		return bad(why, why_len, "unsupported shape in header");
	struct nn_view v;
	uint64_t count = bytes_get_le(buf + 36, 8);
	if (count != nn_view_map(&d, NULL, &v))
		return bad(why, why_len, "parameter count %llu does not match the shape",
			   (unsigned long long)count);
	uint64_t want = HEADER_SIZE + 4 * count + TRAILER_SIZE;
	if (size != want)
		return bad(why, why_len, "%s: %zu bytes where the header promises %llu",
			   size < want ? "truncated" : "trailing bytes", size,
			   (unsigned long long)want);
	if (bytes_fnv1a64(buf, size - TRAILER_SIZE) != bytes_get_le(buf + size - TRAILER_SIZE, 8))
		return bad(why, why_len, "checksum mismatch (corrupt file)");
	struct nn_model *m;
	int rc = nn_model_alloc(&d, &m);
	if (rc < 0)
		return bad(why, why_len, "unsupported shape in header");
	for (size_t i = 0; i < m->n_params; i++) {
		uint32_t bits = (uint32_t)bytes_get_le(buf + HEADER_SIZE + 4 * i, 4);
		memcpy(&m->params[i], &bits, 4);
		if (!isfinite(m->params[i])) {
			nn_model_free(m);
			return bad(why, why_len, "weight %zu is not a finite number", i);
		}
	}
	*out = m;
	return 0;
}

int nn_model_load(const char *path, struct nn_model **out, char *why, size_t why_len)
{
	char scratch[1];
	if (!why || why_len == 0) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	why[0] = '\0';
	if (!path || !out)
		return bad(why, why_len, "no path");
	unsigned char *buf = NULL;
	size_t size = 0;
	int rc = read_file(path, &buf, &size, why, why_len);
	if (rc < 0)
		return rc;
	rc = decode(buf, size, out, why, why_len);
	free(buf);
	return rc;
}
