/* rcache.c - the on-disk response cache: DIR/ab/abcdef... holds one response's JSON behind
 * a header line with its key and checksum, an in-memory index (open-addressing table of
 * binary keys, LRU list threaded through the entries) tracks sizes and use order. No
 * symlink is followed below DIR. No knowledge of models, FUSE or HTTP. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "base/xalloc.h"
#include "cache/privdir.h"
#include "cache/rcache.h"

#define RC_NIL UINT32_MAX
/* "tunedfs-rcache 1 KEY SHA256\n": an entry says what it answers and what it holds, so a
 * file renamed, swapped or edited in the directory is dropped, never served */
#define RC_MAGIC   "tunedfs-rcache 1 "
#define RC_HDR_LEN (sizeof(RC_MAGIC) - 1 + 64 + 1 + 64 + 1)

struct rc_entry {
	unsigned char key[32];
	uint64_t size;
	uint32_t prev, next; /* LRU list (prev toward the most recent); next is the free list */
};

struct rcache {
	int dirfd;
	size_t max_bytes;
	pthread_mutex_t lock;
	struct rc_entry *ents;
	uint32_t n_ents, cap_ents, free_head;
	uint32_t *table; /* entry index + 1, 0 = empty; linear probing */
	uint32_t table_cap;
	uint32_t mru, lru;
	size_t entries, bytes, hits, misses, evictions;
	unsigned char made[256]; /* atomic: the "ab" directory is known to exist */
};

/* A digest that cannot be made means OpenSSL could not allocate its context. */
__attribute__((noreturn)) static void rc_digest_failed(void)
{
	fputs("tunedfs: response cache: SHA-256 failed (out of memory)\n", stderr);
	abort();
}

static int rc_unhex(const char *hex, unsigned char out[32])
{
	if (!hex || strlen(hex) != 64)
		return -EINVAL;
	for (int i = 0; i < 64; i++) {
		char c = hex[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

static void rc_hex(const unsigned char key[32], char out[RCACHE_KEY_HEX])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[64] = '\0';
}

/* "ab/abcdef..." for a key. */
static void rc_path(const unsigned char key[32], char out[68])
{
	char hex[RCACHE_KEY_HEX];

	rc_hex(key, hex);
	snprintf(out, 68, "%.2s/%s", hex, hex);
}

static uint32_t rc_slot(const struct rcache *rc, const unsigned char key[32])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h)); /* SHA-256 output is already uniform */
	return h & (rc->table_cap - 1);
}

static uint32_t rc_find(const struct rcache *rc, const unsigned char key[32])
{
	for (uint32_t s = rc_slot(rc, key);; s = (s + 1) & (rc->table_cap - 1)) {
		uint32_t v = rc->table[s];

		if (v == 0)
			return RC_NIL;
		if (memcmp(rc->ents[v - 1].key, key, 32) == 0)
			return v - 1;
	}
}

static void rc_table_put(struct rcache *rc, uint32_t idx)
{
	uint32_t s = rc_slot(rc, rc->ents[idx].key);

	while (rc->table[s])
		s = (s + 1) & (rc->table_cap - 1);
	rc->table[s] = idx + 1;
}

/* Keeps the table at most half full so probes stay short. */
static void rc_table_grow(struct rcache *rc)
{
	uint32_t old_cap = rc->table_cap, *old = rc->table;

	if ((uint64_t)(rc->entries + 1) * 2 <= old_cap)
		return;
	rc->table_cap = old_cap * 2;
	rc->table = xcalloc(rc->table_cap, sizeof(*rc->table));
	for (uint32_t s = 0; s < old_cap; s++)
		if (old[s])
			rc_table_put(rc, old[s] - 1);
	free(old);
}

