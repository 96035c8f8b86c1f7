/* test_jwt.c - base64url, form encoding and the service-account JWT of api/jwt.c: the
 * JWT is taken apart and its RS256 signature checked with the public key by OpenSSL
 * directly, independent of the code that made it. */
#include "api/oauth.h"
#include "auth_check.h"

#include <cjson/cJSON.h>
#include <errno.h>

static void test_b64url(void)
{
	static const struct {
		const char *in, *out;
	} v[] = {{"", ""},	     {"f", "Zg"},	   {"fo", "Zm8"},	  {"foo", "Zm9v"},
		 {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
	const unsigned char url_only[] = {0xfb, 0xff, 0xbf};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = oauth_b64url(v[i].in, strlen(v[i].in));
		CHECK_STR(e, v[i].out);
		free(e);
	}
	char *e = oauth_b64url(url_only, sizeof(url_only));
	CHECK_STR(e, "-_-_"); /* '-' and '_' where standard base64 has '+' and '/' */
	free(e);
	e = oauth_b64url(url_only, 2);
	CHECK_STR(e, "-_8"); /* no '=' padding */
	free(e);
}

static void test_form(void)
{
	char *form = NULL;

	oauth_form_add(&form, "grant_type", "refresh_token");
	CHECK_STR(form, "grant_type=refresh_token");
	oauth_form_add(&form, "refresh_token", "1//0abc-_.~/+= &x");
	CHECK_STR(form, "grant_type=refresh_token&refresh_token=1%2F%2F0abc-_.~%2F%2B%3D%20%26x");
	oauth_form_add(&form, "grant_type", OAUTH_JWT_BEARER_GRANT);
	CHECK_HAS(form, "&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer");
	free(form);
	form = NULL;
	oauth_form_add(&form, "k", "\xc3\xa9");
	CHECK_STR(form, "k=%C3%A9");
	free(form);
}

/* Undoes base64url for the check, with OpenSSL's decoder after mapping the alphabet back. */
static unsigned char *test_unb64url(const char *s, size_t n, int *len)
{
	size_t padded = (n + 3) / 4 * 4;
	unsigned char *std = calloc(1, padded + 1), *out = calloc(1, padded + 1);

	for (size_t i = 0; i < padded; i++)
		std[i] = i >= n ? '=' : s[i] == '-' ? '+' : s[i] == '_' ? '/' : (unsigned char)s[i];
	*len = EVP_DecodeBlock(out, std, (int)padded);
	*len -= (int)(padded - n); /* EVP_DecodeBlock counts padding as zero bytes */
	free(std);
	return out;
}

static cJSON *test_part(const char *s, size_t n)
{
	int len;
	unsigned char *raw = test_unb64url(s, n, &len);
	cJSON *j = cJSON_ParseWithLength((char *)raw, (size_t)len);
	free(raw);
	return j;
}

static int test_verify(EVP_PKEY *key, const char *jwt)
{
	const char *d2 = strrchr(jwt, '.');
	int sig_len, ok;
	unsigned char *sig = test_unb64url(d2 + 1, strlen(d2 + 1), &sig_len);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(md, sig, (size_t)sig_len, (const unsigned char *)jwt,
			      (size_t)(d2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	free(sig);
	return ok;
}

static void test_jwt_sign(EVP_PKEY *key, const char *priv)
{
	struct oauth_jwt_claims cl = {.kid = "key-1",
				      .iss = "sa@p.iam.gserviceaccount.com",
				      .scope = OAUTH_TUNING_SCOPES,
				      .aud = "https://oauth2.googleapis.com/token",
				      .iat = 1700000000,
				      .exp = 1700003600};
	char why[200] = "", *jwt = NULL;
	const char *d1, *d2;
	cJSON *h, *c;

	CHECK_INT(oauth_jwt_sign(&cl, priv, &jwt, why, sizeof(why)), 0);
	if (!jwt)
		return;
	CHECK(!strchr(jwt, '='));
	d1 = strchr(jwt, '.');
	d2 = strrchr(jwt, '.');
	CHECK(d1 && d2 && d1 < d2);
	h = test_part(jwt, (size_t)(d1 - jwt));
	c = test_part(d1 + 1, (size_t)(d2 - d1 - 1));
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "alg")), "RS256");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "typ")), "JWT");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "kid")), "key-1");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "iss")), cl.iss);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "aud")), cl.aud);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "scope")), OAUTH_TUNING_SCOPES);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "iat")), 1700000000);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "exp")), 1700003600);
	/* integers in the text, not 1.7e9 */
	CHECK(!cJSON_GetObjectItem(c, "sub"));
	cJSON_Delete(h);
	cJSON_Delete(c);
	CHECK(test_verify(key, jwt));
	/* a changed claim must break the signature */
	jwt[d1 - jwt + 3] ^= 1;
	CHECK(!test_verify(key, jwt));
	free(jwt);
}

static void test_jwt_bad_key(const char *priv)
{
	struct oauth_jwt_claims cl = {.iss = "a", .scope = "s", .aud = "u", .iat = 1, .exp = 2};
	char why[200] = "", *jwt = NULL, *broken = strdup(priv);

	/* a key with its body damaged: the message must say so without quoting it */
	memcpy(strstr(broken, "\n") + 1, "AAAAAAAAAAAAAAAA", 16);
	CHECK_INT(oauth_jwt_sign(&cl, broken, &jwt, why, sizeof(why)), -EINVAL);
	CHECK(jwt == NULL);
	CHECK_HAS(why, "private_key");
	CHECK_LACKS(why, "AAAA");
	CHECK_LACKS(why, "BEGIN");
	CHECK_INT(oauth_jwt_sign(&cl, "not a key", &jwt, why, sizeof(why)), -EINVAL);
	cl.iss = NULL;
	CHECK_INT(oauth_jwt_sign(&cl, priv, &jwt, why, sizeof(why)), -EINVAL);
	free(broken);
}

int main(void)
{
	char *priv, *pub;
	EVP_PKEY *key = auth_rsa_key(&priv, &pub);

	test_b64url();
	test_form();
	test_jwt_sign(key, priv);
	test_jwt_bad_key(priv);
	EVP_PKEY_free(key);
	free(priv);
	free(pub);
	return check_exit("test_jwt");
}
