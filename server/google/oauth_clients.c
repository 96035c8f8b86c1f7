/* oauth_clients.c - the clients file of tunedfs-server's token endpoint: OAuth clients,
 * service accounts and revoked refresh tokens, read at start and again whenever the file
 * changes (a broken rewrite keeps the previous clients). Grants: google_token.c. */
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

const char *srv_oauth_str(const cJSON *obj, const char *name)
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

	c->clients = xcalloc((size_t)n, sizeof(*c->clients));
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
		c->clients[i].client_id = xstrdup(id);
		c->clients[i].client_secret = xstrdup(secret);
		c->clients[i].refresh_token = xstrdup(rt);
		c->clients[i].scope = xstrdup(scope ? scope : SRV_OAUTH_SCOPES);
		c->n_clients++;
	}
	return 0;
}

static int srv_oauth_parse_sas(const cJSON *arr, struct srv_oauth_conf *c, char *why,
			       size_t why_len)
{
	int n = cJSON_GetArraySize(arr);

	c->sas = xcalloc((size_t)n, sizeof(*c->sas));
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
		c->sas[i].email = xstrdup(email);
		c->sas[i].key = key;
		c->n_sas++;
	}
	return 0;
}

static int srv_oauth_parse_revoked(const cJSON *arr, struct srv_oauth_conf *c, char *why,
				   size_t why_len)
{
	int n = cJSON_GetArraySize(arr);

	c->revoked = xcalloc((size_t)n, sizeof(*c->revoked));
	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(arr, i);
		if (!cJSON_IsString(e)) {
			srv_oauth_why(why, why_len, "revoked_refresh_tokens[%d] is not a string",
				      i);
			return -EINVAL;
		}
		c->revoked[c->n_revoked++] = xstrdup(e->valuestring);
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
	c = xcalloc(1, sizeof(*c));
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
	text = xcalloc(1, (size_t)st->st_size + 1);
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
void srv_oauth_maybe_reload(struct srv_oauth *o)
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
	o = xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	o->path = xstrdup(clients_file);
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
	srv_oauth_tokens_clear(o);
	srv_oauth_conf_free(o->conf);
	free(o->path);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
