/* store.h - the tuning jobs and tuned models of tunedfs-server, one neutral record each
 * whatever protocol made it: the in-memory index (creation order and id order) and the
 * files under --data-dir (DIR/jobs/ID/job.json and weights.bin, written tmp+fsync+rename),
 * reloaded at start. Holds no HTTP, no wire JSON of any service, no training (jobs.h). */
#ifndef TUNEDFS_SERVER_STORE_H
#define TUNEDFS_SERVER_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "server/files.h"

enum srv_state {
	SRV_STATE_UNSPECIFIED = 0,
	SRV_STATE_CREATING,
	SRV_STATE_ACTIVE,
	SRV_STATE_FAILED,
};

struct srv_snapshot {
	int step;
	int epoch;
	double mean_loss;
	int64_t compute_ns; /* wall clock, ns since the epoch */
};

/* Loaded weights, shared by concurrent generateContent calls and freed at last put. */
struct srv_net {
	int refs;
	void *nn;	    /* struct nn_model * */
	uint64_t last_used; /* the store's net_clock at its last use */
};

/* Loaded weights kept by default: past it, the least recently used idle ones are dropped
 * (and loaded again from weights.bin when next prompted). */
#define SRV_MAX_LOADED_NETS 256

/* A name and a value: a job's labels or metadata. */
struct srv_kv {
	char *key, *value;
};

/* One tuning job and the model it makes. Every field is guarded by the store's lock;
 * persist_lock orders the writes of its files. family names the protocol that created it
 * (each lists only its own); the other fields mean the same for every family. */
struct srv_model {
	int refs;
	int deleted;
	int cancel_requested; /* the job stops at its next step */
	uint64_t seq;	      /* creation order, never reused */
	char id[48];
	char op_id[24];
	char family[16];
	char *parent; /* where it lives, e.g. "projects/P/locations/L"; NULL when none */
	char *display_name, *description, *base_model, *source_model;
	char *dataset; /* where the training data came from (a URI or file id), or NULL */
	char *adapter_size;
	struct srv_kv *labels;
	size_t n_labels;
	int undeployed, endpoint_deleted, model_deleted; /* its serving parts, each removed on
							  * its own */
	int has_temperature, has_top_p, has_top_k;
	double temperature, top_p;
	int top_k;
	enum srv_state state;
	int64_t create_ns, update_ns, start_ns, complete_ns;
	int epoch_count, batch_size;
	double learning_rate; /* the one training uses */
	double lr_multiplier; /* 0 when the request gave learningRate */
	long n_examples;
	long long data_bytes; /* bytes of its training examples, inputs and outputs */
	uint64_t seed;	      /* the training seed asked for; 0 = the server picks */
	int total_steps, completed_steps;
	char *validation;	    /* a validation set's URI, or NULL (validation.c) */
	struct srv_example *val_ex; /* its examples while the job runs here (not kept) */
	size_t n_val;
	double *val_loss; /* its mean loss after each epoch so far */
	int n_val_loss;
	struct srv_snapshot *snaps;
	size_t n_snaps, cap_snaps;
	int err_code; /* why it failed: a google.rpc code number (1 = cancelled), 0 = none */
	char *err_msg;
	struct srv_net *net;
	int64_t persisted_ns;
	/* A family's wire JSON of the model as last printed, reused while the state it came
	 * from (update time, snapshot count, state) is unchanged: lists stay O(page) in
	 * copies. Owned by the family that prints it; the store only frees it. */
	char *wire_cache;
	size_t wire_len;
	int64_t cache_update_ns;
	size_t cache_snaps;
	enum srv_state cache_state;
	pthread_mutex_t persist_lock;
};

struct srv_store {
	pthread_mutex_t lock;
	char *dir;
	struct srv_model **by_seq; /* ascending seq */
	struct srv_model **by_id;  /* ascending id */
	size_t n, cap;
	uint64_t next_seq;
	unsigned long interrupted; /* CREATING models failed at load: nothing to resume from */
	unsigned long resumable;   /* CREATING models left so at load, to be resumed */
	size_t nets_loaded;	   /* models with weights in memory */
	uint64_t net_clock;
	size_t max_nets; /* SRV_MAX_LOADED_NETS unless set after open */
	pthread_t warm_thread;
	void (*warm)(struct srv_model *m);
	int warm_started;
	int warm_stop; /* guarded by lock */
};

/* Opens (creating) dir and loads every model in it. A model that was CREATING stays so when
 * its examples were kept (the job runner resumes it), else it is marked FAILED. On failure
 * returns a negative errno and a reason in why. */