/* Backward-shift deletion: no tombstones, so lookups never slow down with churn. */
static void rc_table_del(struct rcache *rc, uint32_t idx)
{
	uint32_t mask = rc->table_cap - 1, s = rc_slot(rc, rc->ents[idx].key);

	while (rc->table[s] != idx + 1)
		s = (s + 1) & mask;
	for (uint32_t j = (s + 1) & mask; rc->table[j]; j = (j + 1) & mask) {
		uint32_t home = rc_slot(rc, rc->ents[rc->table[j] - 1].key);

		/* j's entry may fill the hole at s unless its home lies in (s, j]. */
		if (((j - home) & mask) >= ((j - s) & mask)) {
			rc->table[s] = rc->table[j];
			s = j;
		}
	}
	rc->table[s] = 0;
}

static void rc_lru_unlink(struct rcache *rc, uint32_t i)
{
	struct rc_entry *e = &rc->ents[i];

	if (e->prev != RC_NIL)
		rc->ents[e->prev].next = e->next;
	else
		rc->mru = e->next;
	if (e->next != RC_NIL)
		rc->ents[e->next].prev = e->prev;
	else
		rc->lru = e->prev;
}

static void rc_lru_front(struct rcache *rc, uint32_t i)
{
	struct rc_entry *e = &rc->ents[i];

	e->prev = RC_NIL;
	e->next = rc->mru;
	if (rc->mru != RC_NIL)
		rc->ents[rc->mru].prev = i;
	rc->mru = i;
	if (rc->lru == RC_NIL)
		rc->lru = i;
}

static uint32_t rc_insert(struct rcache *rc, const unsigned char key[32], uint64_t size)
{
	uint32_t i;

	rc_table_grow(rc);
	if (rc->free_head != RC_NIL) {
		i = rc->free_head;
		rc->free_head = rc->ents[i].next;
	} else {
		if (rc->n_ents == rc->cap_ents) {
			struct rc_entry *n;

			rc->cap_ents = rc->cap_ents ? rc->cap_ents * 2 : 256;
			n = xrealloc(rc->ents, (size_t)rc->cap_ents * sizeof(*n));
			rc->ents = n;
		}
		i = rc->n_ents++;
	}
	memcpy(rc->ents[i].key, key, 32);
	rc->ents[i].size = size;
	rc_table_put(rc, i);
	rc_lru_front(rc, i);
	rc->entries++;
	rc->bytes += size;
	return i;
}

static void rc_remove(struct rcache *rc, uint32_t i)
{
	rc_table_del(rc, i);
	rc_lru_unlink(rc, i);
	rc->entries--;
	rc->bytes -= rc->ents[i].size;
	rc->ents[i].next = rc->free_head;
	rc->free_head = i;
}

/* Pops least recently used entries past the budget into keys (heap); never `keep`. */
static size_t rc_evict_locked(struct rcache *rc, uint32_t keep, unsigned char (**keys)[32])
{
	size_t n = 0, cap = 0;

	*keys = NULL;
	while (rc->bytes > rc->max_bytes && rc->lru != RC_NIL) {
		uint32_t i = rc->lru;

		if (i == keep) {
			if (rc->ents[i].prev == RC_NIL)
				break;
			i = rc->ents[i].prev;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			*keys = xrealloc(*keys, cap * 32);
		}
		memcpy((*keys)[n++], rc->ents[i].key, 32);
		rc_remove(rc, i);
		rc->evictions++;
	}
	return n;
}

/* Makes the "ab" directory sub (0700) unless it is known to exist: 0 or -errno. */
static int rc_make_sub(struct rcache *rc, unsigned char ab, const char *sub)
{
	if (__atomic_load_n(&rc->made[ab], __ATOMIC_RELAXED))
		return 0;
	if (mkdirat(rc->dirfd, sub, 0700) == 0)
		fchmodat(rc->dirfd, sub, 0700, 0);
	else if (errno != EEXIST)
		return -errno;
	__atomic_store_n(&rc->made[ab], 1, __ATOMIC_RELAXED);
	return 0;
}

/* The "ab" directory of a key, opened without following a symlink; made when create (and
 * made again when it went behind our back). */
