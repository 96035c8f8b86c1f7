/* test_store.c - tunedfs-server's store (server/store.c): atomic writes, insert, persist,
 * removal, and reload after a restart, including jobs cut off while CREATING. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "server/checkpoint.h"
#include "server/store.h"

static char root[256];

static int count_entries(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, needle))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_atomic(void)
{
	char path[512], buf[64];
	snprintf(path, sizeof(path), "%s/file.json", root);
	CHECK(srv_write_atomic(path, "first", 5) == 0);
	CHECK(srv_write_atomic(path, "second!", 7) == 0);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	CHECK(n == 7 && !memcmp(buf, "second!", 7));
	CHECK(count_entries(root, ".tmp.") == 0); /* no temporary left behind */
	snprintf(path, sizeof(path), "%s/no/such/dir/file", root);
	CHECK(srv_write_atomic(path, "x", 1) == -ENOENT);
}

static struct srv_model *make(const char *id, enum srv_state state)
{
	struct srv_model *m = srv_model_new();
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->op_id, sizeof(m->op_id), "op%s", id);
	m->base_model = strdup("models/tunedfs-local-1");
	m->display_name = strdup(id);
	m->state = state;
	m->create_ns = m->update_ns = srv_now_ns();
	m->epoch_count = 1;
	m->batch_size = 4;
	m->learning_rate = 0.001;
	m->n_examples = 3;
	m->total_steps = 1;
	return m;
}

static void test_reload(void)
{
	char why[256], dir[300];
	struct srv_store *st = NULL;
	snprintf(dir, sizeof(dir), "%s/data", root);
	CHECK(srv_store_open(dir, &st, why, sizeof(why)) == 0);
	if (!st)
		return;
	const char *ids[] = {"zeta", "alpha", "mid", "gone"};
	enum srv_state states[] = {SRV_STATE_ACTIVE, SRV_STATE_CREATING, SRV_STATE_FAILED,
				   SRV_STATE_ACTIVE};
	for (int i = 0; i < 4; i++) {
		struct srv_model *m = make(ids[i], states[i]);
		CHECK(srv_store_insert(st, m) == 0);
		CHECK(srv_store_persist(st, m) == 0);
		srv_model_put(st, m);
	}
	struct srv_model *dup = make("alpha", SRV_STATE_ACTIVE);
	CHECK(srv_store_insert(st, dup) == -EEXIST);
	srv_model_put(st, dup);
	CHECK(srv_store_remove(st, "gone") == 0);
	CHECK(srv_store_remove(st, "gone") == -ENOENT);
	CHECK(srv_store_find(st, "gone") == NULL);
	struct srv_model *z = srv_store_find(st, "zeta");
	CHECK(z != NULL);
	if (z) {
		pthread_mutex_lock(&st->lock);
		struct srv_snapshot s = {1, 1, 0.5, srv_now_ns()};
		srv_model_add_snapshot(z, &s);
		z->completed_steps = 1;
		pthread_mutex_unlock(&st->lock);
		CHECK(srv_store_persist(st, z) == 0);
		srv_model_put(st, z);
	}
	srv_store_close(st);

	/* The restart: every model back, in creation order, none CREATING. */
	st = NULL;
	CHECK(srv_store_open(dir, &st, why, sizeof(why)) == 0);
	if (!st)
		return;
	CHECK(st->n == 3);
	CHECK(st->interrupted == 1);
	const char *order[] = {"zeta", "alpha", "mid"};
	for (size_t i = 0; i < st->n && i < 3; i++)
		CHECK(!strcmp(st->by_seq[i]->id, order[i]));
	CHECK(!strcmp(st->by_id[0]->id, "alpha") && !strcmp(st->by_id[2]->id, "zeta"));
	struct srv_model *a = srv_store_find(st, "alpha");
	CHECK(a && a->state == SRV_STATE_FAILED && a->err_code == 10);
	CHECK(a && a->err_msg && strstr(a->err_msg, "interrupted by a server restart"));
	srv_model_put(st, a);
	z = srv_store_find(st, "zeta");
	CHECK(z && z->n_snaps == 1 && z->completed_steps == 1 && z->state == SRV_STATE_ACTIVE);
	srv_model_put(st, z);
	/* New models continue the sequence after the reloaded ones. */
	struct srv_model *n = make("newer", SRV_STATE_ACTIVE);
	CHECK(srv_store_insert(st, n) == 0);
	CHECK(st->by_seq[st->n - 1] == n);
	srv_model_put(st, n);
	srv_store_close(st);

	/* A corrupt job.json is skipped with a message, the rest still loads. */
	char path[600];
	snprintf(path, sizeof(path), "%s/jobs/mid/job.json", dir);
	CHECK(srv_write_atomic(path, "{\"name\": 5", 10) == 0);
	st = NULL;
	CHECK(srv_store_open(dir, &st, why, sizeof(why)) == 0);
	if (st) {
		CHECK(st->n == 2 && srv_store_lookup_locked(st, "mid") == NULL);
		CHECK(st->interrupted == 0);
		srv_store_close(st);
	}
}

