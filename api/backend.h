/* backend.h - the one contract between the cache and the tuning services: neutral types
 * for a tuned model, a tuning request, a generation and an error, and one call per thing a
 * service does. cache/ and fs/ include this header and no other of api/. Which service
 * answers (gemini, vertex, openai) is chosen by name in backend_open; its URLs, JSON and
 * state names stay behind it (backend_impl.h and the backend's own files). */
#ifndef TUNEDFS_BACKEND_H
#define TUNEDFS_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

/* What the errno of a failure folds together, in the contract's own words: the kinds the
 * cache tells apart (EIO alone is an unreachable service, an answer too large or unusable,
 * a service failing). Not found, exists, invalid and denied are the errno's to say. */
enum backend_error_kind {
	BACKEND_ERROR_OTHER = 0,    /* nothing beyond the errno (a refusal: see http_status) */
	BACKEND_ERROR_UNREACHABLE,  /* no answer: no connection, or it broke or was cut short */
	BACKEND_ERROR_TIMEOUT,	    /* the call's time ran out, or the service's own deadline */
	BACKEND_ERROR_CANCELLED,    /* backend_cancel, or the service says the call was */
	BACKEND_ERROR_TOO_LARGE,    /* an answer over a local limit (-o max_inflight_mib) */
	BACKEND_ERROR_BAD_ANSWER,   /* the service said yes with an answer that is unusable */
	BACKEND_ERROR_RATE_LIMITED, /* the service's rate limit or quota: try later */
	BACKEND_ERROR_UNAVAILABLE,  /* the service answered that it failed or cannot serve now */
	BACKEND_ERROR_CREDENTIALS,  /* no credentials could be had, or the service refused them */
	BACKEND_ERROR_DIVERGED,	    /* the cache's own: a stream's retry answered differently */
};

/* Why a call failed. Every call that returns a negative errno fills one (when given):
 * its kind, the HTTP status (0 when no answer came), the service's own code word as it
 * sent it ("INVALID_ARGUMENT", "invalid_api_key", ...; empty when the failure was local or
 * the service said none) and a message fit for the `error` file. */
struct backend_error {
	enum backend_error_kind kind;
	int http_status;
	char code[48];
	char message[512];
};
/* "unreachable", "rate-limited", ... for logs and tests. */
const char *backend_error_kind_name(enum backend_error_kind k);

/* Set by another thread to abort a call in flight (FUSE interrupt, unmount); seen within
 * 50 ms, in flight or between retries. A cancelled call returns -EINTR. */
struct backend_cancel {
	atomic_int cancelled;
};

enum backend_state {
	BACKEND_STATE_UNKNOWN = 0,
	BACKEND_CREATING, /* queued, pending, running */
	BACKEND_ACTIVE,
	BACKEND_FAILED, /* failed or cancelled; tuned_model.failure says why */
};

/* What to tune with; 0 means unset (the service's default). */
struct tuning_settings {
	int epochs, batch_size;
	double learning_rate, learning_rate_multiplier;
	char *adapter_size; /* Vertex: "ADAPTER_SIZE_FOUR", ...; NULL when unset */
};

/* Default generation settings kept with a model by services that have them (Gemini). */
struct model_generation {
	int has_temperature, has_top_p, has_top_k;
	double temperature, top_p;
	int top_k;
};

struct tuning_snapshot {
	int step, epoch;
	double mean_loss;
	time_t at;	    /* 0 when the service did not say */
	int has_valid_loss; /* the validation set's loss at this step, when the service says */
	double valid_loss;
};

/* One model as the mount shows it. Strings are heap-owned, NULL when absent. */
struct tuned_model {
	char *id;      /* the directory name */
	char *version; /* changes whenever the model does: answer-cache key, listing signature */
	char *display_name, *description;
	char *base_model;   /* the service's base model name */
	char *source_model; /* the tuned model this one was tuned from, NULL when from a base */
	enum backend_state state;
	time_t created, updated;
	struct tuning_settings settings;
	struct model_generation generation;
	int total_steps, completed_steps; /* 0 when the service does not say */
	int completed_epochs;
	double percent; /* -1 when the service does not say */
	struct tuning_snapshot *snapshots;
	size_t n_snapshots;
	char *job;	  /* opaque to the cache: Gemini operation, Vertex tuningJob, OpenAI job */
	char *endpoint;	  /* where generation goes, when it is not the id (Vertex endpoint) */
	char *failure;	  /* why FAILED; NULL otherwise */
	char *evaluation; /* the service's own evaluation of the tuning (a validation set's
			   * loss), lines for progress; NULL when none */
	char *raw_json;	  /* the service's resource, shown as model.json */
};

