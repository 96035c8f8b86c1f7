/* test_server.c - the token endpoint of tunedfs-server (server/oauth.c) called directly:
 * both grants with the real form fields, every refusal the real endpoint gives, the
 * clients file re-read when it changes, issued tokens checked and expired. JWTs are made
 * by the client's own code (api/jwt.c) and by hand for the broken cases. */
#include "api/oauth.h"
#include "auth_check.h"
#include "server/google/oauth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

static char dir[64] = "/tmp/auth-server-XXXXXX";
static char clients[128];

/* Sends one form; returns the HTTP status and leaves the parsed answer in *reply. */
static int post(struct srv_oauth *o, const char *form, cJSON **reply)
{
	int status = 0;
	char *json = NULL;

	CHECK_INT(srv_oauth_token(o, form, strlen(form), &status, &json), 0);
	*reply = json ? cJSON_Parse(json) : NULL;
	CHECK(*reply != NULL);
	free(json);
	return status;
}

static const char *field(cJSON *r, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(r, name));
}

static void write_clients(const char *pub, const char *revoked)
{
	cJSON *root = cJSON_CreateObject(),
	      *users = cJSON_AddArrayToObject(root, "authorized_user");
	cJSON *u = cJSON_CreateObject(), *sas = cJSON_AddArrayToObject(root, "service_accounts");
	cJSON *sa = cJSON_CreateObject(),
	      *rev = cJSON_AddArrayToObject(root, "revoked_refresh_tokens");
	char tmp[160], *text;

	cJSON_AddStringToObject(u, "client_id", "cid.apps.example");
	cJSON_AddStringToObject(u, "client_secret", "csecret");
	cJSON_AddStringToObject(u, "refresh_token", "1//0rt/with+odd=chars");
	cJSON_AddItemToArray(users, u);
	cJSON_AddStringToObject(sa, "client_email", "sa@p.iam.gserviceaccount.com");
	cJSON_AddStringToObject(sa, "public_key", pub);
	cJSON_AddItemToArray(sas, sa);
	if (revoked)
		cJSON_AddItemToArray(rev, cJSON_CreateString(revoked));
	text = cJSON_Print(root);
	/* written aside and renamed, as an editor would: the server never sees half a file */
	snprintf(tmp, sizeof(tmp), "%s.new", clients);
	auth_write(tmp, text, 0600);
	CHECK_INT(rename(tmp, clients), 0);
	free(text);
	cJSON_Delete(root);
}

static const char *RT_FORM = "grant_type=refresh_token&client_id=cid.apps.example&"
			     "client_secret=csecret&refresh_token=1%2F%2F0rt%2Fwith%2Bodd%3Dchars";

static void test_refresh(struct srv_oauth *o, const char *pub)
{
	cJSON *r;
	char tok[200];

	CHECK_INT(post(o, RT_FORM, &r), 200);
	CHECK_STR(field(r, "token_type"), "Bearer");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "expires_in")), 1);
	CHECK_HAS(field(r, "scope"), "generative-language.tuning");
	snprintf(tok, sizeof(tok), "%s", field(r, "access_token") ? field(r, "access_token") : "");
	cJSON_Delete(r);
	CHECK(strlen(tok) > 20);
	CHECK_INT(srv_oauth_check_bearer(o, tok), 1);
	char header[240];
	snprintf(header, sizeof(header), "Bearer %s", tok);
	CHECK_INT(srv_oauth_check_bearer(o, header), 1);
	CHECK_INT(srv_oauth_check_bearer(o, "ya29.not-issued"), 0);
	CHECK_INT(srv_oauth_check_bearer(o, ""), 0);
	/* lifetime 1 s: after longer than that, the token is dead */
	usleep(1200 * 1000);
	CHECK_INT(srv_oauth_check_bearer(o, tok), 0);

	CHECK_INT(post(o,
		       "grant_type=refresh_token&client_id=cid.apps.example&"
		       "client_secret=wrong&refresh_token=x",
		       &r),
		  401);
	CHECK_STR(field(r, "error"), "invalid_client");
	cJSON_Delete(r);
	CHECK_INT(post(o,
		       "grant_type=refresh_token&client_id=nobody&client_secret=csecret&"
		       "refresh_token=x",
		       &r),
		  401);
	CHECK_STR(field(r, "error"), "invalid_client");
	CHECK_STR(field(r, "error_description"), "The OAuth client was not found.");
	cJSON_Delete(r);
	/* '+' in a form is a space: an unencoded token is a different token */
	CHECK_INT(post(o,
		       "grant_type=refresh_token&client_id=cid.apps.example&"
		       "client_secret=csecret&refresh_token=1//0rt/with+odd%3Dchars",
		       &r),
		  400);
	CHECK_STR(field(r, "error"), "invalid_grant");
	CHECK_STR(field(r, "error_description"), "Token has been expired or revoked.");
	cJSON_Delete(r);

	/* revoked at run time: the server re-reads the file */
	write_clients(pub, "1//0rt/with+odd=chars");
	CHECK_INT(post(o, RT_FORM, &r), 400);
	CHECK_STR(field(r, "error"), "invalid_grant");
	CHECK_STR(field(r, "error_description"), "Token has been expired or revoked.");
	cJSON_Delete(r);
	write_clients(pub, NULL);
	CHECK_INT(post(o, RT_FORM, &r), 200);
	cJSON_Delete(r);
}

