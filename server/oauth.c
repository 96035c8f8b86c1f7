/* oauth.c - the token endpoint of tunedfs-server: the clients file (re-read when it
 * changes), the refresh-token and JWT-bearer grants with Google's form fields, answers and
 * errors, and the table of access tokens it issued. No HTTP here: the routes hand in the
 * form body and send back the JSON; nothing secret is ever printed. */
#include "server/oauth.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/bio.h>
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

#define SRV_OAUTH_BUCKETS  1024
#define SRV_OAUTH_FILE_MAX (4 << 20)
#define SRV_OAUTH_JWT_MAX  3600 /* longest exp - iat Google accepts */
#define SRV_OAUTH_SKEW	   300	/* an iat this far in the future is still fine */
#define SRV_OAUTH_SCOPES                                                                           \
	"https://www.googleapis.com/auth/cloud-platform "                                          \
	"https://www.googleapis.com/auth/generative-language.tuning"

static const char srv_oauth_b64url_abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct srv_oauth_client {
	char *client_id, *client_secret, *refresh_token, *scope;
};

struct srv_oauth_sa {
	char *email;
	EVP_PKEY *key;
};

/* What the clients file says; replaced as a whole when the file changes. */
struct srv_oauth_conf {
	struct srv_oauth_client *clients;
	size_t n_clients;
	struct srv_oauth_sa *sas;
	size_t n_sas;
	char **revoked;
	size_t n_revoked;
};

struct srv_oauth_tok {
	struct srv_oauth_tok *next;
	int64_t expires_ms; /* CLOCK_MONOTONIC */
	char token[];
};

struct srv_oauth {
	pthread_mutex_t lock;
	char *path;
	struct stat seen; /* the file as last loaded: dev, ino, size, mtime */
	struct srv_oauth_conf *conf;
	long lifetime_s;
	struct srv_oauth_tok *buckets[SRV_OAUTH_BUCKETS];
	unsigned long inserts;
	unsigned long issued, refresh_grants, jwt_grants;
};

static void srv_oauth_oom(void)
{
	fprintf(stderr, "tunedfs-server: out of memory\n");
	abort();
}

static void *srv_oauth_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		srv_oauth_oom();
	return p;
}

static char *srv_oauth_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		srv_oauth_oom();
	return p;
}

static void srv_oauth_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void srv_oauth_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static int64_t srv_oauth_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the clients file --------------------------------------------------------------- */

static void srv_oauth_conf_free(struct srv_oauth_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_clients; i++) {
		free(c->clients[i].client_id);
		free(c->clients[i].client_secret);
		free(c->clients[i].refresh_token);
		free(c->clients[i].scope);
	}
	for (size_t i = 0; i < c->n_sas; i++) {
		free(c->sas[i].email);
		EVP_PKEY_free(c->sas[i].key);
	}
	for (size_t i = 0; i < c->n_revoked; i++)
		free(c->revoked[i]);
	free(c->clients);
	free(c->sas);
	free(c->revoked);
	free(c);
}

static const char *srv_oauth_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* An absent key is an empty list; a present one must be an array. */
static const cJSON *srv_oauth_array(const cJSON *root, const char *name, int *bad)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, name);
	if (a && !cJSON_IsArray(a))
		*bad = 1;
	return cJSON_IsArray(a) ? a : NULL;
}

static int srv_oauth_parse_clients(const cJSON *arr, struct srv_oauth_conf *c, char *why,
				   size_t why_len)
{
	int n = cJSON_GetArraySize(arr);

	c->clients = srv_oauth_xcalloc((size_t)n, sizeof(*c->clients));
	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(arr, i);
		const char *id = srv_oauth_str(e, "client_id");
		const char *secret = srv_oauth_str(e, "client_secret");
		const char *rt = srv_oauth_str(e, "refresh_token");
		const char *scope = srv_oauth_str(e, "scope");

		if (!id || !secret || !rt) {
			srv_oauth_why(why, why_len,
				      "authorized_user[%d] needs client_id, client_secret and "
				      "refresh_token strings",
				      i);
			return -EINVAL;
		}
		c->clients[i].client_id = srv_oauth_xstrdup(id);
		c->clients[i].client_secret = srv_oauth_xstrdup(secret);
		c->clients[i].refresh_token = srv_oauth_xstrdup(rt);
		c->clients[i].scope = srv_oauth_xstrdup(scope ? scope : SRV_OAUTH_SCOPES);
		c->n_clients++;
	}
	return 0;
}

