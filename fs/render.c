/* render.c - the virtual files of a model directory: their names, who sees and writes
 * them, and their content as text rendered from a copy of the model table's entry.
 * The FUSE handlers that serve these bytes are in io.c; nothing here talks HTTP. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "base/rfc3339.h"
#include "cache/answer_log.h"
#include "cache/loss_svg.h"
#include "fs/tunedfs.h"

static const char *const kind_names[TFS_NKINDS] = {
    [TFS_CONFIG] = "config",
    [TFS_EXAMPLES] = "examples.jsonl",
    [TFS_STATE] = "state",
    [TFS_PROGRESS] = "progress",
    [TFS_WAIT] = "wait",
    [TFS_PROMPT] = "prompt",
    [TFS_RESPONSE] = "response",
    [TFS_RESPONSE_JSON] = "response.json",
    [TFS_GENERATION] = "generation",
    [TFS_MODEL_JSON] = "model.json",
    [TFS_ERROR] = "error",
    [TFS_PROGRESS_SVG] = "progress.svg",
    [TFS_LOG] = "log.jsonl",
    [TFS_ESTIMATE] = "estimate",
};

const char *tfs_kind_name(enum tfs_kind k)
{
	return k < TFS_NKINDS ? kind_names[k] : "scratch";
}

int tfs_table_file(enum tfs_kind k)
{
	switch (k) {
	case TFS_CONFIG:
		return MODEL_TABLE_CONFIG;
	case TFS_EXAMPLES:
		return MODEL_TABLE_EXAMPLES;
	case TFS_PROMPT:
		return MODEL_TABLE_PROMPT;
	case TFS_GENERATION:
		return MODEL_TABLE_GENERATION;
	default:
		return -1;
	}
}

enum tfs_kind tfs_kind_of(const char *name)
{
	for (int k = 0; k < TFS_NKINDS; k++)
		if (strcmp(kind_names[k], name) == 0)
			return (enum tfs_kind)k;
	return TFS_SCRATCH;
}

int tfs_kind_visible(enum tfs_kind k, const struct model_table_attr *a)
{
	/* a draft's own two files exist once written or created (so cp, tar and
	 * O_EXCL creates work in a fresh draft); a remote model shows its config only */
	if (k == TFS_CONFIG || k == TFS_EXAMPLES)
		return a->is_draft ? (a->draft_files &
				      MODEL_TABLE_FILE_BIT((unsigned)tfs_table_file(k))) != 0
				   : k == TFS_CONFIG;
	/* the picture needs a point; a draft of this mount has it empty before that, so a
	 * restore's copy of it is taken (and dropped) as progress's is */
	if (k == TFS_PROGRESS_SVG)
		return a->has_snapshots || tfs_replaceable(k, a);
	if (k == TFS_ESTIMATE) /* and its examples parse: tfs_estimate_ready */
		return a->is_draft &&
		       (a->draft_files & MODEL_TABLE_FILE_BIT(MODEL_TABLE_EXAMPLES)) != 0;
	return k < TFS_NKINDS;
}

int tfs_replaceable(enum tfs_kind k, const struct model_table_attr *a)
{
	/* made here and not ACTIVE yet: a restore's config and examples may have been
	 * submitted before it copies the rest */
	return a->is_draft && a->state != MODEL_TABLE_ACTIVE && k != TFS_CONFIG &&
	       k != TFS_EXAMPLES;
}

int tfs_restorable(enum tfs_kind k, const struct model_table_attr *a)
{
	return tfs_replaceable(k, a) && !tfs_kind_writable(k, a);
}

int tfs_kind_listed(enum tfs_kind k, const struct model_table_attr *a)
{
	if (k == TFS_PROGRESS_SVG)
		return a->has_snapshots; /* a draft's empty one is there for restores only */
	/* wait and estimate are opened by name, never listed: tools that walk a tree
	 * (grep -r, cp -a, tar, head * / *) would otherwise block on wait while a model
	 * trains, and have the service count tokens on every estimate they pass */
	return k != TFS_WAIT && k != TFS_ESTIMATE && tfs_kind_visible(k, a);
}

