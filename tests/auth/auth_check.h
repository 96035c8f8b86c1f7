/* auth_check.h - what the credential unit tests share besides tests/check.h: an RSA key
 * made in memory and small file helpers. Nothing here talks to a network. */
#ifndef TUNEDFS_TESTS_AUTH_CHECK_H
#define TUNEDFS_TESTS_AUTH_CHECK_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../check.h"

static inline char *auth_bio_text(BIO *bio)
{
	char *data = NULL, *out;
	long n = BIO_get_mem_data(bio, &data);

	out = calloc(1, (size_t)n + 1);
	if (!out)
		abort();
	memcpy(out, data, (size_t)n);
	BIO_free(bio);
	return out;
}

/* A fresh 2048-bit RSA key: its PKCS#8 private PEM and SubjectPublicKeyInfo PEM. */
static inline EVP_PKEY *auth_rsa_key(char **priv_pem, char **pub_pem)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	BIO *b;

	if (!key)
		abort();
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	*priv_pem = auth_bio_text(b);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(b, key);
	*pub_pem = auth_bio_text(b);
	return key;
}

static inline void auth_write(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
	if (chmod(path, (mode_t)mode) < 0)
		abort();
}

#endif
