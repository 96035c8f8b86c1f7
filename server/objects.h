/* objects.h - the stored objects of tunedfs-server (training files uploaded through the
 * Cloud Storage or Files routes): named byte blobs in buckets under DIR/objects/, each
 * with its content type, size, MD5 and times, written atomically. Also the pending
 * uploads of resumable sessions. No HTTP, no wire JSON. */
#ifndef TUNEDFS_SERVER_OBJECTS_H
#define TUNEDFS_SERVER_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#define SRV_OBJECT_NAME_MAX 1024

struct srv_object {
	char bucket[64];
	char name[SRV_OBJECT_NAME_MAX + 1];
	char content_type[128];
	size_t size;
	int64_t generation; /* microseconds since the epoch of its write */
	int64_t created_ns, updated_ns;
	unsigned char md5[16];
	char note[512]; /* what the family that stored it keeps with it (free text) */
};

/* 1 when bucket is a usable bucket name: 3 to 63 of [a-z0-9._-], starting and ending
 * with a letter or digit. */
int srv_object_bucket_valid(const char *bucket);
/* 1 when name is a usable object name: 1 to 1024 bytes, no NUL, not "." or "..". */
int srv_object_name_valid(const char *name);

/* Stores data as bucket/name (replacing it) with its note (may be NULL); fills *out. */
int srv_object_put_note(const char *data_dir, const char *bucket, const char *name,
			const char *content_type, const char *note, const void *data, size_t len,
			struct srv_object *out);
/* The same without a note. -errno. */
int srv_object_put(const char *data_dir, const char *bucket, const char *name,
		   const char *content_type, const void *data, size_t len, struct srv_object *out);
/* Replaces the note of bucket/name (its bytes stay). -ENOENT when absent. */
int srv_object_set_note(const char *data_dir, const char *bucket, const char *name,
			const char *note);
/* Every object of bucket (heap array, *n of them), newest first. */
int srv_object_list(const char *data_dir, const char *bucket, struct srv_object **out, size_t *n);
/* The object's description; -ENOENT when absent. */
int srv_object_stat(const char *data_dir, const char *bucket, const char *name,
		    struct srv_object *out);
/* Its bytes (heap, NUL-terminated); max caps the size (-EFBIG). */
int srv_object_read(const char *data_dir, const char *bucket, const char *name, size_t max,
		    char **data, size_t *len);
/* -ENOENT when absent. */
int srv_object_delete(const char *data_dir, const char *bucket, const char *name);

/* Resumable uploads: a session id (24 characters) naming the bytes received so far. */
int srv_upload_start(const char *data_dir, const char *bucket, const char *name,
		     const char *content_type, char *id, size_t id_len);
/* Appends data at offset (which must be the bytes received so far: -ERANGE otherwise);
 * *have gets the bytes received after it. -ENOENT for an unknown session. */
int srv_upload_append(const char *data_dir, const char *id, size_t offset, const void *data,
		      size_t len, size_t *have);
/* Stores the received bytes as the object and ends the session. */
int srv_upload_finish(const char *data_dir, const char *id, struct srv_object *out);
int srv_upload_cancel(const char *data_dir, const char *id);
/* The object name a session will store into; -ENOENT for an unknown session. */
int srv_upload_stat_name(const char *data_dir, const char *id, char *name, size_t len);

#endif