static int srv_oauth_parse_sas(const cJSON *arr, struct srv_oauth_conf *c, char *why,
			       size_t why_len)
{
	int n = cJSON_GetArraySize(arr);

	c->sas = srv_oauth_xcalloc((size_t)n, sizeof(*c->sas));
	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(arr, i);
		const char *email = srv_oauth_str(e, "client_email");
		const char *pem = srv_oauth_str(e, "public_key");
		BIO *bio;
		EVP_PKEY *key = NULL;

		if (!email || !pem) {
			srv_oauth_why(
			    why, why_len,
			    "service_accounts[%d] needs client_email and public_key strings", i);
			return -EINVAL;
		}
		bio = BIO_new_mem_buf(pem, -1);
		if (bio)
			key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
			EVP_PKEY_free(key);
			srv_oauth_why(why, why_len,
				      "service_accounts[%d].public_key is not a PEM RSA public key",
				      i);
			return -EINVAL;
		}
		c->sas[i].email = srv_oauth_xstrdup(email);
		c->sas[i].key = key;
		c->n_sas++;
	}
	return 0;
}

static int srv_oauth_parse_revoked(const cJSON *arr, struct srv_oauth_conf *c, char *why,
				   size_t why_len)
{
	int n = cJSON_GetArraySize(arr);

	c->revoked = srv_oauth_xcalloc((size_t)n, sizeof(*c->revoked));
	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(arr, i);
		if (!cJSON_IsString(e)) {
			srv_oauth_why(why, why_len, "revoked_refresh_tokens[%d] is not a string",
				      i);
			return -EINVAL;
		}
		c->revoked[c->n_revoked++] = srv_oauth_xstrdup(e->valuestring);
	}
	return 0;
}

static int srv_oauth_parse(const char *text, struct srv_oauth_conf **out, char *why, size_t why_len)
{
	cJSON *root = cJSON_Parse(text);
	struct srv_oauth_conf *c;
	const cJSON *users, *sas, *revoked;
	int bad = 0, rc = 0;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		srv_oauth_why(why, why_len, "not a JSON object");
		return -EINVAL;
	}
	users = srv_oauth_array(root, "authorized_user", &bad);
	sas = srv_oauth_array(root, "service_accounts", &bad);
	revoked = srv_oauth_array(root, "revoked_refresh_tokens", &bad);
	c = srv_oauth_xcalloc(1, sizeof(*c));
	if (bad) {
		srv_oauth_why(why, why_len,
			      "authorized_user, service_accounts and revoked_refresh_tokens must "
			      "be arrays");
		rc = -EINVAL;
	}
	if (!rc && users)
		rc = srv_oauth_parse_clients(users, c, why, why_len);
	if (!rc && sas)
		rc = srv_oauth_parse_sas(sas, c, why, why_len);
	if (!rc && revoked)
		rc = srv_oauth_parse_revoked(revoked, c, why, why_len);
	cJSON_Delete(root);
	if (rc < 0) {
		srv_oauth_conf_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int srv_oauth_read(const char *path, struct stat *st, struct srv_oauth_conf **out, char *why,
			  size_t why_len)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t got;
	int rc;

	if (!f) {
		srv_oauth_why(why, why_len, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fileno(f), st) < 0 || st->st_size > SRV_OAUTH_FILE_MAX) {
		fclose(f);
		srv_oauth_why(why, why_len, "%s is not a readable file under 4 MiB", path);
		return -EINVAL;
	}
	text = srv_oauth_xcalloc(1, (size_t)st->st_size + 1);
	got = fread(text, 1, (size_t)st->st_size, f);
	fclose(f);
	text[got] = '\0';
	rc = srv_oauth_parse(text, out, why, why_len);
	if (rc < 0) {
		char inner[200];
		snprintf(inner, sizeof(inner), "%s", why);
		srv_oauth_why(why, why_len, "%s: %s", path, inner);
	}
	free(text);
	return rc;
}

static int srv_oauth_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Under lock. A broken rewrite keeps the previous clients: a half-edited file must not
 * lock everybody out. */
static void srv_oauth_maybe_reload(struct srv_oauth *o)
{
	struct srv_oauth_conf *c = NULL;
	struct stat st;
	char why[300];

	if (stat(o->path, &st) < 0 || srv_oauth_same_file(&st, &o->seen))
		return;
	if (srv_oauth_read(o->path, &st, &c, why, sizeof(why)) < 0) {
		fprintf(stderr, "tunedfs-server: error: oauth clients not reloaded: %s\n", why);
		o->seen = st;
		return;
	}
	srv_oauth_conf_free(o->conf);
	o->conf = c;
	o->seen = st;
}

int srv_oauth_load(const char *clients_file, long token_lifetime_s, struct srv_oauth **out,
		   char *why, size_t why_len)
{
	struct srv_oauth *o;
	struct srv_oauth_conf *c = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	rc = srv_oauth_read(clients_file, &st, &c, why, why_len);
	if (rc < 0)
		return rc;
	o = srv_oauth_xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	o->path = srv_oauth_xstrdup(clients_file);
	o->seen = st;
	o->conf = c;
	o->lifetime_s = token_lifetime_s > 0 ? token_lifetime_s : 3600;
	*out = o;
	return 0;
}

