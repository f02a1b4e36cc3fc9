/* SPDX-License-Identifier: Apache-2.0 */
/* libcriu driven over a `criu swrk` we spawn ourselves: that is the only way to give CRIU the
 * target owner's uid with just the capabilities its unprivileged mode needs. */

#include <criu/criu.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "build-config.h"
#include "criu-explain.h"
#include "criu-hook.h"
#include "criu-watch.h"
#include "criu.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

/* Exported by libcriu 4.2 but missing from its header. */
void criu_local_set_unprivileged(criu_opts *opts, bool unprivileged);

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/* What an unprivileged CRIU needs: CHECKPOINT_RESTORE and SYS_PTRACE to dump, SETPCAP to
 * drop the capabilities the restored task must not have from its bounding set. */
#define CRIU_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const int unprivileged_caps[] = { CAP_CHECKPOINT_RESTORE, CAP_SYS_PTRACE, CAP_SETPCAP };

static int drop_to(const Identity *id) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return negative_errno();
        if (setgroups(id->n_groups, id->groups) < 0)
                return negative_errno();
        if (setresgid(id->gid, id->gid, id->gid) < 0)
                return negative_errno();
        if (setresuid(id->uid, id->uid, id->uid) < 0)
                return negative_errno();

        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        for (size_t i = 0; i < ELEMENTSOF(unprivileged_caps); i++) {
                int c = unprivileged_caps[i];
                d[c / 32].permitted |= 1U << (c % 32);
        }
        d[0].effective = d[0].inheritable = d[0].permitted;
        d[1].effective = d[1].inheritable = d[1].permitted;
        if (syscall(SYS_capset, &h, d) < 0)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(unprivileged_caps); i++)
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, unprivileged_caps[i], 0, 0) < 0)
                        return negative_errno();
        (void) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        return 0;
}

/* CRIU as owner, with only keep (and with keep_stdio our stdio) open, each keeping its number:
 * --inherit-fd and /proc/self/fd/N arguments name fds of CRIU itself. */
