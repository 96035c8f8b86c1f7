/* http_errno.c - the one table from an HTTP status to errno (DESIGN.md's table) and to an
 * error kind, for every service; a service's own error words refine both in its backend
 * (google_rpc.c, openai_error.c). */
#include "api/http.h"

#include <errno.h>

static const struct http_errno_row {
	long http;
	int err;
} http_errno_table[] = {
    {400, EINVAL}, {401, EACCES}, {403, EACCES}, {404, ENOENT}, {409, EEXIST}, {429, EAGAIN},
    {499, EINTR},  {500, EIO},	  {501, ENOSYS}, {502, EIO},	{503, EIO},    {504, ETIMEDOUT},
};

int http_errno(long http_status)
{
	size_t n = sizeof(http_errno_table) / sizeof(http_errno_table[0]);

	for (size_t i = 0; i < n; i++)
		if (http_errno_table[i].http == http_status)
			return -http_errno_table[i].err;
	if (http_status >= 400 && http_status < 500)
		return -EINVAL;
	return -EIO;
}

enum backend_error_kind http_error_kind(long http_status)
{
	if (http_status >= 200 && http_status < 300)
		return BACKEND_ERROR_BAD_ANSWER;
	switch (http_status) {
	case 401:
		return BACKEND_ERROR_CREDENTIALS;
	case 429:
		return BACKEND_ERROR_RATE_LIMITED;
	case 499:
		return BACKEND_ERROR_CANCELLED;
	case 501:
		return BACKEND_ERROR_OTHER; /* not implemented: nothing to wait for */
	case 504:
		return BACKEND_ERROR_TIMEOUT;
	default:
		return http_status >= 500 && http_status < 600 ? BACKEND_ERROR_UNAVAILABLE
							       : BACKEND_ERROR_OTHER;
	}
}
