/* jwt_verify.c - the JWT-bearer grant's assertion as tunedfs-server's token endpoint
 * checks it: base64url parts, the RS256 signature against the service account's public
 * key, and the claims (times, audience, scope). Answers: google_token.c. */
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

#include "base/xalloc.h"
#include "server/google/oauth_impl.h"

static int srv_oauth_b64_value(int c)
{
	const char *p = c ? strchr(srv_oauth_b64url_abc, c) : NULL;
	return p ? (int)(p - srv_oauth_b64url_abc) : -1;
}

/* base64url without padding, as JWTs carry it. Returns the length, or -1. */
static long srv_oauth_b64url_decode(const char *s, size_t n, unsigned char *out)
{
	unsigned acc = 0;
	int bits = 0;
	long len = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = srv_oauth_b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	return len;
}

static cJSON *srv_oauth_jwt_part(const char *s, size_t n)
{
	unsigned char *buf = xcalloc(1, n + 1);
	long len = srv_oauth_b64url_decode(s, n, buf);
	cJSON *j = NULL;

	if (len >= 0) {
		buf[len] = '\0';
		j = cJSON_ParseWithLength((const char *)buf, (size_t)len);
	}
	free(buf);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

static int srv_oauth_rs256_ok(EVP_PKEY *key, const char *input, size_t input_len, const char *sig64,
			      size_t sig64_len)
{
	unsigned char *sig = xcalloc(1, sig64_len + 1);
	long sig_len = srv_oauth_b64url_decode(sig64, sig64_len, sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok =
	    md && sig_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, (size_t)sig_len, (const unsigned char *)input, input_len) ==
		1;

	EVP_MD_CTX_free(md);
	free(sig);
	return ok;
}

#define SRV_OAUTH_BAD_SIG "Invalid JWT Signature."
#define SRV_OAUTH_BAD_TIME                                                                         \
	"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "         \
	"timeframe. Check your iat and exp values in the JWT claim."

/* Checks the claims of a JWT whose signature was verified; NULL when they are fine. */
static const char *srv_oauth_claims_problem(const cJSON *claims, const char **error)
{
	const cJSON *iat = cJSON_GetObjectItemCaseSensitive(claims, "iat");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	const char *aud = srv_oauth_str(claims, "aud");
	double now = (double)time(NULL);
	size_t n;

	*error = "invalid_grant";
	if (!cJSON_IsNumber(iat) || !cJSON_IsNumber(exp) || exp->valuedouble <= iat->valuedouble ||
	    exp->valuedouble - iat->valuedouble > SRV_OAUTH_JWT_MAX || exp->valuedouble <= now ||
	    iat->valuedouble > now + SRV_OAUTH_SKEW)
		return SRV_OAUTH_BAD_TIME;
	n = aud ? strlen(aud) : 0;
	if (n < 6 || strcmp(aud + n - 6, "/token"))
		return "Invalid JWT: Failed audience check. The audience must be the token "
		       "endpoint URL.";
	if (!srv_oauth_str(claims, "scope")) {
		*error = "invalid_scope";
		return "Invalid OAuth scope or ID token audience provided.";
	}
	return NULL;
}

const char *srv_oauth_jwt_check(struct srv_oauth *o, const char *jwt, const char **error,
				const char **scope, cJSON **claims_out)
{
	const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	const char *problem = NULL, *iss, *alg;
	cJSON *hdr = NULL, *claims = NULL;
	EVP_PKEY *key = NULL;

	*error = "invalid_grant";
	*claims_out = NULL;
	if (!dot2 || strchr(dot2 + 1, '.') ||
	    !(hdr = srv_oauth_jwt_part(jwt, (size_t)(dot1 - jwt))) ||
	    !(claims = srv_oauth_jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1)))) {
		cJSON_Delete(hdr);
		cJSON_Delete(claims);
		return "Invalid JWT: the assertion is not three base64url JSON parts.";
	}
	alg = srv_oauth_str(hdr, "alg");
	iss = srv_oauth_str(claims, "iss");
	for (size_t i = 0; iss && i < o->conf->n_sas; i++)
		if (!strcmp(o->conf->sas[i].email, iss))
			key = o->conf->sas[i].key;
	if (!key)
		problem = "Invalid grant: account not found";
	else if (!alg || strcmp(alg, "RS256") ||
		 !srv_oauth_rs256_ok(key, jwt, (size_t)(dot2 - jwt), dot2 + 1, strlen(dot2 + 1)))
		problem = SRV_OAUTH_BAD_SIG;
	else
		problem = srv_oauth_claims_problem(claims, error);
	cJSON_Delete(hdr);
	if (problem) {
		cJSON_Delete(claims);
		return problem;
	}
	*scope = srv_oauth_str(claims, "scope");
	*claims_out = claims;
	return NULL;
}
