/* main.c - tunedfs's command line and mount sequence: options parsed the libfuse way,
 * the backend connection built while errors still reach the terminal, then daemonize,
 * then threads (started in the FUSE init callback). The operations are in ops.c/io.c. */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "api/backend.h"
#include "cache/answer_log.h"
#include "cache/draft.h"
#include "cache/eval.h"
#include "cache/privdir.h"
#include "cache/rcache.h"
#include "cache/spool.h"
#include "config.h"
#include "fs/cmdline.h"
#include "fs/notify.h"
#include "fs/tunedfs.h"

/* What -o local,backend=vertex uses when the options do not say. */
#define LOCAL_PROJECT "tunedfs-local"
#define LOCAL_BUCKET  "tunedfs-local"

struct tfs tfs_ctx;
static int endpoint_given; /* -o endpoint, as opposed to the environment or default */
static int help_asked;	   /* -o help */

/* What the mount holds open besides the table. */
static struct mount_parts {
	struct backend *backend;
	struct draft_store *drafts;
	struct draft_store *prompts; /* prompt and generation of each model, beside the drafts */
	struct rcache *rcache;
	struct spool *spool;	 /* the prompt spools, beside the drafts */
	struct eval_store *eval; /* eval/ files and their scores, beside them too */
} parts;
static char *listing_path; /* the last listing, beside the response cache */

enum { KEY_ALLOW_OTHER, KEY_HELP };

#define OPTION(t, p)                                                                               \
	{                                                                                          \
		t, offsetof(struct tfs_options, p), 1                                              \
	}
static const struct fuse_opt tfs_opt_spec[] = {
    OPTION("backend=%s", backend),
    OPTION("location=%s", location),
    OPTION("bucket=%s", bucket),
    OPTION("endpoint=%s", endpoint),
    OPTION("api_key_file=%s", api_key_file),
    OPTION("token_command=%s", token_command),
    OPTION("project=%s", project),
    OPTION("organization=%s", organization),
    OPTION("token_uri=%s", token_uri),
    OPTION("cache_dir=%s", cache_dir),
    OPTION("data_dir=%s", data_dir),
    OPTION("local", local),
    OPTION("list_ttl=%lf", list_ttl),
    OPTION("poll_interval=%lf", poll_interval),
    OPTION("timeout=%lf", timeout),
    OPTION("submit_delay=%lf", submit_delay),
    OPTION("lookup_timeout=%lf", lookup_timeout),
    OPTION("max_requests=%u", max_requests),
    OPTION("batch_min=%u", batch_min),
    OPTION("batch_inline_max=%lu", batch_inline_max),
    OPTION("cache_size=%u", cache_size),
    OPTION("max_threads=%u", max_threads),
    OPTION("max_inflight_mib=%u", max_inflight_mib),
    OPTION("log_size=%s", log_size),
    OPTION("log_prompts=%s", log_prompts),
    OPTION("price_per_mtok=%lf", price_per_mtok),
    FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
    FUSE_OPT_KEY("help", KEY_HELP),
    FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	switch (key) {
	case KEY_ALLOW_OTHER:
		tfs_ctx.opt.allow_other = 1;
		return 1; /* libfuse needs it too */
	case KEY_HELP:
		help_asked = 1;
		return 0;
	default: /* fstab-only words are swallowed */
		return key == FUSE_OPT_KEY_OPT && tfs_source_swallowed(arg) ? 0 : 1;
	}
}

static char *env_dir(const char *xdg, const char *home_sub)
{
	const char *x = getenv(xdg), *home = getenv("HOME");
	char buf[PATH_MAX];

	if (x && *x == '/')
		snprintf(buf, sizeof buf, "%s/tunedfs", x);
	else
		snprintf(buf, sizeof buf, "%s/%s/tunedfs", home && *home ? home : "/tmp", home_sub);
	return xstrdup(buf);
}

/* Absolute, since daemonizing changes to /. */
static char *absolute(char *p)
{
	char cwd[PATH_MAX], buf[PATH_MAX * 2];

	if (p[0] == '/' || !getcwd(cwd, sizeof cwd))
		return p;
	snprintf(buf, sizeof buf, "%s/%s", cwd, p);
	free(p);
	return xstrdup(buf);
}

