/* test_mtab.c - unit tests of the model table without a service (no client, no thread):
 * drafts made and listed, the commit rules of config, examples.jsonl, prompt and
 * generation (kept, validated, submitted, read-only), waits that time out, rmdir of a
 * pending create, drafts read back by a new table, log lines kept on one line, a draft's
 * files created and removed, the poll schedule, and prompts kept across tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "../check.h"
#include "cache/draft.h"
#include "cache/mtab.h"

static char last_log[2048];
static int unkept_logs; /* "cannot keep the prompt" lines */

static void on_log(int prio, const char *msg)
{
	snprintf(last_log, sizeof last_log, "%s", msg);
	if (strstr(msg, "cannot keep the prompt on disk"))
		unkept_logs++;
}

static const char EXAMPLES[] = "{\"text_input\": \"1\", \"output\": \"2\"}\n"
			       "{\"text_input\": \"3\", \"output\": \"4\"}\n";
static const char CONFIG[] = "base_model = models/gemini-1.0-pro-001\nepoch_count = 2\n";

static struct mtab *table(struct draft_store *ds)
{
	struct mtab_options o = {.drafts = ds, .list_ttl = 10, .poll_interval = 1, .log = on_log};
	struct mtab *t = NULL;
	CHECK(mtab_new(&o, &t) == 0);
	return t;
}

static int commit(struct mtab *t, const char *id, enum mtab_file f, const char *text)
{
	return mtab_commit(t, id, f, text, strlen(text), 0);
}

static void view_error(struct mtab *t, const char *id, char *out, size_t size)
{
	struct mtab_view v;
	out[0] = 0;
	if (mtab_view(t, id, 0, &v) == 0) {
		snprintf(out, size, "%s", v.error);
		mtab_view_clear(&v);
	}
}

static void test_names(struct mtab *t)
{
	struct mtab_attr a;
	char **names;
	size_t n;

	CHECK(mtab_create_draft(t, "Bad_Name") == -EINVAL);
	CHECK(mtab_create_draft(t, "a\nforged") == -EINVAL);
	CHECK(strchr(last_log, '\n') == NULL);
	CHECK(mtab_create_draft(t, "good") == 0);
	CHECK(mtab_create_draft(t, "good") == -EEXIST);
	CHECK(mtab_create_draft(t, "another-1") == 0);
	CHECK(mtab_names(t, &names, NULL, &n) == 0);
	CHECK(n == 2 && strcmp(names[0], "another-1") == 0 && strcmp(names[1], "good") == 0);
	mtab_names_free(names, n);
	CHECK(mtab_attr(t, "good", &a) == 0);
	CHECK(a.state == MTAB_DRAFT && a.is_draft && !a.locked);
	CHECK(mtab_lookup(t, "unknown", &a) == -ENOENT);
}

static void test_draft_commits(struct mtab *t)
{
	struct mtab_attr a;
	char err[1024], *data = NULL;
	size_t len = 0;

	/* bad examples: kept, refused, explained */
	CHECK(commit(t, "good", MTAB_EXAMPLES, "not json\n") == -EINVAL);
	view_error(t, "good", err, sizeof err);
	CHECK(strstr(err, "examples.jsonl") && strstr(err, "line 1"));
	CHECK(mtab_read_draft(t, "good", MTAB_EXAMPLES, &data, &len) == 0);
	CHECK(len == 9 && memcmp(data, "not json\n", 9) == 0);
	free(data);
	/* good examples, no config yet: still a draft, no error */
	CHECK(commit(t, "good", MTAB_EXAMPLES, EXAMPLES) == 0);
	view_error(t, "good", err, sizeof err);
	CHECK(err[0] == 0);
	CHECK(mtab_attr(t, "good", &a) == 0 && a.state == MTAB_DRAFT);
	/* a bad config */
	CHECK(commit(t, "good", MTAB_CONFIG, "base_model = models/x\nbatch_size = 0\n") == -EINVAL);
	view_error(t, "good", err, sizeof err);
	CHECK(strstr(err, "config") && strstr(err, "line 2"));
	CHECK(mtab_attr(t, "good", &a) == 0 && a.state == MTAB_DRAFT && !a.locked);
	/* both valid while a writer is still open: to be submitted after the settle time, and
	 * writable until the create goes out (never here: no service) */
	mtab_hold(t, "good", 1);
	CHECK(commit(t, "good", MTAB_CONFIG, CONFIG) == 0);
	CHECK(mtab_attr(t, "good", &a) == 0 && a.state == MTAB_CREATING && !a.locked);
	CHECK(commit(t, "good", MTAB_CONFIG, CONFIG) == 0);
	mtab_hold(t, "good", -1);
	/* a new writer after that is refused by the fs (locked); a stray commit too once sent
	 * is checked by the pytest suite, which has a service */
}

