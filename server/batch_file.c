/* batch_file.c - the files of a batch job of tunedfs-server (see batch.h and
 * batch_impl.h): DIR/batches/ID/batch.json (the record, rewritten atomically),
 * items.jsonl (written once, before the record) and results.jsonl (one line appended per
 * answered item; a torn last line is ignored at load). No runner, no wire JSON. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/dynbuf.h"
#include "base/num.h"
#include "base/xalloc.h"
#include "server/batch_impl.h"
#include "server/files.h"
#include "server/json_util.h"

#define MAX_FILE ((size_t)1 << 32)

static const char *const state_names[] = {"PENDING", "RUNNING",	  "SUCCEEDED",
					  "FAILED",  "CANCELLED", "EXPIRED"};

static char *path_of(const char *dir, const char *id, const char *file)
{
	return xasprintf("%s/batches/%s%s%s", dir, id, file ? "/" : "", file ? file : "");
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

int srv_batch_file_save(const char *dir, const struct srv_batch *b)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", b->id);
	cJSON_AddStringToObject(o, "family", b->family);
	cJSON_AddStringToObject(o, "target", b->target);
	add_str(o, "meta", b->meta);
	add_str(o, "output", b->output);
	add_str(o, "error", b->error);
	cJSON_AddStringToObject(o, "state", state_names[b->state]);
	cJSON_AddNumberToObject(o, "seq", (double)b->seq);
	cJSON_AddNumberToObject(o, "items", (double)b->n);
	cJSON_AddNumberToObject(o, "createNs", (double)b->create_ns);
	cJSON_AddNumberToObject(o, "startNs", (double)b->start_ns);
	cJSON_AddNumberToObject(o, "updateNs", (double)b->update_ns);
	cJSON_AddNumberToObject(o, "endNs", (double)b->end_ns);
	char *text = srv_json_print(o);
	cJSON_Delete(o);
	char *p = path_of(dir, b->id, "batch.json");
	int rc = srv_write_atomic(p, text, strlen(text));
	free(p);
	free(text);
	return rc;
}

int srv_batch_file_create(const char *dir, const struct srv_batch *b)
{
	char *p = xasprintf("%s/batches", dir);
	mkdir(p, 0700);
	free(p);
	p = path_of(dir, b->id, NULL);
	int rc = mkdir(p, 0700) ? -errno : 0;
	free(p);
	if (rc)
		return rc;
	struct dynbuf d = {0};
	for (size_t i = 0; i < b->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", b->items[i].key);
		cJSON_AddRawToObject(o, "request", b->items[i].request);
		if (b->items[i].extra)
			cJSON_AddRawToObject(o, "extra", b->items[i].extra);
		char *line = srv_json_print(o);
		cJSON_Delete(o);
		dynbuf_puts(&d, line);
		dynbuf_puts(&d, "\n");
		free(line);
	}
	size_t len;
	char *text = dynbuf_take(&d, &len);
	p = path_of(dir, b->id, "items.jsonl");
	rc = srv_write_atomic(p, text ? text : "", text ? len : 0);
	free(p);
	free(text);
	return rc ? rc : srv_batch_file_save(dir, b);
}

int srv_batch_file_answer(const char *dir, const struct srv_batch *b, size_t i)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "i", (double)i);
	cJSON_AddNumberToObject(o, "status", b->items[i].status);
	cJSON_AddRawToObject(o, "body", b->items[i].result);
	char *line = srv_json_print(o);
	cJSON_Delete(o);
	char *p = path_of(dir, b->id, "results.jsonl");
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(p);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else {
		/* One write: a line lands whole, or as a torn tail the load skips. */
		size_t len = strlen(line);
		line[len] = '\n';
		if (write(fd, line, len + 1) != (ssize_t)(len + 1))
			rc = -EIO;
		close(fd);
	}
	free(line);
	return rc;
}

void srv_batch_file_remove(const char *dir, const char *id)
{
	static const char *const files[] = {"batch.json", "items.jsonl", "results.jsonl"};
	for (size_t i = 0; i < 3; i++) {
		char *p = path_of(dir, id, files[i]);
		unlink(p);
		free(p);
	}
	char *p = path_of(dir, id, NULL);
	rmdir(p);
	free(p);
}

static char *dup_field(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(it) ? xstrdup(it->valuestring) : NULL;
}

