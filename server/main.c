/* main.c - tunedfs-server's start-up and shut-down: options, the API key file, store,
 * job pool, HTTP, the address line on stdout, then waiting for SIGTERM/SIGINT.
 * Requests are router.c and the families; transport http.c. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "base/xalloc.h"
#include "server/batch.h"
#include "server/http.h"
#include "server/ids.h"
#include "server/router.h"
#include "server/srv.h"
#include "server/gemini/gemini.h"
#include "server/google/oauth.h"

static const char usage[] =
    "usage: tunedfs-server [--port N | --socket PATH] --data-dir DIR [options]\n"
    "\n"
    "A local Gemini API (REST v1beta), Vertex AI (v1, v1beta1) with Cloud Storage,\n"
    "and OpenAI (v1) tuning server with a real trainer.\n"
    "\n"
    "  --port N             listen on 127.0.0.1:N (0 = any free port; default 0)\n"
    "  --socket PATH        listen on a Unix socket instead (created 0600)\n"
    "  --data-dir DIR       where models, operations and weights are kept (required)\n"
    "  --api-key-file FILE  require the key in FILE (x-goog-api-key, ?key= or Bearer;\n"
    "                       OpenAI routes: Bearer)\n"
    "  --oauth-clients FILE serve POST /token and accept the Bearer tokens it issues\n"
    "  --token-lifetime S   lifetime of issued access tokens (default 3600)\n"
    "  --workers N          training jobs run at once (default 2)\n"
    "  --checkpoint-every MS  write a running job's checkpoint every MS milliseconds\n"
    "                       (default 3000); jobs resume from it at the next start\n"
    "  --max-body MIB       largest request body in MiB (default 8)\n"
    "  --max-loaded N       trained models kept in memory at once (default 256)\n"
    "  --request-log FILE   append one line per request: method, path, status\n"
    "  --latency MS         delay every API answer by MS milliseconds\n"
    "  --fail-rate P        answer 503 UNAVAILABLE with probability P\n"
    "  --throttle-rate P    answer 429 RESOURCE_EXHAUSTED with probability P\n"
    "  --retry-delay S      retryDelay and Retry-After of those 429s (default 1)\n"
    "  --drop-rate P        close the connection without an answer with probability P\n"
    "  --stream-delay MS    wait MS milliseconds between the events of a streamed answer\n"
    "  --cut-rate P         cut a streamed answer half-way with probability P\n"
    "  --fault-routes LIST  apply --latency and the four rates only to these routes\n"
    "                       (names as in /debug/stats, comma-separated; 'tunedModels.'\n"
    "                       = a prefix)\n"
    "  --batch-workers N    batch requests answered at once (default 8)\n"
    "  --fail-batch-after N a batch ends FAILED after N of its requests (tests)\n"
    "  --batch-expire MS    a batch not done MS ms after creation ends EXPIRED (tests)\n"
    "  --seed N             make fault draws and training reproducible\n"
    "  --verbose            log libmicrohttpd's own messages\n"
    "  --help, --version\n"
    "\n"
    "The first line on stdout is the address: http://127.0.0.1:PORT or unix:PATH.\n";

enum {
	OPT_PORT = 256,
	OPT_SOCKET,
	OPT_DATA_DIR,
	OPT_KEY_FILE,
	OPT_OAUTH,
	OPT_TOKEN_LIFETIME,
	OPT_WORKERS,
	OPT_CHECKPOINT_EVERY,
	OPT_MAX_BODY,
	OPT_MAX_LOADED,
	OPT_REQUEST_LOG,
	OPT_LATENCY,
	OPT_FAIL,
	OPT_THROTTLE,
	OPT_RETRY_DELAY,
	OPT_DROP,
	OPT_STREAM_DELAY,
	OPT_CUT,
	OPT_SEED,
	OPT_BATCH_WORKERS,
	OPT_FAIL_BATCH,
	OPT_BATCH_EXPIRE,
	OPT_FAULT_ROUTES,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_opts[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"api-key-file", required_argument, NULL, OPT_KEY_FILE},
    {"oauth-clients", required_argument, NULL, OPT_OAUTH},
    {"token-lifetime", required_argument, NULL, OPT_TOKEN_LIFETIME},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-loaded", required_argument, NULL, OPT_MAX_LOADED},
    {"request-log", required_argument, NULL, OPT_REQUEST_LOG},
    {"latency", required_argument, NULL, OPT_LATENCY},
    {"fail-rate", required_argument, NULL, OPT_FAIL},
    {"throttle-rate", required_argument, NULL, OPT_THROTTLE},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"drop-rate", required_argument, NULL, OPT_DROP},
    {"stream-delay", required_argument, NULL, OPT_STREAM_DELAY},
    {"cut-rate", required_argument, NULL, OPT_CUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"batch-workers", required_argument, NULL, OPT_BATCH_WORKERS},
    {"fail-batch-after", required_argument, NULL, OPT_FAIL_BATCH},
    {"batch-expire", required_argument, NULL, OPT_BATCH_EXPIRE},
    {"fault-routes", required_argument, NULL, OPT_FAULT_ROUTES},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int bad_option(const char *name, const char *value, const char *want)
{
	fprintf(stderr, "tunedfs-server: --%s %s: %s (see --help)\n", name, value, want);
	return -EINVAL;
}

static int parse_long(const char *name, const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi) {
		char want[96];
		snprintf(want, sizeof(want), "expected an integer in [%ld, %ld]", lo, hi);
		return bad_option(name, v, want);
	}
	*out = x;
	return 0;
}

static int parse_rate(const char *name, const char *v, double *out)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || end == v || *end || !(x >= 0 && x <= 1))
		return bad_option(name, v, "expected a probability in [0, 1]");
	*out = x;
	return 0;
}

/* --batch-workers, --fail-batch-after, --batch-expire. */
static int parse_batch_option(struct srv_options *o, int c, const char *arg)
{
	long v;
	const char *name = c == OPT_FAIL_BATCH	   ? "fail-batch-after"
			   : c == OPT_BATCH_EXPIRE ? "batch-expire"
						   : "batch-workers";
	if (c == OPT_FAIL_BATCH)
		return parse_long(name, arg, 1, 100000000, &o->batch_fail_after);
	if (c == OPT_BATCH_EXPIRE)
		return parse_long(name, arg, 1, 86400000L * 30, &o->batch_expire_ms);
	if (parse_long(name, arg, 1, 256, &v))
		return -EINVAL;
	o->batch_workers = (int)v;
	return 0;
}

