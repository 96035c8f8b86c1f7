/* spec.c - parsers of draft files (config, examples.jsonl) and of generation settings.
 * Pure: no I/O, no globals. Placeholder until the full parsers land. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/spec.h"

int spec_parse_config(const char *text, size_t len, struct tuning_request *req, char *msg,
		      size_t msg_len)
{
	snprintf(msg, msg_len, "config: not implemented");
	return -ENOSYS;
}

int spec_parse_examples(const char *text, size_t len, struct tuning_request *req, char *msg,
			size_t msg_len)
{
	snprintf(msg, msg_len, "examples.jsonl: not implemented");
	return -ENOSYS;
}

int spec_parse_generation(const char *text, size_t len, struct generation_settings *gs, char *msg,
			  size_t msg_len)
{
	snprintf(msg, msg_len, "generation: not implemented");
	return -ENOSYS;
}

char *spec_generation_canonical(const struct generation_settings *gs)
{
	char *s = strdup("");
	if (!s)
		abort();
	return s;
}
