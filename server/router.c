/* router.c - the one path every request of tunedfs-server takes (see router.h): route
 * tables matched in family order, the family's credential check, faults, counters, the
 * handler; and GET /debug/stats, which belongs to no family. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/batch.h"
#include "server/fault.h"
#include "server/router.h"
#include "server/srv.h"

const char *srv_param(const struct srv_params *p, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < p->n; i++)
		if (p->name_len[i] == n && !strncmp(p->name[i], name, n))
			return p->value[i];
	return "";
}

/* 1 when word is one of the space-separated words of list. */
static int listed(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, " ");
		if (k == n && !strncmp(p, word, n))
			return 1;
		p += k;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* Takes the {name} or {name*} at *pat and the path text it matches. */
static int match_param(const char **pat, const char **path, struct srv_params *p)
{
	const char *name = *pat + 1;
	const char *close = strchr(name, '}');
	if (!close || p->n == SRV_MAX_PARAMS)
		return 0;
	int rest = close > name && close[-1] == '*';
	size_t n = rest ? strlen(*path) : strcspn(*path, "/:");
	if (n == 0 || n >= sizeof(p->value[0]))
		return 0;
	p->name[p->n] = name;
	p->name_len[p->n] = (size_t)(close - name) - (size_t)rest;
	memcpy(p->value[p->n], *path, n);
	p->value[p->n][n] = '\0';
	p->n++;
	*pat = close + 1;
	*path += n;
	return 1;
}

static int match(const struct srv_route *r, const char *path, struct srv_params *p)
{
	const char *pat = r->pattern;
	p->n = 0;
	while (*pat) {
		if (*pat == '{') {
			if (!match_param(&pat, &path, p))
				return 0;
		} else if (*pat++ != *path++) {
			return 0;
		}
	}
	if (*path)
		return 0;
	const char *v = srv_param(p, "v");
	return !r->versions || !*v || listed(r->versions, v);
}

static const struct srv_family *const *families_of(const struct srv *s)
{
	return s->families ? s->families : srv_all_families;
}

static const struct srv_route *find(struct srv *s, const char *method, const char *path,
				    struct srv_params *p, const struct srv_family **fam)
{
	for (const struct srv_family *const *f = families_of(s); *f; f++)
		for (size_t i = 0; i < (*f)->n_routes; i++) {
			const struct srv_route *r = &(*f)->routes[i];
			if (!strcmp(r->method, method) && match(r, path, p)) {
				*fam = *f;
				return r;
			}
		}
	return NULL;
}

/* The family whose prefix path has, for the envelope of a 404; else the first. */
static const struct srv_family *claimant(struct srv *s, const char *path)
{
	const struct srv_family *const *all = families_of(s);
	for (const struct srv_family *const *f = all; *f; f++)
		for (const char *const *pre = (*f)->prefixes; pre && *pre; pre++)
			if (!strncmp(path, *pre, strlen(*pre)))
				return *f;
	return all[0];
}

static void debug_stats(struct srv *s, struct srv_reply *rep)
{
	cJSON *o = srv_stats_json(&s->stats);
	unsigned long q, r, d;
	srv_jobs_counts(s->jobs, &q, &r, &d);
	cJSON *j = cJSON_AddObjectToObject(o, "jobs");
	cJSON_AddNumberToObject(j, "queued", (double)q);
	cJSON_AddNumberToObject(j, "running", (double)r);
	cJSON_AddNumberToObject(j, "finished", (double)d);
	pthread_mutex_lock(&s->store->lock);
	cJSON_AddNumberToObject(o, "tunedModels", (double)s->store->n);
	cJSON_AddNumberToObject(o, "loadedModels", (double)s->store->nets_loaded);
	pthread_mutex_unlock(&s->store->lock);
	if (s->batches)
		srv_batches_stats(s->batches, o);
	for (const struct srv_family *const *f = families_of(s); *f; f++)
		if ((*f)->stats)
			(*f)->stats(s, o);
	srv_reply_json(rep, 200, o);
}

int srv_route_run(struct srv *s, const char *method, const char *path, const char *body, size_t len,
		  struct srv_reply *rep)
{
	struct srv_params *p = calloc(1, sizeof(*p));
	const struct srv_family *fam = NULL;
	struct srv_request req = {.method = method, .path = path, .body = body, .body_len = len};
	memset(rep, 0, sizeof(*rep));
	const struct srv_route *r = p ? find(s, method, path, p, &fam) : NULL;
	if (r) {
		rep->family = fam;
		rep->route = r->name;
		r->handle(s, &req, p, rep);
	} else {
		rep->family = claimant(s, path);
		srv_reply_error(rep, 404, "NOT_FOUND", "No route for %s %.200s.", method, path);
	}
	free(p);
	if (!rep->body)
		srv_reply_error(rep, 500, "INTERNAL", "No answer was produced.");
	return r ? 0 : -ENOENT;
}

int srv_handle(struct srv *s, const struct srv_request *req, struct srv_reply *rep)
{
	struct srv_params *p = calloc(1, sizeof(*p));
	const struct srv_family *fam = NULL;
	char fault = 0;
	memset(rep, 0, sizeof(*rep));
	const char *method = req->method ? req->method : "";
	const char *path = req->path ? req->path : "";
	const struct srv_route *r = p ? find(s, method, path, p, &fam) : NULL;
	if (!strcmp(path, "/debug/stats") && !strcmp(method, "GET")) {
		rep->route = "debug.stats";
		debug_stats(s, rep);
	} else if (!r) {
		rep->family = claimant(s, path);
		rep->route = "unknown";
		srv_reply_error(rep, 404, "NOT_FOUND", "No route for %s %.200s.", method, path);
	} else {
		rep->family = fam;
		rep->route = r->name;
		if ((r->flags & SRV_ROUTE_OPEN) || !fam->auth || fam->auth(s, req, rep) == 0)
			if ((r->flags & SRV_ROUTE_NO_FAULT) || !srv_fault_inject(s, rep, &fault))
				r->handle(s, req, p, rep);
	}
	free(p);
	if (!rep->drop && !rep->body)
		srv_reply_error(rep, 500, "INTERNAL", "No answer was produced.");
	srv_stats_count(&s->stats, rep->route, method, path, rep->drop ? 0 : rep->status, fault);
	return 0;
}
