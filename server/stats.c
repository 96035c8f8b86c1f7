/* stats.c - per-route request counters and the request log of tunedfs-server. The path
 * logged is the one routed on, never the query string (it may carry ?key=). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>

#include "server/stats.h"

int srv_stats_init(struct srv_stats *st, const char *log_path)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	if (log_path) {
		/* 0600: the log tells who asked what, which is nobody else's business. */
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		st->log = fdopen(fd, "a");
		if (!st->log) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		setvbuf(st->log, NULL, _IOLBF, 0);
	}
	return 0;
}

void srv_stats_free(struct srv_stats *st)
{
	if (st->log)
		fclose(st->log);
	st->log = NULL;
	pthread_mutex_destroy(&st->lock);
}

void srv_stats_count(struct srv_stats *st, const char *route, const char *method, const char *path,
		     int status, char fault)
{
	pthread_mutex_lock(&st->lock);
	st->total++;
	if (fault == 'd')
		st->dropped++;
	else if (fault == 'f')
		st->failed++;
	else if (fault == 't')
		st->throttled++;
	st->status[status >= 100 && status < 600 ? status / 100 : 0]++;
	size_t i;
	for (i = 0; i < st->n_routes; i++)
		if (!strcmp(st->routes[i].name, route))
			break;
	if (i == st->n_routes && i < SRV_STATS_MAX_ROUTES)
		st->routes[st->n_routes++].name = route;
	if (i < SRV_STATS_MAX_ROUTES)
		st->routes[i].requests++;
	if (st->log) {
		/* Control bytes in a path could forge log lines: print them as '?'. */
		char clean[512];
		size_t o = 0;
		for (const char *p = path; *p && o + 1 < sizeof(clean); p++)
			clean[o++] = (*p < 0x20 || *p == 0x7f || *p == ' ') ? '?' : *p;
		clean[o] = '\0';
		fprintf(st->log, "%s %s %d%s\n", method, clean, status,
			fault == 'd' ? " dropped" : "");
	}
	pthread_mutex_unlock(&st->lock);
}

cJSON *srv_stats_json(struct srv_stats *st)
{
	static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&st->lock);
	cJSON_AddNumberToObject(o, "total", (double)st->total);
	cJSON *r = cJSON_AddObjectToObject(o, "routes");
	for (size_t i = 0; i < st->n_routes; i++) {
		cJSON *one = cJSON_AddObjectToObject(r, st->routes[i].name);
		cJSON_AddNumberToObject(one, "requests", (double)st->routes[i].requests);
	}
	cJSON *s = cJSON_AddObjectToObject(o, "status");
	for (int i = 0; i < 6; i++)
		if (st->status[i])
			cJSON_AddNumberToObject(s, classes[i], (double)st->status[i]);
	cJSON *f = cJSON_AddObjectToObject(o, "faults");
	cJSON_AddNumberToObject(f, "dropped", (double)st->dropped);
	cJSON_AddNumberToObject(f, "unavailable", (double)st->failed);
	cJSON_AddNumberToObject(f, "throttled", (double)st->throttled);
	pthread_mutex_unlock(&st->lock);
	return o;
}
