/* test_adc.c - Application Default Credentials files (both types, missing fields, other
 * types) and the order creds_new() looks in: API key, token command, ADC from
 * GOOGLE_APPLICATION_CREDENTIALS, $CLOUDSDK_CONFIG, $HOME/.config/gcloud; the message when
 * nothing is found; which headers each source gives. No network: tokens are not fetched. */
#include "api/creds.h"
#include "api/gemini.h"
#include "api/oauth.h"
#include "auth_check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <unistd.h>

static char dir[64] = "/tmp/auth-adc-XXXXXX";

static const char *USER_JSON = "{\"type\": \"authorized_user\", \"client_id\": \"cid\", "
			       "\"client_secret\": \"S3CRET-client\", \"refresh_token\": "
			       "\"1//0S3CRET-refresh\", \"quota_project_id\": \"qp-file\"}";

static void test_parse(const char *priv)
{
	struct backend_error err = {0};
	struct oauth_adc a;
	char sa[4096];

	CHECK_INT(oauth_adc_parse(USER_JSON, "u.json", &a, &err), 0);
	CHECK_INT(a.type, OAUTH_ADC_AUTHORIZED_USER);
	CHECK_STR(a.client_id, "cid");
	CHECK_STR(a.refresh_token, "1//0S3CRET-refresh");
	CHECK_STR(a.quota_project_id, "qp-file");
	CHECK(a.token_uri == NULL);
	oauth_adc_clear(&a);

	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "service_account");
	cJSON_AddStringToObject(j, "project_id", "proj");
	cJSON_AddStringToObject(j, "private_key_id", "kid1");
	cJSON_AddStringToObject(j, "private_key", priv);
	cJSON_AddStringToObject(j, "client_email", "sa@proj.iam.gserviceaccount.com");
	cJSON_AddStringToObject(j, "token_uri", "https://oauth2.googleapis.com/token");
	char *text = cJSON_Print(j);
	snprintf(sa, sizeof(sa), "%s", text);
	free(text);
	cJSON_Delete(j);
	CHECK_INT(oauth_adc_parse(sa, "sa.json", &a, &err), 0);
	CHECK_INT(a.type, OAUTH_ADC_SERVICE_ACCOUNT);
	CHECK_STR(a.private_key_id, "kid1");
	CHECK_STR(a.project_id, "proj");
	CHECK_HAS(a.private_key, "BEGIN PRIVATE KEY");
	oauth_adc_clear(&a);

	CHECK_INT(oauth_adc_parse("{\"type\": \"authorized_user\", \"client_id\": \"c\", "
				  "\"client_secret\": \"S3CRET\"}",
				  "u.json", &a, &err),
		  -EINVAL);
	CHECK_HAS(err.message, "u.json");
	CHECK_HAS(err.message, "refresh_token");
	CHECK_LACKS(err.message, "S3CRET");
	CHECK_INT(oauth_adc_parse("{\"type\": \"service_account\", \"private_key\": \"k\"}",
				  "sa.json", &a, &err),
		  -EINVAL);
	CHECK_HAS(err.message, "client_email");
	CHECK_INT(oauth_adc_parse("{\"type\": \"external_account\", \"audience\": \"x\"}", "e.json",
				  &a, &err),
		  -EINVAL);
	CHECK_HAS(err.message, "external_account");
	CHECK_HAS(err.message, "e.json");
	CHECK_INT(oauth_adc_parse("{\"client_id\": \"c\"}", "t.json", &a, &err), -EINVAL);
	CHECK_HAS(err.message, "\"type\"");
	CHECK_INT(oauth_adc_parse("not json", "n.json", &a, &err), -EINVAL);
	CHECK_HAS(err.message, "n.json");
	CHECK_INT(oauth_adc_load("/nonexistent/adc.json", &a, &err), -EACCES);
	CHECK_HAS(err.message, "/nonexistent/adc.json");
}

static void test_uri(void)
{
	CHECK(oauth_uri_allowed("https://oauth2.googleapis.com/token"));
	CHECK(oauth_uri_allowed("http://127.0.0.1:8080/token"));
	CHECK(oauth_uri_allowed("http://127.5.6.7/token"));
	CHECK(oauth_uri_allowed("http://localhost:99/token"));
	CHECK(oauth_uri_allowed("http://[::1]:99/token"));
	CHECK(!oauth_uri_allowed("http://example.com/token"));
	CHECK(!oauth_uri_allowed("http://127.0.0.1.evil.example/token"));
	CHECK(!oauth_uri_allowed("http://10.0.0.1/token"));
	CHECK(!oauth_uri_allowed("ftp://127.0.0.1/token"));
	CHECK(!oauth_uri_allowed("https://"));
	CHECK(!oauth_uri_allowed(NULL));
}

static void clear_env(void)
{
	unsetenv("GEMINI_API_KEY");
	unsetenv("GOOGLE_API_KEY");
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("CLOUDSDK_CONFIG");
	unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
	setenv("HOME", dir, 1);
}

static const char *kind_of(const struct creds_options *o, struct backend_error *err)
{
	static char kind[40];
	struct creds *c = NULL;

	if (creds_new(o, &c, err) < 0)
		return "fail";
	snprintf(kind, sizeof(kind), "%s", creds_kind(c));
	creds_free(c);
	return kind;
}