static int rc_open_sub(struct rcache *rc, const unsigned char k[32], int create)
{
	char path[68];
	int fd, err;

	rc_path(k, path);
	path[2] = '\0';
	for (int tries = 0; tries < 2; tries++) {
		if (create && (err = rc_make_sub(rc, k[0], path)) < 0)
			return err;
		fd = openat(rc->dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || !create)
			break;
		__atomic_store_n(&rc->made[k[0]], 0, __ATOMIC_RELAXED);
	}
	return fd < 0 ? -errno : fd;
}

void rcache_prepare(struct rcache *rc)
{
	for (int i = 0; i < 256; i++) {
		char sub[3];

		snprintf(sub, sizeof(sub), "%02x", i);
		rc_make_sub(rc, (unsigned char)i, sub);
	}
}

static void rc_unlink_key(struct rcache *rc, const unsigned char k[32])
{
	char hex[RCACHE_KEY_HEX];
	int sub = rc_open_sub(rc, k, 0);

	if (sub < 0)
		return;
	rc_hex(k, hex);
	unlinkat(sub, hex, 0);
	close(sub);
}

static void rc_unlink_keys(struct rcache *rc, unsigned char (*keys)[32], size_t n)
{
	for (size_t i = 0; i < n; i++)
		rc_unlink_key(rc, keys[i]);
	free(keys);
}

static void rc_sha256_hex(const char *data, size_t len, char out[RCACHE_KEY_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
		rc_digest_failed();
	rc_hex(md, out);
}

/* The header line of an entry holding json under k. */
static void rc_header(const unsigned char k[32], const char *json, size_t len,
		      char out[RC_HDR_LEN + 1])
{
	char hex[RCACHE_KEY_HEX], sum[RCACHE_KEY_HEX];

	rc_hex(k, hex);
	rc_sha256_hex(json, len, sum);
	snprintf(out, RC_HDR_LEN + 1, "%s%s %s\n", RC_MAGIC, hex, sum);
}

/* 0 when buf (a whole entry) is k's and its body matches its checksum. */
static int rc_check_entry(const unsigned char k[32], const char *buf, size_t n)
{
	char want[RC_HDR_LEN + 1];

	if (n < RC_HDR_LEN)
		return -EBADMSG;
	rc_header(k, buf + RC_HDR_LEN, n - RC_HDR_LEN, want);
	return memcmp(buf, want, RC_HDR_LEN) == 0 ? 0 : -EBADMSG;
}

struct rc_found {
	unsigned char key[32];
	uint64_t size;
	struct timespec used;
};

static int rc_found_cmp(const void *a, const void *b)
{
	const struct rc_found *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return memcmp(x->key, y->key, 32);
}

/* Collects the entries of one "ab" directory; temporaries of interrupted writes go. */
static void rc_scan_sub(struct rcache *rc, const char *sub, struct rc_found **v, size_t *n,
			size_t *cap)
{
	int fd = openat(rc->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rc->made[strtoul(sub, NULL, 16) & 0xff] = 1; /* before any thread can put */
	while ((de = readdir(d))) {
		struct stat st;
		unsigned char key[32];

		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp.")) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (rc_unhex(de->d_name, key) < 0 || strncmp(de->d_name, sub, 2) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		memcpy((*v)[*n].key, key, 32);
		(*v)[*n].size = (uint64_t)st.st_size > RC_HDR_LEN
				    ? (uint64_t)st.st_size - RC_HDR_LEN
				    : (uint64_t)st.st_size;
		(*v)[*n].used = st.st_mtim;
		(*n)++;
	}
	closedir(d);
}

/* Builds the index from the files, oldest use last in the LRU order (mtime is touched
 * on every hit, so the order survives a restart). */
static void rc_scan(struct rcache *rc)
{
	struct rc_found *v = NULL;
	size_t n = 0, cap = 0;
	unsigned char(*gone)[32];
	size_t n_gone;

	for (int i = 0; i < 256; i++) {
		char sub[3];

		snprintf(sub, sizeof(sub), "%02x", i);
		rc_scan_sub(rc, sub, &v, &n, &cap);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), rc_found_cmp);
	for (size_t i = 0; i < n; i++)
		rc_insert(rc, v[i].key, v[i].size);
	free(v);
	n_gone = rc_evict_locked(rc, RC_NIL, &gone);
	rc_unlink_keys(rc, gone, n_gone);
}

int rcache_open(const char *dir, size_t max_bytes, struct rcache **out)
{
	struct rcache *rc;
	int fd;

	*out = NULL;
	if (!dir || !*dir)
		return -EINVAL;
	if ((fd = privdir_open(dir)) < 0)
		return fd;
	rc = xcalloc(1, sizeof(*rc));
	rc->dirfd = fd;
	rc->max_bytes = max_bytes;
	pthread_mutex_init(&rc->lock, NULL);
	rc->table_cap = 1024;
	rc->table = xcalloc(rc->table_cap, sizeof(*rc->table));
	rc->free_head = rc->mru = rc->lru = RC_NIL;
	rc_scan(rc);
	*out = rc;
	return 0;
}

void rcache_close(struct rcache *rc)
{
	if (!rc)
		return;
	close(rc->dirfd);
	pthread_mutex_destroy(&rc->lock);
	free(rc->ents);
	free(rc->table);
	free(rc);
}

/* Each field goes in as an 8-byte length then its bytes (NULL as an all-ones length), so
 * no shift of bytes between fields can produce the same input to the hash. */
static void rc_hash_field(EVP_MD_CTX *ctx, const char *s)
{
	uint64_t n = s ? strlen(s) : UINT64_MAX;
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (56 - 8 * i));
	EVP_DigestUpdate(ctx, len, sizeof(len));
	if (s)
		EVP_DigestUpdate(ctx, s, strlen(s));
}