static int spawn_criu(const char *binary, const Identity *owner, bool keep_stdio, const int *keep, size_t n_keep,
                      bool die_with_us, char *const *argv, char *const *env, pid_t *ret_pid) {
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                for (size_t i = 0; i < n_keep; i++)
                        if (fcntl(keep[i], F_SETFD, 0) < 0)
                                _exit(126);
                if (close_all_fds(keep, n_keep) < 0)
                        _exit(126);
                /* With --shell-job CRIU uses our terminal. Otherwise its stdio is /dev/null:
                 * everything it says is in its log. */
                if (!keep_stdio) {
                        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                                _exit(126);
                }
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                if (owner->uid != 0 && drop_to(owner) < 0)
                        _exit(126);
                /* After the uid change, which clears it. */
                if (die_with_us && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
                        _exit(126);
                execve(binary, argv, env);
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

static int spawn_swrk(const char *binary, const Identity *owner, bool keep_stdio, const int *inherit, size_t n_inherit,
                      bool die_with_us, int *ret_fd, pid_t *ret_pid) {
        int sv[2];
        if (n_inherit > CRIU_INHERIT_MAX)
                return -E2BIG;
        if (socketpair(AF_LOCAL, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        _cleanup_close_ int ours = sv[0], theirs = sv[1];
        int keep[1 + CRIU_INHERIT_MAX] = { theirs };
        memcpy(keep + 1, inherit, n_inherit * sizeof(int));
        char fdstr[16];
        snprintf(fdstr, sizeof(fdstr), "%i", theirs);
        char *const argv[] = { (char *) "criu", (char *) "swrk", fdstr, NULL };
        /* A clean environment: no CRIU_CONFIG_FILE, no HOME (so no ~/.criu/default.conf). */
        char *const env[] = { (char *) "PATH=" CRIU_PATH, NULL };
        int r = spawn_criu(binary, owner, keep_stdio, keep, 1 + n_inherit, die_with_us, argv, env, ret_pid);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(ours);
        return 0;
}

/* Waits for pid to exit but leaves it unreaped: its pid stays ours while a watch may kill it. */
static void wait_exited(pid_t pid) {
        siginfo_t si;
        while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                ;
}

static int reap(pid_t pid) {
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return status;
}

/* CRIU in RPC mode opens the images and work directories as /proc/<our pid>/fd/N. That
 * directory belongs to our effective uid (while we are dumpable), so when CRIU runs as another
 * user we take that uid as effective uid for the duration of the call; real and saved uid stay
 * 0, so we can switch back, and nobody but CRIU (CAP_SYS_PTRACE) may follow those links. */
static int become(uid_t euid) {
        if (setresuid((uid_t) -1, euid, (uid_t) -1) < 0)
                return negative_errno();
        if (euid != 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                return negative_errno();
        return 0;
}

/* libcriu's notify callback has no user data; one CRIU call runs at a time per process. */
static const CriuParams *current;
static pid_t current_root;
static int current_cb_error;

static int notify_cb(char *action, criu_notify_arg_t na) {
        int r = 0;
        /* Our callbacks act as root again (commit as the caller, scopes); CRIU waits meanwhile. */
        uid_t euid = geteuid();
        if (euid != 0 && become(0) < 0)
                return -1;
        if (streq(action, "post-dump") && current->post_dump)
                r = current->post_dump(current->userdata);
        else if (streq(action, "post-restore"))
                current_root = criu_notify_pid(na);
        else if (streq(action, "pre-resume") && current->pre_resume)
                r = current->pre_resume(current_root, current->userdata);
        if (euid != 0 && become(euid) < 0 && r >= 0)
                r = -EPERM;
        if (r < 0 && current_cb_error == 0)
                current_cb_error = r;
        return r < 0 ? -1 : 0;
}

/* Runs one libcriu call with our effective uid set to CRIU's (see become()). */
static int call_as_owner(const CriuParams *p, int (*f)(criu_opts *o), criu_opts *o) {
        bool switched = geteuid() == 0 && p->owner->uid != 0;
        if (switched && become(p->owner->uid) < 0)
                return -EPERM;
        int k = f(o);
        if (switched)
                (void) become(0);
        return k;
}

void criu_log_copy(int dir_fd, const char *log_name, int to_fd) {
        _cleanup_close_ int fd = openat(dir_fd, log_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        char buf[65536];
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
                if (loop_write(to_fd, buf, (size_t) n) < 0)
                        break;
}

char *criu_log_last_error(int dir_fd, const char *log_name) {
        _cleanup_free_ char *text = NULL;
        if (read_full_file_at(dir_fd, log_name, 64 << 20, &text, NULL) < 0)
                return NULL;
        /* CRIU's errors cascade: the first one is the cause, those after it repeat the failure one
         * level up ("Dump files failed", "Dumping FAILED."). Skipped: the RLIMIT_NOFILE error every
         * log here has (no CAP_SYS_RESOURCE; harmless), and bare exit statuses of helpers. */
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char *e = strstr(line, "Error (");
                if (!e || strstr(e, "RLIMIT_NOFILE") || strstr(e, "): exited, status="))
                        continue;
                char *msg = strstr(e, "): ");
                return strdup(msg ? msg + 3 : e);
        }
        return NULL;
}

static int setup_opts(const CriuParams *p, int service_fd, criu_opts **ret) {
        criu_opts *o = NULL;
        if (criu_local_init_opts(&o) < 0)
                return -ENOMEM;
        /* libcriu takes inherit fds only while it believes it spawns CRIU itself, which it does
         * until the service fd is set; the swrk we spawned does inherit them. */
        for (size_t i = 0; i < p->n_inherit; i++)
                if (criu_local_add_inherit_fd(o, p->inherit_fds[i], p->inherit_keys[i]) < 0)
                        goto oom;
        criu_local_set_service_fd(o, service_fd);
        criu_local_set_images_dir_fd(o, p->images_dir_fd);
        criu_local_set_work_dir_fd(o, p->work_dir_fd);
        criu_local_set_log_level(o, p->log_level);
        if (criu_local_set_log_file(o, p->log_name) < 0)
                goto oom;
        criu_local_set_unprivileged(o, p->owner->uid != 0);
        /* Scopes place the tasks; CRIU must neither dump nor re-create their cgroups. */
        criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_IGNORE);
        criu_local_set_tcp_established(o, p->tcp_established);
        /* Established connections are locked with nftables, through libnftables: no iptables
         * binary needed. Only then: the nftables lock costs ~10 ms even for a process without
         * sockets, and without --tcp-established CRIU refuses established connections anyway. */
        if (p->tcp_established && criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_NFTABLES) < 0)
                goto oom;
        criu_local_set_shell_job(o, p->shell_job);
        criu_local_set_file_locks(o, p->file_locks);
        criu_local_set_ext_unix_sk(o, false);
        for (char *const *e = p->external; e && *e; e++)
                if (criu_local_add_external(o, *e) < 0)
                        goto oom;
        criu_local_set_notify_cb(o, notify_cb);
        *ret = o;
        return 0;
oom:
        criu_local_free_opts(o);
        return -ENOMEM;
}

static int fail(int r, const CriuParams *p, const char *what, const char *log_path, char **reterr) {
        if (current_cb_error < 0)
                return current_cb_error; /* our own callback failed and said why */
        if (!reterr)
                return r;
        _cleanup_free_ char *line = criu_log_last_error(p->work_dir_fd, p->log_name);
        _cleanup_free_ char *explained = criu_explain(line);
        int k = explained ? asprintf(reterr, "%s (CRIU's log: %s)", explained, log_path)
                          : asprintf(reterr, "CRIU failed to %s: %s (log: %s).", what,
                                     line ?: "no error message in its log", log_path);
        if (k < 0)
                *reterr = NULL;
        return r;
}

/* The command-line criu, as streaming needs it (its RPC service cannot stream), with the options
 * setup_opts() gives libcriu; its action script asks us at post-dump and pre-resume. */
static int cli_argv(const CriuParams *p, bool dump, const char *images, const char *work, char ***ret) {
        _cleanup_strv_free_ char **a = NULL;
        char level[16], pid[16];
        snprintf(level, sizeof(level), "-v%i", p->log_level);
        snprintf(pid, sizeof(pid), "%i", (int) p->pid);
        const char *fixed[] = { "criu", dump ? "dump" : "restore", "--no-default-config", "--stream", "--images-dir",
                                images, "--work-dir", work, "--log-file", p->log_name, level,
                                "--manage-cgroups=ignore", "--action-script", CRIU_HOOK_PATH };
        int r = 0;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed); i++)
                r = strv_extend(&a, fixed[i]);
        if (r >= 0 && dump)
                r = strv_extend_many(&a, "--tree", pid);
        if (r >= 0 && !dump)
                r = strv_extend(&a, "--restore-detached");
        if (r >= 0 && p->owner->uid != 0)
                r = strv_extend(&a, "--unprivileged");
        if (r >= 0 && p->tcp_established)
                r = strv_extend_many(&a, "--tcp-established", "--network-lock=nftables");
        if (r >= 0 && p->shell_job)
                r = strv_extend(&a, "--shell-job");
        if (r >= 0 && p->file_locks)
                r = strv_extend(&a, "--file-locks");
        if (r >= 0 && dump && p->leave_running)
                r = strv_extend(&a, "--leave-running");
        if (r >= 0 && dump && p->link_remap)
                r = strv_extend(&a, "--link-remap");
        for (char *const *e = p->external; r >= 0 && e && *e; e++)
                r = strv_extend_many(&a, "--external", *e);
        for (size_t i = 0; r >= 0 && i < p->n_inherit; i++) {
                char arg[PATH_MAX + 32];
                snprintf(arg, sizeof(arg), "fd[%i]:%s", p->inherit_fds[i], p->inherit_keys[i]);
                r = strv_extend_many(&a, "--inherit-fd", arg);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

typedef struct HookState {
        const CriuParams *p;
        bool asked;
        pid_t root; /* pre-resume's */
} HookState;

/* CRIU's action script, once: post-dump (p->post_dump()) or pre-resume with the restored root
 * (p->pre_resume()). */
static int serve_hook(const char *request, void *userdata) {
        HookState *h = userdata;
        const CriuParams *p = h->p;
        const char *pid = startswith(request, CRIU_HOOK_PRE_RESUME);
        int r = -EBADMSG;
        if (!h->asked && streq(request, CRIU_HOOK_POST_DUMP))
                r = p->post_dump ? p->post_dump(p->userdata) : 0;
        else if (!h->asked && pid) {
                h->root = (pid_t) strtol(pid, NULL, 10);
                r = h->root > 0 ? 0 : -EBADMSG;
                if (r == 0 && p->pre_resume)
                        r = p->pre_resume(h->root, p->userdata);
        }
        h->asked = true;
        if (r < 0 && current_cb_error == 0)
                current_cb_error = r;
        return r;
}

static int run_streaming(const CriuParams *p, bool dump, const char *log_path, pid_t *ret_root, char **reterr) {
        char name[64], images[32], work[32], env_socket[128];
        _cleanup_close_ int listen_fd = -EBADF, pidfd = -EBADF;
        if (p->n_inherit > CRIU_INHERIT_MAX)
                return -E2BIG;
        int r = criu_hook_socket_new(name, &listen_fd);
        if (r < 0)
                return r;
        snprintf(images, sizeof(images), "/proc/self/fd/%i", p->images_dir_fd);
        snprintf(work, sizeof(work), "/proc/self/fd/%i", p->work_dir_fd);
        snprintf(env_socket, sizeof(env_socket), CRIU_HOOK_SOCKET_ENV "=%s", name);
        _cleanup_strv_free_ char **argv = NULL;
        r = cli_argv(p, dump, images, work, &argv);
        if (r < 0)
                return r;
        char *const env[] = { (char *) "PATH=" CRIU_PATH, env_socket, NULL };
        int keep[2 + CRIU_INHERIT_MAX] = { p->images_dir_fd, p->work_dir_fd };
        memcpy(keep + 2, p->inherit_fds, p->n_inherit * sizeof(int));

        /* As with swrk: a restoring CRIU dies with us (it would resume a tree nobody records); a
         * dumping one finds our hook socket gone at post-dump and lets the tasks run on. */
        pid_t criu;
        r = spawn_criu(p->binary, p->owner, p->shell_job, keep, 2 + p->n_inherit, !dump, argv, env, &criu);
        if (r < 0)
                return r;
        current_cb_error = 0;
        CriuWatch *w = NULL;
        pidfd = (int) syscall(SYS_pidfd_open, criu, 0);
        if (pidfd < 0)
                r = negative_errno();
        if (r >= 0)
                r = dump ? criu_watch_start(criu, 0, p->tree, p->n_tree, p->target_pidfd, CRIU_WATCH_GRACE_SEC, &w)
                         : criu_watch_start(criu, p->timeout_sec, NULL, 0, -EBADF, 0, &w);
        HookState h = { .p = p };
        if (r >= 0)
                r = criu_hook_serve(listen_fd, pidfd, criu, p->owner->uid, serve_hook, &h);
        if (r < 0)
                (void) kill(criu, SIGKILL);
        wait_exited(criu);
        bool timed_out = w && criu_watch_stop(w);
        int status = reap(criu);
        if (r < 0)
                return r;
        if (!dump && timed_out) {
                if (reterr && asprintf(reterr, "CRIU did not finish restoring the checkpoint within %u seconds and "
                                       "was stopped (log: %s).", p->timeout_sec, log_path) < 0)
                        *reterr = NULL;
                return -ETIME;
        }
        bool failed = current_cb_error < 0 || status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        if (failed || (!dump && h.root <= 0)) {
                char what[64];
                snprintf(what, sizeof(what), "dump process %i", (int) p->pid);
                return fail(-ECHILD, p, dump ? what : "restore the checkpoint", log_path, reterr);
        }
        if (ret_root)
                *ret_root = h.root;
        return 0;
}

int criu_run_dump(const CriuParams *p, const char *log_path, char **reterr) {
        if (p->stream)
                return run_streaming(p, true, log_path, NULL, reterr);
        _cleanup_close_ int fd = -EBADF;
        pid_t swrk;
        /* If we die, CRIU notices when it reports post-dump and lets the frozen tasks run again:
         * killing it in the middle of a dump could leave them stuck. */
        int r = spawn_swrk(p->binary, p->owner, p->shell_job, p->inherit_fds, p->n_inherit, false, &fd, &swrk);
        if (r < 0)
                return r;
        CriuWatch *w;
        criu_opts *o;
        r = criu_watch_start(swrk, 0, p->tree, p->n_tree, p->target_pidfd, CRIU_WATCH_GRACE_SEC, &w);
        if (r >= 0)
                r = setup_opts(p, fd, &o);
        if (r < 0) {
                (void) criu_watch_stop(w);
                fd = safe_close(fd);
                (void) reap(swrk);
                return r;
        }
        criu_local_set_pid(o, p->pid);
        criu_local_set_leave_running(o, p->leave_running);
        criu_local_set_link_remap(o, p->link_remap);

        current = p;
        current_cb_error = 0;
        int k = call_as_owner(p, criu_local_dump, o);
        criu_local_free_opts(o);
        /* Closing our end lets CRIU finish (and roll back after a failed post-dump) and exit;
         * only then are the tasks running (or dead) for sure. */
        fd = safe_close(fd);
        wait_exited(swrk);
        (void) criu_watch_stop(w);
        int status = reap(swrk);
        current = NULL;

        if (k < 0 || current_cb_error < 0) {
                char what[64];
                snprintf(what, sizeof(what), "dump process %i", (int) p->pid);
                return fail(-ECHILD, p, what, log_path, reterr);
        }
        if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                log_debug("criu swrk exited with status %i after a successful dump.", status);
        return 0;
}

int criu_run_restore(const CriuParams *p, const char *log_path, pid_t *ret_pid, char **reterr) {
        if (p->stream)
                return run_streaming(p, false, log_path, ret_pid, reterr);
        _cleanup_close_ int fd = -EBADF;
        pid_t swrk;
        /* If we die, CRIU must too: it would resume the tree even though nobody can put it in a
         * scope or record it, and a half-restored tree dies with CRIU. */
        int r = spawn_swrk(p->binary, p->owner, p->shell_job, p->inherit_fds, p->n_inherit, true, &fd, &swrk);
        if (r < 0)
                return r;
        CriuWatch *w;
        criu_opts *o;
        r = criu_watch_start(swrk, p->timeout_sec, NULL, 0, -EBADF, 0, &w);
        if (r >= 0)
                r = setup_opts(p, fd, &o);
        if (r < 0) {
                (void) criu_watch_stop(w);
                fd = safe_close(fd);
                (void) reap(swrk);
                return r;
        }
        current = p;
        current_root = 0;
        current_cb_error = 0;
        /* Not criu_local_restore_child(): it always spawns `criu` from PATH itself. The restored
         * tree is orphaned when CRIU exits, and goes to the nearest subreaper: callers are one. */
        int k = call_as_owner(p, criu_local_restore, o);
        criu_local_free_opts(o);
        fd = safe_close(fd);
        wait_exited(swrk);
        bool timed_out = criu_watch_stop(w);
        (void) reap(swrk);
        current = NULL;

        if (timed_out) {
                if (reterr && asprintf(reterr, "CRIU did not finish restoring the checkpoint within %u seconds and "
                                       "was stopped (log: %s).", p->timeout_sec, log_path) < 0)
                        *reterr = NULL;
                return -ETIME;
        }
        if (k <= 0 || current_cb_error < 0)
                return fail(-ECHILD, p, "restore the checkpoint", log_path, reterr);
        *ret_pid = k;
        return 0;
}

int criu_query_version(const char *binary, char **ret) {
        /* `criu --version` rather than the VERSION RPC: that one wants an images directory
         * and libcriu crashes on CRIU's answer when it has none. */
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        _cleanup_close_ int rd = p[0], wr = p[1];
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(wr, 1) < 0 || dup2(null, 2) < 0 || close_all_fds(NULL, 0) < 0)
                        _exit(126);
                char *const env[] = { NULL };
                execle(binary, "criu", "--version", (char *) NULL, env);
                _exit(127);
        }
        wr = safe_close(wr);
        char buf[512];
        ssize_t n = loop_read(rd, buf, sizeof(buf) - 1);
        int status = reap(pid);
        if (n <= 0 || status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -ECHILD;
        buf[n] = 0;
        const char *v = strstr(buf, "Version: ");
        if (!v)
                return -EBADMSG;
        v += STRLEN("Version: ");
        char *e = strndup(v, strcspn(v, " \n"));
        if (!e)
                return -ENOMEM;
        *ret = e;
        return 0;
}