int tfs_kind_writable(enum tfs_kind k, const struct model_table_attr *a)
{
	switch (k) {
	case TFS_CONFIG:
	case TFS_EXAMPLES:
		return a->is_draft && !a->locked;
	case TFS_PROMPT:
	case TFS_GENERATION:
	case TFS_SCRATCH:
		return 1;
	default:
		return 0;
	}
}

int tfs_kind_dynamic(enum tfs_kind k)
{
	switch (k) {
	case TFS_STATE:
	case TFS_PROGRESS:
	case TFS_WAIT:
	case TFS_RESPONSE:
	case TFS_RESPONSE_JSON:
	case TFS_ERROR:
	case TFS_MODEL_JSON:
	case TFS_PROGRESS_SVG:
	case TFS_LOG:
	case TFS_ESTIMATE:
		return 1;
	default:
		return 0;
	}
}

int tfs_estimate_ready(const char *id, enum tfs_kind k)
{
	return k != TFS_ESTIMATE || model_table_estimate_ready(tfs_ctx.mt, id) == 0;
}

/* A growing text buffer. */
struct text {
	char *s;
	size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->s = xrealloc(t->s, t->cap);
	}
}

static void text_bytes(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = xrealloc(t->s, t->cap);
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = 0;
}

static void text_line(struct text *t, const char *s)
{
	size_t n = strlen(s);
	text_bytes(t, s, n);
	if (n == 0 || s[n - 1] != '\n')
		text_bytes(t, "\n", 1);
}

/* The config of a model made elsewhere: what its resource says, read-only. */
static void render_remote_config(struct text *t, const struct tuned_model *m)
{
	const struct tuning_settings *ts = &m->settings;
	const struct model_generation *g = &m->generation;

	text_add(t, "# read-only: the settings the service reports for %s\n",
		 m->id ? m->id : "this model");
	if (m->source_model)
		text_add(t, "source_model = %s\n", m->source_model);
	else if (m->base_model)
		text_add(t, "base_model = %s\n", m->base_model);
	if (m->display_name)
		text_add(t, "display_name = %s\n", m->display_name);
	if (m->description)
		text_add(t, "description = %s\n", m->description);
	if (ts->epochs)
		text_add(t, "epoch_count = %d\n", ts->epochs);
	if (ts->batch_size)
		text_add(t, "batch_size = %d\n", ts->batch_size);
	if (ts->learning_rate > 0)
		text_add(t, "learning_rate = %g\n", ts->learning_rate);
	if (ts->learning_rate_multiplier > 0)
		text_add(t, "learning_rate_multiplier = %g\n", ts->learning_rate_multiplier);
	if (ts->adapter_size)
		text_add(t, "adapter_size = %s\n", ts->adapter_size);
	if (g->has_temperature)
		text_add(t, "temperature = %g\n", g->temperature);
	if (g->has_top_p)
		text_add(t, "top_p = %g\n", g->top_p);
	if (g->has_top_k)
		text_add(t, "top_k = %d\n", g->top_k);
}

/* The width of progress's first line, newline included. */
#define PROGRESS_HEAD 64

