/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's image-streamer protocol (criu/img-streamer.c; ENVIRONMENT.md, "CRIU image streaming"):
 * CRIU connects once to a socket in the images directory and, per image, sends its name framed
 * as all CRIU's protobuf messages are (a 32-bit native-endian length, then the packed
 * img_streamer_request_entry); on restore it waits for an img_streamer_reply_entry; then it
 * passes one end of a pipe with SCM_RIGHTS and one byte. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Listens on name in dir_fd, the socket owned by uid:gid (CRIU's), non-blocking. */
int streamer_listen(int dir_fd, const char *name, uid_t uid, gid_t gid, int *ret_fd);
/* Waits for CRIU's connection (a peer running as uid or root; others are logged and dropped)
 * until stop_fd is readable (-ECANCELED). Returns the connection. */
int streamer_accept(int listen_fd, int stop_fd, uid_t uid);
/* The next image's name; 0 when CRIU asks for nothing more (EOF). */
int streamer_recv_request(int fd, char **ret_name);
/* Restore only: whether the image exists. */
int streamer_send_reply(int fd, bool exists);
/* The pipe end CRIU passes for the image, set non-blocking: our end only waits on it through
 * poll(), beside a stop fd. */
int streamer_recv_pipe(int fd, int *ret);
