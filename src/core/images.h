/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's images as cedana reads them, with protobuf-c and CRIU's own .proto files (images/): what
 * a checkpoint asks its tasks to be, checked before CRIU is given it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "metadata.h"

/* criu/include/magic.h: what each image starts with, after the common magic. */
#define CORE_MAGIC 0x55053847
#define PSTREE_MAGIC 0x50273030
#define IDS_MAGIC 0x54432030
#define FDINFO_MAGIC 0x56213732
#define FILES_MAGIC 0x56303138
#define MM_MAGIC 0x57492820
#define PAGEMAP_MAGIC 0x56084025
/* A core image is a few KiB; what is larger is not one. */
#define CORE_IMAGE_MAX (UINT64_C(16) << 20)

/* Called with each packed entry of an image, index counting from 0; < 0 stops the walk. */
typedef int (*ImageEntryFunc)(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr);

/* Walks the n bytes of image name (untrusted): its magic must be magic (after CRIU's common or
 * service magic, if present), then each entry is a 32-bit size and that many bytes, none running
 * past the end. kind names the image in messages ("core"). 0, f's error, or -EBADMSG with
 * "Image core-1.img is truncated." in *reterr. */
int image_for_each_entry(const char *name, const void *image, size_t n, uint32_t magic, const char *kind,
                         ImageEntryFunc f, void *userdata, char **reterr);

/* Every core image of the checkpoint in dir_fd (the files m lists), every thread in it: the
 * credentials it asks for against what id may hold (identity_allows()). 0; -EPERM with
 * "thread 1236 with effective capabilities ..." in *reterr; -EBADMSG for an image that
 * cannot be read as one. A checkpoint with legacy creds-*.img images is refused (-EBADMSG):
 * CRIU 4.2 does not write them. */
int images_check_creds(int dir_fd, const CheckpointMetadata *m, const Identity *id, char **reterr);