/* One training example. input/output are the tutorial's text_input/output; native is a
 * whole line in the backend's own format (Vertex contents, OpenAI messages), passed
 * through by the backend that owns that format (input/output then NULL). */
struct tuning_example {
	char *input, *output;
	char *native;
	int line; /* its line in the file it was read from; 0: not known */
};

struct tuning_request {
	char *id; /* directory name; the backend finds its own earlier job by it */
	char *display_name, *description;
	char *base_model;   /* exactly one of base_model / source_model */
	char *source_model; /* an id of a tuned model (BACKEND_HAS_SOURCE_MODEL) */
	char *system_instruction;
	struct tuning_settings settings;
	struct model_generation generation;
	struct tuning_example *examples;
	size_t n_examples;
	/* a validation set (BACKEND_HAS_VALIDATION): the config's validation_examples names
	 * the file; the cache reads its examples in and sets the name to the file's path in
	 * the model directory (eval/NAME.jsonl), which messages about its lines give */
	char *validation_file;
	struct tuning_example *validation;
	size_t n_validation;
};

#define BACKEND_MAX_STOP_SEQUENCES 5
/* Settings of one generation; has_* says which are set. */
struct generation_settings {
	int has_temperature, has_top_p, has_top_k, has_max_output_tokens;
	double temperature, top_p;
	int top_k;
	int max_output_tokens;
	char *stop_sequences[BACKEND_MAX_STOP_SEQUENCES];
	size_t n_stop_sequences;
};

struct generation_answer {
	char *text;	     /* the answer's text; "" when none */
	char *finish_reason; /* the service's word ("STOP", "stop", "MAX_TOKENS"); NULL if absent */
	char *block_reason;  /* set when the service refused the prompt (safety) */
	char *raw_json;	     /* the whole response as received: response.json */
	long in_tokens, out_tokens, total_tokens; /* usage as the service says it; -1 when not */
};

struct model_page {
	struct tuned_model *v;
	size_t n;
	char *next; /* page token of the next page, NULL on the last */
};

/* What a backend can do beyond the common calls. */
#define BACKEND_CAN_CANCEL	     (1u << 0)
#define BACKEND_CAN_COUNT_TOKENS     (1u << 1)
#define BACKEND_CAN_STREAM	     (1u << 2)
#define BACKEND_HAS_SOURCE_MODEL     (1u << 3) /* tune a tuned model further */
#define BACKEND_HAS_LEARNING_RATE    (1u << 4) /* an absolute learning rate */
#define BACKEND_HAS_LR_MULTIPLIER    (1u << 5) /* a learning-rate multiplier */
#define BACKEND_HAS_MODEL_GENERATION (1u << 6) /* model-level temperature, top_p, top_k */
#define BACKEND_HAS_ADAPTER_SIZE     (1u << 7)
#define BACKEND_HAS_VALIDATION	     (1u << 8) /* a validation set the service evaluates */
#define BACKEND_CAN_BATCH	     (1u << 9) /* backend_batch_* */

struct backend_options {
	const char *name;     /* "gemini" (default when NULL), "vertex", "openai" */
	const char *endpoint; /* base URL or "unix:/path"; NULL: the service's own */
	const char *project, *location,
	    *bucket;		  /* Vertex; project is the quota project on Gemini */
	const char *organization; /* OpenAI-Organization */
	const char *api_key_file, *token_command, *token_uri;
	int no_credentials; /* the private local server: send none, read none */
	long timeout_ms;    /* budget of a whole call with its retries */
	long generate_timeout_ms;
	size_t
	    batch_inline_max; /* bigger batch requests go as an uploaded file; 0: the service's */
	size_t max_inflight_bytes; /* answers being received at once, by every backend of the
				      process (0: 512 MiB); beyond, a request waits or fails */
};

struct backend;

/* Builds credentials and the HTTP client, so errors reach the terminal before the mount:
 * -EINVAL for an unknown name ("known: gemini, vertex, openai") or a bad option,
 * -EACCES for missing credentials; err->message names the option or variable. */
int backend_open(const struct backend_options *o, struct backend **out, struct backend_error *err);
void backend_close(struct backend *b);
const char *backend_name(const struct backend *b);
unsigned backend_caps(const struct backend *b);
/* A word for the log: which credentials are in use ("api-key", "service_account", ...). */
const char *backend_credentials_kind(const struct backend *b);
/* A string that tells this service apart from another (backend, endpoint, project,
 * location): keys the data and cache directories. Owned by b. */
