/* token_table.c - the access tokens tunedfs-server's token endpoint issued: a hash table
 * of live tokens with their expiry (swept as it grows), the check of a Bearer token, and
 * the endpoint's counters. Nothing here prints a token. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/bytes.h"
#include "base/xalloc.h"
#include "server/google/oauth_impl.h"

const char srv_oauth_b64url_abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int64_t srv_oauth_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static size_t srv_oauth_hash(const char *s)
{
	return (size_t)(bytes_fnv1a64_more(BYTES_FNV1A64_BASIS, s, strlen(s)) % SRV_OAUTH_BUCKETS);
}

static void srv_oauth_sweep(struct srv_oauth *o, int64_t now)
{
	for (size_t i = 0; i < SRV_OAUTH_BUCKETS; i++) {
		struct srv_oauth_tok **pp = &o->buckets[i];
		while (*pp) {
			struct srv_oauth_tok *t = *pp;
			if (t->expires_ms <= now) {
				*pp = t->next;
				free(t);
			} else {
				pp = &t->next;
			}
		}
	}
}

/* Under lock. Google's access tokens start with "ya29."; ours look alike. */
int srv_oauth_issue(struct srv_oauth *o, char *out, size_t out_len)
{
	unsigned char raw[36];
	struct srv_oauth_tok *t;
	int64_t now = srv_oauth_now_ms();
	size_t n = 0, b;

	if (RAND_bytes(raw, sizeof(raw)) != 1 || out_len < 6 + sizeof(raw))
		return -EIO;
	n = (size_t)snprintf(out, out_len, "ya29.");
	for (size_t i = 0; i < sizeof(raw) && n + 1 < out_len; i++)
		out[n++] = srv_oauth_b64url_abc[raw[i] & 63];
	out[n] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	if (++o->inserts % 256 == 0)
		srv_oauth_sweep(o, now);
	t = xcalloc(1, sizeof(*t) + n + 1);
	memcpy(t->token, out, n + 1);
	t->expires_ms = now + (int64_t)o->lifetime_s * 1000;
	b = srv_oauth_hash(out);
	t->next = o->buckets[b];
	o->buckets[b] = t;
	o->issued++;
	return 0;
}

int srv_oauth_check_bearer(struct srv_oauth *o, const char *bearer)
{
	const struct srv_oauth_tok *t;
	int64_t now;
	int live = 0;

	if (!o || !bearer)
		return 0;
	if (!strncasecmp(bearer, "Bearer ", 7))
		bearer += 7;
	while (*bearer == ' ')
		bearer++;
	if (!*bearer)
		return 0;
	now = srv_oauth_now_ms();
	pthread_mutex_lock(&o->lock);
	for (t = o->buckets[srv_oauth_hash(bearer)]; t; t = t->next) {
		if (!strcmp(t->token, bearer)) {
			live = t->expires_ms > now;
			break;
		}
	}
	pthread_mutex_unlock(&o->lock);
	return live;
}

void srv_oauth_stats(struct srv_oauth *o, unsigned long *issued, unsigned long *refresh_grants,
		     unsigned long *jwt_grants)
{
	pthread_mutex_lock(&o->lock);
	if (issued)
		*issued = o->issued;
	if (refresh_grants)
		*refresh_grants = o->refresh_grants;
	if (jwt_grants)
		*jwt_grants = o->jwt_grants;
	pthread_mutex_unlock(&o->lock);
}

void srv_oauth_tokens_clear(struct srv_oauth *o)
{
	for (size_t i = 0; i < SRV_OAUTH_BUCKETS; i++) {
		struct srv_oauth_tok *t = o->buckets[i], *next;
		for (; t; t = next) {
			next = t->next;
			free(t);
		}
		o->buckets[i] = NULL;
	}
}
