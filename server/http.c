/* http.c - the libmicrohttpd side of tunedfs-server: listening, collecting bodies up to
 * --max-body, the raw URI and the headers, then srv_handle; latency, dropped connections,
 * Retry-After, the reply's own headers and streamed answers (event by event, with
 * --stream-delay and --cut-rate) are applied here. Routing is router.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/fault.h"
#include "server/http.h"
#include "server/router.h"
#include "server/srv.h"

struct srv_http {
	struct MHD_Daemon *d;
	int unix_fd;
	char *unix_path;
};

struct conn_ctx {
	char *uri;
	char *buf;
	size_t len, cap;
	int too_big;
	int started;
};

static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct conn_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx)
		ctx->uri = strdup(uri ? uri : "/");
	return ctx;
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct conn_ctx *ctx = *con_cls;
	if (!ctx)
		return;
	free(ctx->uri);
	free(ctx->buf);
	free(ctx);
	*con_cls = NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A streamed answer going out one event at a time: --stream-delay before every event
 * but the first, and cut (the connection closed mid-answer) at cut_at when drawn so. */
struct sse_out {
	char *body;
	size_t len, pos, cut_at;
	long delay_ms;
	int mid; /* pos is inside an event that did not fit the last buffer */
};

/* Where the event starting at i ends: after its blank line, or at the end. */
static size_t event_end(const char *b, size_t i, size_t len)
{
	for (; i + 1 < len; i++) {
		if (b[i] == '\n' && b[i + 1] == '\n')
			return i + 2;
		if (b[i] == '\r' && b[i + 1] == '\r')
			return i + 2;
		if (i + 3 < len && !memcmp(b + i, "\r\n\r\n", 4))
			return i + 4;
	}
	return len;
}

static ssize_t sse_next(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_out *o = cls;
	(void)pos;
	if (o->pos >= o->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (o->pos >= o->cut_at)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (o->pos > 0 && !o->mid && o->delay_ms > 0)
		sleep_ms(o->delay_ms);
	size_t end = event_end(o->body, o->pos, o->len), n = end - o->pos;
	if (n > max)
		n = max;
	memcpy(buf, o->body + o->pos, n);
	o->pos += n;
	o->mid = o->pos < end;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse_out *o = cls;
	free(o->body);
	free(o);
}

/* The response of a text/event-stream reply: sent as its events are, never whole. */
static struct MHD_Response *sse_response(struct srv *s, struct srv_reply *rep)
{
	struct sse_out *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < rep->body_len; i = event_end(rep->body, i, rep->body_len))
		n++;
	o->body = rep->body;
	o->len = rep->body_len;
	o->cut_at = (size_t)-1;
	o->delay_ms = s->opt.stream_delay_ms;
	if (n > 1 && srv_fault_cut(s, rep)) {
		o->cut_at = 0;
		for (size_t k = 0; k < n / 2; k++)
			o->cut_at = event_end(rep->body, o->cut_at, rep->body_len);
	}
	struct MHD_Response *r =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_next, o, sse_free);
	if (!r)
		free(o);
	return r;
}

