/* test_answer_log.c - unit tests of cache/answer_log.c: a line's fields (usage said or not,
 * prompt or its SHA-256, JSON escaping), appends read back at offsets, rotation past the
 * size keeping one old generation, bad ids refused, removal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/answer_log.h"
#include "../check.h"

static struct answer_log_record rec(const char *prompt, long in, long out, long total, int cached)
{
	struct answer_log_record r = {0};

	r.at.tv_sec = 1764945000; /* 2025-12-05T14:30:00Z */
	r.at.tv_nsec = 250000000;
	r.prompt = prompt;
	r.prompt_len = strlen(prompt);
	r.answer_len = 7;
	r.finish_reason = "STOP";
	r.prompt_tokens = in;
	r.output_tokens = out;
	r.total_tokens = total;
	r.latency_ms = 12;
	r.cached = cached;
	return r;
}

static void test_line(void)
{
	struct answer_log_record r = rec("say \"hi\"\n", 3, 4, 7, 0);
	size_t len;
	char *line = answer_log_line(&r, 0, &len);

	CHECK_STR(line,
		  "{\"time\":\"2025-12-05T14:30:00.250000Z\",\"prompt\":\"say \\\"hi\\\"\\n\","
		  "\"answer_length\":7,\"finish_reason\":\"STOP\",\"usage\":{\"prompt_tokens\":3,"
		  "\"output_tokens\":4,\"total_tokens\":7},\"latency_ms\":12,\"cached\":false}\n");
	CHECK_INT(len, strlen(line));
	free(line);
	r = rec("abc", -1, -1, -1, 1);
	r.finish_reason = NULL;
	line = answer_log_line(&r, 1, &len);
	CHECK(strstr(line, "\"prompt_sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb4"
			   "10ff61f20015ad\"") != NULL);
	CHECK(strstr(line, "\"prompt\":") == NULL);
	CHECK(strstr(line, "\"finish_reason\":null") != NULL);
	CHECK(
	    strstr(line, "{\"prompt_tokens\":null,\"output_tokens\":null,\"total_tokens\":null}"));
	CHECK(strstr(line, "\"cached\":true}\n") != NULL);
	free(line);
}

static void test_files(const char *dir)
{
	struct answer_log *l;
	struct answer_log_record r = rec("p", 1, 2, 3, 0);
	char buf[4096], path[512];
	size_t one, size;
	char *line = answer_log_line(&r, 0, &one);
	struct stat st;

	free(line);
	CHECK_INT(answer_log_open(dir, one * 3, 0, &l), 0);
	CHECK_INT(answer_log_size(l, "m", &size), 0);
	CHECK_INT(size, 0);
	CHECK_INT(answer_log_read(l, "m", buf, sizeof buf, 0), 0);
	CHECK_INT(answer_log_add(l, "m", &r), 0);
	CHECK_INT(answer_log_add(l, "m", &r), 0);
	CHECK_INT(answer_log_size(l, "m", &size), 0);
	CHECK_INT(size, 2 * one);
	/* a reader at the end of the first line gets the second */
	CHECK_INT(answer_log_read(l, "m", buf, sizeof buf, (off_t)one), (long)one);
	CHECK_INT(answer_log_read(l, "m", buf, sizeof buf, (off_t)(2 * one)), 0);
	CHECK_INT(answer_log_add(l, "m", &r), 0); /* three fit */
	CHECK_INT(answer_log_add(l, "m", &r), 0); /* the fourth starts a new one */
	CHECK_INT(answer_log_size(l, "m", &size), 0);
	CHECK_INT(size, one);
	snprintf(path, sizeof path, "%s/m/log.jsonl.1", dir);
	CHECK(stat(path, &st) == 0 && (size_t)st.st_size == 3 * one);
	for (int i = 0; i < 3; i++)
		CHECK_INT(answer_log_add(l, "m", &r), 0);
	CHECK(stat(path, &st) == 0 && (size_t)st.st_size == 3 * one); /* one old generation */
	CHECK_INT(answer_log_size(l, "m", &size), 0);
	CHECK_INT(size, one);
	CHECK_INT(answer_log_add(l, "../x", &r), -EINVAL);
	CHECK_INT(answer_log_add(l, "..", &r), -EINVAL);
	answer_log_remove(l, "m");
	snprintf(path, sizeof path, "%s/m", dir);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	answer_log_close(l);
}

int main(void)
{
	char dir[] = "/tmp/test_answer_log.XXXXXX", logs[64];

	if (!mkdtemp(dir))
		return 1;
	snprintf(logs, sizeof logs, "%s/logs", dir);
	test_line();
	test_files(logs);
	rmdir(logs);
	rmdir(dir);
	return check_exit("answer_log");
}
