/* objects.c - tunedfs-server's stored objects (see objects.h): DIR/objects/BUCKET/H.data
 * and H.json, H the SHA-256 of the object's name (names may be long or hold any byte);
 * resumable uploads in DIR/objects/.uploads/ID.data and ID.json. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "base/xalloc.h"
#include "server/files.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/objects.h"
#include "server/store.h"

int srv_object_bucket_valid(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return 0;
	return strchr("._-", b[0]) == NULL && strchr("._-", b[n - 1]) == NULL;
}

int srv_object_name_valid(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= SRV_OBJECT_NAME_MAX && strcmp(name, ".") && strcmp(name, "..");
}

/* DIR/objects/BUCKET/HASH with ext, the directory made when mk is set. */
static int object_path(const char *dir, const char *bucket, const char *name, const char *ext,
		       int mk, char *buf, size_t len)
{
	unsigned char h[32];
	unsigned hl = 0;
	char hex[65];
	if (!srv_object_bucket_valid(bucket) || !srv_object_name_valid(name))
		return -EINVAL;
	if (!EVP_Digest(name, strlen(name), h, &hl, EVP_sha256(), NULL))
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(buf, len, "%s/objects", dir);
	if (mk && mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	snprintf(buf, len, "%s/objects/%s", dir, bucket);
	if (mk && mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	snprintf(buf, len, "%s/objects/%s/%s%s", dir, bucket, hex, ext);
	return 0;
}

static cJSON *meta_json(const struct srv_object *o)
{
	char md5[33];
	cJSON *j = cJSON_CreateObject();
	for (int i = 0; i < 16; i++)
		snprintf(md5 + 2 * i, 3, "%02x", o->md5[i]);
	cJSON_AddStringToObject(j, "bucket", o->bucket);
	cJSON_AddStringToObject(j, "name", o->name);
	cJSON_AddStringToObject(j, "contentType", o->content_type);
	cJSON_AddNumberToObject(j, "size", (double)o->size);
	cJSON_AddNumberToObject(j, "generation", (double)o->generation);
	cJSON_AddNumberToObject(j, "created", (double)o->created_ns);
	cJSON_AddNumberToObject(j, "updated", (double)o->updated_ns);
	cJSON_AddStringToObject(j, "md5", md5);
	cJSON_AddStringToObject(j, "note", o->note);
	return j;
}

static int write_json(const char *path, cJSON *j)
{
	char *text = srv_json_print(j);
	cJSON_Delete(j);
	int rc = srv_write_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

static cJSON *read_json(const char *path)
{
	char *text;
	size_t len;
	if (srv_read_file(path, 1 << 20, &text, &len))
		return NULL;
	cJSON *j = cJSON_ParseWithLength(text, len);
	free(text);
	return j;
}

static const char *str_of(const cJSON *j, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsString(it) ? it->valuestring : "";
}

int srv_object_put(const char *data_dir, const char *bucket, const char *name,
		   const char *content_type, const void *data, size_t len, struct srv_object *out)
{
	return srv_object_put_note(data_dir, bucket, name, content_type, NULL, data, len, out);
}

int srv_object_put_note(const char *data_dir, const char *bucket, const char *name,
			const char *content_type, const char *note, const void *data, size_t len,
			struct srv_object *out)
{
	char path[4400], meta[4400];
	struct srv_object o = {0}, old;
	int rc = object_path(data_dir, bucket, name, ".data", 1, path, sizeof(path));
	if (rc)
		return rc;
	object_path(data_dir, bucket, name, ".json", 0, meta, sizeof(meta));
	int64_t now = srv_now_ns();
	snprintf(o.bucket, sizeof(o.bucket), "%s", bucket);
	snprintf(o.name, sizeof(o.name), "%s", name);
	snprintf(o.content_type, sizeof(o.content_type), "%s",
		 content_type && *content_type ? content_type : "application/octet-stream");
	o.size = len;
	snprintf(o.note, sizeof(o.note), "%s", note ? note : "");
	o.generation = now / 1000;
	o.created_ns = srv_object_stat(data_dir, bucket, name, &old) == 0 ? old.created_ns : now;
	o.updated_ns = now;
	unsigned ml = 0;
	EVP_Digest(data, len, o.md5, &ml, EVP_md5(), NULL);
	/* The bytes first: a description never names bytes that are not there. */
	rc = srv_write_atomic(path, data, len);
	if (!rc)
		rc = write_json(meta, meta_json(&o));
	if (!rc && out)
		*out = o;
	return rc;
}

static void meta_read(const cJSON *j, const char *bucket, struct srv_object *out);

int srv_object_stat(const char *data_dir, const char *bucket, const char *name,
		    struct srv_object *out)
{
	char meta[4400];
	int rc = object_path(data_dir, bucket, name, ".json", 0, meta, sizeof(meta));
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;
	cJSON *j = read_json(meta);
	if (!j || strcmp(str_of(j, "name"), name)) {
		cJSON_Delete(j);
		return -ENOENT;
	}
	meta_read(j, bucket, out);
	cJSON_Delete(j);
	return 0;
}

static void meta_read(const cJSON *j, const char *bucket, struct srv_object *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->bucket, sizeof(out->bucket), "%s", bucket);
	snprintf(out->name, sizeof(out->name), "%s", str_of(j, "name"));
	snprintf(out->note, sizeof(out->note), "%s", str_of(j, "note"));
	snprintf(out->content_type, sizeof(out->content_type), "%s", str_of(j, "contentType"));
	out->size = (size_t)srv_json_count(j, "size");
	out->generation = (int64_t)srv_json_count(j, "generation");
	out->created_ns = (int64_t)srv_json_count(j, "created");
	out->updated_ns = (int64_t)srv_json_count(j, "updated");
	const char *md5 = str_of(j, "md5");
	for (int i = 0; i < 16 && strlen(md5) == 32; i++) {
		unsigned v;
		sscanf(md5 + 2 * i, "%2x", &v);
		out->md5[i] = (unsigned char)v;
	}
}

int srv_object_set_note(const char *data_dir, const char *bucket, const char *name,
			const char *note)
{
	char meta[4400];
	struct srv_object o;
	int rc = srv_object_stat(data_dir, bucket, name, &o);
	if (rc)
		return rc;
	object_path(data_dir, bucket, name, ".json", 0, meta, sizeof(meta));
	snprintf(o.note, sizeof(o.note), "%s", note ? note : "");
	return write_json(meta, meta_json(&o));
}

int srv_object_read(const char *data_dir, const char *bucket, const char *name, size_t max,
		    char **data, size_t *len)
{
	char path[4400];
	struct srv_object o;
	int rc = srv_object_stat(data_dir, bucket, name, &o);
	if (rc)
		return rc;
	object_path(data_dir, bucket, name, ".data", 0, path, sizeof(path));
	return srv_read_file(path, max, data, len);
}

int srv_object_delete(const char *data_dir, const char *bucket, const char *name)
{
	char path[4400];
	struct srv_object o;
	int rc = srv_object_stat(data_dir, bucket, name, &o);
	if (rc)
		return rc;
	object_path(data_dir, bucket, name, ".json", 0, path, sizeof(path));
	if (unlink(path))
		return -errno;
	object_path(data_dir, bucket, name, ".data", 0, path, sizeof(path));
	unlink(path);
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	const struct srv_object *x = a, *y = b;
	return x->created_ns > y->created_ns ? -1 : x->created_ns < y->created_ns;
}

int srv_object_list(const char *data_dir, const char *bucket, struct srv_object **out, size_t *n)
{
	char path[4400];
	*out = NULL;
	*n = 0;
	if (!srv_object_bucket_valid(bucket))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/objects/%s", data_dir, bucket);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l != 69 || strcmp(e->d_name + 64, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/objects/%s/%s", data_dir, bucket, e->d_name);
		cJSON *j = read_json(path);
		if (!j)
			continue;
		if (*n == cap)
			*out = xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof(**out));
		meta_read(j, bucket, &(*out)[(*n)++]);
		cJSON_Delete(j);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), newest_first);
	return 0;
}

