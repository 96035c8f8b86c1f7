/* openai_validation.c - the validation_file of an OpenAI fine-tuning job on tunedfs-server:
 * the file checked whole at create (it exists, purpose fine-tune, chat JSONL) and read into
 * the job, and which metrics step reports which epoch's validation loss. The losses
 * themselves are computed by the trainer (server/validation.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/objects.h"
#include "server/openai/openai.h"

#define MAX_VALIDATION ((size_t)1 << 30)

int srv_openai_read_validation(struct srv *s, struct srv_model *m, struct srv_reply *rep)
{
	char why[512], *text = NULL;
	size_t len = 0;
	struct srv_object file;
	const char *id = m->validation;
	if (strncmp(id, "file-", 5) ||
	    srv_object_stat(s->opt.data_dir, SRV_OPENAI_BUCKET, id, &file) ||
	    srv_object_read(s->opt.data_dir, SRV_OPENAI_BUCKET, id, MAX_VALIDATION, &text, &len)) {
		srv_openai_error(rep, 400, "invalid_request_error", "validation_file",
				 "invalid_file_id", "invalid validation_file: %.64s", id);
		return -ENOENT;
	}
	int rc = 0;
	if (!strstr(file.note, "\"purpose\":\"fine-tune\"")) {
		srv_openai_error(rep, 400, "invalid_request_error", "validation_file",
				 "invalid_file_purpose",
				 "invalid validation_file: %.64s was not uploaded with purpose "
				 "'fine-tune'.",
				 id);
		rc = -EINVAL;
	} else if (srv_openai_dataset(text, len, &m->val_ex, &m->n_val, why, sizeof(why))) {
		srv_openai_error(rep, 400, "invalid_request_error", "validation_file",
				 "invalid_validation_file",
				 "The validation file %.64s is not valid chat JSONL: %s", id, why);
		rc = -EINVAL;
	}
	free(text);
	return rc;
}

/* The epochs finished once step steps of the job are done. */
static long epochs_done(const struct srv_model *m, int step)
{
	if (m->n_examples <= 0 || m->batch_size <= 0)
		return 0;
	if (step >= m->total_steps)
		return m->epoch_count;
	return (long)step * m->batch_size / m->n_examples;
}

int srv_openai_valid_loss(const struct srv_model *m, int step, double *loss)
{
	long k = epochs_done(m, step);
	if (k <= 0 || k > m->n_val_loss || k == epochs_done(m, step - 1))
		return 0;
	*loss = m->val_loss[k - 1];
	return 1;
}
