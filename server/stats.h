/* stats.h - request counters of tunedfs-server (served at GET /debug/stats) and the
 * optional request log: method, path without its query, status. Never keys or tokens. */
#ifndef TUNEDFS_SERVER_STATS_H
#define TUNEDFS_SERVER_STATS_H

#include <pthread.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define SRV_STATS_MAX_ROUTES 96

struct srv_stats {
	pthread_mutex_t lock;
	FILE *log;
	unsigned long total;
	unsigned long dropped, failed, throttled;
	unsigned long status[6]; /* by hundreds: 1xx..5xx, [0] other */
	size_t n_routes;
	struct {
		const char *name; /* a static string */
		unsigned long requests;
	} routes[SRV_STATS_MAX_ROUTES];
};

/* log_path may be NULL; -errno when it cannot be opened for appending. */
int srv_stats_init(struct srv_stats *st, const char *log_path);
void srv_stats_free(struct srv_stats *st);
/* Counts one answered (or dropped: status 0) request to route and logs it. fault is
 * 'd', 'f', 't' or 0. */
void srv_stats_count(struct srv_stats *st, const char *route, const char *method, const char *path,
		     int status, char fault);
/* {"total": N, "routes": {name: {"requests": N}}, "status": {...}, "faults": {...}} */
cJSON *srv_stats_json(struct srv_stats *st);

#endif
