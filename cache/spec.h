/* spec.h - the parsers of what a user writes into a draft: `config` (key = value lines
 * or one JSON object) and `examples.jsonl`, and of `generation`. Pure functions, no I/O:
 * they turn bytes into backend.h's request types or into a message naming the file, the
 * line and the problem. */
#ifndef TUNEDFS_SPEC_H
#define TUNEDFS_SPEC_H

#include <stddef.h>

#include "api/backend.h"

/* Parses config text into req (every field but id and examples). On error returns
 * -EINVAL and msg gets e.g. "config: line 4: batch_size must be >= 1", or for the JSON form
 * the field path instead of the line: "config: tuningTask.hyperparameters.batchSize must
 * be >= 1". On success the config fields of req are replaced (old strings freed, keys not
 * in the text unset); on error req is left as it was. base_model comes out as
 * "models/x", source_model as "tunedModels/x". */
int spec_parse_config(const char *text, size_t len, struct tuning_request *req, char *msg,
		      size_t msg_len);

/* A number key of a config that reads (the checks between keys aside, so a config without
 * its base_model yet still says its epoch_count): 0 and *out, -ENOENT when it is not set,
 * -EINVAL when the text does not read. Used by the estimate: epoch_count, price_per_mtok. */
int spec_config_number(const char *text, size_t len, const char *key, double *out);

/* The character limits of one example, as the backend's dataset rules give them (the
 * Gemini API: 40000 and 5000); 0 is no limit. NULL for the struct: no limits either. */
struct spec_example_limits {
	size_t max_input_chars;
	size_t max_output_chars;
};

/* Parses examples.jsonl into req->examples (replacing and freeing any earlier ones; left
 * alone on error). Blank lines are skipped; each other line is
 * one JSON object with "text_input" (or "textInput") and "output", whose lengths in
 * characters lim bounds. On error -EINVAL and
 * msg gets e.g. "examples.jsonl: line 4: not valid JSON" or "...: line 2: missing \"output\"",
 * "...: line 7: not valid UTF-8", "...: line 3: \"output\" is 5001 characters long (at most
 * 5000)", "examples.jsonl: no examples". */
int spec_parse_examples(const char *text, size_t len, const struct spec_example_limits *lim,
			struct tuning_request *req, char *msg, size_t msg_len);

/* Parses `generation` (key = value lines or JSON: temperature, top_p, top_k,
 * max_output_tokens, stop_sequences) into gs. Empty text means no settings. On success gs
 * is replaced (its earlier stop sequences freed, so it must be zeroed or hold an earlier
 * result); on error gs is unchanged and msg reads "generation: line N: ...". */
int spec_parse_generation(const char *text, size_t len, struct generation_settings *gs, char *msg,
			  size_t msg_len);
/* The canonical text of gs: stable key order, what `generation` reads back and what
 * the response cache hashes. One "key = value" line per set field ("" when none), and
 * spec_parse_generation of it gives gs back exactly. Heap string. */
char *spec_generation_canonical(const struct generation_settings *gs);

/* Length of the valid strict UTF-8 prefix of s (n when all of it is valid). */
size_t spec_utf8_valid(const unsigned char *s, size_t n);

#endif
