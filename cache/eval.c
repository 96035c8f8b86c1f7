/* eval.c - the store of eval/: the example files a user writes into MODEL/eval/ (user
 * data: atomic, durable, never evicted, like the prompt spools, whose store it reuses)
 * and the scored results of each, kept under the key they were computed from so that a
 * remount serves them without a request. Layout: DIR/e/MODEL/ (files), DIR/r/MODEL/
 * (results: "KEY\nRESULT_LEN\n" then the .result text and the .out.jsonl lines). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "cache/eval.h"
#include "cache/privdir.h"
#include "cache/spool.h"

struct eval_store {
	struct spool *files, *results;
};

int eval_valid_name(const char *file)
{
	size_t n = strlen(file);

	return n > 6 && n - 6 <= EVAL_NAME_MAX && strcmp(file + n - 6, ".jsonl") == 0 &&
	       !(n >= 10 && strcmp(file + n - 10, ".out.jsonl") == 0) && file[0] != '.' &&
	       !strchr(file, '/');
}

int eval_store_open(const char *dir, struct eval_store **out)
{
	char *e = xasprintf("%s/e", dir), *r = xasprintf("%s/r", dir);
	struct eval_store *s = xcalloc(1, sizeof *s);
	int rc = privdir_make(dir);

	if (rc == 0)
		rc = spool_open(e, &s->files);
	if (rc == 0)
		rc = spool_open(r, &s->results);
	free(e);
	free(r);
	if (rc < 0) {
		eval_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void eval_store_close(struct eval_store *s)
{
	if (!s)
		return;
	spool_close(s->files);
	spool_close(s->results);
	free(s);
}

int eval_store_models(struct eval_store *s, char ***names, size_t *n)
{
	return spool_models(s->files, names, n);
}

int eval_store_list(struct eval_store *s, const char *model, char ***names, size_t *n)
{
	return spool_list(s->files, model, names, n);
}

void eval_names_free(char **names, size_t n)
{
	spool_names_free(names, n);
}

int eval_store_read(struct eval_store *s, const char *model, const char *file, char **data,
		    size_t *len)
{
	if (!eval_valid_name(file))
		return -ENOENT;
	return spool_read(s->files, model, file, data, len);
}

int eval_store_write(struct eval_store *s, const char *model, const char *file, const char *data,
		     size_t len)
{
	if (!eval_valid_name(file))
		return -EINVAL;
	spool_unlink(s->results, model, file); /* what it said is no longer so */
	return spool_write(s->files, model, file, data, len);
}

int eval_store_unlink(struct eval_store *s, const char *model, const char *file)
{
	if (!eval_valid_name(file))
		return -ENOENT;
	spool_unlink(s->results, model, file);
	return spool_unlink(s->files, model, file);
}

void eval_store_drop(struct eval_store *s, const char *model)
{
	spool_drop(s->files, model);
	spool_drop(s->results, model);
}

int eval_store_result(struct eval_store *s, const char *model, const char *file, const char *key,
		      char **result, size_t *result_len, char **lines, size_t *lines_len)
{
	size_t klen = strlen(key), len = 0, rlen;
	char *data = NULL, *p, *end;
	int rc = spool_read(s->results, model, file, &data, &len);

	if (rc < 0)
		return rc;
	rc = -ENOENT;
	if (len > klen + 1 && memcmp(data, key, klen) == 0 && data[klen] == '\n') {
		rlen = strtoul(data + klen + 1, &end, 10);
		p = *end == '\n' ? end + 1 : NULL;
		if (p && (size_t)(data + len - p) >= rlen) {
			*result = xstrndup(p, rlen);
			*result_len = rlen;
			*lines = xstrndup(p + rlen, (size_t)(data + len - p) - rlen);
			*lines_len = (size_t)(data + len - p) - rlen;
			rc = 0;
		}
	}
	free(data);
	return rc;
}

int eval_store_put_result(struct eval_store *s, const char *model, const char *file,
			  const char *key, const char *result, size_t result_len, const char *lines,
			  size_t lines_len)
{
	char *head = xasprintf("%s\n%zu\n", key, result_len);
	size_t hl = strlen(head), n = hl + result_len + lines_len;
	char *data = xmalloc(n + 1);
	int rc;

	memcpy(data, head, hl);
	memcpy(data + hl, result, result_len);
	memcpy(data + hl + result_len, lines, lines_len);
	rc = spool_write(s->results, model, file, data, n);
	free(head);
	free(data);
	return rc;
}
