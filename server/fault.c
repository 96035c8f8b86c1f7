/* fault.c - the faults tunedfs-server injects on purpose (see fault.h): seeded draws,
 * the routes they apply to, and the answers they give. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "server/fault.h"
#include "server/reply.h"
#include "server/srv.h"

double srv_fault_draw(struct srv *s)
{
	pthread_mutex_lock(&s->rng_lock);
	/* splitmix64: small, seedable, and good enough to draw fault rates from. */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
	pthread_mutex_unlock(&s->rng_lock);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

/* 1 when route is in the comma-separated list (a name, or a prefix ending in '.' such
 * as "tunedModels."). */
static int route_listed(const char *list, const char *route)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n && ((n == strlen(route) && !strncmp(p, route, n)) ||
			  (p[n - 1] == '.' && !strncmp(p, route, n))))
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int srv_fault_inject(struct srv *s, struct srv_reply *rep, char *fault)
{
	const struct srv_options *o = &s->opt;
	if (o->fault_routes && !route_listed(o->fault_routes, rep->route))
		return 0;
	rep->delay_ms = o->latency_ms;
	if (o->drop_rate <= 0 && o->fail_rate <= 0 && o->throttle_rate <= 0)
		return 0;
	double u = srv_fault_draw(s);
	if (u < o->drop_rate) {
		rep->drop = 1;
		rep->status = 0;
		*fault = 'd';
		return 1;
	}
	u -= o->drop_rate;
	if (u < o->fail_rate) {
		srv_reply_error(rep, 503, "UNAVAILABLE",
				"The model is overloaded. Please try again later.");
		*fault = 'f';
		return 1;
	}
	u -= o->fail_rate;
	if (u < o->throttle_rate) {
		/* Set first: an envelope that carries a retry delay (google.rpc) reads it. */
		rep->retry_after = o->retry_delay_s;
		srv_reply_error(rep, 429, "RESOURCE_EXHAUSTED",
				"Resource has been exhausted (e.g. check quota).");
		*fault = 't';
		return 1;
	}
	return 0;
}

long srv_fault_latency(const struct srv *s, const char *route)
{
	const struct srv_options *o = &s->opt;
	if (o->fault_routes && (!route || !route_listed(o->fault_routes, route)))
		return 0;
	return o->latency_ms;
}

int srv_fault_cut(struct srv *s, const struct srv_reply *rep)
{
	const struct srv_options *o = &s->opt;
	if (o->cut_rate <= 0 ||
	    (o->fault_routes && rep->route && !route_listed(o->fault_routes, rep->route)))
		return 0;
	return srv_fault_draw(s) < o->cut_rate;
}
