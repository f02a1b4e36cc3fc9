/* SPDX-License-Identifier: Apache-2.0 */
/* /proc readers and pidfd helpers. Every decision about whether a process may be dumped is
 * taken on data read while a pidfd pins the process, so a recycled pid cannot be swapped in. */

#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "identity.h"
#include "macro.h"
#include "parse-util.h"
#include "process.h"
#include "strv.h"

static int parse_status(const char *text, ProcessInfo *p) {
        const char *l = text;
        unsigned seen = 0;
        while (l && *l) {
                const char *v;
                if ((v = startswith(l, "Uid:"))) {
                        if (sscanf(v, "%u %u %u %u", &p->uid[0], &p->uid[1], &p->uid[2], &p->uid[3]) != 4)
                                return -EIO;
                        seen |= 1;
                } else if ((v = startswith(l, "Gid:"))) {
                        if (sscanf(v, "%u %u %u %u", &p->gid[0], &p->gid[1], &p->gid[2], &p->gid[3]) != 4)
                                return -EIO;
                        seen |= 2;
                } else if ((v = startswith(l, "CapInh:")))
                        p->cap_inh = strtoull(v, NULL, 16);
                else if ((v = startswith(l, "CapPrm:")))
                        p->cap_prm = strtoull(v, NULL, 16), seen |= 4;
                else if ((v = startswith(l, "CapEff:")))
                        p->cap_eff = strtoull(v, NULL, 16), seen |= 8;
                else if ((v = startswith(l, "CapBnd:")))
                        p->cap_bnd = strtoull(v, NULL, 16);
                else if ((v = startswith(l, "CapAmb:")))
                        p->cap_amb = strtoull(v, NULL, 16);
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return seen == 15 ? 0 : -EIO;
}

static int parse_stat(const char *text, ProcessInfo *p) {
        /* comm may contain spaces and parentheses: the last ')' ends it. */
        const char *open = strchr(text, '('), *close = strrchr(text, ')');
        if (!open || !close || close < open)
                return -EIO;
        size_t l = MIN((size_t) (close - open - 1), sizeof(p->comm) - 1);
        memcpy(p->comm, open + 1, l);
        p->comm[l] = 0;

        /* Fields after comm: 3 state, 4 ppid, ... 22 starttime. */
        char state;
        int ppid;
        unsigned long long start;
        if (sscanf(close + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                   &state, &ppid, &start) != 3)
                return -EIO;
        p->state = state;
        p->ppid = ppid;
        p->start_time = start;
        return 0;
}

int process_read_info(pid_t pid, ProcessInfo *ret) {
        char path[64];
        _cleanup_free_ char *status = NULL, *stat = NULL;
        ProcessInfo p = { .pid = pid };
        int r;

        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        r = read_full_file_at(AT_FDCWD, path, 1 << 16, &status, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        snprintf(path, sizeof(path), "/proc/%i/stat", (int) pid);
        r = read_full_file_at(AT_FDCWD, path, 1 << 16, &stat, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = parse_status(status, &p);
        if (r < 0)
                return r;
        r = parse_stat(stat, &p);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

bool pidfd_is_alive(int pidfd) {
        /* A pidfd polls readable once its process has exited (zombie or reaped). */
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
        int r = poll(&pfd, 1, 0);
        return r == 0;
}

int process_open(pid_t pid, int *ret_pidfd, ProcessInfo *ret) {
        if (pid <= 0)
                return -EINVAL;
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? -ESRCH : negative_errno();
        ProcessInfo p;
        int r = process_read_info(pid, &p);
        if (r < 0)
                return r;
        /* If the pidfd's process is alive now, /proc/<pid> was its entry while we read it. */
        if (!pidfd_is_alive(pidfd) || p.state == 'Z')
                return -ESRCH;
        if (ret)
                *ret = p;
        if (ret_pidfd)
                *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

int process_start_time(pid_t pid, uint64_t *ret) {
        ProcessInfo p;
        int r = process_read_info(pid, &p);
        if (r < 0)
                return r;
        *ret = p.start_time;
        return 0;
}

static int add_children(pid_t pid, pid_t **pids, size_t *n, size_t *allocated) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%i/task", (int) pid);
        _cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        DIR *d = fdopendir(TAKE_FD(dfd));
        if (!d)
                return negative_errno();
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char cpath[sizeof(de->d_name) + 16];
                snprintf(cpath, sizeof(cpath), "%s/children", de->d_name);
                _cleanup_free_ char *text = NULL;
                if (read_full_file_at(dirfd(d), cpath, 1 << 20, &text, NULL) < 0)
                        continue; /* the thread exited meanwhile */
                for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n")) {
                        pid_t child;
                        if (parse_pid(tok, &child) < 0)
                                continue;
                        if (*n >= *allocated) {
                                size_t na = *allocated * 2 + 16;
                                pid_t *np = realloc(*pids, na * sizeof(pid_t));
                                if (!np) {
                                        r = -ENOMEM;
                                        goto finish;
                                }
                                *pids = np;
                                *allocated = na;
                        }
                        (*pids)[(*n)++] = child;
                }
        }
finish:
        closedir(d);
        return r;
}

int process_tree(pid_t pid, pid_t **ret, size_t *ret_n) {
        size_t n = 1, allocated = 16;
        _cleanup_free_ pid_t *pids = malloc(allocated * sizeof(pid_t));
        if (!pids)
                return -ENOMEM;
        pids[0] = pid;
        /* Breadth first: pids grows while we walk it. */
        for (size_t i = 0; i < n && n < 1000000; i++) {
                int r = add_children(pids[i], &pids, &n, &allocated);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

uint64_t process_status_dump_estimate(const char *status) {
        static const char *const fields[] = { "\nRssAnon:", "\nRssShmem:" };
        uint64_t bytes = 0;
        for (size_t i = 0; status && i < ELEMENTSOF(fields); i++) {
                const char *v = strstr(status, fields[i]);
                if (v)
                        bytes += strtoull(v + strlen(fields[i]), NULL, 10) * 1024; /* in kB */
        }
        return bytes;
}

uint64_t process_tree_dump_estimate(const pid_t *pids, size_t n) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%i/status", (int) pids[i]);
                _cleanup_free_ char *text = NULL;
                if (read_full_file_at(AT_FDCWD, path, 1 << 16, &text, NULL) >= 0)
                        bytes += process_status_dump_estimate(text);
        }
        return bytes;
}

int process_tree_uses_gpu(const pid_t *pids, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%i/fd", (int) pids[i]);
                _cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        continue;
                DIR *d = fdopendir(TAKE_FD(dfd));
                if (!d)
                        return negative_errno();
                bool found = false;
                struct dirent *de;
                while (!found && (de = readdir(d))) {
                        char target[256];
                        ssize_t l = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                        if (l <= 0)
                                continue;
                        target[l] = 0;
                        found = startswith(target, "/dev/nvidia") != NULL;
                }
                closedir(d);
                if (found)
                        return 1;
        }
        return 0;
}

/* What a thread holds, from its status file. */
typedef struct ThreadCreds {
        Creds creds;
        gid_t *groups;
} ThreadCreds;

static const char *const cap_fields[5] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:" };

static int parse_creds(const char *text, ThreadCreds *t) {
        Creds *c = &t->creds;
        unsigned seen = 0;
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                const char *v;
                if ((v = startswith(l, "Uid:"))) {
                        if (sscanf(v, "%u %u %u %u", &c->uid[0], &c->uid[1], &c->uid[2], &c->uid[3]) != 4)
                                return -EIO;
                        seen |= 1;
                } else if ((v = startswith(l, "Gid:"))) {
                        if (sscanf(v, "%u %u %u %u", &c->gid[0], &c->gid[1], &c->gid[2], &c->gid[3]) != 4)
                                return -EIO;
                        seen |= 2;
                } else if ((v = startswith(l, "Groups:"))) {
                        const char *e = strchr(v, '\n');
                        for (const char *p = v; p && (!e || p < e);) {
                                char *end;
                                p += strspn(p, " \t");
                                if ((e && p >= e) || !*p || *p == '\n')
                                        break;
                                unsigned long g = strtoul(p, &end, 10);
                                if (end == p)
                                        return -EIO;
                                gid_t *n = reallocarray(t->groups, c->n_groups + 1, sizeof(gid_t));
                                if (!n)
                                        return -ENOMEM;
                                t->groups = n;
                                t->groups[c->n_groups++] = (gid_t) g;
                                p = end;
                        }
                        seen |= 4;
                } else
                        for (size_t i = 0; i < 5; i++)
                                if ((v = startswith(l, cap_fields[i]))) {
                                        char *end;
                                        c->caps[i] = strtoull(v, &end, 16);
                                        if (end == v)
                                                return -EIO;
                                        seen |= 8U << i;
                                }
        }
        c->groups = t->groups;
        /* Every field must be there: a status we cannot read completely proves nothing. */
        return seen == 0xff ? 0 : -EIO;
}

