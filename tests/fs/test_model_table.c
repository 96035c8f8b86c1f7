/* test_model_table.c - unit tests of the model table without a service (no client, no thread):
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
#include "cache/model_table.h"

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

static struct model_table *table(struct draft_store *ds)
{
	struct model_table_options o = {
	    .drafts = ds, .list_ttl = 10, .poll_interval = 1, .log = on_log};
	struct model_table *t = NULL;
	CHECK(model_table_new(&o, &t) == 0);
	return t;
}

static int commit(struct model_table *t, const char *id, enum model_table_file f, const char *text)
{
	return model_table_commit(t, id, f, text, strlen(text), 0);
}

static void view_error(struct model_table *t, const char *id, char *out, size_t size)
{
	struct model_table_view v;
	out[0] = 0;
	if (model_table_view(t, id, 0, &v) == 0) {
		snprintf(out, size, "%s", v.error);
		model_table_view_clear(&v);
	}
}

static void test_names(struct model_table *t)
{
	struct model_table_attr a;
	char **names;
	size_t n;

	CHECK(model_table_create_draft(t, "Bad_Name") == -EINVAL);
	CHECK(model_table_create_draft(t, "a\nforged") == -EINVAL);
	CHECK(strchr(last_log, '\n') == NULL);
	CHECK(model_table_create_draft(t, "good") == 0);
	CHECK(model_table_create_draft(t, "good") == -EEXIST);
	CHECK(model_table_create_draft(t, "another-1") == 0);
	CHECK(model_table_names(t, &names, NULL, &n) == 0);
	CHECK(n == 2 && strcmp(names[0], "another-1") == 0 && strcmp(names[1], "good") == 0);
	model_table_names_free(names, n);
	CHECK(model_table_attr(t, "good", &a) == 0);
	CHECK(a.state == MODEL_TABLE_DRAFT && a.is_draft && !a.locked);
	CHECK(model_table_lookup(t, "unknown", &a) == -ENOENT);
}

static void test_draft_commits(struct model_table *t)
{
	struct model_table_attr a;
	char err[1024], *data = NULL;
	size_t len = 0;

	/* bad examples: kept, refused, explained */
	CHECK(commit(t, "good", MODEL_TABLE_EXAMPLES, "not json\n") == -EINVAL);
	view_error(t, "good", err, sizeof err);
	CHECK(strstr(err, "examples.jsonl") && strstr(err, "line 1"));
	CHECK(model_table_read_draft(t, "good", MODEL_TABLE_EXAMPLES, &data, &len) == 0);
	CHECK(len == 9 && memcmp(data, "not json\n", 9) == 0);
	free(data);
	/* good examples, no config yet: still a draft, no error */
	CHECK(commit(t, "good", MODEL_TABLE_EXAMPLES, EXAMPLES) == 0);
	view_error(t, "good", err, sizeof err);
	CHECK(err[0] == 0);
	CHECK(model_table_attr(t, "good", &a) == 0 && a.state == MODEL_TABLE_DRAFT);
	/* a bad config */
	CHECK(commit(t, "good", MODEL_TABLE_CONFIG, "base_model = models/x\nbatch_size = 0\n") ==
	      -EINVAL);
	view_error(t, "good", err, sizeof err);
	CHECK(strstr(err, "config") && strstr(err, "line 2"));
	CHECK(model_table_attr(t, "good", &a) == 0 && a.state == MODEL_TABLE_DRAFT && !a.locked);
	/* both valid while a writer is still open: to be submitted after the settle time, and
	 * writable until the create goes out (never here: no service) */
	model_table_hold(t, "good", 1);
	CHECK(commit(t, "good", MODEL_TABLE_CONFIG, CONFIG) == 0);
	CHECK(model_table_attr(t, "good", &a) == 0 && a.state == MODEL_TABLE_CREATING && !a.locked);
	CHECK(commit(t, "good", MODEL_TABLE_CONFIG, CONFIG) == 0);
	model_table_hold(t, "good", -1);
	/* a new writer after that is refused by the fs (locked); a stray commit too once sent
	 * is checked by the pytest suite, which has a service */
}

