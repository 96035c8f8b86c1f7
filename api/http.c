/* http.c - the HTTP layer over libcurl (skeleton; filled in next). */
#include "api/http.h"
#include "api/gemini.h"

#include <errno.h>
#include <stdlib.h>

int http_client_new(const struct http_options *opt, struct creds *creds, struct http_client **out,
		    struct gemini_error *err)
{
	*out = NULL;
	return -ENOSYS;
}

void http_client_free(struct http_client *hc)
{
}

int http_request(struct http_client *hc, enum http_method method, const char *path,
		 const char *body, int long_timeout, struct gemini_cancel *cancel,
		 struct http_response *resp, struct gemini_error *err)
{
	return -ENOSYS;
}

void http_response_clear(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

int http_errno_for(long http_status, const char *status)
{
	return -EIO;
}

void http_client_stats(struct http_client *hc, struct http_stats *out)
{
	out->requests = out->retries = out->failures = 0;
}
