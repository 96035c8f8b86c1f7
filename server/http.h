/* http.h - tunedfs-server's HTTP transport: libmicrohttpd on 127.0.0.1 or a Unix socket
 * (created 0600), one thread per connection, bodies capped, each request handed to
 * srv_handle (routes.h). Knows no routes. */
#ifndef TUNEDFS_SERVER_HTTP_H
#define TUNEDFS_SERVER_HTTP_H

#include <stddef.h>

struct srv;
struct srv_http;

/* Listens on opt.port (0 = any free port) or opt.socket_path; writes the address as
 * "http://127.0.0.1:PORT" or "unix:PATH" into addr. -errno and a reason in why. */
int srv_http_start(struct srv *s, struct srv_http **out, char *addr, size_t addr_len, char *why,
		   size_t why_len);
/* Stops accepting, waits for the requests in flight, closes everything. */
void srv_http_stop(struct srv_http *h);

#endif