static void test_form_errors(struct srv_oauth *o)
{
	static const struct {
		const char *form, *error;
		int status;
	} v[] = {
	    {"", "invalid_request", 400},
	    {"client_id=a", "invalid_request", 400},
	    {"grant_type=password&username=u", "unsupported_grant_type", 400},
	    {"grant_type=refresh_token&refresh_token=x", "invalid_request", 400},
	    {"grant_type=refresh_token&client_id=cid.apps.example&refresh_token=x",
	     "invalid_request", 400},
	    {"grant_type=refresh_token&client_id=cid.apps.example&client_secret=csecret",
	     "invalid_request", 400},
	    {"grant_type=refresh_token&grant_type=refresh_token", "invalid_request", 400},
	    {"grant_type=refresh%2", "invalid_request", 400},
	    {"grant_type=refresh%00token", "invalid_request", 400},
	    {"grant_type=refresh%G0token", "invalid_request", 400},
	    {"grant_type=refresh%\x10token", "invalid_request", 400},
	    {"grant_type", "invalid_request", 400},
	    {"grant_type=" OAUTH_JWT_BEARER_GRANT, "invalid_request", 400},
	    {"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b",
	     "invalid_grant", 400},
	    {"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=%21.%21.%"
	     "21",
	     "invalid_grant", 400},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cJSON *r;
		int status = post(o, v[i].form, &r);
		if (status != v[i].status || !field(r, "error") ||
		    strcmp(field(r, "error"), v[i].error)) {
			fprintf(stderr, "form \"%s\": %d %s, expected %d %s\n", v[i].form, status,
				field(r, "error") ? field(r, "error") : "(none)", v[i].status,
				v[i].error);
			check_failures++;
		}
		CHECK(field(r, "error_description") != NULL);
		cJSON_Delete(r);
	}
}

static int jwt_post(struct srv_oauth *o, const struct oauth_jwt_claims *cl, const char *priv,
		    cJSON **r)
{
	char why[200], *jwt = NULL, *form = NULL;
	int status;

	CHECK_INT(oauth_jwt_sign(cl, priv, &jwt, why, sizeof(why)), 0);
	oauth_form_add(&form, "grant_type", OAUTH_JWT_BEARER_GRANT);
	oauth_form_add(&form, "assertion", jwt ? jwt : "");
	status = post(o, form, r);
	free(jwt);
	free(form);
	return status;
}

