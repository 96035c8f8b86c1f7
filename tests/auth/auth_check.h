/* auth_check.h - what the credential unit tests share: assertion macros (a failed check
 * prints where and what; the exit status counts failures), an RSA key made in memory, and
 * small file helpers. Nothing here talks to a network. */
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

static int auth_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			auth_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long ca_ = (long long)(a), cb_ = (long long)(b);                              \
		if (ca_ != cb_) {                                                                  \
			fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__,  \
				#a, ca_, cb_);                                                     \
			auth_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *ca_ = (a), *cb_ = (b);                                                 \
		if (!ca_ || !cb_ || strcmp(ca_, cb_)) {                                            \
			fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, ca_ ? ca_ : "(null)", cb_ ? cb_ : "(null)");         \
			auth_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_HAS(hay, needle)                                                                     \
	do {                                                                                       \
		const char *ch_ = (hay), *cn_ = (needle);                                          \
		if (!ch_ || !strstr(ch_, cn_)) {                                                   \
			fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,       \
				__LINE__, ch_ ? ch_ : "(null)", cn_);                              \
			auth_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_LACKS(hay, needle)                                                               \
	do {                                                                                   \
		const char *ch_ = (hay), *cn_ = (needle);                                      \
		if (ch_ && strstr(ch_, cn_)) {                                                 \
			fprintf(stderr, "%s:%d: %s shows a secret\n", __FILE__, __LINE__, #hay); \
			auth_failures++;                                                       \
		}                                                                              \
	} while (0)

static inline int auth_exit(const char *name)
{
	if (auth_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, auth_failures);
	return auth_failures > 100 ? 100 : auth_failures;
}

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
