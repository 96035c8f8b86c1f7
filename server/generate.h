/* generate.h - running a trained model of tunedfs-server: load its weights (shared, see
 * store.h), sample, cut at stop sequences, make the bytes valid UTF-8. Every family's
 * generate route calls this; the request and answer shapes are the family's. */
#ifndef TUNEDFS_SERVER_GENERATE_H
#define TUNEDFS_SERVER_GENERATE_H

#include <stddef.h>
#include <stdint.h>

struct srv;
struct srv_model;

#define SRV_GEN_MAX_STOPS 5

struct srv_gen_params {
	double temperature, top_p;
	int top_k;
	long max_bytes;
	uint64_t seed; /* 0 with has_seed unset: a random one */
	int has_seed;
	const char *stops[SRV_GEN_MAX_STOPS];
	size_t n_stops;
};

/* The sampling settings stored with m (its defaults; a request may override them);
 * caller holds the store lock. */
void srv_generate_defaults(const struct srv_model *m, struct srv_gen_params *g);
/* Runs m on prompt: 0 with *text (heap, UTF-8) and *finish ("STOP" or "MAX_TOKENS"), or
 * -errno and a reason in why (-EIO: its weights cannot be loaded). */
int srv_generate_run(struct srv *s, struct srv_model *m, const char *prompt, size_t len,
		     const struct srv_gen_params *g, char **text, const char **finish, char *why,
		     size_t why_len);

#endif