static void test_prompt_and_generation(struct model_table *t)
{
	struct model_table_view v;
	struct model_table_answer ans;
	enum model_table_state st;
	char err[1024];

	CHECK(commit(t, "good", MODEL_TABLE_PROMPT, "hello\n") == -EINVAL);
	view_error(t, "good", err, sizeof err);
	CHECK(strstr(err, "CREATING") != NULL);
	CHECK(commit(t, "another-1", MODEL_TABLE_PROMPT, "\n") == -EINVAL);
	view_error(t, "another-1", err, sizeof err);
	CHECK(strstr(err, "empty") != NULL);
	CHECK(model_table_view(t, "good", 0, &v) == 0);
	CHECK(!v.prompt); /* refused: the previous prompt (none) stays */
	model_table_view_clear(&v);
	CHECK(model_table_response(t, "good", 0, 1, NULL, &ans) == -ENODATA);
	CHECK(commit(t, "another-1", MODEL_TABLE_GENERATION, "temperature = 0.5\n") == 0);
	CHECK(model_table_view(t, "another-1", 0, &v) == 0);
	CHECK(strstr(v.generation, "temperature") != NULL);
	model_table_view_clear(&v);
	CHECK(commit(t, "another-1", MODEL_TABLE_GENERATION, "temperature = hot\n") == -EINVAL);
	CHECK(model_table_view(t, "another-1", 0, &v) == 0);
	/* kept as written, to be fixed (the last good settings stay in force) */
	CHECK(strcmp(v.generation, "temperature = hot\n") == 0);
	CHECK(strstr(v.error, "generation") != NULL);
	model_table_view_clear(&v);
	CHECK(commit(t, "another-1", MODEL_TABLE_GENERATION, "temperature = 0.25\n") == 0);
	CHECK(model_table_view(t, "another-1", 0, &v) == 0);
	CHECK(strstr(v.generation, "0.25") != NULL && v.error[0] == 0);
	model_table_view_clear(&v);
	CHECK(model_table_wait(t, "good", 0.2, NULL, &st) == -ETIMEDOUT);
	CHECK(model_table_wait(t, "another-1", 0.2, NULL, &st) == 0 && st == MODEL_TABLE_DRAFT);
}

static void test_remove_and_reload(struct draft_store *ds, struct model_table *t)
{
	struct model_table_attr a;
	char **names;
	size_t n;

	/* the create was never sent (no service): rmdir drops it with the draft */
	CHECK(model_table_remove(t, "good") == 0);
	CHECK(model_table_attr(t, "good", &a) == -ENOENT);
	CHECK(draft_exists(ds, "good") == 0);
	CHECK(commit(t, "another-1", MODEL_TABLE_EXAMPLES, EXAMPLES) == 0);
	model_table_free(t);
	t = table(ds);
	CHECK(model_table_names(t, &names, NULL, &n) == 0);
	CHECK(n == 1 && strcmp(names[0], "another-1") == 0);
	model_table_names_free(names, n);
	CHECK(model_table_attr(t, "another-1", &a) == 0 && a.state == MODEL_TABLE_DRAFT);
	model_table_free(t);
}

/* The poll schedule of a training model: capped by the interval, early when the
 * progress says the end is near, doubling from 0.25 s while it cannot say. */
static void test_poll_gap(void)
{
	CHECK(model_table_poll_gap(5, 0, 0, 100, 0) == 0.25);	  /* nothing known: soon */
	CHECK(model_table_poll_gap(5, 0.25, 0, 100, 0.3) == 0.5); /* still nothing: doubling */
	CHECK(model_table_poll_gap(5, 4, 0, 100, 8) == 5);	  /* ... up to the interval */
	/* 50 of 100 steps in 1 s: the rest takes about 1 s */
	CHECK(model_table_poll_gap(5, 0.5, 50, 100, 1.0) == 1.0);
	/* 1 of 1000 steps in 2 s: far off, the interval */
	CHECK(model_table_poll_gap(5, 0.5, 1, 1000, 2.0) == 5);
	/* 99 of 100 in 9.9 s: due in 0.1 s, but never sooner than 0.25 s */
	CHECK(model_table_poll_gap(5, 1, 99, 100, 9.9) == 0.25);
	/* all steps done, the job still finishing: doubling again */
	CHECK(model_table_poll_gap(5, 0.25, 100, 100, 10) == 0.5);
	CHECK(model_table_poll_gap(5, 4, 100, 100, 30) == 5);
	/* an interval below 0.25 s is kept as it is */
	CHECK(model_table_poll_gap(0.1, 0, 0, 100, 0) == 0.1);
	CHECK(model_table_poll_gap(0.1, 0.1, 50, 100, 10) == 0.1);
}

/* A draft's config and examples.jsonl: created empty by a touch, gone after an unlink,
 * both refused once submitted; the draft stays a draft throughout. */