static void test_jwt(struct srv_oauth *o, const char *priv, const char *other_priv)
{
	long now = (long)time(NULL);
	struct oauth_jwt_claims ok = {.kid = "k1",
				      .iss = "sa@p.iam.gserviceaccount.com",
				      .scope = OAUTH_TUNING_SCOPES,
				      .aud = "http://127.0.0.1:1/token",
				      .iat = now - 10,
				      .exp = now - 10 + 3600};
	struct oauth_jwt_claims c;
	cJSON *r;

	CHECK_INT(jwt_post(o, &ok, priv, &r), 200);
	CHECK_STR(field(r, "token_type"), "Bearer");
	CHECK_STR(field(r, "scope"), OAUTH_TUNING_SCOPES);
	CHECK_INT(srv_oauth_check_bearer(o, field(r, "access_token")), 1);
	cJSON_Delete(r);

	c = ok;
	c.exp = c.iat + 3601; /* longer than an hour */
	CHECK_INT(jwt_post(o, &c, priv, &r), 400);
	CHECK_STR(field(r, "error"), "invalid_grant");
	CHECK_HAS(field(r, "error_description"), "iat and exp");
	cJSON_Delete(r);
	c = ok;
	c.iat = now - 4000;
	c.exp = now - 500; /* expired */
	CHECK_INT(jwt_post(o, &c, priv, &r), 400);
	CHECK_STR(field(r, "error"), "invalid_grant");
	cJSON_Delete(r);
	c = ok;
	c.aud = "https://example.com/api";
	CHECK_INT(jwt_post(o, &c, priv, &r), 400);
	CHECK_HAS(field(r, "error_description"), "audience");
	cJSON_Delete(r);
	c = ok;
	c.iss = "nobody@p.iam.gserviceaccount.com";
	CHECK_INT(jwt_post(o, &c, priv, &r), 400);
	CHECK_STR(field(r, "error_description"), "Invalid grant: account not found");
	cJSON_Delete(r);
	CHECK_INT(jwt_post(o, &ok, other_priv, &r), 400); /* signed with another key */
	CHECK_STR(field(r, "error_description"), "Invalid JWT Signature.");
	cJSON_Delete(r);
	c = ok;
	c.scope = "";
	CHECK_INT(jwt_post(o, &c, priv, &r), 400);
	CHECK_STR(field(r, "error"), "invalid_scope");
	cJSON_Delete(r);
}

static void test_load_errors(void)
{
	char why[300] = "", path[160];
	struct srv_oauth *o = NULL;

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	CHECK(srv_oauth_load("/nonexistent/clients.json", 60, &o, why, sizeof(why)) < 0);
	CHECK_HAS(why, "/nonexistent/clients.json");
	auth_write(path, "{\"authorized_user\": [{\"client_id\": \"x\"}]}", 0600);
	CHECK_INT(srv_oauth_load(path, 60, &o, why, sizeof(why)), -EINVAL);
	CHECK_HAS(why, "authorized_user[0]");
	auth_write(path,
		   "{\"service_accounts\": [{\"client_email\": \"a\", \"public_key\": \"x\"}]}",
		   0600);
	CHECK_INT(srv_oauth_load(path, 60, &o, why, sizeof(why)), -EINVAL);
	CHECK_HAS(why, "public_key");
	auth_write(path, "[]", 0600);
	CHECK_INT(srv_oauth_load(path, 60, &o, why, sizeof(why)), -EINVAL);
	CHECK(o == NULL);
	auth_write(path, "{}", 0600);
	CHECK_INT(srv_oauth_load(path, 60, &o, why, sizeof(why)), 0);
	srv_oauth_free(o);
	unlink(path);
}

int main(void)
{
	char *priv, *pub, *priv2, *pub2, why[300] = "";
	EVP_PKEY *key = auth_rsa_key(&priv, &pub), *key2 = auth_rsa_key(&priv2, &pub2);
	struct srv_oauth *o = NULL;
	unsigned long issued = 0, rg = 0, jg = 0;

	if (!mkdtemp(dir))
		abort();
	snprintf(clients, sizeof(clients), "%s/clients.json", dir);
	write_clients(pub, NULL);
	CHECK_INT(srv_oauth_load(clients, 1, &o, why, sizeof(why)), 0);
	if (!o) {
		fprintf(stderr, "load: %s\n", why);
		return 1;
	}
	test_form_errors(o);
	test_refresh(o, pub);
	test_jwt(o, priv, priv2);
	srv_oauth_stats(o, &issued, &rg, &jg);
	CHECK_INT(rg, 2);
	CHECK_INT(jg, 1);
	CHECK_INT(issued, 3);
	srv_oauth_free(o);
	test_load_errors();
	unlink(clients);
	rmdir(dir);
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	free(priv);
	free(pub);
	free(priv2);
	free(pub2);
	return check_exit("test_server");
}
