/* SPDX-License-Identifier: Apache-2.0 */
/* The socket on which cedana-criu-hook, CRIU's action script, reaches the worker that started
 * CRIU (directly, or through runc): abstract, with a random name passed in CRIU's environment,
 * and answered only for CRIU's own descendants. One request per connection, one byte back: 0 to
 * go on, anything else to make CRIU fail. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define CRIU_HOOK_SOCKET_ENV "CEDANA_COMMIT_SOCKET"
/* post-dump: the images are complete and the tasks frozen; commit now. */
#define CRIU_HOOK_POST_DUMP "post-dump"
/* pre-resume, followed by the restored root's pid: the tree is built and held by CRIU. */
#define CRIU_HOOK_PRE_RESUME "pre-resume "
#define CRIU_HOOK_REQUEST_MAX 64

/* A listening socket (non-blocking, close-on-exec) and its name, for CRIU_HOOK_SOCKET_ENV. */
int criu_hook_socket_new(char name[static 64], int *ret_fd);

/* Until child (pidfd) exits: each request of a peer that runs as uid (or as root) and descends
 * from child goes to serve(), whose return is the answer (>= 0: go on); other peers are logged
 * and dropped. 0 once the child exited; -errno when waiting failed. */
typedef int (*CriuHookServe)(const char *request, void *userdata);
int criu_hook_serve(int listen_fd, int pidfd, pid_t child, uid_t uid, CriuHookServe serve, void *userdata);