static int read_creds(const char *path, ThreadCreds *ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file_at(AT_FDCWD, path, 1 << 16, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        *ret = (ThreadCreds) {};
        r = parse_creds(text, ret);
        if (r < 0) {
                free(ret->groups);
                *ret = (ThreadCreds) {};
        }
        return r;
}

int process_own_bounding_set(uint64_t *ret) {
        ThreadCreds self;
        int r = read_creds("/proc/self/status", &self);
        if (r < 0)
                return r;
        free(self.groups);
        *ret = self.creds.caps[3];
        return 0;
}

int process_tree_verify(const pid_t *pids, size_t n, const Identity *id, pid_t *ret_bad_pid, char **ret_what) {
        /* root may hold anything: its restores are root's own decision. */
        if (id->uid == 0)
                return 0;
        uint64_t bounding;
        int r = process_own_bounding_set(&bounding);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char dir[64];
                snprintf(dir, sizeof(dir), "/proc/%i/task", (int) pids[i]);
                DIR *d = opendir(dir);
                if (!d)
                        return errno == ENOENT ? -ESRCH : negative_errno();
                size_t n_threads = 0;
                struct dirent *de;
                r = 0;
                while (r >= 0 && (errno = 0, de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char path[sizeof(dir) + sizeof(de->d_name) + 16], what[128];
                        snprintf(path, sizeof(path), "%s/%s/status", dir, de->d_name);
                        ThreadCreds c;
                        r = read_creds(path, &c);
                        if (r < 0)
                                break;
                        n_threads++;
                        bool ok = identity_allows(id, &c.creds, bounding, what, sizeof(what));
                        free(c.groups);
                        if (!ok) {
                                if (ret_bad_pid)
                                        *ret_bad_pid = pids[i];
                                bool main_thread = atoi(de->d_name) == (int) pids[i];
                                if (ret_what && asprintf(ret_what, "%s%s%s", what, main_thread ? "" : " in thread ",
                                                         main_thread ? "" : de->d_name) < 0)
                                        *ret_what = NULL;
                                r = -EPERM;
                        }
                }
                if (r >= 0 && errno != 0)
                        r = negative_errno();
                closedir(d);
                if (r < 0)
                        return r;
                /* A process without a single thread to check proves nothing. */
                if (n_threads == 0)
                        return -ESRCH;
        }
        return 0;
}

int user_groups(uid_t uid, gid_t gid, gid_t **ret, size_t *ret_n) {
        struct passwd pw, *result = NULL;
        char buf[16384];
        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) != 0 || !result) {
                /* A uid without a passwd entry has no supplementary groups. */
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        int ngroups = 64;
        for (;;) {
                _cleanup_free_ gid_t *groups = calloc((size_t) ngroups, sizeof(gid_t));
                if (!groups)
                        return -ENOMEM;
                int k = ngroups;
                if (getgrouplist(pw.pw_name, gid, groups, &k) >= 0) {
                        *ret = TAKE_PTR(groups);
                        *ret_n = (size_t) k;
                        return 0;
                }
                if (k <= ngroups || k > 65536)
                        return -EIO;
                ngroups = k;
        }
}

int process_cmdline(pid_t pid, char ***ret) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%i/cmdline", (int) pid);
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r = read_full_file_at(AT_FDCWD, path, 1 << 16, &text, &n);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < n; i += strlen(text + i) + 1) {
                r = strv_extend(&l, text + i);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