/* DIR/<16 hex of SHA-256(key)>: drafts and answers of one endpoint stay apart. */
static char *per_endpoint(const char *dir, const char *key)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char buf[PATH_MAX], hex[17];

	EVP_Digest(key, strlen(key), md, &md_len, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(buf, sizeof buf, "%s/%s", dir, hex);
	return xstrdup(buf);
}

static void set_defaults(struct tfs_options *o)
{
	memset(o, 0, sizeof *o);
	o->list_ttl = 10;
	o->poll_interval = 5;
	o->timeout = 600;
	o->submit_delay = 2;
	o->lookup_timeout = 2;
	o->max_requests = 32;
	o->cache_size = 256;
	o->max_threads = 64;
	o->max_inflight_mib = 512;
	o->price_per_mtok = -1; /* no cost line */
}

/* -o log_size: bytes, or with a K or M suffix; 0 when not a size. */
static size_t log_size_of(const char *s)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 10);

	if (end == s || *s == '-')
		return 0;
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	return *end || n > ((size_t)1 << 40) ? 0 : (size_t)n;
}

/* A time option: more than 0 and at most a year, so that its milliseconds and the
 * deadlines made from it fit their integers (inf and 1e300 parse as numbers). */
#define SECONDS_MAX	 31536000.0
#define SECONDS_MAX_TEXT "31536000 (a year)"

static int seconds_ok(double s)
{
	return s > 0 && s <= SECONDS_MAX;
}

static int validate(const struct tfs_options *o, const struct fuse_cmdline_opts *cmd)
{
	const char *bad = NULL;

	if (!cmd->mountpoint)
		bad = "no mountpoint given";
	else if (o->local && endpoint_given)
		bad = "-o local and -o endpoint exclude each other";
	else if (!seconds_ok(o->list_ttl))
		bad = "list_ttl must be a number of seconds > 0, at most " SECONDS_MAX_TEXT;
	else if (!seconds_ok(o->poll_interval))
		bad = "poll_interval must be a number of seconds > 0, at most " SECONDS_MAX_TEXT;
	else if (!seconds_ok(o->timeout))
		bad = "timeout must be a number of seconds > 0, at most " SECONDS_MAX_TEXT;
	else if (!(o->submit_delay >= 0) || o->submit_delay > 3600)
		bad = "submit_delay must be a number of seconds from 0 to 3600";
	else if (!seconds_ok(o->lookup_timeout))
		bad = "lookup_timeout must be a number of seconds > 0, at most " SECONDS_MAX_TEXT;
	else if (o->max_requests < 1 || o->max_requests > 1024)
		bad = "max_requests must be between 1 and 1024";
	else if (o->batch_min == 1 || o->batch_min > 1000000)
		bad = "batch_min must be from 2 to 1000000 prompts (0 or unset: no batches)";
	else if (o->batch_inline_max > 20971520)
		bad = "batch_inline_max must be from 1 to 20971520 bytes (the service's 20 MB)";
	else if (o->cache_size < 1)
		bad = "cache_size must be at least 1 (MiB)";
	else if (o->max_threads < 1 || o->max_threads > 100000)
		bad = "max_threads must be between 1 and 100000";
	else if (o->max_inflight_mib < 1 || o->max_inflight_mib > 1048576)
		bad = "max_inflight_mib must be between 1 and 1048576 (MiB)";
	else if (o->log_size && log_size_of(o->log_size) == 0)
		bad = "log_size must be a size in bytes > 0 (suffix K or M: 64K, 16M)";
	else if (o->log_prompts && strcmp(o->log_prompts, "hash") != 0 &&
		 strcmp(o->log_prompts, "text") != 0)
		bad = "log_prompts must be hash or text";
	else if (o->price_per_mtok != -1 && !(o->price_per_mtok >= 0 && o->price_per_mtok <= 1e9))
		bad = "price_per_mtok must be a price per million tokens from 0 to 1e9";
	if (bad) {
		fprintf(stderr, "tunedfs: error: %s\nsee 'tunedfs --help'\n", bad);
		return -1;
	}
	return 0;
}

