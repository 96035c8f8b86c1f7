/* num.h - a JSON number (a double) taken as a whole number. A cast of a double that is not
 * finite or lies outside the target type is undefined behaviour, and every number in an
 * answer from a service, or in a file on disk, can be anything; so every such cast goes
 * through here. Header only. */
#ifndef TUNEDFS_BASE_NUM_H
#define TUNEDFS_BASE_NUM_H

#include <limits.h>
#include <math.h>

/* 1 and *out = d without its fraction when d is finite and the whole part fits a long; else 0
 * and *out untouched. LONG_MIN is a power of two, so both bounds are exact as doubles. */
static inline int num_whole(double d, long *out)
{
	if (!isfinite(d) || d >= -(double)LONG_MIN || d < (double)LONG_MIN)
		return 0;
	*out = (long)d;
	return 1;
}

/* As num_whole, and also 0 for a negative d: a count, a size, a time since the epoch. */
static inline int num_count(double d, long *out)
{
	return d >= 0 && num_whole(d, out);
}

/* As num_whole, for an int. */
static inline int num_int(double d, int *out)
{
	long n;

	if (!num_whole(d, &n) || n > INT_MAX || n < INT_MIN)
		return 0;
	*out = (int)n;
	return 1;
}

#endif
