/* rfc3339.h - timestamps as the services write them ("2024-05-01T12:00:00.123456Z"). */
#ifndef TUNEDFS_BASE_RFC3339_H
#define TUNEDFS_BASE_RFC3339_H

#include <stddef.h>
#include <time.h>

/* Seconds since the epoch, UTC; fractions are dropped, a numeric offset is applied.
 * 0 for NULL or text that is not a timestamp. */
time_t rfc3339_parse(const char *s);
/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" into buf (at least 28 bytes); returns buf. */
char *rfc3339_format(time_t t, long usec, char *buf, size_t len);

#endif
