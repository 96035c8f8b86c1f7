/* loopback.c - the loopback rule of loopback.h, by address (inet_pton), never by prefix. */
#include "loopback.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

int loopback_host(const char *host)
{
	unsigned char a4[4], a6[16];
	static const unsigned char lo6[16] = {[15] = 1};

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	if (inet_pton(AF_INET6, host, a6) == 1)
		return memcmp(a6, lo6, sizeof(a6)) == 0;
	return 0;
}

int loopback_url(const char *url)
{
	char host[256];
	const char *p, *end;
	size_t n;

	if (strncmp(url, "unix:", 5) == 0)
		return 1;
	p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	if (*p == '[') {
		end = strchr(++p, ']');
		if (!end)
			return 0;
	} else {
		end = p + strcspn(p, ":/?#");
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(host) || memchr(p, '@', n))
		return 0;
	memcpy(host, p, n);
	host[n] = 0;
	return loopback_host(host);
}
