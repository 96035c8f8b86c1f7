/* model_table_store.c - the last listing on disk, so a mount made while the service is
 * unreachable still shows the models it knew (and their cached answers read), as
 * tunedfs's own records (model_record.h), not the service's JSON. Written to a temporary
 * file and renamed, only when the listing changed. Not the drafts
 * (draft.h) nor the answers (rcache.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "base/bytes.h"
#include "cache/draft.h"
#include "cache/model_record.h"
#include "cache/model_index.h"
#include "cache/model_table_store.h"
#include "cache/model_table_impl.h"
#include "cache/privdir.h"

/* One field of the signature: its bytes (none when NULL), then a 0xff byte to end it. */
static uint64_t fnv(uint64_t h, const char *s)
{
	h = bytes_fnv1a64_more(h, s, s ? strlen(s) : 0);
	return bytes_fnv1a64_more(h, "\xff", 1);
}

static uint64_t signature(struct model_table *t)
{
	uint64_t h = BYTES_FNV1A64_BASIS;
	for (size_t i = 0; i < t->n; i++) {
		const struct tuned_model *m = &t->v[i]->model;
		if (!t->v[i]->remote || !model_index_has_text(t->v[i]))
			continue;
		h = fnv(h, t->v[i]->id);
		h = fnv(h, m->version);
		h = fnv(h, backend_state_name(m->state));
	}
	return h;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
}

static int write_file(const char *path, const char *data, size_t len)
{
	size_t plen = strlen(path) + 8;
	char *tmp = xmalloc(plen);
	int fd, rc;

	snprintf(tmp, plen, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(tmp);
		return -errno;
	}
	rc = privdir_write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Under t->mu, from the background thread: the models the table knows from the service,
 * as the service gave them, when that changed since the last save. Drops the lock for
 * the write. */
void model_table_listing_save(struct model_table *t)
{
	uint64_t sig;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int first = 1;

	if (!t->o.listing_path || !t->listed)
		return;
	sig = signature(t);
	if (sig == t->bg.listing_sig)
		return;
	append(&buf, &len, &cap, "[\n", 2);
	for (size_t i = 0; i < t->n; i++) {
		struct tuned_model m = t->v[i]->model; /* shallow: only raw_json is its own */
		cJSON *rec;
		char *json;
		if (!t->v[i]->remote || !model_index_has_text(t->v[i]))
			continue;
		m.raw_json = model_index_text(t, t->v[i]);
		rec = model_record_to_json(&m);
		free(m.raw_json);
		if (!m.id) /* the entry's name is the record's */
			cJSON_AddStringToObject(rec, "id", t->v[i]->id);
		json = cJSON_PrintUnformatted(rec);
		cJSON_Delete(rec);
		if (!json)
			xalloc_die(0);
		if (!first)
			append(&buf, &len, &cap, ",\n", 2);
		append(&buf, &len, &cap, json, strlen(json));
		free(json);
		first = 0;
	}
	append(&buf, &len, &cap, "\n]\n", 3);
	pthread_mutex_unlock(&t->mu);
	if (write_file(t->o.listing_path, buf, len) == 0)
		t->bg.listing_sig = sig; /* only this thread reads or writes it */
	free(buf);
	malloc_trim(0); /* the records' parse trees were spread between the entries */
	pthread_mutex_lock(&t->mu);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			buf = xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* At start, before any thread: the models of the last listing, marked as known. */
void model_table_listing_load(struct model_table *t)
{
	size_t len = 0, count = 0;
	char *text = t->o.listing_path ? slurp(t->o.listing_path, &len) : NULL;
	cJSON *arr = text ? cJSON_ParseWithLength(text, len) : NULL;
	cJSON *item;

	free(text);
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		return;
	}
	cJSON_ArrayForEach(item, arr)
	{
		struct tuned_model m = {0};
		char why[200];
		const char *id;
		if (model_record_from_json(item, &m) == 0 && (id = m.id) &&
		    (t->o.backend ? backend_check_id(t->o.backend, id, why, sizeof why)
				  : draft_valid_name(id))) {
			struct model_table_entry *e = model_table_insert(t, id);
			/* a draft not yet submitted is a new model of an old name: the
			 * listing kept from before is stale about it */
			if (!e->remote && !(e->is_draft && e->state == MODEL_TABLE_DRAFT)) {
				model_table_entry_set_model(t, e, &m);
				e->changed = 0;
				count++;
			}
		}
		tuned_model_clear(&m);
	}
	cJSON_Delete(arr);
	if (count)
		model_table_logf(t, LOG_INFO,
				 "%zu models from the last listing, until the next one", count);
}