static void test_prompt_and_generation(struct mtab *t)
{
	struct mtab_view v;
	struct mtab_answer ans;
	enum mtab_state st;
	char err[1024];

	CHECK(commit(t, "good", MTAB_PROMPT, "hello\n") == -EINVAL);
	view_error(t, "good", err, sizeof err);
	CHECK(strstr(err, "CREATING") != NULL);
	CHECK(commit(t, "another-1", MTAB_PROMPT, "\n") == -EINVAL);
	view_error(t, "another-1", err, sizeof err);
	CHECK(strstr(err, "empty") != NULL);
	CHECK(mtab_view(t, "good", 0, &v) == 0);
	CHECK(!v.prompt); /* refused: the previous prompt (none) stays */
	mtab_view_clear(&v);
	CHECK(mtab_response(t, "good", 0, 1, NULL, &ans) == -ENODATA);
	CHECK(commit(t, "another-1", MTAB_GENERATION, "temperature = 0.5\n") == 0);
	CHECK(mtab_view(t, "another-1", 0, &v) == 0);
	CHECK(strstr(v.generation, "temperature") != NULL);
	mtab_view_clear(&v);
	CHECK(commit(t, "another-1", MTAB_GENERATION, "temperature = hot\n") == -EINVAL);
	CHECK(mtab_view(t, "another-1", 0, &v) == 0);
	/* kept as written, to be fixed (the last good settings stay in force) */
	CHECK(strcmp(v.generation, "temperature = hot\n") == 0);
	CHECK(strstr(v.error, "generation") != NULL);
	mtab_view_clear(&v);
	CHECK(commit(t, "another-1", MTAB_GENERATION, "temperature = 0.25\n") == 0);
	CHECK(mtab_view(t, "another-1", 0, &v) == 0);
	CHECK(strstr(v.generation, "0.25") != NULL && v.error[0] == 0);
	mtab_view_clear(&v);
	CHECK(mtab_wait(t, "good", 0.2, NULL, &st) == -ETIMEDOUT);
	CHECK(mtab_wait(t, "another-1", 0.2, NULL, &st) == 0 && st == MTAB_DRAFT);
}

static void test_remove_and_reload(struct draft_store *ds, struct mtab *t)
{
	struct mtab_attr a;
	char **names;
	size_t n;

	/* the create was never sent (no service): rmdir drops it with the draft */
	CHECK(mtab_remove(t, "good") == 0);
	CHECK(mtab_attr(t, "good", &a) == -ENOENT);
	CHECK(draft_exists(ds, "good") == 0);
	CHECK(commit(t, "another-1", MTAB_EXAMPLES, EXAMPLES) == 0);
	mtab_free(t);
	t = table(ds);
	CHECK(mtab_names(t, &names, NULL, &n) == 0);
	CHECK(n == 1 && strcmp(names[0], "another-1") == 0);
	mtab_names_free(names, n);
	CHECK(mtab_attr(t, "another-1", &a) == 0 && a.state == MTAB_DRAFT);
	mtab_free(t);
}

/* The poll schedule of a training model: capped by the interval, early when the
 * progress says the end is near, doubling from 0.25 s while it cannot say. */
static void test_poll_gap(void)
{
	CHECK(mtab_poll_gap(5, 0, 0, 100, 0) == 0.25);	   /* nothing known: soon */
	CHECK(mtab_poll_gap(5, 0.25, 0, 100, 0.3) == 0.5); /* still nothing: doubling */
	CHECK(mtab_poll_gap(5, 4, 0, 100, 8) == 5);	   /* ... up to the interval */
	/* 50 of 100 steps in 1 s: the rest takes about 1 s */
	CHECK(mtab_poll_gap(5, 0.5, 50, 100, 1.0) == 1.0);
	/* 1 of 1000 steps in 2 s: far off, the interval */
	CHECK(mtab_poll_gap(5, 0.5, 1, 1000, 2.0) == 5);
	/* 99 of 100 in 9.9 s: due in 0.1 s, but never sooner than 0.25 s */
	CHECK(mtab_poll_gap(5, 1, 99, 100, 9.9) == 0.25);
	/* all steps done, the job still finishing: doubling again */
	CHECK(mtab_poll_gap(5, 0.25, 100, 100, 10) == 0.5);
	CHECK(mtab_poll_gap(5, 4, 100, 100, 30) == 5);
	/* an interval below 0.25 s is kept as it is */
	CHECK(mtab_poll_gap(0.1, 0, 0, 100, 0) == 0.1);
	CHECK(mtab_poll_gap(0.1, 0.1, 50, 100, 10) == 0.1);
}

/* A draft's config and examples.jsonl: created empty by a touch, gone after an unlink,
 * both refused once submitted; the draft stays a draft throughout. */
