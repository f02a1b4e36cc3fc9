/* SPDX-License-Identifier: Apache-2.0 */
/* Checking a checkpoint's content as it is read, before CRIU trusts a byte of it: cedana.json
 * first (against the digest a record vouches for, when there is one), then every file against
 * the size and SHA-256 cedana.json lists. Archives, directories and streams all pass through it. */
#pragma once

#include <stdint.h>

#include "macro.h"
#include "metadata.h"

typedef struct Verifier Verifier;

/* expected_digest: "sha256:<hex>" of the cedana.json a job-store record vouches for, or NULL
 * for a checkpoint nobody vouches for (then only its own consistency is checked). */
int verifier_new(const char *expected_digest, Verifier **ret);
Verifier *verifier_free(Verifier *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Verifier *, verifier_free);

/* cedana.json's bytes. -EBADMSG corrupt or invalid, -EPROTONOSUPPORT a newer format, -ESTALE
 * not the metadata the record vouches for; each with one sentence in *reterr. */
int verifier_metadata(Verifier *v, const char *text, size_t n, char **reterr);
/* NULL until verifier_metadata() succeeded. */
const CheckpointMetadata *verifier_get_metadata(const Verifier *v);

/* A file of the checkpoint begins: *ret_max is the most bytes it may have (what cedana.json
 * declares), so a reader stops as soon as an entry grows beyond it. An unlisted file, one seen
 * twice or cedana.json a second time is -EBADMSG; -EAGAIN before the metadata was given. */
int verifier_begin(Verifier *v, const char *name, uint64_t *ret_max, char **reterr);
int verifier_data(Verifier *v, const void *buf, size_t n);
/* The file ended: its size and digest against cedana.json's (-EBADMSG naming the file). */
int verifier_end(Verifier *v, char **reterr);
/* Every listed file was seen, complete (-EBADMSG naming the first missing one). */
int verifier_finish(Verifier *v, char **reterr);

/* A checkpoint directory's cedana.json, and nothing else in it but regular files it lists. -ENOENT
 * (with *reterr) when it has no cedana.json. The files themselves are for verifier_begin() and
 * the rest, or the streamer, to check. */
int verifier_dir_metadata(Verifier *v, int dir_fd, char **reterr);
/* One listed file of a checkpoint directory, copied into to_dir_fd (a new file of the same name)
 * and checked as it passes, as an archive's entry is (verifier_begin() to verifier_end()). */
int verifier_copy_file(Verifier *v, int dir_fd, const char *name, int to_dir_fd, char **reterr);
/* A checkpoint directory: its cedana.json (unless verifier_dir_metadata() read it already), then
 * every listed file read in full (on two threads), and nothing else in it but regular files it
 * lists. -ENOENT (with *reterr) when it has no cedana.json. */
int verifier_check_dir(Verifier *v, int dir_fd, char **reterr);