static int parse_one(struct srv_options *o, int c, const char *arg)
{
	long v;
	const char *name = NULL;
	for (const struct option *p = long_opts; p->name; p++)
		if (p->val == c)
			name = p->name;
	switch (c) {
	case OPT_PORT:
		if (parse_long(name, arg, 0, 65535, &v))
			return -EINVAL;
		o->port = (int)v;
		return 0;
	case OPT_SOCKET:
		free(o->socket_path);
		o->socket_path = xstrdup(arg);
		return 0;
	case OPT_DATA_DIR:
		free(o->data_dir);
		o->data_dir = xstrdup(arg);
		return 0;
	case OPT_KEY_FILE:
		free(o->api_key_file);
		o->api_key_file = xstrdup(arg);
		return 0;
	case OPT_OAUTH:
		free(o->oauth_clients);
		o->oauth_clients = xstrdup(arg);
		return 0;
	case OPT_REQUEST_LOG:
		free(o->request_log);
		o->request_log = xstrdup(arg);
		return 0;
	case OPT_FAULT_ROUTES:
		free(o->fault_routes);
		o->fault_routes = xstrdup(arg);
		return 0;
	case OPT_TOKEN_LIFETIME:
		return parse_long(name, arg, 1, 86400 * 365, &o->token_lifetime);
	case OPT_WORKERS:
		if (parse_long(name, arg, 1, 64, &v))
			return -EINVAL;
		o->workers = (int)v;
		return 0;
	case OPT_CHECKPOINT_EVERY:
		return parse_long(name, arg, 1, 86400000, &o->checkpoint_ms);
	case OPT_MAX_BODY:
		return parse_long(name, arg, 1, 1024, &o->max_body_mib);
	case OPT_MAX_LOADED:
		return parse_long(name, arg, 1, 1000000, &o->max_loaded);
	case OPT_LATENCY:
		return parse_long(name, arg, 0, 600000, &o->latency_ms);
	case OPT_RETRY_DELAY:
		return parse_long(name, arg, 0, 86400, &o->retry_delay_s);
	case OPT_FAIL:
		return parse_rate(name, arg, &o->fail_rate);
	case OPT_THROTTLE:
		return parse_rate(name, arg, &o->throttle_rate);
	case OPT_DROP:
		return parse_rate(name, arg, &o->drop_rate);
	case OPT_STREAM_DELAY:
		return parse_long(name, arg, 0, 60000, &o->stream_delay_ms);
	case OPT_CUT:
		return parse_rate(name, arg, &o->cut_rate);
	case OPT_SEED: {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(arg, &end, 0);
		if (errno || end == arg || *end)
			return bad_option(name, arg, "expected an unsigned integer");
		o->seed = x;
		o->have_seed = 1;
		return 0;
	}
	case OPT_VERBOSE:
		o->verbose = 1;
		return 0;
	}
	return -EINVAL;
}