static void test_draft_files(struct mtab *t)
{
	struct mtab_attr a;

	CHECK(mtab_create_draft(t, "files") == 0);
	CHECK(mtab_attr(t, "files", &a) == 0 && a.draft_files == 0);
	CHECK(mtab_draft_unlink(t, "files", MTAB_CONFIG) == -ENOENT);
	CHECK(mtab_draft_touch(t, "files", MTAB_CONFIG) == 0);
	CHECK(mtab_draft_touch(t, "files", MTAB_CONFIG) == 0);
	CHECK(mtab_attr(t, "files", &a) == 0 && a.draft_files == MTAB_FILE_BIT(MTAB_CONFIG));
	CHECK(mtab_draft_touch(t, "files", MTAB_PROMPT) == -EINVAL);
	CHECK(mtab_draft_unlink(t, "files", MTAB_CONFIG) == 0);
	CHECK(mtab_attr(t, "files", &a) == 0 && a.draft_files == 0 && a.state == MTAB_DRAFT);
	CHECK(commit(t, "files", MTAB_EXAMPLES, EXAMPLES) == 0);
	CHECK(mtab_attr(t, "files", &a) == 0 && a.draft_files == MTAB_FILE_BIT(MTAB_EXAMPLES));
	CHECK(commit(t, "files", MTAB_CONFIG, CONFIG) == 0); /* to be submitted (no client) */
	CHECK(mtab_attr(t, "files", &a) == 0 && !a.locked && a.state == MTAB_CREATING);
	/* removed while it settles: a draft again, nothing submitted */
	CHECK(mtab_draft_unlink(t, "files", MTAB_EXAMPLES) == 0);
	CHECK(mtab_attr(t, "files", &a) == 0 && a.state == MTAB_DRAFT);
	CHECK(mtab_draft_touch(t, "nobody", MTAB_CONFIG) == -ENOENT);
	CHECK(mtab_remove(t, "files") == 0);
}

/* Prompt and generation written into a draft are in a new table over the same stores
 * (written at the stop: no background thread here); rmdir takes them along. */
static void test_prompts_kept(const char *dir)
{
	char path[300];
	struct draft_store *ds = NULL, *ps = NULL;
	struct mtab_options o = {.list_ttl = 10, .poll_interval = 1, .log = on_log};
	struct mtab *t = NULL;
	struct mtab_view v;

	snprintf(path, sizeof path, "%s/kept-drafts", dir);
	CHECK(draft_store_open(path, &ds) == 0);
	snprintf(path, sizeof path, "%s/kept-prompts", dir);
	CHECK(draft_store_open(path, &ps) == 0);
	o.drafts = ds;
	o.prompts = ps;
	CHECK(mtab_new(&o, &t) == 0);
	CHECK(mtab_create_draft(t, "asked") == 0);
	/* a draft takes no prompt (EINVAL, nothing kept), but its generation settings */
	CHECK(commit(t, "asked", MTAB_PROMPT, "what comes after 7?\n") == -EINVAL);
	CHECK(commit(t, "asked", MTAB_GENERATION, "temperature = 0.5\n") == 0);
	mtab_free(t);
	CHECK(draft_exists(ps, "asked") == 1);
	CHECK(mtab_new(&o, &t) == 0);
	CHECK(mtab_view(t, "asked", 0, &v) == 0);
	CHECK(!v.prompt);
	CHECK(strstr(v.generation, "temperature = 0.5") != NULL);
	mtab_view_clear(&v);
	CHECK(mtab_remove(t, "asked") == 0);
	CHECK(draft_exists(ps, "asked") == 0);
	/* a store that cannot take the prompt (a file where its directory goes): said in
	 * the log once, not at every round, and nothing else breaks */
	CHECK(mtab_create_draft(t, "blocked") == 0);
	snprintf(path, sizeof path, "%s/kept-prompts/blocked", dir);
	fclose(fopen(path, "w"));
	CHECK(commit(t, "blocked", MTAB_GENERATION, "temperature = 0.5\n") == 0);
	unkept_logs = 0;
	mtab_free(t); /* two rounds of saves at the stop */
	CHECK(unkept_logs == 1);
	draft_store_close(ds);
	draft_store_close(ps);
}

int main(void)
{
	char dir[] = "/tmp/tunedfs-test-mtab.XXXXXX", cmd[128];
	struct draft_store *ds = NULL;
	struct mtab *t;

	if (!mkdtemp(dir))
		return 99;
	CHECK(draft_store_open(dir, &ds) == 0);
	t = table(ds);
	test_names(t);
	test_draft_commits(t);
	test_prompt_and_generation(t);
	test_draft_files(t);
	test_poll_gap();
	test_remove_and_reload(ds, t);
	draft_store_close(ds);
	test_prompts_kept(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_exit("test_mtab");
}