static enum MHD_Result send_reply(struct srv *s, struct MHD_Connection *c, struct srv_reply *rep)
{
	int sse = rep->status == 200 && rep->content_type &&
		  !strcmp(rep->content_type, "text/event-stream");
	struct MHD_Response *r =
	    sse ? sse_response(s, rep)
		: MHD_create_response_from_buffer(rep->body_len, rep->body, MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	rep->body = NULL; /* the response owns it now */
	if (rep->content_type || !rep->headers.data ||
	    !strcasestr(rep->headers.data, "content-type:"))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					rep->content_type ? rep->content_type : "application/json");
	for (char *line = rep->headers.data; line && *line;) {
		char *nl = strchr(line, '\n'), *colon = strchr(line, ':');
		if (!nl || !colon || colon > nl)
			break;
		*nl = *colon = '\0';
		MHD_add_response_header(r, line, colon + 2);
		line = nl + 1;
	}
	if (rep->retry_after > 0) {
		char v[24];
		snprintf(v, sizeof(v), "%ld", rep->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)rep->status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *header_of(const struct srv_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result collect(struct srv *s, struct conn_ctx *ctx, const char *data, size_t *size)
{
	if (!ctx->too_big && ctx->len + *size > s->max_body)
		ctx->too_big = 1;
	if (!ctx->too_big) {
		if (ctx->len + *size + 1 > ctx->cap) {
			size_t cap = ctx->cap ? ctx->cap : 4096;
			while (cap < ctx->len + *size + 1)
				cap *= 2;
			char *nb = realloc(ctx->buf, cap);
			if (!nb)
				return MHD_NO;
			ctx->buf = nb;
			ctx->cap = cap;
		}
		memcpy(ctx->buf + ctx->len, data, *size);
		ctx->len += *size;
	}
	*size = 0; /* consumed, or discarded past the cap */
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct srv *s = cls;
	struct conn_ctx *ctx = *con_cls;
	if (!ctx)
		return MHD_NO;
	if (!ctx->started) {
		/* The first call only announces the headers; the body, if any, follows. */
		ctx->started = 1;
		return MHD_YES;
	}
	if (*upload_data_size)
		return collect(s, ctx, upload_data, upload_data_size);
	struct srv_reply rep = {0};
	char *path = strdup(ctx->uri ? ctx->uri : url);
	if (!path)
		return MHD_NO;
	char *q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	if (ctx->too_big) {
		srv_reply_error(&rep, 413, "INVALID_ARGUMENT",
				"Request payload size exceeds the limit: %zu bytes.", s->max_body);
		rep.route = "tooLarge";
		srv_stats_count(&s->stats, rep.route, method, path, 413, 0);
	} else if (srv_percent_decode(path, 0)) {
		srv_reply_error(&rep, 400, "INVALID_ARGUMENT",
				"Malformed percent-escape in the "
				"path.");
	} else {
		struct srv_request req = {
		    .method = method,
		    .path = path,
		    .query = q,
		    .body = ctx->buf,
		    .body_len = ctx->len,
		    .api_key_header =
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-goog-api-key"),
		    .authorization =
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
		    .header = header_of,
		    .conn = c,
		};
		srv_handle(s, &req, &rep);
	}
	free(path);
	if (rep.delay_ms > 0)
		sleep_ms(rep.delay_ms);
	if (rep.drop) {
		srv_reply_free(&rep);
		return MHD_NO;
	}
	enum MHD_Result ret = send_reply(s, c, &rep);
	srv_reply_free(&rep);
	return ret;
}

/* libmicrohttpd hands over its own format strings. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct srv *s = cls;
	if (!s->opt.verbose)
		return; /* dropped connections and client resets are expected, not news */
	fputs("tunedfs-server: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}
#pragma GCC diagnostic pop

static int unix_listen(const char *path, char *why, size_t why_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	struct stat stb;
	if (lstat(path, &stb) == 0 && S_ISSOCK(stb.st_mode))
		unlink(path); /* a stale socket of an earlier run */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0077); /* created 0600: only its owner may connect */
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || listen(fd, 128)) {
		rc = -errno;
		snprintf(why, why_len, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int srv_http_start(struct srv *s, struct srv_http **out, char *addr, size_t addr_len, char *why,
		   size_t why_len)
{
	struct srv_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->unix_fd = -1;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->opt.port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct MHD_OptionItem listen_opt[] = {{MHD_OPTION_SOCK_ADDR, 0, &sin},
					      {MHD_OPTION_END, 0, NULL}};
	if (s->opt.socket_path) {
		int fd = unix_listen(s->opt.socket_path, why, why_len);
		if (fd < 0) {
			free(h);
			return fd;
		}
		h->unix_fd = fd;
		h->unix_path = strdup(s->opt.socket_path);
		listen_opt[0] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
	}
	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, s, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, s,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)2000, MHD_OPTION_ARRAY, listen_opt, MHD_OPTION_END);
	if (!h->d) {
		int err = errno;
		if (s->opt.socket_path)
			snprintf(why, why_len, "cannot serve HTTP on %s: %s", s->opt.socket_path,
				 strerror(err));
		else
			snprintf(why, why_len, "cannot listen on 127.0.0.1:%d: %s", s->opt.port,
				 strerror(err));
		srv_http_stop(h);
		return -EADDRINUSE;
	}
	h->unix_fd = -1; /* the daemon owns and closes it now */
	if (s->opt.socket_path) {
		snprintf(addr, addr_len, "unix:%s", s->opt.socket_path);
	} else {
		const union MHD_DaemonInfo *di =
		    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
		snprintf(addr, addr_len, "http://127.0.0.1:%u", di ? (unsigned)di->port : 0U);
	}
	*out = h;
	return 0;
}

void srv_http_stop(struct srv_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->unix_fd >= 0)
		close(h->unix_fd);
	if (h->unix_path) {
		unlink(h->unix_path);
		free(h->unix_path);
	}
	free(h);
}