static void render_progress(struct text *t, const struct model_table_view *v)
{
	const struct tuning_snapshot *last =
	    v->n_snapshots ? &v->snapshots[v->n_snapshots - 1] : NULL;
	int total = v->total_steps, done = v->completed_steps;
	double pct = v->percent;
	char loss[32] = "-";
	size_t head;

	if (v->attr.state == MODEL_TABLE_DRAFT)
		return;
	/* never behind the last snapshot (an operation cut by a server restart may report
	 * no steps done) */
	if (last && last->step > done)
		done = last->step;
	if (total == 0 && last && v->attr.state != MODEL_TABLE_CREATING)
		total = last->step;
	if (v->attr.state == MODEL_TABLE_ACTIVE) {
		pct = 100.0;
		if (total)
			done = total;
	} else if (pct <= 0 && total > 0) {
		pct = 100.0 * done / total;
	}
	if (last)
		snprintf(loss, sizeof loss, "%.3f", last->mean_loss);
	head = t->len;
	text_add(t, "%.1f%% step %d/%d epoch %d loss %s", pct, done, total, last ? last->epoch : 0,
		 loss);
	/* padded to a fixed width, so the file only grows as snapshots come (tail -f
	 * shows each new line, not a shifted tail) */
	while (t->len - head < PROGRESS_HEAD - 1)
		text_bytes(t, " ", 1);
	text_bytes(t, "\n", 1);
	for (size_t i = 0; i < v->n_snapshots; i++) {
		const struct tuning_snapshot *s = &v->snapshots[i];
		char at[40] = "-";
		if (s->at)
			rfc3339_format(s->at, 0, at, sizeof at);
		text_add(t, "%d %d %.6f %s\n", s->step, s->epoch, s->mean_loss, at);
	}
	if (v->evaluation) /* the service's own evaluation, after the snapshots */
		text_add(t, "%s", v->evaluation);
}

static int render_svg(const char *id, const struct model_table_view *v, struct text *t)
{
	char *svg;
	size_t len;

	if (loss_svg_render(id, model_table_state_name(v->attr.state), v->snapshots, v->n_snapshots,
			    &svg, &len) < 0)
		return 0; /* no snapshot yet: empty (shown so only in a draft) */
	text_bytes(t, svg, len);
	free(svg);
	return 0;
}

static int render_log(const char *id, struct text *t)
{
	char buf[65536];
	ssize_t n;

	while ((n = answer_log_read(tfs_ctx.answer_log, id, buf, sizeof buf, (off_t)t->len)) > 0)
		text_bytes(t, buf, (size_t)n);
	return n < 0 ? (int)n : 0;
}

