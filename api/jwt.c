/* jwt.c - the encodings an OAuth token request needs: base64url, form bodies, and the
 * RS256-signed JWT assertion of a service account (OpenSSL EVP). No I/O, no HTTP: the
 * token endpoint and the cache are in oauth.c. */
#include "api/oauth.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void jwt_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void jwt_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

char *oauth_b64url(const void *data, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	char *out = xmalloc(len / 3 * 4 + 5);
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		out[o++] = abc[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

static int jwt_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

void oauth_form_add(char **form, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t old = *form ? strlen(*form) : 0;
	size_t need = old + 1 + strlen(name) * 3 + 1 + strlen(value) * 3 + 1;
	char *out = xmalloc(need), *p = out;

	if (old) {
		memcpy(p, *form, old);
		p += old;
		*p++ = '&';
	}
	for (int part = 0; part < 2; part++) {
		const unsigned char *s = (const unsigned char *)(part ? value : name);
		for (; *s; s++) {
			if (jwt_unreserved(*s)) {
				*p++ = (char)*s;
			} else {
				*p++ = '%';
				*p++ = hex[*s >> 4];
				*p++ = hex[*s & 15];
			}
		}
		if (!part)
			*p++ = '=';
	}
	*p = '\0';
	if (*form) {
		/* the old body may hold a secret: wipe before letting it go */
		memset(*form, 0, old);
		free(*form);
	}
	*form = out;
}

static char *jwt_json_b64(cJSON *obj)
{
	char *text = cJSON_PrintUnformatted(obj);
	char *enc;

	if (!text)
		xalloc_die(0);
	enc = oauth_b64url(text, strlen(text));
	free(text);
	return enc;
}

/* header.claims, both base64url: what the signature covers. */
static char *jwt_signing_input(const struct oauth_jwt_claims *cl)
{
	cJSON *hdr = cJSON_CreateObject(), *claims = cJSON_CreateObject();
	char *h, *c, *out;
	size_t n;

	cJSON_AddStringToObject(hdr, "alg", "RS256");
	cJSON_AddStringToObject(hdr, "typ", "JWT");
	if (cl->kid && *cl->kid)
		cJSON_AddStringToObject(hdr, "kid", cl->kid);
	cJSON_AddStringToObject(claims, "iss", cl->iss);
	cJSON_AddStringToObject(claims, "scope", cl->scope);
	cJSON_AddStringToObject(claims, "aud", cl->aud);
	/* integers, not floats: cJSON prints whole doubles without a fraction */
	cJSON_AddNumberToObject(claims, "iat", (double)cl->iat);
	cJSON_AddNumberToObject(claims, "exp", (double)cl->exp);
	h = jwt_json_b64(hdr);
	c = jwt_json_b64(claims);
	cJSON_Delete(hdr);
	cJSON_Delete(claims);
	n = strlen(h) + 1 + strlen(c) + 1;
	out = xmalloc(n);
	snprintf(out, n, "%s.%s", h, c);
	free(h);
	free(c);
	return out;
}

static EVP_PKEY *jwt_read_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key;

	if (!bio)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

int oauth_jwt_sign(const struct oauth_jwt_claims *cl, const char *private_key_pem, char **jwt,
		   char *why, size_t why_len)
{
	EVP_PKEY *key;
	EVP_MD_CTX *md;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	char *input, *sig64, *out;
	int ok;

	*jwt = NULL;
	if (!cl->iss || !cl->scope || !cl->aud || !private_key_pem) {
		jwt_why(why, why_len, "JWT needs iss, scope, aud and a private key");
		return -EINVAL;
	}
	key = jwt_read_key(private_key_pem);
	if (!key) {
		jwt_why(why, why_len, "private_key is not a PEM private key OpenSSL can read");
		return -EINVAL;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		jwt_why(why, why_len, "private_key is not an RSA key (RS256 needs one)");
		return -EINVAL;
	}
	input = jwt_signing_input(cl);
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)input, strlen(input)) == 1;
	if (ok) {
		sig = xmalloc(sig_len);
		ok = EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input,
				    strlen(input)) == 1;
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	if (!ok) {
		free(sig);
		free(input);
		jwt_why(why, why_len, "signing the JWT with the private key failed");
		return -EINVAL;
	}
	sig64 = oauth_b64url(sig, sig_len);
	free(sig);
	out = xmalloc(strlen(input) + 1 + strlen(sig64) + 1);
	sprintf(out, "%s.%s", input, sig64);
	free(input);
	free(sig64);
	*jwt = out;
	return 0;
}
