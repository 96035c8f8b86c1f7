/* batch.h - the batch jobs of tunedfs-server, one neutral record whatever protocol made
 * them: a list of (key, request) items run as POSTs to one route of the server, each
 * item's answer, state and counts, persisted under DIR/batches/ID/ and run by a bounded
 * pool of runner threads. No wire JSON of any service: each family renders its own. */
#ifndef TUNEDFS_SERVER_BATCH_H
#define TUNEDFS_SERVER_BATCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct srv;
struct srv_batches;
struct srv_reply;

enum srv_batch_state {
	SRV_BATCH_PENDING = 0,
	SRV_BATCH_RUNNING,
	SRV_BATCH_SUCCEEDED,
	SRV_BATCH_FAILED,
	SRV_BATCH_CANCELLED,
	SRV_BATCH_EXPIRED,
};

struct srv_batch_item {
	char *key;     /* the caller's name for it (key, custom_id), "" when none */
	char *request; /* compact JSON body POSTed to the batch's target */
	char *extra;   /* compact JSON the family keeps with the item, or NULL */
	int done;      /* status and result hold its answer */
	int status;    /* HTTP status of the answer */
	char *result;  /* compact JSON text of the answer's body */
};

/* Guarded by the batches' lock, except the items' key/request/extra (fixed at submit)
 * and answers of done items (written once, before done is set under the lock). */
struct srv_batch {
	char id[48];
	char family[16];
	char *target; /* the route path every item is POSTed to */
	char *meta;   /* compact JSON the family keeps: display name, model, places... */
	char *output; /* the family's reference to its written output, or NULL */
	char *error;  /* why it ended FAILED or EXPIRED, or NULL */
	enum srv_batch_state state;
	int cancel_requested, deleted;
	uint64_t seq;
	size_t n, n_ok, n_failed;
	size_t next, in_flight; /* runner bookkeeping, not persisted */
	int64_t create_ns, start_ns, update_ns, end_ns;
	struct srv_batch_item *items;
};

/* What a family does when one of its batches ends (any end but deletion): writes its
 * output from the items and returns a heap reference to it (or NULL when it keeps none),
 * or NULL with why set when it cannot (the batch then ends FAILED with why). */
struct srv_batch_kind {
	const char *family;
	char *(*finish)(struct srv *s, const struct srv_batch *b, enum srv_batch_state end,
			char *why, size_t why_len);
};

/* Every family's kind, NULL-terminated (families.c). */
extern const struct srv_batch_kind *const srv_batch_kinds[];

/* How a runner answers one item: as the route method+path would, without credentials,
 * faults or counters (the router's srv_route_run; given by the caller, so that the batch
 * core sits below the router that reports its stats). */
typedef int (*srv_batch_run_fn)(struct srv *s, const char *method, const char *path,
				const char *body, size_t len, struct srv_reply *rep);

/* Loads DIR/batches and starts n_workers runners (>= 1); unfinished batches go on. */
int srv_batches_start(struct srv *s, int n_workers, srv_batch_run_fn run, struct srv_batches **out);
/* Stops the runners (an unfinished batch stays as it is on disk and goes on at the next
 * start) and frees everything. NULL is fine. */
void srv_batches_stop(struct srv_batches *bs);

/* A new batch of n items (taking ownership of items and of the heap strings given);
 * persists it (PENDING) and queues it; copies its new id into id (48 bytes). */
int srv_batch_submit(struct srv_batches *bs, const char *family, char *target, char *meta,
		     struct srv_batch_item *items, size_t n, char *id);
/* Calls fn on batch id of family under the lock; -ENOENT when there is none. */
int srv_batch_with(struct srv_batches *bs, const char *family, const char *id,
		   void (*fn)(const struct srv_batch *b, void *ctx), void *ctx);
/* Calls fn on every batch of family, newest first, under the lock. */
void srv_batch_each(struct srv_batches *bs, const char *family,
		    void (*fn)(const struct srv_batch *b, void *ctx), void *ctx);
/* Asks batch id to stop: it ends CANCELLED once its items in flight are answered.
 * -ENOENT; -EALREADY when it has ended. */
int srv_batch_cancel(struct srv_batches *bs, const char *family, const char *id);
/* Forgets batch id and its files (a running one is stopped first). -ENOENT. */
int srv_batch_delete(struct srv_batches *bs, const char *family, const char *id);
/* 1 when state is an end state. */
int srv_batch_ended(enum srv_batch_state state);
/* Adds "batches": {"created": {family: N}, "running": N, "items": N} to o. */
void srv_batches_stats(struct srv_batches *bs, void *cjson_object);

#endif