void rcache_key(const char *model, const char *update_time, const char *generation,
		const char *prompt, char out[RCACHE_KEY_HEX])
{
	static const char domain[] = "tunedfs response cache v1";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		rc_digest_failed();
	EVP_DigestUpdate(ctx, domain, sizeof(domain));
	rc_hash_field(ctx, model);
	rc_hash_field(ctx, update_time);
	rc_hash_field(ctx, generation);
	rc_hash_field(ctx, prompt);
	if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32)
		rc_digest_failed();
	EVP_MD_CTX_free(ctx);
	rc_hex(md, out);
}

/* Reads k's entry file, checks its header and returns its body; on success touches the
 * file's mtime to record the use. -EBADMSG for an entry not k's or not intact. */
static int rc_read_file(struct rcache *rc, const unsigned char k[32], char **data, size_t *len)
{
	char hex[RCACHE_KEY_HEX];
	int sub = rc_open_sub(rc, k, 0), fd, err = 0;
	struct stat st;
	size_t n = 0;
	char *buf;

	if (sub < 0)
		return sub == -ENOTDIR || sub == -ELOOP ? -EBADMSG : sub;
	rc_hex(k, hex);
	fd = openat(sub, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(sub);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 30)) {
		close(fd);
		return -EIO;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		n += (size_t)r;
	}
	if (err == 0)
		err = rc_check_entry(k, buf, n);
	if (err == 0)
		futimens(fd, NULL);
	close(fd);
	if (err < 0) {
		free(buf);
		return err;
	}
	memmove(buf, buf + RC_HDR_LEN, n - RC_HDR_LEN);
	n -= RC_HDR_LEN;
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

static int rc_valid_json(const char *s, size_t n)
{
	cJSON *j = n ? cJSON_ParseWithLength(s, n) : NULL;
	int ok = cJSON_IsObject(j);

	cJSON_Delete(j);
	return ok;
}