static int read_record(const char *text, size_t len, struct srv_batch *b)
{
	cJSON *o = NULL;
	char why[128];
	if (srv_json_parse(text, len, &o, why, sizeof(why)))
		return -EINVAL;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *fam = cJSON_GetObjectItemCaseSensitive(o, "family");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
	b->target = dup_field(o, "target");
	if (!cJSON_IsString(id) || !cJSON_IsString(fam) || !cJSON_IsString(st) || !b->target ||
	    strlen(id->valuestring) >= sizeof(b->id) || strlen(fam->valuestring) >= 16) {
		cJSON_Delete(o);
		return -EINVAL;
	}
	snprintf(b->id, sizeof(b->id), "%s", id->valuestring);
	snprintf(b->family, sizeof(b->family), "%s", fam->valuestring);
	for (int i = 0; i < 6; i++)
		if (!strcmp(st->valuestring, state_names[i]))
			b->state = (enum srv_batch_state)i;
	b->meta = dup_field(o, "meta");
	b->output = dup_field(o, "output");
	b->error = dup_field(o, "error");
	b->seq = (uint64_t)srv_json_count(o, "seq");
	b->n = (size_t)srv_json_count(o, "items");
	b->create_ns = (int64_t)srv_json_count(o, "createNs");
	b->start_ns = (int64_t)srv_json_count(o, "startNs");
	b->update_ns = (int64_t)srv_json_count(o, "updateNs");
	b->end_ns = (int64_t)srv_json_count(o, "endNs");
	cJSON_Delete(o);
	return 0;
}

struct load_ctx {
	struct srv_batch *b;
	size_t i;
};

static int item_line(void *ctx, const cJSON *j, char *why, size_t why_len)
{
	struct load_ctx *c = ctx;
	if (c->i == c->b->n)
		return -EINVAL;
	struct srv_batch_item *it = &c->b->items[c->i++];
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(j, "request");
	const cJSON *extra = cJSON_GetObjectItemCaseSensitive(j, "extra");
	it->key = dup_field(j, "key");
	if (!it->key)
		it->key = xstrdup("");
	it->request = req ? srv_json_print(req) : xstrdup("{}");
	it->extra = extra ? srv_json_print(extra) : NULL;
	return 0;
}

/* results.jsonl: each line that parses names an item; the rest (a torn tail) is skipped. */
static void read_results(const char *text, size_t len, struct srv_batch *b)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "i");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
		const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body");
		long at;
		if (cJSON_IsNumber(i) && cJSON_IsNumber(st) && body &&
		    num_count(i->valuedouble, &at) && (size_t)at < b->n && !b->items[at].done) {
			struct srv_batch_item *it = &b->items[at];
			it->done = 1;
			it->status = st->valueint;
			it->result = srv_json_print(body);
			if (it->status == 200)
				b->n_ok++;
			else
				b->n_failed++;
		}
		cJSON_Delete(o);
		p = nl + 1;
	}
}

static struct srv_batch *load_one(const char *dir, const char *id)
{
	char *p = path_of(dir, id, "batch.json"), *text = NULL, why[128];
	size_t len;
	int rc = srv_read_file(p, MAX_FILE, &text, &len);
	free(p);
	struct srv_batch *b = xcalloc(1, sizeof(*b));
	if (rc || read_record(text, len, b) || strcmp(b->id, id)) {
		free(text);
		srv_batch_free(b);
		return NULL;
	}
	free(text);
	b->items = xcalloc(b->n ? b->n : 1, sizeof(*b->items));
	p = path_of(dir, id, "items.jsonl");
	rc = srv_read_file(p, MAX_FILE, &text, &len);
	free(p);
	struct load_ctx c = {b, 0};
	if (rc || srv_jsonl_each(text, len, b->n, item_line, &c, why, sizeof(why)) || c.i != b->n) {
		free(text);
		srv_batch_free(b);
		return NULL;
	}
	free(text);
	p = path_of(dir, id, "results.jsonl");
	if (srv_read_file(p, MAX_FILE, &text, &len) == 0) {
		read_results(text, len, b);
		free(text);
	}
	free(p);
	return b;
}

int srv_batch_file_load_all(const char *dir, struct srv_batch ***out, size_t *n)
{
	char *p = xasprintf("%s/batches", dir);
	DIR *d = opendir(p);
	free(p);
	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= 48)
			continue;
		struct srv_batch *b = load_one(dir, e->d_name);
		if (!b)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = b;
	}
	closedir(d);
	return 0;
}

void srv_batch_free(struct srv_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; b->items && i < b->n; i++) {
		free(b->items[i].key);
		free(b->items[i].request);
		free(b->items[i].extra);
		free(b->items[i].result);
	}
	free(b->items);
	free(b->target);
	free(b->meta);
	free(b->output);
	free(b->error);
	free(b);
}
