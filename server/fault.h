/* fault.h - fault injection of tunedfs-server (--latency, --fail-rate, --throttle-rate,
 * --drop-rate, --cut-rate, --fault-routes): one seeded generator, drawn in request order. The
 * errors go out in the envelope of the route's family. */
#ifndef TUNEDFS_SERVER_FAULT_H
#define TUNEDFS_SERVER_FAULT_H

struct srv;
struct srv_reply;

/* Uniform draw in [0, 1) from the fault generator. */
double srv_fault_draw(struct srv *s);
/* Sets the delay of rep's route and draws its fault: 1 when rep now holds it (a drop,
 * a 503 or a 429 with Retry-After), *fault then 'd', 'f' or 't'. */
int srv_fault_inject(struct srv *s, struct srv_reply *rep, char *fault);
/* The --latency a request to route waits (0 when --fault-routes leaves it out). */
long srv_fault_latency(const struct srv *s, const char *route);
/* 1 when the streamed answer rep is to be cut half-way (--cut-rate), drawn once per answer. */
int srv_fault_cut(struct srv *s, const struct srv_reply *rep);

#endif
