/* loopback.h - whether a host or URL names this machine (127.0.0.0/8, ::1, localhost,
 * a unix socket). The one rule that decides where plain http and no credentials may go. */
#ifndef TUNEDFS_BASE_LOOPBACK_H
#define TUNEDFS_BASE_LOOPBACK_H

/* host without brackets or port. */
int loopback_host(const char *host);
/* "http[s]://host[:port]/..." or "unix:/path": 1 when it stays on this machine. */
int loopback_url(const char *url);

#endif