static void test_order(void)
{
	struct backend_error err = {0};
	struct creds_options o = {0};
	char gc[160], cs[160], home_adc[300], path[200];

	clear_env();
	CHECK_STR(kind_of(&o, &err), "fail");
	CHECK_HAS(err.message, "GEMINI_API_KEY");
	CHECK_HAS(err.message, "GOOGLE_API_KEY");
	CHECK_HAS(err.message, "api_key_file");
	CHECK_HAS(err.message, "token_command");
	CHECK_HAS(err.message, "GOOGLE_APPLICATION_CREDENTIALS");
	CHECK_HAS(err.message, "/.config/gcloud/application_default_credentials.json");
	CHECK_HAS(err.message, "-o local");
	snprintf(cs, sizeof(cs), "%s/cloudsdk", dir);
	setenv("CLOUDSDK_CONFIG", cs, 1);
	CHECK_STR(kind_of(&o, &err), "fail");
	CHECK_HAS(err.message, "/cloudsdk/application_default_credentials.json");
	o.allow_none = 1;
	CHECK_STR(kind_of(&o, &err), "none");
	o.allow_none = 0;

	/* the well-known file under $HOME */
	snprintf(path, sizeof(path), "%s/.config", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.config/gcloud", dir);
	mkdir(path, 0700);
	snprintf(home_adc, sizeof(home_adc), "%s/application_default_credentials.json", path);
	auth_write(home_adc, USER_JSON, 0600);
	CHECK_STR(kind_of(&o, &err), "authorized_user");
	/* $CLOUDSDK_CONFIG before $HOME */
	mkdir(cs, 0700);
	snprintf(path, sizeof(path), "%s/application_default_credentials.json", cs);
	auth_write(path, "{\"type\": \"impersonated_service_account\"}", 0600);
	CHECK_STR(kind_of(&o, &err), "fail");
	CHECK_HAS(err.message, "impersonated_service_account");
	/* GOOGLE_APPLICATION_CREDENTIALS first, and used even when it is broken */
	snprintf(gc, sizeof(gc), "%s/missing.json", dir);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", gc, 1);
	CHECK_STR(kind_of(&o, &err), "fail");
	CHECK_HAS(err.message, gc);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", home_adc, 1);
	CHECK_STR(kind_of(&o, &err), "authorized_user");
	/* the token command before ADC */
	o.token_command = "echo tok";
	CHECK_STR(kind_of(&o, &err), "token-command");
	/* API keys before everything */
	setenv("GOOGLE_API_KEY", "AIzaS3CRET", 1);
	CHECK_STR(kind_of(&o, &err), "api-key");
	clear_env();
}

static int count_prefix(char **h, int n, const char *prefix)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += !strncmp(h[i], prefix, strlen(prefix));
	return k;
}

static void test_headers(void)
{
	struct backend_error err = {0};
	struct creds_options o = {.token_command = "printf 'ya29.cmd-token\\n'"};
	struct creds *c = NULL;
	char *h[4];
	int n;

	clear_env();
	CHECK_INT(creds_new(&o, &c, &err), 0);
	n = creds_headers(c, h, 4, &err);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(h[0], "Authorization: Bearer ya29.cmd-token");
	for (int i = 0; i < n; i++)
		free(h[i]);
	creds_free(c);

	setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "qp-env", 1);
	o.project = "qp-option";
	CHECK_INT(creds_new(&o, &c, &err), 0);
	n = creds_headers(c, h, 4, &err);
	CHECK_INT(n, 2);
	CHECK_INT(count_prefix(h, n, "x-goog-user-project: qp-option"), 1);
	for (int i = 0; i < n; i++)
		free(h[i]);
	creds_free(c);
	o.project = NULL;
	CHECK_INT(creds_new(&o, &c, &err), 0);
	n = creds_headers(c, h, 4, &err);
	CHECK_INT(count_prefix(h, n, "x-goog-user-project: qp-env"), 1);
	for (int i = 0; i < n; i++)
		free(h[i]);
	creds_free(c);
	o.project = "bad\nproject";
	CHECK_INT(creds_new(&o, &c, &err), -EINVAL);

	/* an API key sends the key and no quota project */
	setenv("GEMINI_API_KEY", "AIzaKEY", 1);
	o.project = "qp";
	CHECK_INT(creds_new(&o, &c, &err), 0);
	n = creds_headers(c, h, 4, &err);
	CHECK_INT(n, 1);
	CHECK_INT(count_prefix(h, n, "x-goog-api-key: AIzaKEY"), 1);
	for (int i = 0; i < n; i++)
		free(h[i]);
	creds_free(c);
	clear_env();
}

int main(void)
{
	char *priv, *pub;
	EVP_PKEY *key = auth_rsa_key(&priv, &pub);

	if (!mkdtemp(dir))
		abort();
	test_parse(priv);
	test_uri();
	test_order();
	test_headers();
	EVP_PKEY_free(key);
	free(priv);
	free(pub);
	if (system("rm -rf /tmp/auth-adc-??????") != 0)
		fprintf(stderr, "cleanup failed\n");
	return check_exit("test_adc");
}
