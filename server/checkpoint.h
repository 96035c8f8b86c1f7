/* checkpoint.h - what tunedfs-server keeps of a job still training so that it resumes after
 * a restart: its training examples (DIR/jobs/ID/examples.bin, written when it is queued) and
 * its latest checkpoint (checkpoint.bin: the trainer's whole state and the snapshots so far).
 * The byte formats only; the files are the store's, the when and why the job runner's. */
#ifndef TUNEDFS_SERVER_CHECKPOINT_H
#define TUNEDFS_SERVER_CHECKPOINT_H

#include <stddef.h>

#include "server/store.h"

#define SRV_KEPT_EXAMPLES   "examples.bin"
#define SRV_KEPT_CHECKPOINT "checkpoint.bin"

/* Both files: a magic, a version, the payload's length, the payload, and an FNV-1a 64
 * checksum of all before it. Decoding checks each and every length inside before use:
 * a cut, corrupt or foreign file is -EINVAL with a reason in why, never garbage. */
unsigned char *srv_examples_encode(const struct srv_example *ex, size_t n, size_t *len);
int srv_examples_decode(const unsigned char *buf, size_t len, struct srv_example **ex, size_t *n,
			char *why, size_t why_len);

/* train is the trainer's state (srv_train_encode); snaps the snapshots up to its step.
 * Decoding points *train into buf and gives a heap array of snapshots. */
unsigned char *srv_ckpt_encode(const unsigned char *train, size_t train_len,
			       const struct srv_snapshot *snaps, size_t n_snaps, size_t *len);
int srv_ckpt_decode(const unsigned char *buf, size_t len, const unsigned char **train,
		    size_t *train_len, struct srv_snapshot **snaps, size_t *n_snaps, char *why,
		    size_t why_len);

#endif
