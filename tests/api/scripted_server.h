/* scripted_server.h - a tiny HTTP/1.1 listener on 127.0.0.1 for the api/ wire tests:
 * it answers each request with the next scripted reply (or drops the connection, or
 * stalls) and records what it was asked. Keep-alive is honoured so reuse can be seen. */
#ifndef TUNEDFS_TEST_SCRIPTED_SERVER_H
#define TUNEDFS_TEST_SCRIPTED_SERVER_H

#include <pthread.h>
#include <stddef.h>

enum ss_action { SS_REPLY, SS_DROP, SS_STALL };

struct ss_reply {
	enum ss_action action;
	int status;
	const char *headers; /* extra header lines, each ending in \r\n; may be NULL */
	const char *body;
	int stall_ms; /* SS_STALL: wait this long, then reply */
};

#define SS_MAX_SEEN 64

struct ss_request {
	char method[16];
	char path[512];
	char headers[2048];
	char body[4096];
};

struct scripted_server {
	int listen_fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	int stop;
	const struct ss_reply *script;
	size_t n_script, next;
	struct ss_request seen[SS_MAX_SEEN];
	size_t n_seen;
	int connections;
};

int ss_start(struct scripted_server *s, const struct ss_reply *script, size_t n);
void ss_stop(struct scripted_server *s);

#endif