static int upload_path(const char *dir, const char *id, const char *ext, char *buf, size_t len)
{
	size_t n = strlen(id);
	if (n == 0 || n > 40 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return -ENOENT;
	snprintf(buf, len, "%s/objects/.uploads/%s%s", dir, id, ext);
	return 0;
}

int srv_upload_start(const char *data_dir, const char *bucket, const char *name,
		     const char *content_type, char *id, size_t id_len)
{
	char path[4400];
	if (!srv_object_bucket_valid(bucket) || !srv_object_name_valid(name) || id_len < 25)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/objects", data_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/objects/.uploads", data_dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	srv_id_random(id, 24);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "bucket", bucket);
	cJSON_AddStringToObject(j, "name", name);
	cJSON_AddStringToObject(j, "contentType", content_type ? content_type : "");
	upload_path(data_dir, id, ".data", path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		cJSON_Delete(j);
		return -errno;
	}
	close(fd);
	upload_path(data_dir, id, ".json", path, sizeof(path));
	return write_json(path, j);
}

int srv_upload_append(const char *data_dir, const char *id, size_t offset, const void *data,
		      size_t len, size_t *have)
{
	char path[4400];
	struct stat st;
	if (upload_path(data_dir, id, ".data", path, sizeof(path)) || stat(path, &st))
		return -ENOENT;
	*have = (size_t)st.st_size;
	if (offset != *have)
		return -ERANGE;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	const char *p = data;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		done += (size_t)w;
	}
	close(fd);
	*have += len;
	return 0;
}

int srv_upload_finish(const char *data_dir, const char *id, struct srv_object *out)
{
	char path[4400], *data = NULL;
	size_t len = 0;
	if (upload_path(data_dir, id, ".json", path, sizeof(path)))
		return -ENOENT;
	cJSON *j = read_json(path);
	if (!j)
		return -ENOENT;
	upload_path(data_dir, id, ".data", path, sizeof(path));
	int rc = srv_read_file(path, (size_t)1 << 34, &data, &len);
	if (!rc)
		rc = srv_object_put(data_dir, str_of(j, "bucket"), str_of(j, "name"),
				    str_of(j, "contentType"), data, len, out);
	free(data);
	cJSON_Delete(j);
	if (!rc)
		srv_upload_cancel(data_dir, id);
	return rc;
}

int srv_upload_stat_name(const char *data_dir, const char *id, char *name, size_t len)
{
	char path[4400];
	if (upload_path(data_dir, id, ".json", path, sizeof(path)))
		return -ENOENT;
	cJSON *j = read_json(path);
	if (!j)
		return -ENOENT;
	snprintf(name, len, "%s", str_of(j, "name"));
	cJSON_Delete(j);
	return 0;
}

int srv_upload_cancel(const char *data_dir, const char *id)
{
	char path[4400];
	if (upload_path(data_dir, id, ".json", path, sizeof(path)))
		return -ENOENT;
	int rc = unlink(path) ? -errno : 0;
	upload_path(data_dir, id, ".data", path, sizeof(path));
	unlink(path);
	return rc;
}