int srv_store_open(const char *dir, struct srv_store **out, char *why, size_t why_len);
/* Calls warm (under the store lock) on every model in a background thread, a few models
 * per lock hold: the families fill their cached wire text so that the first listing after
 * a start is as quick as the next ones. */
void srv_store_warm(struct srv_store *st, void (*warm)(struct srv_model *m));
/* Stops the warm-up (if running), frees everything. */
void srv_store_close(struct srv_store *st);

struct srv_model *srv_model_new(void);
void srv_model_get(struct srv_store *st, struct srv_model *m);
void srv_model_put(struct srv_store *st, struct srv_model *m);
/* Appends a snapshot; caller holds the store lock. */
void srv_model_add_snapshot(struct srv_model *m, const struct srv_snapshot *s);

/* Returns the model with a reference taken, or NULL. */
struct srv_model *srv_store_find(struct srv_store *st, const char *id);
/* Caller holds the lock: the model or NULL, no reference taken. */
struct srv_model *srv_store_lookup_locked(struct srv_store *st, const char *id);
/* Index of the first model with seq >= seq in by_seq; caller holds the lock. */
size_t srv_store_seq_index_locked(struct srv_store *st, uint64_t seq);

/* Adds a new model (gives it a seq, takes a reference for the index) and creates its
 * directory; -EEXIST when the id is taken. Does not write its files: persist does. */
int srv_store_insert(struct srv_store *st, struct srv_model *m);
/* Takes the model out of the index and removes its files; -ENOENT when absent. Its
 * training job, if any, sees the model deleted at its next step and stops. */
int srv_store_remove(struct srv_store *st, const char *id);
/* Writes job.json from the current state. */
int srv_store_persist(struct srv_store *st, struct srv_model *m);
/* A file kept beside job.json while the job trains (checkpoint.h names them), written
 * atomically; nothing is written once m is deleted, so a write never lands in the
 * directory of a newer job of the same id. */
int srv_store_keep(struct srv_store *st, struct srv_model *m, const char *name, const void *data,
		   size_t len);
/* Reads one back: 0 and a heap buffer, or -errno (-ENOENT when there is none). */
int srv_store_read_kept(struct srv_store *st, const char *id, const char *name, char **out,
			size_t *len);
/* Removes the kept files of a job that will not resume (it ended). */
void srv_store_drop_kept(struct srv_store *st, struct srv_model *m);
/* Path of the weights file of a model into buf. */
void srv_store_weights_path(const struct srv_store *st, const char *id, char *buf, size_t len);
/* 1 when id can name a stored job: 1 to 47 of [a-z0-9-], not starting with '-'. */
int srv_store_id_valid(const char *id);
/* The labels of m replaced by a copy of kv (caller holds the lock or owns m). */
void srv_model_set_labels(struct srv_model *m, const struct srv_kv *kv, size_t n);

/* Loaded weights with a reference taken (lazily loading them), or NULL with a reason. */
struct srv_net *srv_store_net(struct srv_store *st, struct srv_model *m, char *why, size_t why_len);
void srv_net_put(struct srv_store *st, struct srv_net *n);
/* Gives m the loaded weights n (caller holds the lock and n's reference for m). When too
 * many are loaded, *evicted gets an idle one taken off its model: srv_net_put it after
 * unlocking. */
void srv_store_attach_net_locked(struct srv_store *st, struct srv_model *m, struct srv_net *n,
				 struct srv_net **evicted);

int64_t srv_now_ns(void);

/* The job's record as its own JSON (job.json) and back; the caller holds the lock (or
 * owns m). Loading fills a new model and returns -EINVAL when essential fields are
 * missing. */
cJSON *srv_job_json(const struct srv_model *m);
int srv_job_json_load(const cJSON *j, struct srv_model *m);

/* Training examples as the trainer takes them: bytes in, bytes out. */
struct srv_example {
	char *input;
	size_t input_len;
	char *output;
	size_t output_len;
};
void srv_examples_free(struct srv_example *ex, size_t n);
/* A family's reading of one JSONL line into ex; -EINVAL with why when it does not fit. */
typedef int (*srv_example_line_fn)(const cJSON *j, struct srv_example *ex, char *why,
				   size_t why_len);
/* The examples of JSONL text (up to max lines), each non-blank line read by one: 0 with
 * *out (NULL when none) and *n_out; -EINVAL with "line N: why" when a line fails. */
int srv_examples_jsonl(const char *text, size_t len, size_t max, srv_example_line_fn one,
		       struct srv_example **out, size_t *n_out, char *why, size_t why_len);
/* Steps of a training: ceil(n_examples * epochs / batch), 0 when any is not positive. */
int srv_total_steps(long n_examples, int epochs, int batch);
#endif
