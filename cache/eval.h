/* eval.h - held-out evaluation of a model (MODEL/eval/): the store of the example files a
 * user writes there (user data, beside the prompt spools) and of their scored results,
 * and the scoring itself (eval_score.c: matches, similarity, the two result files). What
 * a file's closing starts and a result's read waits for is the model table's
 * (model_table.h, model_table_eval_*). No FUSE here. */
#ifndef TUNEDFS_EVAL_H
#define TUNEDFS_EVAL_H

#include <stddef.h>

/* The name of an example file in eval/: NAME.jsonl, NAME 1 to this many bytes. */
#define EVAL_NAME_MAX 100

/* One example scored: line is its line in the file (1-based). */
struct eval_item {
	int line;
	char *input, *expected, *got;
	int match, normalised;
	double similarity;
};

/* The examples of an eval file: the same line formats as examples.jsonl ({"text_input",
 * "output"}, or a Vertex "contents" / OpenAI "messages" line: its last user turn is the
 * input and its last model turn the expected answer). Blank lines are skipped; an empty
 * file has no examples. -EINVAL with "eval/FILE: line N: why" in msg. got stays NULL. */
int eval_parse(const char *file, const char *data, size_t len, struct eval_item **out, size_t *n,
	       char *msg, size_t msg_len);
void eval_items_free(struct eval_item *v, size_t n);

/* 1 - Levenshtein(a, b) / max(length) over Unicode code points (bytes of invalid UTF-8
 * count as one each), on at most the first 4096 code points of each; 1 when both are
 * empty. */
double eval_similarity(const char *a, const char *b);
/* Whether a and b are equal once leading and trailing white space is dropped and ASCII
 * letters are folded to lower case. */
int eval_normal_equal(const char *a, const char *b);
/* Scores every item (got set) and writes the `.result` text and the `.out.jsonl` lines. */
void eval_score(struct eval_item *v, size_t n, char **result, size_t *result_len, char **lines,
		size_t *lines_len);

/* The store: DIR/e/MODEL/ holds the example files, DIR/r/MODEL/ their results. */
struct eval_store;
int eval_store_open(const char *dir, struct eval_store **out);
void eval_store_close(struct eval_store *s);
/* NAME.jsonl with NAME of 1 to EVAL_NAME_MAX bytes, no '/', not starting with '.', and
 * not ending in .out (NAME.out.jsonl is a result). */
int eval_valid_name(const char *file);
/* The models with example files; a model's files: sorted heap arrays. */
int eval_store_models(struct eval_store *s, char ***names, size_t *n);
int eval_store_list(struct eval_store *s, const char *model, char ***names, size_t *n);
void eval_names_free(char **names, size_t n);
int eval_store_read(struct eval_store *s, const char *model, const char *file, char **data,
		    size_t *len);
/* Atomic and durable when it returns 0. */
int eval_store_write(struct eval_store *s, const char *model, const char *file, const char *data,
		     size_t len);
/* The file and its results. */
int eval_store_unlink(struct eval_store *s, const char *model, const char *file);
void eval_store_drop(struct eval_store *s, const char *model);
/* The results of file for key (the hex of what they were computed from): -ENOENT when
 * none are kept for that key. */
int eval_store_result(struct eval_store *s, const char *model, const char *file, const char *key,
		      char **result, size_t *result_len, char **lines, size_t *lines_len);
int eval_store_put_result(struct eval_store *s, const char *model, const char *file,
			  const char *key, const char *result, size_t result_len, const char *lines,
			  size_t lines_len);

#endif