/* The backend (credentials, HTTP client): errors printed for the user. */
static int connect_backend(const char *endpoint)
{
	long budget = (long)(tfs_ctx.opt.timeout * 1000);
	struct backend_options bo = {
	    .name = tfs_ctx.opt.backend,
	    .endpoint = endpoint,
	    .project = tfs_ctx.opt.project,
	    .location = tfs_ctx.opt.location,
	    .bucket = tfs_ctx.opt.bucket,
	    .api_key_file = tfs_ctx.opt.api_key_file,
	    .token_command = tfs_ctx.opt.token_command,
	    .token_uri = tfs_ctx.opt.token_uri,
	    .organization = tfs_ctx.opt.organization,
	    /* The private server takes no credentials: sending the user's would leak an API
	     * key to it, or make an ADC refresh reach out to the network for nothing. */
	    .no_credentials = tfs_ctx.opt.local,
	    .timeout_ms = budget,
	    .generate_timeout_ms = budget,
	    .batch_inline_max = tfs_ctx.opt.batch_inline_max,
	    .max_inflight_bytes = (size_t)tfs_ctx.opt.max_inflight_mib << 20,
	};
	struct backend_error err = {0};
	int rc;

	/* the private server: a project, region and bucket of its own unless named */
	if (tfs_ctx.opt.local && bo.name && strcmp(bo.name, "vertex") == 0) {
		bo.project = bo.project ? bo.project : LOCAL_PROJECT;
		bo.location = bo.location ? bo.location : "us-central1";
		bo.bucket = bo.bucket ? bo.bucket : LOCAL_BUCKET;
	}
	backend_set_log(tfs_log_msg);
	rc = backend_open(&bo, &parts.backend, &err);

	if (rc < 0) {
		tfs_log(LOG_ERR, "%s: %s",
			endpoint  ? endpoint
			: bo.name ? bo.name
				  : "gemini",
			err.message[0] ? err.message : strerror(-rc));
		return rc;
	}
	if (tfs_ctx.opt.batch_min && !(backend_caps(parts.backend) & BACKEND_CAN_BATCH)) {
		tfs_log(LOG_ERR, "-o batch_min: the %s backend has no batch jobs",
			backend_name(parts.backend));
		return -EINVAL;
	}
	if (!tfs_ctx.opt.local)
		tfs_log(LOG_INFO, "%s: credentials: %s", backend_identity(parts.backend),
			backend_credentials_kind(parts.backend));
	return 0;
}

/* DRAFTS.logs/ID/log.jsonl: each model's answers, beside its drafts. */
static int open_logs(const char *drafts)
{
	const char *size = tfs_ctx.opt.log_size;
	const char *how = tfs_ctx.opt.log_prompts;
	char *dir = xmalloc(strlen(drafts) + sizeof ".logs");
	int rc;

	sprintf(dir, "%s.logs", drafts);
	rc = answer_log_open(dir, size ? log_size_of(size) : 0, how && strcmp(how, "hash") == 0,
			     &tfs_ctx.answer_log);
	free(dir);
	return rc;
}

static int open_stores(const char *key)
{
	char *drafts = per_endpoint(tfs_ctx.opt.data_dir, key);
	char *cache = per_endpoint(tfs_ctx.opt.cache_dir, key);
	char *prompts = xasprintf("%s.prompts", drafts);
	char *spool = xasprintf("%s.spool", drafts);
	char *eval = xasprintf("%s.eval", drafts);
	int rc = privdir_make(tfs_ctx.opt.data_dir);

	if (rc == 0)
		rc = draft_store_open(drafts, &parts.drafts);
	if (rc == 0)
		rc = open_logs(drafts);
	if (rc == 0)
		rc = draft_store_open(prompts, &parts.prompts);
	if (rc == 0)
		rc = spool_open(spool, &parts.spool);
	if (rc == 0)
		rc = eval_store_open(eval, &parts.eval);
	free(spool);
	free(eval);
	if (rc < 0)
		tfs_log(LOG_ERR, "cannot open the drafts in %s: %s", drafts, strerror(-rc));
	free(prompts);
	if (rc == 0) {
		rc = privdir_make(tfs_ctx.opt.cache_dir);
		if (rc == 0)
			rc =
			    rcache_open(cache, (size_t)tfs_ctx.opt.cache_size << 20, &parts.rcache);
		if (rc < 0)
			tfs_log(LOG_ERR, "cannot open the response cache in %s: %s", cache,
				strerror(-rc));
	}
	free(drafts);
	free(listing_path);
	listing_path = xmalloc(strlen(cache) + sizeof ".listing.json");
	sprintf(listing_path, "%s.listing.json", cache);
	free(cache);
	return rc;
}

