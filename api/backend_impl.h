/* backend_impl.h - what one backend implements: a table of operations, as libcurl's TLS
 * backends do. Included only by backend.c and the backends' own files; cache/ and fs/ see
 * backend.h alone. Optional members may be NULL (the call then answers -ENOTSUP). */
#ifndef TUNEDFS_BACKEND_IMPL_H
#define TUNEDFS_BACKEND_IMPL_H

#include "api/backend.h"

struct backend_ops {
	const char *name; /* -o backend=NAME */
	unsigned caps;	  /* BACKEND_CAN_*, BACKEND_HAS_* */
	int (*open)(const struct backend_options *o, void **impl, struct backend_error *err);
	void (*close)(void *impl);
	const char *(*credentials_kind)(void *impl);
	/* backend + endpoint (+ project, location): keys the data and cache directories */
	const char *(*identity)(void *impl);
	int (*check_id)(const char *id, char *why, size_t len);
	int (*check_request)(const struct tuning_request *r, char *why, size_t len);
	int (*list)(void *impl, const char *token, struct model_page *out, struct backend_cancel *c,
		    struct backend_error *err);
	/* Optional, both or neither: list in two halves, so that the next page can be asked
	 * for while this one is read (backend_list.c). list_fetch gets a page's answer into
	 * *raw and, when a quick look finds one, the next page's token into *ahead (a guess
	 * that list_parse's full reading confirms or not). list_parse reads *raw into out
	 * and frees it; with out NULL it only frees it. */
	int (*list_fetch)(void *impl, const char *token, void **raw, char **ahead,
			  struct backend_cancel *c, struct backend_error *err);
	int (*list_parse)(void *impl, void *raw, struct model_page *out, struct backend_error *err);
	int (*get)(void *impl, const char *id, struct tuned_model *out, struct backend_cancel *c,
		   struct backend_error *err);
	int (*create)(void *impl, const struct tuning_request *r, struct tuned_model *out,
		      struct backend_cancel *c, struct backend_error *err);
	int (*progress)(void *impl, struct tuned_model *m, struct backend_cancel *c,
			struct backend_error *err);
	int (*cancel)(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		      struct backend_error *err);
	int (*remove)(void *impl, const struct tuned_model *m, struct backend_cancel *c,
		      struct backend_error *err);
	int (*generate)(void *impl, const struct tuned_model *m, const char *prompt,
			const struct generation_settings *gs, struct generation_answer *out,
			struct backend_cancel *c, struct backend_error *err);
	int (*generate_stream)(void *impl, const struct tuned_model *m, const char *prompt,
			       const struct generation_settings *gs, backend_text_fn on_text,
			       void *arg, struct generation_answer *out, struct backend_cancel *c,
			       struct backend_error *err);
	int (*read_answer)(const char *raw, size_t len, struct generation_answer *out);
	/* the texts are the parts of one user turn; n gets their total */
	int (*count_tokens)(void *impl, const struct tuned_model *m, const char *const *texts,
			    size_t n_texts, long *n, struct backend_cancel *c,
			    struct backend_error *err);
	void (*stats)(void *impl, struct backend_stats *out);
	void (*dataset_rules)(size_t n_examples, struct backend_dataset_rules *out);
	/* batches (BACKEND_CAN_BATCH); NULL: not offered */
	const struct backend_batch_ops *batch;
};

struct backend_batch_ops {
	int (*submit)(void *impl, const struct tuned_model *m, const char *display_name,
		      const struct batch_item *items, size_t n, char **name,
		      struct backend_cancel *c, struct backend_error *err);
	int (*find)(void *impl, const struct tuned_model *m, const char *display_name, char **name,
		    struct backend_cancel *c, struct backend_error *err);
	int (*get)(void *impl, const char *name, struct batch_status *out, struct backend_cancel *c,
		   struct backend_error *err);
	int (*results)(void *impl, const char *name, struct batch_result **out, size_t *n,
		       struct backend_cancel *c, struct backend_error *err);
	int (*cancel)(void *impl, const char *name, struct backend_cancel *c,
		      struct backend_error *err);
};

extern const struct backend_ops backend_gemini_ops, backend_vertex_ops, backend_openai_ops;

/* One line to the log the mount set (backend_set_log), for what only gets logged. */
void backend_logf(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
