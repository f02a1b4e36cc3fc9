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

/* Accepts one connection on listen_fd and reads its request, if the peer runs as uid (or as root)
 * and descends from ancestor; otherwise logs and drops it (-EPERM). *ret_fd: the connection, to
 * answer with criu_hook_answer(). */
int criu_hook_accept(int listen_fd, pid_t ancestor, uid_t uid, char request[static CRIU_HOOK_REQUEST_MAX],
                     int *ret_fd);
void criu_hook_answer(int fd, bool ok);