static void test_draft_files(struct model_table *t)
{
	struct model_table_attr a;

	CHECK(model_table_create_draft(t, "files") == 0);
	CHECK(model_table_attr(t, "files", &a) == 0 && a.draft_files == 0);
	CHECK(model_table_draft_unlink(t, "files", MODEL_TABLE_CONFIG) == -ENOENT);
	CHECK(model_table_draft_touch(t, "files", MODEL_TABLE_CONFIG) == 0);
	CHECK(model_table_draft_touch(t, "files", MODEL_TABLE_CONFIG) == 0);
	CHECK(model_table_attr(t, "files", &a) == 0 &&
	      a.draft_files == MODEL_TABLE_FILE_BIT(MODEL_TABLE_CONFIG));
	CHECK(model_table_draft_touch(t, "files", MODEL_TABLE_PROMPT) == -EINVAL);
	CHECK(model_table_draft_unlink(t, "files", MODEL_TABLE_CONFIG) == 0);
	CHECK(model_table_attr(t, "files", &a) == 0 && a.draft_files == 0 &&
	      a.state == MODEL_TABLE_DRAFT);
	CHECK(commit(t, "files", MODEL_TABLE_EXAMPLES, EXAMPLES) == 0);
	CHECK(model_table_attr(t, "files", &a) == 0 &&
	      a.draft_files == MODEL_TABLE_FILE_BIT(MODEL_TABLE_EXAMPLES));
	CHECK(commit(t, "files", MODEL_TABLE_CONFIG, CONFIG) ==
	      0); /* to be submitted (no client) */
	CHECK(model_table_attr(t, "files", &a) == 0 && !a.locked &&
	      a.state == MODEL_TABLE_CREATING);
	/* removed while it settles: a draft again, nothing submitted */
	CHECK(model_table_draft_unlink(t, "files", MODEL_TABLE_EXAMPLES) == 0);
	CHECK(model_table_attr(t, "files", &a) == 0 && a.state == MODEL_TABLE_DRAFT);
	CHECK(model_table_draft_touch(t, "nobody", MODEL_TABLE_CONFIG) == -ENOENT);
	CHECK(model_table_remove(t, "files") == 0);
}

/* Prompt and generation written into a draft are in a new table over the same stores
 * (written at the stop: no background thread here); rmdir takes them along. */
static void test_prompts_kept(const char *dir)
{
	char path[300];
	struct draft_store *ds = NULL, *ps = NULL;
	struct model_table_options o = {.list_ttl = 10, .poll_interval = 1, .log = on_log};
	struct model_table *t = NULL;
	struct model_table_view v;

	snprintf(path, sizeof path, "%s/kept-drafts", dir);
	CHECK(draft_store_open(path, &ds) == 0);
	snprintf(path, sizeof path, "%s/kept-prompts", dir);
	CHECK(draft_store_open(path, &ps) == 0);
	o.drafts = ds;
	o.prompts = ps;
	CHECK(model_table_new(&o, &t) == 0);
	CHECK(model_table_create_draft(t, "asked") == 0);
	/* a draft takes no prompt (EINVAL, nothing kept), but its generation settings */
	CHECK(commit(t, "asked", MODEL_TABLE_PROMPT, "what comes after 7?\n") == -EINVAL);
	CHECK(commit(t, "asked", MODEL_TABLE_GENERATION, "temperature = 0.5\n") == 0);
	model_table_free(t);
	CHECK(draft_exists(ps, "asked") == 1);
	CHECK(model_table_new(&o, &t) == 0);
	CHECK(model_table_view(t, "asked", 0, &v) == 0);
	CHECK(!v.prompt);
	CHECK(strstr(v.generation, "temperature = 0.5") != NULL);
	model_table_view_clear(&v);
	CHECK(model_table_remove(t, "asked") == 0);
	CHECK(draft_exists(ps, "asked") == 0);
	/* a store that cannot take the prompt (a file where its directory goes): said in
	 * the log once, not at every round, and nothing else breaks */
	CHECK(model_table_create_draft(t, "blocked") == 0);
	snprintf(path, sizeof path, "%s/kept-prompts/blocked", dir);
	fclose(fopen(path, "w"));
	CHECK(commit(t, "blocked", MODEL_TABLE_GENERATION, "temperature = 0.5\n") == 0);
	unkept_logs = 0;
	model_table_free(t); /* two rounds of saves at the stop */
	CHECK(unkept_logs == 1);
	draft_store_close(ds);
	draft_store_close(ps);
}

int main(void)
{
	char dir[] = "/tmp/tunedfs-test-model_table.XXXXXX", cmd[128];
	struct draft_store *ds = NULL;
	struct model_table *t;

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
	return check_exit("test_model_table");
}