void srv_oauth_free(struct srv_oauth *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < SRV_OAUTH_BUCKETS; i++) {
		struct srv_oauth_tok *t = o->buckets[i], *next;
		for (; t; t = next) {
			next = t->next;
			free(t);
		}
	}
	srv_oauth_conf_free(o->conf);
	free(o->path);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* ---- issued tokens ------------------------------------------------------------------- */

static size_t srv_oauth_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h % SRV_OAUTH_BUCKETS);
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
static int srv_oauth_issue(struct srv_oauth *o, char *out, size_t out_len)
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
	t = srv_oauth_xcalloc(1, sizeof(*t) + n + 1);
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

/* ---- the form body --------------------------------------------------------------------- */

struct srv_oauth_form {
	char *grant_type, *client_id, *client_secret, *refresh_token, *assertion, *scope;
	int malformed;
};

static int srv_oauth_hex(int c)
{
	if (!isxdigit(c))
		return -1;
	return isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* application/x-www-form-urlencoded: '+' is a space, %XX a byte; a NUL byte is refused. */
static char *srv_oauth_decode(const char *s, size_t n, int *bad)
{
	char *out = srv_oauth_xcalloc(1, n + 1), *p = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*p++ = ' ';
		} else if (s[i] == '%') {
			int hi = i + 2 < n ? srv_oauth_hex(s[i + 1]) : -1;
			int lo = i + 2 < n ? srv_oauth_hex(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi | lo) == 0) {
				*bad = 1;
				break;
			}
			*p++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0') {
			*bad = 1;
			break;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return out;
}

static char **srv_oauth_form_slot(struct srv_oauth_form *f, const char *key)
{
	char **slots[] = {&f->grant_type,    &f->client_id, &f->client_secret,
			  &f->refresh_token, &f->assertion, &f->scope};
	static const char *const names[] = {"grant_type",    "client_id", "client_secret",
					    "refresh_token", "assertion", "scope"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(key, names[i]))
			return slots[i];
	return NULL;
}

static void srv_oauth_form_parse(const char *form, size_t len, struct srv_oauth_form *f)
{
	const char *p = form, *end = form + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *eq;

		if (!amp)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (amp > p && !eq) {
			f->malformed = 1;
		} else if (amp > p) {
			char *k = srv_oauth_decode(p, (size_t)(eq - p), &f->malformed);
			char *v = srv_oauth_decode(eq + 1, (size_t)(amp - eq - 1), &f->malformed);
			char **slot = srv_oauth_form_slot(f, k);
			/* a repeated parameter is ambiguous: the real endpoint refuses it too */
			if (slot && *slot)
				f->malformed = 1;
			else if (slot && *v)
				*slot = v, v = NULL;
			free(k);
			if (v)
				OPENSSL_cleanse(v, strlen(v));
			free(v);
		}
		p = amp + 1;
	}
}

static void srv_oauth_form_clear(struct srv_oauth_form *f)
{
	char *all[] = {f->grant_type,	 f->client_id, f->client_secret,
		       f->refresh_token, f->assertion, f->scope};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i])
			OPENSSL_cleanse(all[i], strlen(all[i]));
		free(all[i]);
	}
}

/* ---- answers --------------------------------------------------------------------------- */

static char *srv_oauth_print(cJSON *obj)
{
	char *text = cJSON_Print(obj);
	cJSON_Delete(obj);
	if (!text)
		srv_oauth_oom();
	return text;
}

static void srv_oauth_refuse(int status, const char *error, const char *desc, int *http_status,
			     char **json)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", error);
	cJSON_AddStringToObject(o, "error_description", desc);
	*http_status = status;
	*json = srv_oauth_print(o);
}

/* Under lock. */
static void srv_oauth_grant(struct srv_oauth *o, const char *scope, int *http_status, char **json)
{
	char tok[96];
	cJSON *r;

	if (srv_oauth_issue(o, tok, sizeof(tok)) < 0) {
		srv_oauth_refuse(500, "internal_failure", "No random bytes for a token.",
				 http_status, json);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "access_token", tok);
	cJSON_AddNumberToObject(r, "expires_in", (double)o->lifetime_s);
	cJSON_AddStringToObject(r, "scope", scope);
	cJSON_AddStringToObject(r, "token_type", "Bearer");
	OPENSSL_cleanse(tok, sizeof(tok));
	*http_status = 200;
	*json = srv_oauth_print(r);
}

static int srv_oauth_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* ---- grant_type=refresh_token ---------------------------------------------------------- */

