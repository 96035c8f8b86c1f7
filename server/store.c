/* store.c - the job index of tunedfs-server and its files under the data directory:
 *   DIR/jobs/ID/job.json, DIR/jobs/ID/weights.bin, a running job's kept examples.bin and
 *   checkpoint.bin, DIR/trash/ (deleted jobs on their way out). Reload at start; the file
 *   formats are job_json.c and checkpoint.c, weights loading weights.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "server/checkpoint.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/store.h"

int64_t srv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct srv_model *srv_model_new(void)
{
	struct srv_model *m = xcalloc(1, sizeof(*m));
	m->refs = 1;
	pthread_mutex_init(&m->persist_lock, NULL);
	return m;
}

void srv_model_get(struct srv_store *st, struct srv_model *m)
{
	pthread_mutex_lock(&st->lock);
	m->refs++;
	pthread_mutex_unlock(&st->lock);
}

static void model_free(struct srv_store *st, struct srv_model *m)
{
	if (m->net) {
		pthread_mutex_lock(&st->lock);
		st->nets_loaded--;
		pthread_mutex_unlock(&st->lock);
		srv_net_put(st, m->net);
	}
	free(m->parent);
	free(m->dataset);
	free(m->adapter_size);
	srv_model_set_labels(m, NULL, 0);
	free(m->display_name);
	free(m->description);
	free(m->base_model);
	free(m->source_model);
	free(m->snaps);
	free(m->validation); /* the validation set's fields (validation.c fills them) */
	srv_examples_free(m->val_ex, m->n_val);
	free(m->val_loss);
	free(m->err_msg);
	free(m->wire_cache);
	pthread_mutex_destroy(&m->persist_lock);
	free(m);
}

void srv_model_put(struct srv_store *st, struct srv_model *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&st->lock);
	int last = --m->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (last)
		model_free(st, m);
}

void srv_model_set_labels(struct srv_model *m, const struct srv_kv *kv, size_t n)
{
	for (size_t i = 0; i < m->n_labels; i++) {
		free(m->labels[i].key);
		free(m->labels[i].value);
	}
	free(m->labels);
	m->labels = n ? xcalloc(n, sizeof(*m->labels)) : NULL;
	m->n_labels = n;
	for (size_t i = 0; i < n; i++) {
		m->labels[i].key = xstrdup(kv[i].key);
		m->labels[i].value = xstrdup(kv[i].value);
	}
}

int srv_store_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof(((struct srv_model *)0)->id) || id[0] == '-')
		return 0;
	return strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

void srv_model_add_snapshot(struct srv_model *m, const struct srv_snapshot *s)
{
	if (m->n_snaps == m->cap_snaps) {
		m->cap_snaps = m->cap_snaps ? m->cap_snaps * 2 : 32;
		m->snaps = xrealloc(m->snaps, m->cap_snaps * sizeof(*m->snaps));
	}
	m->snaps[m->n_snaps++] = *s;
}

