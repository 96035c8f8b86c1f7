/* bytes.h - little-endian integer fields and the FNV-1a 64 checksum that the binary files
 * of tunedfs-server (weights, checkpoints, kept training data) are made of, also the hash
 * of the project's small tables. Header only; no files, no allocation. */
#ifndef TUNEDFS_BASE_BYTES_H
#define TUNEDFS_BASE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void bytes_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t bytes_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* FNV-1a 64's offset basis. */
#define BYTES_FNV1A64_BASIS 0xcbf29ce484222325ULL

/* Goes on from hash h over n more bytes at p, so one hash can cover several fields. */
static inline uint64_t bytes_fnv1a64_more(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ULL;
	return h;
}

static inline uint64_t bytes_fnv1a64(const void *p, size_t n)
{
	return bytes_fnv1a64_more(BYTES_FNV1A64_BASIS, p, n);
}

static inline void bytes_put_f32(unsigned char *p, float f)
{
	uint32_t bits;
	memcpy(&bits, &f, 4);
	bytes_put_le(p, bits, 4);
}

static inline float bytes_get_f32(const unsigned char *p)
{
	uint32_t bits = (uint32_t)bytes_get_le(p, 4);
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static inline void bytes_put_f64(unsigned char *p, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, 8);
	bytes_put_le(p, bits, 8);
}

static inline double bytes_get_f64(const unsigned char *p)
{
	uint64_t bits = bytes_get_le(p, 8);
	double d;
	memcpy(&d, &bits, 8);
	return d;
}

#endif
