/* ids.c - id validation and generation for tunedfs-server (see ids.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server/ids.h"

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

int srv_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 1 || n > SRV_ID_MAX || !(id[0] >= 'a' && id[0] <= 'z'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return id[n - 1] != '-';
}

void srv_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		/* Ids only need to be unlikely to collide; the caller retries when they do. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		unsigned long x = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20);
		for (; got < n; got++) {
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			p[got] = (unsigned char)(x >> 33);
		}
	}
}

void srv_id_random(char *buf, size_t n)
{
	unsigned char r[64];
	if (n > sizeof(r))
		n = sizeof(r);
	srv_random_bytes(r, n);
	for (size_t i = 0; i < n; i++)
		buf[i] = i == 0 ? alnum[r[i] % 26] : alnum[r[i] % 36];
	buf[n] = '\0';
}

void srv_id_from_display(const char *display_name, char *buf, size_t len)
{
	enum { SUFFIX = 12 };
	char words[SRV_ID_MAX + 1];
	size_t o = 0;
	int need_dash = 0;
	const size_t max_words = SRV_ID_MAX - 1 - 5; /* keep room for '-' and 5 random */
	for (const char *p = display_name ? display_name : ""; *p && o < max_words; p++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*p);
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!ok) {
			need_dash = o > 0;
			continue;
		}
		if (o == 0 && !(c >= 'a' && c <= 'z'))
			continue; /* an id starts with a letter */
		if (need_dash && o + 1 < max_words) {
			words[o++] = '-';
			need_dash = 0;
		}
		words[o++] = (char)c;
	}
	while (o > 0 && words[o - 1] == '-')
		o--;
	words[o] = '\0';
	if (o == 0) {
		srv_id_random(buf, len > 12 ? 11 : len - 1);
		return;
	}
	size_t suffix = SRV_ID_MAX - o - 1;
	if (suffix > SUFFIX)
		suffix = SUFFIX;
	char tail[SUFFIX + 1];
	srv_id_random(tail, suffix);
	/* The suffix may start with a digit: only the id's first character must be a letter. */
	unsigned char r;
	srv_random_bytes(&r, 1);
	tail[0] = alnum[r % 36];
	if (len > 0) {
		size_t w = (size_t)snprintf(buf, len, "%s-%s", words, tail);
		(void)w;
	}
}