static int render_draft_file(enum tfs_kind k, const char *id, struct text *t)
{
	char *data = NULL;
	size_t len = 0;
	int rc = model_table_read_draft(tfs_ctx.mt, id,
					k == TFS_CONFIG ? MODEL_TABLE_CONFIG : MODEL_TABLE_EXAMPLES,
					&data, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	text_bytes(t, data, len);
	free(data);
	return 0;
}

static int render_view(enum tfs_kind k, const char *id, const struct model_table_view *v,
		       struct text *t)
{
	switch (k) {
	case TFS_CONFIG:
		if (!v->attr.is_draft) {
			if (v->remote)
				render_remote_config(t, &v->model);
			return 0;
		}
		return render_draft_file(k, id, t);
	case TFS_EXAMPLES:
		return v->attr.is_draft ? render_draft_file(k, id, t) : -ENOENT;
	case TFS_STATE:
		text_add(t, "%s\n", model_table_state_name(v->attr.state));
		return 0;
	case TFS_PROGRESS:
		render_progress(t, v);
		return 0;
	case TFS_PROGRESS_SVG:
		return render_svg(id, v, t);
	case TFS_LOG:
		return render_log(id, t);
	case TFS_PROMPT: {
		char *p = NULL;
		size_t n = 0;
		/* the reader's own prompt (or its shell's), else the last committed */
		if (model_table_prompt_of(tfs_ctx.mt, fuse_get_context()->pid, id, 0, &p, &n) ==
		    0) {
			text_bytes(t, p, n);
			text_bytes(t, "\n", 1);
			free(p);
		}
		return 0;
	}
	case TFS_GENERATION:
		text_bytes(t, v->generation, strlen(v->generation));
		return 0;
	case TFS_MODEL_JSON:
		if (v->remote && v->model.raw_json)
			text_line(t, v->model.raw_json);
		return 0;
	case TFS_ERROR:
		if (v->error[0])
			text_line(t, v->error);
		return 0;
	default:
		return -EINVAL;
	}
}

int tfs_render(enum tfs_kind k, const char *id, char **data, size_t *len)
{
	struct model_table_view v;
	struct text t = {0};
	int rc = model_table_view(tfs_ctx.mt, id, k == TFS_CONFIG || k == TFS_MODEL_JSON, &v);

	if (rc < 0)
		return rc;
	text_bytes(&t, "", 0);
	rc = render_view(k, id, &v, &t);
	model_table_view_clear(&v);
	if (rc < 0) {
		free(t.s);
		return rc;
	}
	*data = t.s;
	*len = t.len;
	return 0;
}

int tfs_render_blocking(enum tfs_kind k, const char *id, const struct tfs_wait *w, char **data,
			size_t *len)
{
	struct model_table_answer a;
	struct text t = {0};
	enum model_table_state st;
	int rc;

	text_bytes(&t, "", 0);
	if (k == TFS_ESTIMATE) {
		free(t.s);
		return model_table_estimate(tfs_ctx.mt, id, tfs_ctx.opt.price_per_mtok, data, len);
	}
	if (k == TFS_WAIT) {
		struct model_table_attr at;
		rc = model_table_attr(tfs_ctx.mt, id, &at);
		if (rc == 0 && w->nonblock && at.state == MODEL_TABLE_CREATING)
			rc = -EAGAIN;
		if (rc == 0)
			rc = model_table_wait(tfs_ctx.mt, id, w->timeout, w->intr, &st);
		if (rc == 0)
			text_add(&t, "%s\n", model_table_state_name(st));
	} else {
		rc = model_table_response_by(tfs_ctx.mt, w->pid, id, w->nonblock, w->timeout,
					     w->intr, &a);
		if (rc == -EILSEQ) {
			rc = -EINVAL; /* the prompt was refused; error says why */
		} else if (rc == -ENODATA) {
			rc = 0; /* no prompt yet, or never asked: an empty answer */
		} else if (rc == 0) {
			if (k == TFS_RESPONSE_JSON) {
				text_bytes(&t, a.json, a.len);
				text_bytes(&t, "\n", 1);
			} else if (a.block_reason) {
				char msg[200];
				snprintf(msg, sizeof msg,
					 "prompt blocked by the safety filter (blockReason %s)",
					 a.block_reason);
				model_table_set_error(tfs_ctx.mt, id, msg);
				rc = -EACCES;
			} else {
				text_bytes(&t, a.text, strlen(a.text));
				text_bytes(&t, "\n", 1);
			}
			model_table_answer_clear(&a);
		}
	}
	if (rc < 0) {
		free(t.s);
		return rc;
	}
	*data = t.s;
	*len = t.len;
	return 0;
}

size_t tfs_size_guess(enum tfs_kind k, const char *id)
{
	size_t text_len, json_len, len = 0;
	char *data = NULL;

	switch (k) {
	case TFS_RESPONSE:
	case TFS_RESPONSE_JSON:
		if (model_table_response_size(tfs_ctx.mt, id, &text_len, &json_len) < 0)
			return 0;
		return k == TFS_RESPONSE ? text_len + 1 : json_len + 1;
	case TFS_ESTIMATE:
		return 0; /* never counted for a stat: only reading it asks the service */
	case TFS_WAIT: {
		struct model_table_attr a;
		if (model_table_attr(tfs_ctx.mt, id, &a) < 0 || a.state == MODEL_TABLE_CREATING)
			return 0;
		return strlen(model_table_state_name(a.state)) + 1;
	}
	case TFS_LOG:
		if (answer_log_size(tfs_ctx.answer_log, id, &len) < 0)
			return 0;
		return len;
	default:
		if (tfs_render(k, id, &data, &len) < 0)
			return 0;
		free(data);
		return len;
	}
}