/* Two files claiming one seq (a copied directory): both load, with distinct seqs. */
static void test_duplicate_seq(void)
{
	char why[256], dir[300], from[400], to[1600];
	struct srv_store *st = NULL;
	snprintf(dir, sizeof(dir), "%s/dup", root);
	CHECK(srv_store_open(dir, &st, why, sizeof(why)) == 0);
	if (!st)
		return;
	struct srv_model *m = make("orig", SRV_STATE_ACTIVE);
	CHECK(srv_store_insert(st, m) == 0);
	CHECK(srv_store_persist(st, m) == 0);
	srv_model_put(st, m);
	srv_store_close(st);
	snprintf(from, sizeof(from), "%s/jobs/orig", dir);
	snprintf(to, sizeof(to),
		 "cp -r '%s' '%s/jobs/copy' && sed -i "
		 "'s|\"id\":\"orig\"|\"id\":\"copy\"|g' '%s/jobs/copy/job.json'",
		 from, dir, dir);
	CHECK(system(to) == 0);
	st = NULL;
	CHECK(srv_store_open(dir, &st, why, sizeof(why)) == 0);
	if (!st)
		return;
	CHECK(st->n == 2);
	if (st->n == 2)
		CHECK(st->by_seq[0]->seq < st->by_seq[1]->seq);
	srv_store_close(st);
	st = NULL;
	CHECK(srv_store_open(dir, &st, why, sizeof(why)) == 0);
	if (st) {
		CHECK(st->n == 2);
		srv_store_close(st);
	}
}

static void rm_rf(const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CHECK(system(cmd) == 0);
}

/* The kept examples and checkpoint formats: both ways, and every cut or flipped byte
 * refused rather than read. */
static void test_kept_formats(void)
{
	struct srv_example ex[2] = {{"1", 1, "2", 1}, {"abc", 3, "", 0}};
	size_t len, n = 0;
	unsigned char *buf = srv_examples_encode(ex, 2, &len);
	struct srv_example *back = NULL;
	char why[160];
	CHECK(srv_examples_decode(buf, len, &back, &n, why, sizeof(why)) == 0);
	CHECK(n == 2 && back && back[1].input_len == 3 && !memcmp(back[1].input, "abc", 3) &&
	      back[1].output_len == 0 && back[0].output[0] == '2');
	srv_examples_free(back, n);
	for (size_t cut = 0; cut < len; cut++)
		CHECK(srv_examples_decode(buf, cut, &back, &n, why, sizeof(why)) == -EINVAL);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x10;
		CHECK(srv_examples_decode(buf, len, &back, &n, why, sizeof(why)) == -EINVAL);
		buf[i] ^= 0x10;
	}
	free(buf);

	struct srv_snapshot snaps[2] = {{1, 1, 0.5, 100}, {2, 1, 0.25, 200}};
	const unsigned char state[5] = "state";
	buf = srv_ckpt_encode(state, 5, snaps, 2, &len);
	const unsigned char *train = NULL;
	size_t train_len = 0, n_snaps = 0;
	struct srv_snapshot *s = NULL;
	CHECK(srv_ckpt_decode(buf, len, &train, &train_len, &s, &n_snaps, why, sizeof(why)) == 0);
	CHECK(train_len == 5 && train && !memcmp(train, "state", 5) && n_snaps == 2 && s &&
	      s[1].step == 2 && s[1].mean_loss == 0.25 && s[1].compute_ns == 200);
	free(s);
	for (size_t cut = 0; cut < len; cut++)
		CHECK(srv_ckpt_decode(buf, cut, &train, &train_len, &s, &n_snaps, why,
				      sizeof(why)) == -EINVAL);
	buf[len / 2] ^= 1;
	CHECK(srv_ckpt_decode(buf, len, &train, &train_len, &s, &n_snaps, why, sizeof(why)) ==
	      -EINVAL);
	CHECK(strstr(why, "checksum") != NULL);
	free(buf);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_server_store.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	test_atomic();
	test_reload();
	test_duplicate_seq();
	test_kept_formats();
	rm_rf(root);
	return check_exit(__FILE__);
}