/* 0, 1 when the run should stop successfully (--help), or -EINVAL. */
static int parse_options(int argc, char **argv, struct srv_options *o)
{
	*o = (struct srv_options){.port = -1,
				  .token_lifetime = 3600,
				  .workers = 2,
				  .batch_workers = 8,
				  .checkpoint_ms = SRV_CHECKPOINT_EVERY_MS,
				  .retry_delay_s = 1,
				  .max_body_mib = 8};
	int c;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c == OPT_HELP || c == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (c == OPT_VERSION) {
			printf("tunedfs-server %s\n", TUNEDFS_VERSION);
			return 1;
		}
		int batch = c == OPT_BATCH_WORKERS || c == OPT_FAIL_BATCH || c == OPT_BATCH_EXPIRE;
		if (c == '?' ||
		    (batch ? parse_batch_option(o, c, optarg) : parse_one(o, c, optarg))) {
			if (c == '?')
				fprintf(stderr, "tunedfs-server: see --help\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tunedfs-server: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!o->data_dir) {
		fprintf(stderr, "tunedfs-server: --data-dir DIR is required (see --help)\n");
		return -EINVAL;
	}
	if (o->socket_path && o->port >= 0) {
		fprintf(stderr, "tunedfs-server: give --port or --socket, not both (see --help)\n");
		return -EINVAL;
	}
	if (o->fail_rate + o->throttle_rate + o->drop_rate > 1 + 1e-9) {
		fprintf(stderr, "tunedfs-server: --fail-rate, --throttle-rate and --drop-rate "
				"add up to more than 1 (see --help)\n");
		return -EINVAL;
	}
	if (o->port < 0)
		o->port = 0;
	return 0;
}

/* The key is the file's content without surrounding white space. */
static int read_key(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "tunedfs-server: cannot read --api-key-file %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = buf;
	while (isspace((unsigned char)*p))
		p++;
	char *e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (!*p || strpbrk(p, " \t\r\n")) {
		fprintf(stderr, "tunedfs-server: --api-key-file %s must hold one key on one line\n",
			path);
		return -EINVAL;
	}
	*out = xstrdup(p);
	memset(buf, 0, sizeof(buf));
	return 0;
}

static void free_options(struct srv_options *o)
{
	free(o->socket_path);
	free(o->data_dir);
	free(o->api_key_file);
	free(o->request_log);
	free(o->oauth_clients);
	free(o->fault_routes);
}

static int setup_credentials(struct srv *s)
{
	if (s->opt.api_key_file && read_key(s->opt.api_key_file, &s->api_key))
		return -EINVAL;
	if (!s->opt.oauth_clients)
		return 0;
	char why[256] = "";
	if (srv_oauth_load(s->opt.oauth_clients, s->opt.token_lifetime, &s->oauth, why,
			   sizeof(why))) {
		fprintf(stderr, "tunedfs-server: --oauth-clients %s: %s\n", s->opt.oauth_clients,
			why);
		return -EINVAL;
	}
	return 0;
}

static void teardown(struct srv *s)
{
	srv_batches_stop(s->batches);
	srv_jobs_stop(s->jobs);
	srv_store_close(s->store);
	srv_oauth_free(s->oauth);
	if (s->api_key) {
		memset(s->api_key, 0, strlen(s->api_key));
		free(s->api_key);
	}
	srv_stats_free(&s->stats);
	pthread_mutex_destroy(&s->rng_lock);
	free_options(&s->opt);
}

static int run(struct srv *s)
{
	char why[512] = "", addr[4200];
	struct srv_http *http = NULL;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Blocked before any thread starts, so only sigwait below ever sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (srv_store_open(s->opt.data_dir, &s->store, why, sizeof(why))) {
		fprintf(stderr, "tunedfs-server: --data-dir: %s\n", why);
		return 1;
	}
	if (s->store->interrupted)
		fprintf(stderr,
			"tunedfs-server: %lu tuning job(s) cut off by the last shutdown had no "
			"kept examples to resume from and are now FAILED\n",
			s->store->interrupted);
	if (s->opt.max_loaded > 0)
		s->store->max_nets = (size_t)s->opt.max_loaded;
	srv_store_warm(s->store, srv_gemini_warm);
	int rc =
	    srv_jobs_start(s->store, s->opt.workers, s->opt.have_seed ? s->opt.seed : 0, &s->jobs);
	if (rc) {
		fprintf(stderr, "tunedfs-server: cannot start workers: %s\n", strerror(-rc));
		return 1;
	}
	srv_jobs_checkpoint_every(s->jobs, s->opt.checkpoint_ms);
	size_t resumed = srv_jobs_resume(s->jobs);
	if (resumed)
		fprintf(stderr,
			"tunedfs-server: resuming %zu tuning job(s) cut off by the last "
			"shutdown\n",
			resumed);
	rc = srv_batches_start(s, s->opt.batch_workers, srv_route_run, &s->batches);
	if (rc) {
		fprintf(stderr, "tunedfs-server: cannot start the batch runners: %s\n",
			strerror(-rc));
		return 1;
	}
	if (srv_http_start(s, &http, addr, sizeof(addr), why, sizeof(why))) {
		fprintf(stderr, "tunedfs-server: %s\n", why);
		return 1;
	}
	printf("%s\n", addr);
	fflush(stdout);
	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	/* The jobs checkpoint at once, while the HTTP side winds down. */
	srv_jobs_quiesce(s->jobs);
	srv_http_stop(http);
	return 0;
}

int main(int argc, char **argv)
{
	struct srv s;
	memset(&s, 0, sizeof(s));
	int rc = parse_options(argc, argv, &s.opt);
	if (rc) {
		free_options(&s.opt);
		return rc > 0 ? 0 : 2;
	}
	pthread_mutex_init(&s.rng_lock, NULL);
	if (s.opt.have_seed)
		s.rng = s.opt.seed;
	else
		srv_random_bytes(&s.rng, sizeof(s.rng));
	s.max_body = (size_t)s.opt.max_body_mib << 20;
	rc = srv_stats_init(&s.stats, s.opt.request_log);
	if (rc) {
		fprintf(stderr, "tunedfs-server: cannot open --request-log %s: %s\n",
			s.opt.request_log, strerror(-rc));
		teardown(&s);
		return 1;
	}
	if (setup_credentials(&s)) {
		teardown(&s);
		return 1;
	}
	rc = run(&s);
	teardown(&s);
	return rc;
}
