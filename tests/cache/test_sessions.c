/* test_sessions.c - unit tests of cache/sessions.c's kept prompts on their own: the
 * nearest of a reader's chain wins, a writer's second prompt replaces its first, a drop
 * forgets every writer's, and writers and readers at once (run under TSan). No table. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/sessions.h"
#include "../check.h"

static struct model_table_sessions sessions;

static const char *find(const char *id, const struct model_table_proc *chain, int n)
{
	static char got[64];
	char *p = NULL;
	size_t len = 0;
	int bad = 0, nl = 0;

	if (!model_table_sess_find(&sessions, id, chain, n, &p, &len, &bad, &nl))
		return NULL;
	snprintf(got, sizeof got, "%.*s", (int)len, p);
	free(p);
	return got;
}

static void test_nearest(void)
{
	struct model_table_proc shell = {100, 1}, child = {101, 2}, other = {200, 3};
	struct model_table_proc by_child[2] = {child, shell}, by_shell[1] = {shell};
	struct model_table_proc reader[3] = {{300, 4}, child, shell};

	model_table_sess_record(&sessions, "m", by_shell, 1, "shell's", 7, 0);
	model_table_sess_record(&sessions, "m", by_child, 2, "child's", 7, 1);
	CHECK_STR(find("m", reader, 3), "child's");   /* the child is nearer than the shell */
	CHECK_STR(find("m", by_shell, 1), "child's"); /* kept under the writer's parent too */
	CHECK(find("m", &other, 1) == NULL);
	CHECK(find("n", reader, 3) == NULL);
	CHECK(find("m", reader, 0) == NULL);
	model_table_sess_record(&sessions, "m", by_child, 2, "again", 5, 0);
	CHECK_STR(find("m", reader, 3), "again");
	CHECK_INT(sessions.n, 2); /* replaced, not added */
	model_table_sess_drop(&sessions, "m");
	CHECK(find("m", reader, 3) == NULL);
	CHECK_INT(sessions.n, 0);
}

static void *writer(void *arg)
{
	struct model_table_proc me = {1000 + (int)(long)arg, 7};
	char prompt[32];

	for (int i = 0; i < 2000; i++) {
		int n = snprintf(prompt, sizeof prompt, "%ld-%d", (long)arg, i);
		model_table_sess_record(&sessions, i % 2 ? "a" : "b", &me, 1, prompt, (size_t)n, 0);
		if (i % 100 == 99)
			model_table_sess_drop(&sessions, "b");
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct model_table_proc me = {1000 + (int)(long)arg, 7};
	long wrong = 0;
	char mine[16];

	snprintf(mine, sizeof mine, "%ld-", (long)arg);
	for (int i = 0; i < 2000; i++) {
		char *copy = NULL;
		size_t len = 0;
		int bad, nl;
		/* only what this reader's writer wrote, whole */
		if (model_table_sess_find(&sessions, "a", &me, 1, &copy, &len, &bad, &nl))
			wrong += len != strlen(copy) || strncmp(copy, mine, strlen(mine)) != 0;
		free(copy);
	}
	return (void *)wrong;
}

static void test_concurrent(void)
{
	pthread_t w[2], r[2];
	void *wrong;

	for (long i = 0; i < 2; i++) {
		pthread_create(&w[i], NULL, writer, (void *)i);
		pthread_create(&r[i], NULL, reader, (void *)i);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i], NULL);
		pthread_join(r[i], &wrong);
		CHECK_INT((long)wrong, 0);
	}
	{
		struct model_table_proc me = {1000, 7};
		CHECK_STR(find("a", &me, 1), "0-1999"); /* each writer's last prompt on a */
	}
}

int main(void)
{
	model_table_sessions_init(&sessions);
	test_nearest();
	test_concurrent();
	model_table_sessions_free(&sessions);
	return check_exit("sessions");
}
