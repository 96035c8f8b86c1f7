/* srv.h - the parts of one tunedfs-server put together: options, store, job pool,
 * credentials, fault injection and counters. Shared by main.c, http.c and the routes;
 * each part's own contract is its header. */
#ifndef TUNEDFS_SERVER_SRV_H
#define TUNEDFS_SERVER_SRV_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "server/jobs.h"
#include "server/stats.h"
#include "server/store.h"

struct srv_oauth;
struct srv_family;
struct srv_batches;

struct srv_options {
	int port; /* -1 = unset */
	char *socket_path;
	char *data_dir;
	char *api_key_file;
	char *request_log;
	char *oauth_clients;
	char *fault_routes; /* comma-separated route names faults apply to; NULL = all */
	long token_lifetime;
	int workers;
	long checkpoint_ms; /* how often a running job is checkpointed */
	long max_loaded;    /* 0 = the store's default */
	long latency_ms;
	double fail_rate, throttle_rate, drop_rate;
	long stream_delay_ms; /* between the events of a streamed answer */
	double cut_rate;      /* a streamed answer cut half-way, with this probability */
	long retry_delay_s;
	uint64_t seed;
	int have_seed;
	long max_body_mib;
	int batch_workers;     /* batch runner threads */
	long batch_fail_after; /* > 0: a batch ends FAILED after this many items */
	long batch_expire_ms;  /* > 0: a batch not done this long after creation expires */
	int verbose;
};

struct srv {
	struct srv_options opt;
	struct srv_store *store;
	struct srv_jobs *jobs;
	struct srv_batches *batches; /* NULL when none run (unit tests) */
	struct srv_oauth *oauth;     /* the token endpoint's clients and tokens; NULL = none */
	const struct srv_family *const *families; /* served, NULL-terminated; NULL = all */
	char *api_key;				  /* NULL: any credentials accepted */
	struct srv_stats stats;
	/* Fault draws: one seeded generator, drawn under its lock in request order. */
	pthread_mutex_t rng_lock;
	uint64_t rng;
	size_t max_body;
};

#endif