/* What a model's files show changed: their kept attributes go, its waiting reads retry. */
static void model_changed(const char *id)
{
	tfs_forget_attrs(id);
	tfs_park_note(id, NULL);
}

static int start_table(void)
{
	struct model_table_options mo = {
	    .listing_path = listing_path,
	    .backend = parts.backend,
	    .drafts = parts.drafts,
	    .prompts = parts.prompts,
	    .rcache = parts.rcache,
	    .spool = parts.spool,
	    .eval = parts.eval,
	    .answer_log = tfs_ctx.answer_log,
	    .list_ttl = tfs_ctx.opt.list_ttl,
	    .poll_interval = tfs_ctx.opt.poll_interval,
	    .negative_ttl = 1.0,
	    .max_requests = tfs_ctx.opt.max_requests,
	    .batch_min = tfs_ctx.opt.batch_min,
	    .submit_delay = tfs_ctx.opt.submit_delay,
	    .lookup_timeout = tfs_ctx.opt.lookup_timeout,
	    .log = tfs_log_msg,
	    .changed = model_changed,
	    .answered = tfs_park_note,
	};

	/* Buffers of 128 KiB and more (a listing's pages and models, the kept listing's text)
	 * are mapped and unmapped whole: glibc's moving threshold put them in the heap
	 * between the table's entries, where their memory stayed (tests/bench/README.md, P5). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	return model_table_new(&mo, &tfs_ctx.mt);
}

/* After daemonizing: the private server and the connection to it. */
static int start_local(void)
{
	char buf[PATH_MAX], *url = NULL;
	int rc;

	snprintf(buf, sizeof buf, "%s/local", tfs_ctx.opt.data_dir);
	rc = tfs_local_start(buf, &tfs_ctx.local, &url);
	if (rc == 0) {
		free(tfs_ctx.opt.endpoint);
		tfs_ctx.opt.endpoint = url;
		rc = connect_backend(url);
	}
	return rc;
}

static int run_loop(struct fuse *fuse, const struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *cfg;
	int rc;

	if (cmd->singlethread)
		return fuse_loop(fuse);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)cmd->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, tfs_ctx.opt.max_threads);
	if (cmd->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cmd->max_idle_threads);
	rc = fuse_loop_mt(fuse, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

static void teardown(void)
{
	if (tfs_ctx.mt)
		model_table_free(tfs_ctx.mt);
	tfs_ctx.mt = NULL;
	if (tfs_ctx.local)
		tfs_local_stop(tfs_ctx.local);
	tfs_ctx.local = NULL;
	backend_close(parts.backend);
	if (parts.rcache)
		rcache_close(parts.rcache);
	if (parts.drafts)
		draft_store_close(parts.drafts);
	if (parts.prompts)
		draft_store_close(parts.prompts);
	spool_close(parts.spool);
	eval_store_close(parts.eval);
	answer_log_close(tfs_ctx.answer_log);
	tfs_ctx.answer_log = NULL;
	memset(&parts, 0, sizeof parts);
	free(listing_path);
	listing_path = NULL;
	tfs_lock_release();
}

/* What keys the drafts and the response cache: the service (backend_identity), or for
 * the private server its backend's name (it is not connected yet). */
static const char *local_key(void)
{
	static char key[80];
	const char *name = tfs_ctx.opt.backend ? tfs_ctx.opt.backend : "gemini";

	if (!tfs_ctx.opt.local)
		return backend_identity(parts.backend);
	if (strcmp(name, "gemini") == 0)
		return "local"; /* as before other backends existed */
	snprintf(key, sizeof key, "local %s", name);
	return key;
}

static int parse(struct fuse_args *args, struct fuse_cmdline_opts *cmd)
{
	set_defaults(&tfs_ctx.opt);
	if (tfs_source_take(args) < 0)
		return -1;
	if (fuse_opt_parse(args, &tfs_ctx.opt, tfs_opt_spec, opt_proc) == -1)
		return -1;
	if (fuse_parse_cmdline(args, cmd) != 0)
		return -1;
	cmd->show_help |= help_asked;
	endpoint_given = tfs_ctx.opt.endpoint != NULL;
	if (!tfs_ctx.opt.endpoint) {
		const char *env = getenv("TUNEDFS_ENDPOINT");
		if (env && *env)
			tfs_ctx.opt.endpoint = xstrdup(env);
	}
	tfs_ctx.opt.cache_dir = tfs_ctx.opt.cache_dir ? absolute(tfs_ctx.opt.cache_dir)
						      : env_dir("XDG_CACHE_HOME", ".cache");
	tfs_ctx.opt.data_dir = tfs_ctx.opt.data_dir ? absolute(tfs_ctx.opt.data_dir)
						    : env_dir("XDG_DATA_HOME", ".local/share");
	return 0;
}

static int mount_and_run(struct fuse_args *args, struct fuse_cmdline_opts *cmd)
{
	struct fuse *fuse = fuse_new(args, &tfs_ops, sizeof tfs_ops, &tfs_ctx);
	struct fuse_session *se;
	int rc = 1;

	if (!fuse)
		return 1;
	if (fuse_mount(fuse, cmd->mountpoint) != 0)
		goto out_destroy;
	se = fuse_get_session(fuse);
	if (tfs_session_io(fuse) < 0)
		tfs_log(LOG_WARNING, "parallel directory operations are off: the session's own "
				     "I/O could not be set");
	if (fuse_set_signal_handlers(se) != 0)
		goto out_unmount;
	if (fuse_daemonize(cmd->foreground) != 0)
		goto out_signals;
	tfs_ctx.foreground = cmd->foreground;
	tfs_lock_note_pid(cmd->mountpoint);
	if (!cmd->foreground)
		openlog("tunedfs", LOG_PID, LOG_DAEMON);
	if (tfs_ctx.opt.local && start_local() < 0)
		goto out_signals;
	if (start_table() < 0)
		goto out_signals;
	tfs_notify("READY=1");
	rc = run_loop(fuse, cmd);
	tfs_notify("STOPPING=1");
	/* Our threads call into libfuse (invalidations): they stop before the session is
	 * unmounted and its lock destroyed, which fuse_destroy does before the destroy
	 * callback runs. */
	__atomic_store_n(&tfs_ctx.fuse, NULL, __ATOMIC_RELEASE);
	tfs_park_stop();
	size_t left = tfs_open_release_all();
	if (left)
		tfs_log(LOG_INFO,
			"%zu handle(s) released at the unmount, whose release the "
			"kernel had dropped",
			left);
	model_table_stop(tfs_ctx.mt);
	/* a signal ends the loop with its number: that is a clean stop too; and so is
	 * ECONNABORTED, which the kernel answers when the last close of a lazily unmounted
	 * tree ends the connection with requests still queued */
	rc = rc < 0 && rc != -ECONNABORTED ? 1 : 0;
out_signals:
	fuse_remove_signal_handlers(se);
out_unmount:
	fuse_unmount(fuse);
out_destroy:
	fuse_destroy(fuse);
	return rc;
}

static int run(struct fuse_args *args, struct fuse_cmdline_opts *cmd, const char *prog)
{
	int rc;

	if (parse(args, cmd) < 0)
		return 1;
	if (cmd->show_help) {
		tfs_print_usage(prog, tfs_ctx.opt.backend);
		fuse_cmdline_help();
		fuse_lib_help(args);
		return 0;
	}
	if (cmd->show_version) {
		tfs_print_version();
		return 0;
	}
	if (validate(&tfs_ctx.opt, cmd) < 0)
		return 1;
	if (tfs_ctx.opt.allow_other)
		fuse_opt_add_arg(args, "-odefault_permissions");
	if (tfs_check_mountpoint(cmd->mountpoint) < 0)
		return 1;
	if (privdir_make(tfs_ctx.opt.data_dir) < 0 ||
	    tfs_lock_data_dir(tfs_ctx.opt.data_dir, cmd->mountpoint) < 0)
		rc = 1;
	else if (!tfs_ctx.opt.local && connect_backend(tfs_ctx.opt.endpoint) < 0)
		rc = 1;
	else if (open_stores(local_key()) < 0)
		rc = 1;
	else
		rc = mount_and_run(args, cmd);
	teardown();
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	int rc;

	tfs_ctx.uid = getuid();
	tfs_ctx.mounted = time(NULL);
	tfs_ctx.gid = getgid();
	tfs_ctx.foreground = 1;
	tfs_notify_take();
	tfs_source_home();
	rc = run(&args, &cmd, argv[0]);
	fuse_opt_free_args(&args);
	free(cmd.mountpoint);
	return rc;
}
