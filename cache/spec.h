/* spec.h - the parsers of what a user writes into a draft: `config` (key = value lines
 * or one JSON object) and `examples.jsonl`, and of `generation`. Pure functions, no I/O:
 * they turn bytes into the api/ request types or into a message naming the file, the
 * line and the problem. */
#ifndef TUNEDFS_SPEC_H
#define TUNEDFS_SPEC_H

#include <stddef.h>

#include "api/gemini.h"

/* Parses config text into req (every field but id and examples). On error returns
 * -EINVAL and msg gets e.g. "config: line 3: batch_size: must be a whole number >= 1". */
int spec_parse_config(const char *text, size_t len, struct tuning_request *req, char *msg,
		      size_t msg_len);

/* Parses examples.jsonl into req->examples. Blank lines are skipped; each other line is
 * one JSON object with "text_input" (or "textInput") and "output". On error -EINVAL and
 * msg gets e.g. "examples.jsonl: line 4: not valid JSON" or "...: line 2: missing \"output\"",
 * "...: line 7: not valid UTF-8", "examples.jsonl: no examples". */
int spec_parse_examples(const char *text, size_t len, struct tuning_request *req, char *msg,
			size_t msg_len);

/* Parses `generation` (key = value lines or JSON: temperature, top_p, top_k,
 * max_output_tokens, stop_sequences) into gs. */
int spec_parse_generation(const char *text, size_t len, struct generation_settings *gs,
			  char *msg, size_t msg_len);
/* The canonical text of gs: stable key order, what `generation` reads back and what
 * the response cache hashes. Heap string. */
char *spec_generation_canonical(const struct generation_settings *gs);

#endif
