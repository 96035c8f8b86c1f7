/* generate.c - running a trained model for any family of tunedfs-server (see generate.h).
 * The byte model's decoding itself is nn_gen.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/generate.h"
#include "server/ids.h"
#include "server/json_util.h"
#include "server/nn.h"
#include "server/srv.h"

void srv_generate_defaults(const struct srv_model *m, struct srv_gen_params *g)
{
	g->temperature = m->has_temperature ? m->temperature : 0;
	g->top_p = m->has_top_p ? m->top_p : 1;
	g->top_k = m->has_top_k ? m->top_k : 0;
}

/* A byte model can emit any bytes; JSON needs UTF-8: bad bytes become U+FFFD. */
static char *utf8_clean(const char *s, size_t len)
{
	char *out = xmalloc(len * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = srv_utf8_len((const unsigned char *)s + i, len - i);
		if (n == 0 || (n == 1 && s[i] == '\0')) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

int srv_generate_run(struct srv *s, struct srv_model *m, const char *prompt, size_t len,
		     const struct srv_gen_params *g, char **text, const char **finish, char *why,
		     size_t why_len)
{
	struct srv_net *net = srv_store_net(s->store, m, why, why_len);
	if (!net)
		return -EIO;
	uint64_t seed = g->seed;
	if (!g->has_seed)
		srv_random_bytes(&seed, sizeof(seed));
	struct nn_sampling smp = {g->temperature, g->top_p, g->top_k, (size_t)g->max_bytes, seed};
	char *raw = NULL;
	size_t raw_len = 0;
	int hit = 0;
	int rc = nn_generate(net->nn, prompt, len, &smp, &raw, &raw_len, &hit);
	srv_net_put(s->store, net);
	if (rc) {
		snprintf(why, why_len, "%s", strerror(-rc));
		return rc;
	}
	*finish = hit ? "MAX_TOKENS" : "STOP";
	for (size_t i = 0; i < g->n_stops; i++) {
		char *at = memmem(raw, raw_len, g->stops[i], strlen(g->stops[i]));
		if (at) {
			raw_len = (size_t)(at - raw);
			*finish = "STOP";
		}
	}
	*text = utf8_clean(raw, raw_len);
	free(raw);
	return 0;
}
