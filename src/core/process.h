/* SPDX-License-Identifier: Apache-2.0 */
/* What cedana needs to know about a live process, read from /proc and pinned with a pidfd:
 * owner, start time, the tree below it, capabilities, and whether it holds an NVIDIA GPU. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct Identity;

typedef struct ProcessInfo {
        pid_t pid;
        pid_t ppid;
        uid_t uid[4]; /* real, effective, saved, filesystem */
        gid_t gid[4];
        uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
        uint64_t start_time; /* clock ticks after boot: with pid, identifies a process */
        char state;          /* R, S, D, T, t, Z, ... */
        char comm[17];
} ProcessInfo;

/* Opens a pidfd for pid and reads its /proc entry; -ESRCH when it does not exist (or exited
 * while being read: the pidfd is checked afterwards, so the data is the pidfd's process). */
int process_open(pid_t pid, int *ret_pidfd, ProcessInfo *ret);
/* Reads /proc/<pid>/status and /stat without a pidfd (tasks that are stopped under CRIU). */
int process_read_info(pid_t pid, ProcessInfo *ret);
/* The command line of pid (an empty strv for kernel threads and zombies). */
int process_cmdline(pid_t pid, char ***ret);
/* Whether the pidfd's process is still alive (not exited, not a zombie). */
bool pidfd_is_alive(int pidfd);
/* The start time of pid (field 22 of /proc/<pid>/stat). */
int process_start_time(pid_t pid, uint64_t *ret);
/* pid and every descendant (threads excluded), pid first; from /proc/<pid>/task/<tid>/children. */
int process_tree(pid_t pid, pid_t **ret, size_t *ret_n);
/* The memory CRIU writes pages of, summed over pids: anonymous and shmem resident bytes
 * (RssAnon + RssShmem of /proc/PID/status); an estimate of a dump's size, 0 when unknown. */
uint64_t process_tree_dump_estimate(const pid_t *pids, size_t n);
/* The same from a status file's text: its RssAnon and RssShmem, in bytes. */
uint64_t process_status_dump_estimate(const char *status);
/* Whether any process of the tree has an NVIDIA device open (/dev/nvidia*). */
int process_tree_uses_gpu(const pid_t *pids, size_t n);
/* Every thread of every process in pids (/proc/PID/task/TID/status) against what id may hold:
 * all four uids id's uid, all four gids and every supplementary group id's gid or one of its
 * groups, and, unless id is root, no inheritable, permitted, effective or ambient capability
 * and no bounding capability cedanad itself lacks. -EPERM with the process in *ret_bad_pid and
 * what it holds in *ret_what ("effective capabilities ... in thread 1236"); -ESRCH when a
 * process is gone. Meant for trees that cannot run meanwhile. */
int process_tree_verify(const pid_t *pids, size_t n, const struct Identity *id, pid_t *ret_bad_pid, char **ret_what);
/* cedanad's own bounding set: no restored task gets more. */
int process_own_bounding_set(uint64_t *ret);
/* The supplementary groups of user uid (from the user database), for acting as a caller. */
int user_groups(uid_t uid, gid_t gid, gid_t **ret, size_t *ret_n);