static size_t id_index(struct srv_store *st, const char *id, int *found)
{
	size_t lo = 0, hi = st->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(st->by_id[mid]->id, id);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

size_t srv_store_seq_index_locked(struct srv_store *st, uint64_t seq)
{
	size_t lo = 0, hi = st->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->by_seq[mid]->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct srv_model *srv_store_lookup_locked(struct srv_store *st, const char *id)
{
	int found;
	size_t i = id_index(st, id, &found);
	return found ? st->by_id[i] : NULL;
}

struct srv_model *srv_store_find(struct srv_store *st, const char *id)
{
	pthread_mutex_lock(&st->lock);
	struct srv_model *m = srv_store_lookup_locked(st, id);
	if (m)
		m->refs++;
	pthread_mutex_unlock(&st->lock);
	return m;
}

/* Adds m to both indexes; caller holds the lock and checked the id is free. */
static void index_add_locked(struct srv_store *st, struct srv_model *m)
{
	int found;
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 256;
		st->by_seq = xrealloc(st->by_seq, st->cap * sizeof(*st->by_seq));
		st->by_id = xrealloc(st->by_id, st->cap * sizeof(*st->by_id));
	}
	size_t i = id_index(st, m->id, &found);
	memmove(&st->by_id[i + 1], &st->by_id[i], (st->n - i) * sizeof(*st->by_id));
	st->by_id[i] = m;
	size_t j = srv_store_seq_index_locked(st, m->seq);
	memmove(&st->by_seq[j + 1], &st->by_seq[j], (st->n - j) * sizeof(*st->by_seq));
	st->by_seq[j] = m;
	st->n++;
}

static void index_del_locked(struct srv_store *st, struct srv_model *m)
{
	int found;
	size_t i = id_index(st, m->id, &found);
	if (!found)
		return;
	memmove(&st->by_id[i], &st->by_id[i + 1], (st->n - i - 1) * sizeof(*st->by_id));
	size_t j = srv_store_seq_index_locked(st, m->seq);
	memmove(&st->by_seq[j], &st->by_seq[j + 1], (st->n - j - 1) * sizeof(*st->by_seq));
	st->n--;
}

static void model_dir(struct srv_store *st, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/jobs/%s", st->dir, id);
}

int srv_store_insert(struct srv_store *st, struct srv_model *m)
{
	char dir[4096];
	pthread_mutex_lock(&st->lock);
	if (srv_store_lookup_locked(st, m->id)) {
		pthread_mutex_unlock(&st->lock);
		return -EEXIST;
	}
	m->seq = st->next_seq++;
	m->refs++;
	index_add_locked(st, m);
	pthread_mutex_unlock(&st->lock);
	/* A leftover directory without job.json (a crash mid-create) is reused. */
	model_dir(st, m->id, dir, sizeof(dir));
	if (mkdir(dir, 0700) && errno != EEXIST) {
		int rc = -errno;
		pthread_mutex_lock(&st->lock);
		index_del_locked(st, m);
		m->deleted = 1;
		m->refs--;
		pthread_mutex_unlock(&st->lock);
		return rc;
	}
	return 0;
}

/* Removes a tree of plain files and directories, as a deleted model leaves in trash/. */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			if (e->d_type == DT_DIR)
				remove_tree(sub);
			else
				unlink(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

int srv_store_remove(struct srv_store *st, const char *id)
{
	struct srv_model *m = srv_store_find(st, id);
	if (!m)
		return -ENOENT;
	/* persist_lock first, as persist takes it: no write can land after the removal. */
	pthread_mutex_lock(&m->persist_lock);
	pthread_mutex_lock(&st->lock);
	int gone = m->deleted;
	if (!gone) {
		index_del_locked(st, m);
		m->deleted = 1;
		m->refs--; /* the index's reference; ours keeps it alive */
	}
	pthread_mutex_unlock(&st->lock);
	if (!gone) {
		char dir[4096], trash[4200], tail[16];
		model_dir(st, id, dir, sizeof(dir));
		srv_id_random(tail, 10);
		snprintf(trash, sizeof(trash), "%s/trash/%s.%s", st->dir, id, tail);
		if (rename(dir, trash) == 0) {
			srv_fsync_dir_of(dir);
			remove_tree(trash);
		} else {
			remove_tree(dir);
		}
	}
	pthread_mutex_unlock(&m->persist_lock);
	srv_model_put(st, m);
	return gone ? -ENOENT : 0;
}

int srv_store_persist(struct srv_store *st, struct srv_model *m)
{
	char path[4200];
	pthread_mutex_lock(&m->persist_lock);
	pthread_mutex_lock(&st->lock);
	if (m->deleted) {
		pthread_mutex_unlock(&st->lock);
		pthread_mutex_unlock(&m->persist_lock);
		return 0;
	}
	cJSON *j = srv_job_json(m);
	m->persisted_ns = srv_now_ns();
	pthread_mutex_unlock(&st->lock);
	char *text = srv_json_print(j);
	cJSON_Delete(j);
	snprintf(path, sizeof(path), "%s/jobs/%s/job.json", st->dir, m->id);
	int rc = srv_write_atomic(path, text, strlen(text));
	free(text);
	pthread_mutex_unlock(&m->persist_lock);
	if (rc)
		fprintf(stderr, "tunedfs-server: cannot write the record of job %s: %s\n", m->id,
			strerror(-rc));
	return rc;
}

int srv_store_keep(struct srv_store *st, struct srv_model *m, const char *name, const void *data,
		   size_t len)
{
	char path[4200];
	pthread_mutex_lock(&m->persist_lock);
	pthread_mutex_lock(&st->lock);
	int deleted = m->deleted;
	pthread_mutex_unlock(&st->lock);
	int rc = 0;
	if (!deleted) {
		snprintf(path, sizeof(path), "%s/jobs/%s/%s", st->dir, m->id, name);
		rc = srv_write_atomic(path, data, len);
	}
	pthread_mutex_unlock(&m->persist_lock);
	return rc;
}

int srv_store_read_kept(struct srv_store *st, const char *id, const char *name, char **out,
			size_t *len)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/jobs/%s/%s", st->dir, id, name);
	return srv_read_file(path, (size_t)1 << 31, out, len);
}

static void drop_kept_files(struct srv_store *st, const char *id)
{
	/* examples last: with them gone, the job's kept files are all gone */
	static const char *const kept[] = {SRV_KEPT_CHECKPOINT, SRV_KEPT_EXAMPLES};
	char path[4200];
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/jobs/%s/%s", st->dir, id, kept[i]);
		unlink(path);
	}
}

