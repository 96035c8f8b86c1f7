/* store.c - the model index of tunedfs-server and its files under the data directory:
 *   DIR/tunedModels/ID/model.json, DIR/tunedModels/ID/operations/OP.json,
 *   DIR/tunedModels/ID/weights.bin, DIR/trash/ (deleted models on their way out).
 * Reload at start; JSON mapping is model_json.c, weights loading weights.c. */
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
#include "server/ids.h"
#include "server/json_util.h"
#include "server/model_json.h"
#include "server/store.h"

int64_t srv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int srv_write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	const char *p = data;
	size_t done = 0;
	int rc = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		done += (size_t)w;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return fsync_dir_of(path);
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
	free(m->display_name);
	free(m->description);
	free(m->base_model);
	free(m->source_model);
	free(m->snaps);
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
	snprintf(buf, len, "%s/tunedModels/%s", st->dir, id);
}

void srv_store_weights_path(struct srv_store *st, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tunedModels/%s/weights.bin", st->dir, id);
}

int srv_store_insert(struct srv_store *st, struct srv_model *m)
{
	char dir[4096], ops[4200];
	pthread_mutex_lock(&st->lock);
	if (srv_store_lookup_locked(st, m->id)) {
		pthread_mutex_unlock(&st->lock);
		return -EEXIST;
	}
	m->seq = st->next_seq++;
	m->refs++;
	index_add_locked(st, m);
	pthread_mutex_unlock(&st->lock);
	/* A leftover directory without model.json (a crash mid-create) is reused. */
	model_dir(st, m->id, dir, sizeof(dir));
	snprintf(ops, sizeof(ops), "%s/operations", dir);
	if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(ops, 0700) && errno != EEXIST)) {
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
			fsync_dir_of(dir);
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
	int rc = 0;
	pthread_mutex_lock(&m->persist_lock);
	pthread_mutex_lock(&st->lock);
	if (m->deleted) {
		pthread_mutex_unlock(&st->lock);
		pthread_mutex_unlock(&m->persist_lock);
		return 0;
	}
	cJSON *mj = srv_json_model(m, SRV_JSON_STORED);
	cJSON *oj = srv_json_operation(m);
	m->persisted_ns = srv_now_ns();
	pthread_mutex_unlock(&st->lock);
	char *ms = srv_json_print(mj), *os = srv_json_print(oj);
	cJSON_Delete(mj);
	cJSON_Delete(oj);
	/* The operation first: model.json is what reload trusts to exist. */
	snprintf(path, sizeof(path), "%s/tunedModels/%s/operations/%s.json", st->dir, m->id,
		 m->op_id);
	rc = srv_write_atomic(path, os, strlen(os));
	if (!rc) {
		snprintf(path, sizeof(path), "%s/tunedModels/%s/model.json", st->dir, m->id);
		rc = srv_write_atomic(path, ms, strlen(ms));
	}
	free(ms);
	free(os);
	pthread_mutex_unlock(&m->persist_lock);
	if (rc)
		fprintf(stderr, "tunedfs-server: cannot write the files of tunedModels/%s: %s\n",
			m->id, strerror(-rc));
	return rc;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= (size_t)256 << 20) {
				fclose(f);
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*len = n;
	return 0;
}

static cJSON *read_json(const char *path)
{
	char *text = NULL, why[160];
	size_t len = 0;
	cJSON *root = NULL;
	if (read_file(path, &text, &len))
		return NULL;
	srv_json_parse(text, len, &root, why, sizeof(why));
	free(text);
	return root;
}

/* Loads DIR/tunedModels/ID; NULL when it holds no usable model. */
static struct srv_model *load_model(struct srv_store *st, const char *id)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/tunedModels/%s/model.json", st->dir, id);
	cJSON *mj = read_json(path);
	if (!mj) {
		if (access(path, F_OK) == 0)
			fprintf(stderr,
				"tunedfs-server: skipping tunedModels/%s: model.json is not "
				"valid JSON\n",
				id);
		return NULL;
	}
	struct srv_model *m = srv_model_new();
	const cJSON *x = srv_json_field(mj, "tunedfsServer");
	const cJSON *opid = srv_json_field(x, "operation");
	cJSON *oj = NULL;
	if (cJSON_IsString(opid) && srv_id_valid(opid->valuestring)) {
		snprintf(path, sizeof(path), "%s/tunedModels/%s/operations/%s.json", st->dir, id,
			 opid->valuestring);
		oj = read_json(path);
	}
	int rc = srv_json_model_load(mj, oj, m);
	cJSON_Delete(mj);
	cJSON_Delete(oj);
	if (rc || strcmp(m->id, id) != 0) {
		fprintf(stderr, "tunedfs-server: skipping tunedModels/%s: unreadable model.json\n",
			id);
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

/* A job cut off by a crash or kill cannot resume (its examples are not kept): it ends
 * FAILED with the reason, so no model stays CREATING. */
static void fail_interrupted(struct srv_store *st, struct srv_model *m)
{
	if (m->state == SRV_STATE_ACTIVE || m->state == SRV_STATE_FAILED)
		return;
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
	snprintf(path, sizeof(path), "%s/tunedModels", st->dir);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (!srv_id_valid(e->d_name))
			continue;
		struct srv_model *m = load_model(st, e->d_name);
		if (!m) {
			char dir[4608];
			snprintf(dir, sizeof(dir), "%s/%s/model.json", path, e->d_name);
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
		fail_interrupted(st, m);
	}
	return 0;
}

int srv_store_open(const char *dir, struct srv_store **out, char *why, size_t why_len)
{
	char path[4200];
	const char *subs[] = {"", "/tunedModels", "/trash"};
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
		snprintf(why, why_len, "cannot read %s/tunedModels: %s", dir, strerror(-rc));
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
			size_t len;
			srv_json_model_text(st->by_seq[i], &len);
		}
		int done = i >= st->n || st->warm_stop;
		pthread_mutex_unlock(&st->lock);
		if (done)
			return NULL;
	}
}

void srv_store_warm(struct srv_store *st)
{
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
