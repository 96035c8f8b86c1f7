/* rfc3339.c - parsing and printing RFC 3339 UTC timestamps; no time zones but offsets. */
#include "rfc3339.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

time_t rfc3339_parse(const char *s)
{
	struct tm tm;
	const char *p;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof tm);
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	time_t t = timegm(&tm);
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
		int hh = 0, mm = 0;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) >= 1)
			t += (*p == '+' ? -1 : 1) * (time_t)(hh * 3600 + mm * 60);
	}
	return t;
}

char *rfc3339_format(time_t t, long usec, char *buf, size_t len)
{
	struct tm tm;
	char day[24];
	gmtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", day, usec);
	return buf;
}