void srv_store_drop_kept(struct srv_store *st, struct srv_model *m)
{
	pthread_mutex_lock(&m->persist_lock);
	pthread_mutex_lock(&st->lock);
	int deleted = m->deleted;
	pthread_mutex_unlock(&st->lock);
	if (!deleted)
		drop_kept_files(st, m->id);
	pthread_mutex_unlock(&m->persist_lock);
}

static cJSON *read_json(const char *path)
{
	char *text = NULL, why[160];
	size_t len = 0;
	cJSON *root = NULL;
	if (srv_read_file(path, (size_t)256 << 20, &text, &len))
		return NULL;
	srv_json_parse(text, len, &root, why, sizeof(why));
	free(text);
	return root;
}

/* Loads DIR/jobs/ID; NULL when it holds no usable job. */
static struct srv_model *load_model(struct srv_store *st, const char *id)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/jobs/%s/job.json", st->dir, id);
	cJSON *j = read_json(path);
	if (!j) {
		if (access(path, F_OK) == 0)
			fprintf(stderr,
				"tunedfs-server: skipping job %s: job.json is not valid JSON\n",
				id);
		return NULL;
	}
	struct srv_model *m = srv_model_new();
	int rc = srv_job_json_load(j, m);
	cJSON_Delete(j);
	if (rc || strcmp(m->id, id) != 0 || !srv_store_id_valid(m->id)) {
		fprintf(stderr, "tunedfs-server: skipping job %s: unreadable job.json\n", id);
		model_free(st, m);
		return NULL;
	}
	return m;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct srv_model *x = *(struct srv_model *const *)a;
	const struct srv_model *y = *(struct srv_model *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_id(const void *a, const void *b)
{
	const struct srv_model *x = *(struct srv_model *const *)a;
	const struct srv_model *y = *(struct srv_model *const *)b;
	return strcmp(x->id, y->id);
}

/* Removes what a write cut by a crash left: NAME.tmp.XXXXXX files in the job's directory. */
static void remove_temporaries(struct srv_store *st, const char *id)
{
	char dir[4200], path[4500];
	snprintf(dir, sizeof(dir), "%s/jobs/%s", st->dir, id);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp.")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
}

/* A job cut off by a crash, kill or shutdown resumes when its examples were kept; one
 * without them (cut before they were written, or by an older server) cannot: it ends
 * FAILED with the reason, so no model stays CREATING. A finished job's kept files that
 * outlived it (a crash between its last write and their removal) go. */
static void settle_interrupted(struct srv_store *st, struct srv_model *m)
{
	char path[4200];
	remove_temporaries(st, m->id);
	if (m->state == SRV_STATE_ACTIVE || m->state == SRV_STATE_FAILED) {
		drop_kept_files(st, m->id);
		return;
	}
	snprintf(path, sizeof(path), "%s/jobs/%s/%s", st->dir, m->id, SRV_KEPT_EXAMPLES);
	if (m->state == SRV_STATE_CREATING && access(path, F_OK) == 0) {
		st->resumable++;
		return;
	}
	m->state = SRV_STATE_FAILED;
	m->err_code = 10; /* ABORTED */
	free(m->err_msg);
	m->err_msg = xstrdup("training interrupted by a server restart");
	m->complete_ns = m->update_ns = srv_now_ns();
	st->interrupted++;
	srv_store_persist(st, m);
}

static int load_all(struct srv_store *st)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/jobs", st->dir);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (!srv_store_id_valid(e->d_name))
			continue;
		struct srv_model *m = load_model(st, e->d_name);
		if (!m) {
			char dir[4608];
			snprintf(dir, sizeof(dir), "%s/%s/job.json", path, e->d_name);
			if (access(dir, F_OK) != 0) { /* a create cut before its first write */
				snprintf(dir, sizeof(dir), "%s/%s", path, e->d_name);
				remove_tree(dir);
			}
			continue;
		}
		if (st->n == st->cap) {
			st->cap = st->cap ? st->cap * 2 : 256;
			st->by_seq = xrealloc(st->by_seq, st->cap * sizeof(*st->by_seq));
			st->by_id = xrealloc(st->by_id, st->cap * sizeof(*st->by_id));
		}
		st->by_seq[st->n] = st->by_id[st->n] = m;
		st->n++;
		if (m->seq >= st->next_seq)
			st->next_seq = m->seq + 1;
	}
	closedir(d);
	if (st->n) {
		qsort(st->by_seq, st->n, sizeof(*st->by_seq), cmp_seq);
		qsort(st->by_id, st->n, sizeof(*st->by_id), cmp_id);
	}
	for (size_t i = 0; i < st->n; i++) {
		struct srv_model *m = st->by_seq[i];
		/* Hand-edited or copied files may repeat a seq; paging needs them distinct. */
		if (i > 0 && m->seq <= st->by_seq[i - 1]->seq) {
			m->seq = st->next_seq++;
			memmove(&st->by_seq[i], &st->by_seq[i + 1],
				(st->n - i - 1) * sizeof(*st->by_seq));
			st->by_seq[st->n - 1] = m;
			i--;
			srv_store_persist(st, m);
			continue;
		}
		settle_interrupted(st, m);
	}
	return 0;
}

