/* scripted_server.c - the listener of scripted_server.h: one thread, one connection at a
 * time, requests parsed just enough (request line, headers, Content-Length body).
 * Not a general HTTP server: it serves the api/ tests and nothing else. */
#include "scripted_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int ss_stopped(struct scripted_server *s)
{
	int stop;
	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Waits for fd to be readable, waking every 50 ms to see whether to stop. */
static int ss_wait_readable(struct scripted_server *s, int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (!ss_stopped(s)) {
		int r = poll(&p, 1, 50);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
	return 0;
}

static void ss_send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads one request; returns 0 at a clean end of the connection. */
static int ss_read_request(struct scripted_server *s, int fd, struct ss_request *rq)
{
	char buf[16384];
	size_t got = 0, need = 0;
	char *hdr_end = NULL;

	memset(rq, 0, sizeof(*rq));
	while (!hdr_end || got < need) {
		ssize_t n;
		if (got >= sizeof(buf) - 1 || !ss_wait_readable(s, fd))
			return 0;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return 0;
		got += (size_t)n;
		buf[got] = '\0';
		if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			size_t body_len = cl && cl < hdr_end ? strtoul(cl + 17, NULL, 10) : 0;
			need = (size_t)(hdr_end + 4 - buf) + body_len;
		}
	}
	sscanf(buf, "%15s %511s", rq->method, rq->path);
	snprintf(rq->headers, sizeof(rq->headers), "%.*s", (int)(hdr_end - buf), buf);
	snprintf(rq->body, sizeof(rq->body), "%s", hdr_end + 4);
	return 1;
}

static void ss_reply(int fd, const struct ss_reply *r)
{
	char head[1024];
	const char *body = r->body ? r->body : "";
	int n;

	if (r->action == SS_STALL) {
		struct timespec ts = {r->stall_ms / 1000, (r->stall_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n%s\r\n",
		     r->status, strlen(body), r->headers ? r->headers : "");
	ss_send_all(fd, head, (size_t)n);
	ss_send_all(fd, body, strlen(body));
}

static void ss_serve_connection(struct scripted_server *s, int fd)
{
	static const struct ss_reply none = {SS_REPLY, 500, NULL,
					     "{\"error\":{\"code\":500,"
					     "\"message\":\"script ended\","
					     "\"status\":\"INTERNAL\"}}",
					     0};
	struct ss_request rq;

	while (ss_read_request(s, fd, &rq)) {
		const struct ss_reply *r = &none;
		pthread_mutex_lock(&s->lock);
		if (s->n_seen < SS_MAX_SEEN)
			s->seen[s->n_seen++] = rq;
		if (s->next < s->n_script)
			r = &s->script[s->next++];
		pthread_mutex_unlock(&s->lock);
		if (r->action == SS_DROP)
			return;
		ss_reply(fd, r);
	}
}

static void *ss_main(void *arg)
{
	struct scripted_server *s = arg;

	while (ss_wait_readable(s, s->listen_fd)) {
		int fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->lock);
		s->connections++;
		pthread_mutex_unlock(&s->lock);
		ss_serve_connection(s, fd);
		close(fd);
	}
	return NULL;
}

int ss_start(struct scripted_server *s, const struct ss_reply *script, size_t n)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->n_script = n;
	pthread_mutex_init(&s->lock, NULL);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, 16) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("scripted server");
		return -1;
	}
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->thread, NULL, ss_main, s) == 0 ? 0 : -1;
}

void ss_stop(struct scripted_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
}
