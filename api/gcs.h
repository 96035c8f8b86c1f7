/* gcs.h - the little of Cloud Storage's JSON API the Vertex backend needs: putting the
 * training data or a batch's input in a bucket (one media upload, or a resumable session
 * for big files), reading an object back, asking whether it is still there, deleting it
 * (or all under a prefix). Over the shared transport; credentials are the client's. */
#ifndef TUNEDFS_GCS_H
#define TUNEDFS_GCS_H

#include <stddef.h>

struct backend_cancel;
struct backend_error;
struct http_client;

/* Data at or above this many bytes goes through a resumable session. */
#define GCS_RESUMABLE_FROM (4L << 20)

/* Stores data as gs://bucket/object: 0, or -errno with err filled. */
int gcs_upload(struct http_client *hc, const char *bucket, const char *object, const char *data,
	       size_t len, struct backend_cancel *c, struct backend_error *err);
/* Deletes gs://bucket/object; one already gone is not an error. */
int gcs_delete(struct http_client *hc, const char *bucket, const char *object,
	       struct backend_cancel *c, struct backend_error *err);
/* Deletes every object of bucket whose name starts with prefix: 0, or the first failure
 * (the others are still tried). */
int gcs_delete_under(struct http_client *hc, const char *bucket, const char *prefix,
		     struct backend_cancel *c, struct backend_error *err);
/* Whether gs://bucket/object exists, asked once (no retries): 0, -ENOENT, or another
 * -errno with err filled. */
int gcs_stat(struct http_client *hc, const char *bucket, const char *object,
	     struct backend_cancel *c, struct backend_error *err);
/* gs://bucket/object's content in *resp (cleared by the caller). */
struct http_response;
int gcs_download(struct http_client *hc, const char *bucket, const char *object,
		 struct http_response *resp, struct backend_cancel *c, struct backend_error *err);
/* Percent-encodes everything outside RFC 3986's unreserved set (object names in a query). */
char *gcs_escape(const char *s);

#endif