const char *backend_identity(const struct backend *b);

/* 1 when id can name a model on this service, else 0 and the rule in why. */
int backend_check_id(const struct backend *b, const char *id, char *why, size_t len);
/* Refuses what the service cannot honour: 0, or -EINVAL with the config key or the
 * examples.jsonl line and what to do in why. */
int backend_check_request(const struct backend *b, const struct tuning_request *r, char *why,
			  size_t len);

/* All calls below: 0 with out filled (caller clears it), or -errno with err filled;
 * cancel may be NULL. Errnos: DESIGN.md's table (EINVAL, EACCES, ENOENT, EEXIST,
 * EAGAIN for quota, EIO service down or bad answer, ETIMEDOUT, EINTR cancelled). */
int backend_list(struct backend *b, const char *page_token, struct model_page *out,
		 struct backend_cancel *c, struct backend_error *err);
/* Every page, stopping at a repeated page token or a cap on pages, models or bytes (-EIO,
 * said in err and in the log). Models whose name breaks the backend's id rule or hides a
 * NUL are left out of every page (backend_list too) and logged. */
int backend_list_all(struct backend *b, struct tuned_model **out, size_t *n,
		     struct backend_cancel *c, struct backend_error *err);
/* An answer about another model than id, or one whose name is refused, is -EIO. */
int backend_get(struct backend *b, const char *id, struct tuned_model *out,
		struct backend_cancel *c, struct backend_error *err);
/* Starts tuning. Idempotent per id: a retry after a lost answer finds and returns the job
 * it made earlier instead of making a second one; -EEXIST only when the id is taken by a
 * model this request did not make. out is the model as the service now shows it. */
int backend_create(struct backend *b, const struct tuning_request *r, struct tuned_model *out,
		   struct backend_cancel *c, struct backend_error *err);
/* Refreshes state, progress and snapshots of m in place (through m->job when set). */
int backend_progress(struct backend *b, struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err);
/* Stops a running tuning; -ENOTSUP unless BACKEND_CAN_CANCEL. */
int backend_cancel(struct backend *b, const struct tuned_model *m, struct backend_cancel *c,
		   struct backend_error *err);
/* Deletes the model (cancelling first where needed) as far as the service allows; a part
 * the service refuses is said in err->message with 0 returned when the model is gone. */
int backend_remove(struct backend *b, const struct tuned_model *m, struct backend_cancel *c,
		   struct backend_error *err);
/* One answer. A body that is not a well-formed answer is -EIO, never an empty answer. */
int backend_generate(struct backend *b, const struct tuned_model *m, const char *prompt,
		     const struct generation_settings *gs, struct generation_answer *out,
		     struct backend_cancel *c, struct backend_error *err);
/* Called as an answer's text arrives: text[0..len) is the answer's bytes from offset at.
 * A stream cut and tried again starts over at 0, so the same bytes may come twice. */
typedef void (*backend_text_fn)(void *arg, size_t at, const char *text, size_t len);
/* backend_generate with the text passed to on_text as it is generated (a backend without
 * BACKEND_CAN_STREAM calls it once with the whole text). out is what backend_generate
 * gives, its raw_json the answer as the service gives it unstreamed; a stream that ends
 * without its finish reason, or with an error event, is -EIO. */
int backend_generate_stream(struct backend *b, const struct tuned_model *m, const char *prompt,
			    const struct generation_settings *gs, backend_text_fn on_text,
			    void *arg, struct generation_answer *out, struct backend_cancel *c,
			    struct backend_error *err);
/* Reads an answer back from raw JSON this backend returned earlier (the response cache). */
int backend_read_answer(const struct backend *b, const char *raw, size_t len,
			struct generation_answer *out);
/* Tokens the service counts for text as one user turn: on the tuned model m, or, when m
 * has no id, on m->base_model (the estimate before tuning). -ENOTSUP unless
 * BACKEND_CAN_COUNT_TOKENS (the OpenAI API has no such call). */
int backend_count_tokens(struct backend *b, const struct tuned_model *m, const char *text, long *n,
			 struct backend_cancel *c, struct backend_error *err);
/* The same for many texts in one request (the parts of one turn): *n gets their total. */
int backend_count_tokens_many(struct backend *b, const struct tuned_model *m,
			      const char *const *texts, size_t n_texts, long *n,
			      struct backend_cancel *c, struct backend_error *err);

