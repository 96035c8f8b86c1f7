/* notify.c - the sd_notify(3) datagram, sent by hand: a unix socket path (or an abstract
 * name, written with a leading @) from $NOTIFY_SOCKET, one "KEY=VALUE" line per message.
 * It does not watch dogs or pass file descriptors. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "fs/notify.h"

static char *notify_socket;

void tfs_notify_take(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	free(notify_socket);
	notify_socket = s && (s[0] == '/' || s[0] == '@') ? xstrdup(s) : NULL;
	unsetenv("NOTIFY_SOCKET");
}

int tfs_notify(const char *state)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t n = notify_socket ? strlen(notify_socket) : 0;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	int fd, rc = 0;

	if (!notify_socket)
		return 0;
	if (n >= sizeof addr.sun_path)
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, notify_socket, n);
	if (addr.sun_path[0] == '@')
		addr.sun_path[0] = 0; /* abstract: no trailing NUL counted */
	else
		len++;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
