/* check.h - the assertion macros the C unit tests share. A failed check prints file, line
 * and what was wrong, counts, and lets the test go on; check_exit() turns the count into
 * the program's exit status. (tests/nn keeps a fatal CHECK of its own.) */
#ifndef TUNEDFS_TESTS_CHECK_H
#define TUNEDFS_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int check_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		if (check_a_ != check_b_) {                                                        \
			fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__,  \
				#a, check_a_, check_b_);                                           \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                   \
			fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, check_a_ ? check_a_ : "(null)",                      \
				check_b_ ? check_b_ : "(null)");                                   \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

/* haystack (a string, NULL fails) contains needle. */
#define CHECK_HAS(hay, needle)                                                                     \
	do {                                                                                       \
		const char *check_h_ = (hay);                                                      \
		if (!check_h_ || !strstr(check_h_, (needle))) {                                    \
			fprintf(stderr, "%s:%d: %s lacks \"%s\": %s\n", __FILE__, __LINE__, #hay,  \
				(needle), check_h_ ? check_h_ : "(null)");                         \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

/* Used on secrets: the needle is never printed. A NULL haystack holds nothing. */
#define CHECK_LACKS(hay, needle)                                                                   \
	do {                                                                                       \
		const char *check_h_ = (hay);                                                      \
		if (check_h_ && strstr(check_h_, (needle))) {                                      \
			fprintf(stderr, "%s:%d: %s holds what it must not\n", __FILE__, __LINE__,  \
				#hay);                                                             \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

/* The permission bits of path (not following a link), or -1. */
static inline int check_mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static inline int check_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static inline int check_exit(const char *name)
{
	if (check_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
	else
		printf("%s: all checks passed\n", name);
	return check_failures > 100 ? 100 : check_failures;
}

#endif