int srv_store_open(const char *dir, struct srv_store **out, char *why, size_t why_len)
{
	char path[4200];
	const char *subs[] = {"", "/jobs", "/trash"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
		if (mkdir(path, 0700) && errno != EEXIST) {
			int rc = -errno;
			snprintf(why, why_len, "cannot create %s: %s", path, strerror(errno));
			return rc;
		}
	}
	snprintf(path, sizeof(path), "%s/trash", dir);
	remove_tree(path);
	mkdir(path, 0700);
	struct srv_store *st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->dir = xstrdup(dir);
	st->next_seq = 1;
	st->max_nets = SRV_MAX_LOADED_NETS;
	int rc = load_all(st);
	if (rc) {
		snprintf(why, why_len, "cannot read %s/jobs: %s", dir, strerror(-rc));
		srv_store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

static void *warm_up(void *arg)
{
	struct srv_store *st = arg;
	size_t i = 0;
	for (;;) {
		pthread_mutex_lock(&st->lock);
		/* By position: models may come and go meanwhile; a missed one is built later. */
		for (size_t k = 0; k < 64 && i < st->n && !st->warm_stop; k++, i++) {
			st->warm(st->by_seq[i]);
		}
		int done = i >= st->n || st->warm_stop;
		pthread_mutex_unlock(&st->lock);
		if (done)
			return NULL;
	}
}

void srv_store_warm(struct srv_store *st, void (*warm)(struct srv_model *m))
{
	st->warm = warm;
	if (pthread_create(&st->warm_thread, NULL, warm_up, st) == 0)
		st->warm_started = 1;
}

void srv_store_close(struct srv_store *st)
{
	if (!st)
		return;
	if (st->warm_started) {
		pthread_mutex_lock(&st->lock);
		st->warm_stop = 1;
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->warm_thread, NULL);
	}
	for (size_t i = 0; i < st->n; i++)
		srv_model_put(st, st->by_seq[i]);
	free(st->by_seq);
	free(st->by_id);
	free(st->dir);
	pthread_mutex_destroy(&st->lock);
	free(st);
}