static int srv_oauth_revoked(const struct srv_oauth_conf *c, const char *rt)
{
	for (size_t i = 0; i < c->n_revoked; i++)
		if (srv_oauth_eq(c->revoked[i], rt))
			return 1;
	return 0;
}

/* Under lock. The checks run in the order Google's endpoint reports them. */
static void srv_oauth_refresh(struct srv_oauth *o, const struct srv_oauth_form *f, int *http_status,
			      char **json)
{
	const struct srv_oauth_conf *c = o->conf;
	const struct srv_oauth_client *hit = NULL;
	int known = 0, paired = 0;

	if (!f->client_id) {
		srv_oauth_refuse(400, "invalid_request",
				 "Could not determine client ID from request.", http_status, json);
		return;
	}
	for (size_t i = 0; i < c->n_clients; i++) {
		const struct srv_oauth_client *e = &c->clients[i];
		if (strcmp(e->client_id, f->client_id))
			continue;
		known = 1;
		if (!f->client_secret || !srv_oauth_eq(e->client_secret, f->client_secret))
			continue;
		paired = 1;
		if (f->refresh_token && srv_oauth_eq(e->refresh_token, f->refresh_token))
			hit = e;
	}
	if (!known)
		srv_oauth_refuse(401, "invalid_client", "The OAuth client was not found.",
				 http_status, json);
	else if (!f->client_secret)
		srv_oauth_refuse(400, "invalid_request", "client_secret is missing.", http_status,
				 json);
	else if (!paired)
		srv_oauth_refuse(401, "invalid_client", "Unauthorized", http_status, json);
	else if (!f->refresh_token)
		srv_oauth_refuse(400, "invalid_request",
				 "Missing required parameter: refresh_token", http_status, json);
	else if (!hit || srv_oauth_revoked(c, f->refresh_token))
		srv_oauth_refuse(400, "invalid_grant", "Token has been expired or revoked.",
				 http_status, json);
	else {
		srv_oauth_grant(o, f->scope ? f->scope : hit->scope, http_status, json);
		if (*http_status == 200)
			o->refresh_grants++;
	}
}

/* ---- grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer ----------------------------- */

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
	unsigned char *buf = srv_oauth_xcalloc(1, n + 1);
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
	unsigned char *sig = srv_oauth_xcalloc(1, sig64_len + 1);
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

/* Under lock. */
static void srv_oauth_jwt(struct srv_oauth *o, const char *jwt, int *http_status, char **json)
{
	const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	const char *error = "invalid_grant", *problem = NULL, *iss, *alg;
	cJSON *hdr = NULL, *claims = NULL;
	EVP_PKEY *key = NULL;

	if (!dot2 || strchr(dot2 + 1, '.') ||
	    !(hdr = srv_oauth_jwt_part(jwt, (size_t)(dot1 - jwt))) ||
	    !(claims = srv_oauth_jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1)))) {
		problem = "Invalid JWT: the assertion is not three base64url JSON parts.";
		goto out;
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
		problem = srv_oauth_claims_problem(claims, &error);
out:
	if (problem) {
		srv_oauth_refuse(400, error, problem, http_status, json);
	} else {
		srv_oauth_grant(o, srv_oauth_str(claims, "scope"), http_status, json);
		if (*http_status == 200)
			o->jwt_grants++;
	}
	cJSON_Delete(hdr);
	cJSON_Delete(claims);
}

int srv_oauth_token(struct srv_oauth *o, const char *form, size_t len, int *http_status,
		    char **json)
{
	struct srv_oauth_form f = {0};
	char desc[120];

	*json = NULL;
	srv_oauth_form_parse(form ? form : "", form ? len : 0, &f);
	pthread_mutex_lock(&o->lock);
	srv_oauth_maybe_reload(o);
	if (f.malformed) {
		srv_oauth_refuse(400, "invalid_request", "Malformed or repeated form parameter.",
				 http_status, json);
	} else if (!f.grant_type) {
		srv_oauth_refuse(400, "invalid_request", "Missing required parameter: grant_type",
				 http_status, json);
	} else if (!strcmp(f.grant_type, "refresh_token")) {
		srv_oauth_refresh(o, &f, http_status, json);
	} else if (!strcmp(f.grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer")) {
		if (f.assertion)
			srv_oauth_jwt(o, f.assertion, http_status, json);
		else
			srv_oauth_refuse(400, "invalid_request",
					 "Missing required parameter: assertion", http_status,
					 json);
	} else {
		snprintf(desc, sizeof(desc), "Invalid grant_type: %.60s", f.grant_type);
		srv_oauth_refuse(400, "unsupported_grant_type", desc, http_status, json);
	}
	pthread_mutex_unlock(&o->lock);
	srv_oauth_form_clear(&f);
	return 0;
}
