/* usage.c - what `tunedfs --help` (or `-o help`) and `tunedfs --version` print: the
 * options grouped by the backend that reads them, and the versions of tunedfs and of the
 * libraries it runs with. The option table that parses them is main.c's. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fs/cmdline.h"
#include "fs/tunedfs.h"

enum { ALL = 0, GEMINI = 1, VERTEX = 2, OPENAI = 4 };

/* One line per option; a group of 0 is read whatever the backend. */
static const struct {
	unsigned group;
	const char *opt, *text;
} options[] = {
    {ALL, "local", "mount a private tunedfs-server (no account needed)"},
    {ALL, "backend=NAME", "the service's protocol: gemini (the default),\nvertex or openai"},
    {ALL, "endpoint=URL", "service base URL (env TUNEDFS_ENDPOINT)"},
    {ALL, "list_ttl=S", "re-list models older than S seconds (10)"},
    {ALL, "poll_interval=S", "poll training models at most S seconds apart (5)"},
    {ALL, "timeout=S", "bound on waits for wait/response (600)"},
    {ALL, "submit_delay=S", "submit a draft once unwritten for S seconds (2)"},
    {ALL, "lookup_timeout=S", "bound on asking the service for an unknown\nname (2)"},
    {ALL, "max_requests=N", "answers generated at once, more wait in a\nqueue (32)"},
    {ALL, "batch_min=N",
     "N or more spool prompts waiting at once go as\none batch job of the service (off)"},
    {GEMINI, "batch_inline_max=BYTES",
     "a batch this big or bigger goes as an uploaded\nJSONL file, not inline (20971520)"},
    {ALL, "cache_dir=DIR",
     "response cache (default $XDG_CACHE_HOME/tunedfs,\n"
     "one subdirectory per endpoint)"},
    {ALL, "cache_size=MIB", "response cache budget in MiB (256)"},
    {ALL, "data_dir=DIR",
     "drafts and -o local's models (default\n"
     "$XDG_DATA_HOME/tunedfs, one subdirectory per endpoint)"},
    {ALL, "max_threads=N", "FUSE worker threads (64)"},
    {ALL, "max_inflight_mib=MIB", "memory for answers being received at once (512)"},
    {ALL, "log_size=BYTES",
     "start each log.jsonl again past this size, the\nold one kept as log.jsonl.1 (16M)"},
    {ALL, "log_prompts=hash", "log.jsonl holds each prompt's SHA-256, not the\nprompt (text)"},
    {ALL, "price_per_mtok=X", "a draft's estimate adds its cost at X per million tokens"},
    {ALL, "allow_other", "let other users in (turns on default_permissions)"},
    {ALL, "help", "this list (with backend=NAME: that backend's only)"},
    {GEMINI, "api_key_file=FILE",
     "read the API key from FILE (else GEMINI_API_KEY,\n"
     "GOOGLE_API_KEY)"},
    {GEMINI | VERTEX, "token_command=CMD", "run CMD for an OAuth access token"},
    {GEMINI, "project=ID", "quota project (x-goog-user-project)"},
    {GEMINI | VERTEX, "token_uri=URL", "OAuth token endpoint override"},
    {VERTEX, "project=ID", "the Google Cloud project to tune in"},
    {VERTEX, "location=L", "the region (us-central1)"},
    {VERTEX, "bucket=B", "Cloud Storage bucket for the training data\n(needed to tune)"},
    {OPENAI, "api_key_file=FILE", "read the API key from FILE (else OPENAI_API_KEY)"},
    {OPENAI, "organization=ID", "sent as the OpenAI-Organization header"},
    {OPENAI, "project=ID", "sent as the OpenAI-Project header"},
};

static const struct {
	unsigned group;
	const char *name, *what;
} backends[] = {
    {GEMINI, "gemini",
     "Gemini API tunedModels (default endpoint\n    https://generativelanguage.googleapis.com)"},
    {VERTEX, "vertex",
     "Vertex AI tuningJobs, OAuth only (default endpoints\n    "
     "https://LOCATION-aiplatform.googleapis.com and\n    https://storage.googleapis.com)"},
    {OPENAI, "openai",
     "OpenAI fine-tuning jobs and chat completions, API key\n    "
     "(default endpoint https://api.openai.com/v1)"},
};

static void print_group(unsigned group)
{
	for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
		const char *t = options[i].text, *nl;
		if (group ? !(options[i].group & group) : options[i].group != 0)
			continue;
		printf("    -o %-20s ", options[i].opt);
		while ((nl = strchr(t, '\n'))) {
			printf("%.*s\n%28s", (int)(nl - t), t, "");
			t = nl + 1;
		}
		printf("%s\n", t);
	}
}

void tfs_print_usage(const char *prog, const char *backend)
{
	printf("usage: %s [SOURCE] MOUNTPOINT [options]\n\n"
	       "Shows fine-tuned language models as directories.\n\n"
	       "SOURCE (as mount(8) and fstab give it) names the service: gemini, vertex,\n"
	       "openai, local, local-vertex, local-openai, or an endpoint URL; it means\n"
	       "-o backend=NAME, -o local[,backend=NAME] or -o endpoint=URL. fstab-only\n"
	       "options (_netdev, noauto, user, users, nofail, x-systemd.*) are ignored.\n\n"
	       "tunedfs options:\n",
	       prog);
	print_group(ALL);
	for (size_t i = 0; i < sizeof backends / sizeof *backends; i++) {
		if (backend && strcmp(backend, backends[i].name) != 0)
			continue;
		printf("\nbackend=%s: %s\n", backends[i].name, backends[i].what);
		print_group(backends[i].group);
	}
	printf("\n");
}

void tfs_print_version(void)
{
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

	printf("tunedfs version %s\n", TUNEDFS_VERSION);
	printf("libfuse version %s\n", fuse_pkgversion());
	printf("libcurl version %s\n", curl->version);
	printf("cJSON version %s\n", cJSON_Version());
}