/* Batches: many answers from one job of the service's batch engine, at its batch price.
 * A batch is named by the service (name); items by the caller (key: 1 to 64 of
 * [A-Za-z0-9_-]), each with its own prompt and generation settings. */
struct batch_item {
	const char *key, *prompt;
	const struct generation_settings *gs;
};
enum batch_state {
	BATCH_PENDING = 1,
	BATCH_RUNNING,
	BATCH_SUCCEEDED, /* ended; results hold every item, answered or failed */
	BATCH_FAILED,	 /* ended without (all) results; failure says why */
	BATCH_CANCELLED,
	BATCH_EXPIRED,
};
struct batch_status {
	enum batch_state state;
	long total, done, failed; /* items; -1 when the service does not say */
	char *failure;		  /* why FAILED/EXPIRED, NULL otherwise */
};
/* One item's outcome: raw_json an answer backend_read_answer reads (the same as the
 * online call's), or error (why the service did not answer it). */
struct batch_result {
	char *key, *raw_json, *error;
};
/* Sends items as one batch on model m; display_name is the caller's idempotence tag (a
 * submit whose answer was lost is found with backend_batch_find). *name: heap. */
int backend_batch_submit(struct backend *b, const struct tuned_model *m, const char *display_name,
			 const struct batch_item *items, size_t n, char **name,
			 struct backend_cancel *c, struct backend_error *err);
/* The batch named display_name on m made earlier, or -ENOENT. */
int backend_batch_find(struct backend *b, const struct tuned_model *m, const char *display_name,
		       char **name, struct backend_cancel *c, struct backend_error *err);
int backend_batch_get(struct backend *b, const char *name, struct batch_status *out,
		      struct backend_cancel *c, struct backend_error *err);
/* The items' outcomes of an ended batch (any order; items absent were not answered). */
int backend_batch_results(struct backend *b, const char *name, struct batch_result **out, size_t *n,
			  struct backend_cancel *c, struct backend_error *err);
int backend_batch_cancel(struct backend *b, const char *name, struct backend_cancel *c,
			 struct backend_error *err);
const char *backend_batch_state_name(enum batch_state s); /* "PENDING", "RUNNING", ... */
void batch_status_clear(struct batch_status *s);
void batch_results_free(struct batch_result *v, size_t n);

/* What a service documents about a tuning dataset: its character limits are checked when
 * examples.jsonl is written, the rest feeds the estimate a draft shows. */
struct backend_dataset_rules {
	int min_examples;	 /* fewer are refused; 0: not documented */
	long max_example_tokens; /* of one example, input and output; 0: no token limit */
	size_t max_input_chars;	 /* of one example's text_input; 0: no character limit */
	size_t max_output_chars; /* of one example's output; 0: no character limit */
	int default_epochs;	 /* the epochs of a tuning that sets none, for n examples */
	int epochs_assumed;	 /* 1: the service picks its own; default_epochs is a guess */
	const char *limits;	 /* where the figures come from, one short phrase */
};
void backend_dataset_rules(const struct backend *b, size_t n_examples,
			   struct backend_dataset_rules *out);

/* Request counters for tests and benchmarks. */
struct backend_stats {
	unsigned long requests, retries, failures;
	unsigned long token_refreshes, token_failures;
};
void backend_stats(struct backend *b, struct backend_stats *out);

const char *backend_state_name(enum backend_state s); /* "CREATING", "ACTIVE", ... */

void tuned_model_clear(struct tuned_model *m);
void tuned_model_copy(struct tuned_model *dst, const struct tuned_model *src);
void tuned_models_free(struct tuned_model *v, size_t n);
void model_page_clear(struct model_page *p);
void tuning_settings_clear(struct tuning_settings *s);
void tuning_request_clear(struct tuning_request *r);
/* Where example i (from 0) of file is, for a message: "FILE: line N", or "FILE: example
 * I+1" when its line is not known. */
void tuning_example_where(const struct tuning_example *ex, size_t i, const char *file, char *buf,
			  size_t len);
void generation_settings_clear(struct generation_settings *gs);
void generation_answer_clear(struct generation_answer *a);

/* Where the backends' own warnings go (refused names, a listing stopped): one line each,
 * syslog priority. NULL (the default): nowhere. Set once, before any call. */
void backend_set_log(void (*fn)(int prio, const char *line));

/* The last call of a detached thread that made backend calls, before it counts itself gone:
 * frees what the transport's libraries keep per thread (OpenSSL's error queue, and the
 * random generators a signed token or a TLS handshake made). A detached thread's own exit
 * handlers may run after the unmount that waited for its count has ended the process. */
void backend_thread_end(void);

#endif
