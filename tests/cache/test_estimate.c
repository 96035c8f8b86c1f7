/* test_estimate.c - the estimate's pure parts: line numbers of the examples (blank lines
 * skipped), a service's total shared out by bytes, the local bytes/4 rule, the figures and
 * every warning as the file shows them. */
#include <stdlib.h>
#include <string.h>

#include "cache/estimate.h"
#include "cache/spec.h"
#include "../check.h"

static const char EXAMPLES[] =
    "{\"text_input\": \"a\", \"output\": \"xy\"}\n"
    "\n"
    "{\"text_input\": \"a\", \"output\": \"xy\"}\n"  /* line 3 repeats line 1 */
    "{\"text_input\": \"a\", \"output\": \"xyz\"}\n" /* same input, another output */
    "{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"long\"}]}]}\n";

static void test_items_and_tokens(void)
{
	struct tuning_request req = {0};
	struct estimate_item *v;
	const char *texts[2];
	char msg[200];
	size_t n;

	CHECK_INT(spec_parse_examples(EXAMPLES, strlen(EXAMPLES), NULL, &req, msg, sizeof msg), 0);
	CHECK_INT(estimate_items(EXAMPLES, strlen(EXAMPLES), &req, &v, &n), 0);
	CHECK_INT(n, 4);
	CHECK_INT(v[0].line, 1);
	CHECK_INT(v[1].line, 3);
	CHECK_INT(v[3].line, 5);
	CHECK_INT(v[0].bytes, 3);
	CHECK_STR(v[3].texts, "long");
	CHECK_INT(estimate_texts(&v[0], texts), 2);
	CHECK_INT(estimate_texts(&v[3], texts), 1);
	estimate_local_tokens(v, n); /* 3, 3, 4, 4 bytes */
	CHECK_INT(v[0].tokens + v[1].tokens + v[2].tokens + v[3].tokens, 4);
	estimate_share(v, n, 14); /* the bytes' sum: each its bytes */
	CHECK_INT(v[0].tokens, 3);
	CHECK_INT(v[2].tokens, 4);
	estimate_share(v, n, 5); /* shares that add up to the total */
	CHECK_INT(v[0].tokens + v[1].tokens + v[2].tokens + v[3].tokens, 5);
	estimate_items_free(v, n);
	tuning_request_clear(&req);
}

static void test_render(void)
{
	struct tuning_request req = {0};
	struct estimate_facts f = {.backend = "vertex",
				   .counted_on = "models/m",
				   .epochs = 2,
				   .epochs_from = "config",
				   .price_per_mtok = 1e6};
	struct estimate_item *v;
	char msg[200], *text;
	size_t n, len;

	f.rules.min_examples = 16;
	f.rules.max_example_tokens = 3;
	f.rules.limits = "docs";
	spec_parse_examples(EXAMPLES, strlen(EXAMPLES), NULL, &req, msg, sizeof msg);
	estimate_items(EXAMPLES, strlen(EXAMPLES), &req, &v, &n);
	estimate_share(v, n, 14);
	text = estimate_render(v, n, &f, &len);
	CHECK(strstr(text, "examples: 4\ncharacters: 14\ntokens: 14\n") != NULL);
	CHECK(strstr(text, "tokens_counted_by: service (countTokens on models/m)\n") != NULL);
	CHECK(strstr(text, "tokens_per_example_min: 3\ntokens_per_example_median: 3\n"
			   "tokens_per_example_max: 4\n") != NULL);
	CHECK(strstr(text, "billable_tokens: 28\nprice_per_mtok: 1e+06\ncost: 28.000000\n"));
	CHECK(strstr(text, "warnings: 7\n") != NULL);
	CHECK(strstr(text, "- output of line 3 is a prefix of the output of line 4\n"));
	CHECK(strstr(text, "- only 4 examples: the vertex backend needs at least 16 (docs)\n"));
	CHECK(strstr(text, "- line 4: 4 tokens, over the limit of 3 per example (docs)\n"));
	CHECK(strstr(text, "- line 5: 4 tokens, over the limit of 3 per example (docs)\n"));
	CHECK(strstr(text, "- duplicate: line 3 repeats line 1\n"));
	CHECK(strstr(text, "- same input, different outputs: lines 1, 3, 4\n"));
	CHECK(strstr(text, "- output of line 1 is a prefix of the output of line 4\n"));
	CHECK_INT(len, strlen(text));
	free(text);
	estimate_items_free(v, n);
	tuning_request_clear(&req);
}

int main(void)
{
	test_items_and_tokens();
	test_render();
	return check_exit("test_estimate");
}
