/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's images as cedana reads them, with protobuf-c and CRIU's own .proto files (images/): what
 * a checkpoint asks its tasks to be, checked before CRIU is given it. */
#pragma once

#include "identity.h"
#include "metadata.h"

/* Every core image of the checkpoint in dir_fd (the files m lists), every thread in it: the
 * credentials it asks for against what id may hold (identity_allows()). 0; -EPERM with
 * "thread 1236 with effective capabilities ..." in *reterr; -EBADMSG for an image that
 * cannot be read as one. A checkpoint with legacy creds-*.img images is refused (-EBADMSG):
 * CRIU 4.2 does not write them. */
int images_check_creds(int dir_fd, const CheckpointMetadata *m, const Identity *id, char **reterr);