int rcache_get(struct rcache *rc, const char *key, char **json, size_t *len)
{
	unsigned char k[32];
	char *data = NULL;
	size_t n = 0;
	uint32_t i;
	int err;

	*json = NULL;
	*len = 0;
	if (rc_unhex(key, k) < 0)
		return -EINVAL;
	pthread_mutex_lock(&rc->lock);
	i = rc_find(rc, k);
	if (i == RC_NIL) {
		rc->misses++;
		pthread_mutex_unlock(&rc->lock);
		return -ENOENT;
	}
	rc_lru_unlink(rc, i);
	rc_lru_front(rc, i);
	pthread_mutex_unlock(&rc->lock);

	err = rc_read_file(rc, k, &data, &n);
	if (err == 0 && !rc_valid_json(data, n))
		err = -EBADMSG;
	pthread_mutex_lock(&rc->lock);
	i = rc_find(rc, k);
	if (err < 0) {
		/* Corrupt or vanished: forget it so the answer is fetched again. */
		if (i != RC_NIL)
			rc_remove(rc, i);
		rc->misses++;
	} else {
		if (i != RC_NIL) {
			rc->bytes = rc->bytes - rc->ents[i].size + n;
			rc->ents[i].size = n;
		}
		rc->hits++;
	}
	pthread_mutex_unlock(&rc->lock);
	if (err < 0) {
		free(data);
		if (err != -ENOENT)
			rc_unlink_key(rc, k);
		return -ENOENT;
	}
	*json = data;
	*len = n;
	return 0;
}

/* Writes "ab/.KEY.tmp.XXXXXX" (header, then json) and renames it over "ab/KEY", all from
 * the fd of "ab" opened without following a symlink. No fsync: a torn entry after a crash
 * fails its checksum, which rcache_get treats as a miss. */
static int rc_write_file(struct rcache *rc, const unsigned char k[32], const char *json, size_t len)
{
	char hex[RCACHE_KEY_HEX], tmp[100], hdr[RC_HDR_LEN + 1];
	int sub = rc_open_sub(rc, k, 1), fd, err;

	if (sub < 0)
		return sub;
	rc_hex(k, hex);
	fd = privdir_open_temp(sub, ".", hex, tmp, sizeof(tmp));
	if (fd < 0) {
		close(sub);
		return fd;
	}
	rc_header(k, json, len, hdr);
	err = privdir_write_all(fd, hdr, RC_HDR_LEN);
	if (err == 0)
		err = privdir_write_all(fd, json, len);
	if (err == 0 && fchmod(fd, 0600) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0 && renameat(sub, tmp, sub, hex) < 0)
		err = -errno;
	if (err < 0)
		unlinkat(sub, tmp, 0);
	close(sub);
	return err;
}

int rcache_put(struct rcache *rc, const char *key, const char *json, size_t len)
{
	unsigned char k[32], (*gone)[32];
	size_t n_gone;
	uint32_t i;
	int err;

	if (rc_unhex(key, k) < 0 || !json)
		return -EINVAL;
	if (len > rc->max_bytes)
		return -EFBIG;
	if ((err = rc_write_file(rc, k, json, len)) < 0)
		return err;
	pthread_mutex_lock(&rc->lock);
	i = rc_find(rc, k);
	if (i != RC_NIL) {
		rc->bytes = rc->bytes - rc->ents[i].size + len;
		rc->ents[i].size = len;
		rc_lru_unlink(rc, i);
		rc_lru_front(rc, i);
	} else {
		i = rc_insert(rc, k, len);
	}
	n_gone = rc_evict_locked(rc, i, &gone);
	pthread_mutex_unlock(&rc->lock);
	rc_unlink_keys(rc, gone, n_gone);
	return 0;
}

void rcache_stats(struct rcache *rc, struct rcache_stats *out)
{
	pthread_mutex_lock(&rc->lock);
	out->entries = rc->entries;
	out->bytes = rc->bytes;
	out->hits = rc->hits;
	out->misses = rc->misses;
	out->evictions = rc->evictions;
	pthread_mutex_unlock(&rc->lock);
}
