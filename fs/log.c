/* log.c - where the mount's messages go (stderr in the foreground, syslog once
 * daemonized) and the out-of-memory aborts of fs/. Never given secrets to print. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fs/tunedfs.h"

void tfs_log_msg(int prio, const char *raw)
{
	char msg[2048];
	size_t o = 0;

	/* one message, one line: a name or a service's text may hold control bytes */
	for (const unsigned char *s = (const unsigned char *)raw; *s && o + 5 < sizeof msg; s++) {
		if (*s < 0x20 || *s == 0x7f) {
			snprintf(msg + o, sizeof msg - o, "\\x%02x", *s);
			o += 4;
		} else {
			msg[o++] = (char)*s;
		}
	}
	msg[o] = 0;
	if (tfs_ctx.foreground) {
		static const char *const words[] = {"emerg",   "alert",	 "crit", "error",
						    "warning", "notice", "info", "debug"};
		fprintf(stderr, "tunedfs: %s: %s\n", words[prio & 7], msg);
	} else {
		syslog(prio, "%s", msg);
	}
}

void tfs_log(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	tfs_log_msg(prio, buf);
}
