/* SPDX-License-Identifier: Apache-2.0 */
/* A container's writable layer as it lies in an overlayfs upper directory (deleted files as 0:0
 * character devices, replaced directories marked with trusted.overlay.opaque), carried as a POSIX
 * tar with owners, modes, times and extended attributes, and put back as it was into a new upper
 * directory on the same image's layers. */
#pragma once

/* Writes the tree below dir (not dir itself) to out_fd. 0, or -errno with a sentence. */
int rootfs_layer_write(const char *dir, int out_fd, char **reterr);

/* Extracts such a tar from in_fd into dir, an empty directory nobody else writes to. Names that
 * are absolute or climb out with "..", paths through symbolic links, and device nodes other than
 * overlayfs's whiteouts are refused: CHECKPOINT_CORRUPT. Of the extended attributes only user.*,
 * security.* and overlayfs's opaque mark are kept. */
int rootfs_layer_extract(int in_fd, const char *dir, char **reterr);
