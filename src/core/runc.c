/* SPDX-License-Identifier: Apache-2.0 */
/* runc's command line, run with a clean environment and only the fds it needs, its errors
 * turned into one sentence each. */

#include <assert.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-config.h"
#include "bus-error.h"
#include "criu-hook.h"
#include "criu-watch.h"
#include "fd-util.h"
#include "json-util.h"
#include "log.h"
#include "message.h"
#include "path-util.h"
#include "runc.h"
#include "strv.h"

#define RUNC_OUTPUT_MAX (256U * 1024U)
#define RUNC_ARGS_MAX 32
#define RUNC_LOG_NAME "runc.log"

void runc_state_done(RuncState *s) {
        free(s->id);
        free(s->status);
        free(s->bundle);
        free(s->rootfs);
        *s = (RuncState) {};
}

bool runc_id_is_valid(const char *id) {
        /* runc's own rule ([\w+-\.]+), less '+', and short enough for a file name of ours. */
        size_t n = 0;
        if (!id)
                return false;
        for (const char *p = id; *p; p++, n++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-' || *p == '.'))
                        return false;
        return n > 0 && n <= 128 && !streq(id, ".") && !streq(id, "..");
}

typedef struct RuncCall {
        char *argv[RUNC_ARGS_MAX];
        size_t n;
        const int *keep_fds; /* inherited by runc (and by CRIU through it) */
        size_t n_keep;
        bool capture_stdout;
        const char *env;     /* one more variable for runc, CRIU and its hook, or NULL */
        /* >= 0: runc writes what went wrong to RUNC_LOG_NAME in this directory (one of keep_fds)
         * instead of its stderr, which a restored container would inherit. */
        int log_dir_fd;
        char log_arg[64];
        int out, err;        /* while it runs: its stdout and stderr, as far as we read them */
} RuncCall;

static void call_add(RuncCall *c, const char *arg) {
        assert(c->n + 1 < RUNC_ARGS_MAX);
        c->argv[c->n++] = (char *) arg;
}

static void call_begin(RuncCall *c, const Runc *rc, int log_dir_fd) {
        c->log_dir_fd = log_dir_fd;
        call_add(c, "runc");
        if (rc->root) {
                call_add(c, "--root");
                call_add(c, rc->root);
        }
        if (rc->criu) {
                call_add(c, "--criu");
                call_add(c, rc->criu);
        }
        if (log_dir_fd >= 0) {
                snprintf(c->log_arg, sizeof(c->log_arg), "/proc/self/fd/%i/" RUNC_LOG_NAME, log_dir_fd);
                call_add(c, "--log");
                call_add(c, c->log_arg);
                call_add(c, "--log-format");
                call_add(c, "json");
        }
}

/* Reads fd to EOF, keeping at most RUNC_OUTPUT_MAX bytes. */
static char *read_all(int fd) {
        size_t n = 0;
        char *buf = malloc(RUNC_OUTPUT_MAX + 1);
        if (!buf)
                return NULL;
        for (;;) {
                char chunk[4096];
                ssize_t k = read(fd, chunk, sizeof(chunk));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                size_t take = MIN((size_t) k, RUNC_OUTPUT_MAX - n);
                memcpy(buf + n, chunk, take);
                n += take;
        }
        buf[n] = 0;
        return buf;
}

/* runc's last message: the "msg" of its last JSON log line at level error or fatal, or its
 * last line of plain text. */
static char *last_message(const char *text) {
        _cleanup_free_ char *copy = strdup(strempty(text));
        char *found = NULL;
        if (!copy)
                return NULL;
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] != '{') {
                        free(found);
                        found = strdup(line);
                        continue;
                }
                _cleanup_json_ json_t *v = json_loads(line, 0, NULL);
                const char *level = json_string_value(json_object_get(v, "level"));
                const char *msg = json_string_value(json_object_get(v, "msg"));
                if (msg && (streq_ptr(level, "error") || streq_ptr(level, "fatal"))) {
                        free(found);
                        found = strdup(msg);
                }
        }
        return found;
}

/* Starts runc; its stdout and stderr (unless --log) are pipes read by call_finish(). */
static int call_start(const Runc *rc, RuncCall *c, pid_t *ret_pid) {
        c->argv[c->n] = NULL;
        c->out = c->err = -EBADF;
        int out[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF };
        if ((c->capture_stdout && pipe2(out, O_CLOEXEC) < 0) || (c->log_dir_fd < 0 && pipe2(err, O_CLOEXEC) < 0)) {
                int r = negative_errno();
                safe_close(out[0]);
                safe_close(out[1]);
                return r;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                safe_close(out[0]);
                safe_close(out[1]);
                safe_close(err[0]);
                safe_close(err[1]);
                return r;
        }
        if (pid == 0) {
                /* A group of its own, which its CRIU joins: what a watch kills if CRIU hangs. */
                (void) setpgid(0, 0);
                /* A restored container inherits runc's stdio: /dev/null unless we read it. */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out[1] >= 0 ? out[1] : null, STDOUT_FILENO) < 0 ||
                    dup2(err[1] >= 0 ? err[1] : null, STDERR_FILENO) < 0)
                        _exit(126);
                if (close_all_fds(c->keep_fds, c->n_keep) < 0)
                        _exit(126);
                for (size_t i = 0; i < c->n_keep; i++) {
                        int flags = fcntl(c->keep_fds[i], F_GETFD);
                        if (flags < 0 || fcntl(c->keep_fds[i], F_SETFD, flags & ~FD_CLOEXEC) < 0)
                                _exit(126);
                }
                /* CRIU runs as runc's child, reads its settings from CRIU_CONFIG_FILE (which has
                 * cedana-criu-hook run) and passes the environment on to the hook. */
                char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                                "CRIU_CONFIG_FILE=" CRIU_RUNC_CONFIG, (char *) c->env, NULL };
                execve(rc->binary, c->argv, env);
                _exit(127);
        }
        safe_close(out[1]);
        safe_close(err[1]);
        c->out = out[0];
        c->err = err[0];
        *ret_pid = pid;
        return 0;
}

/* Waits for runc; 0 when it exited 0, else -ECHILD with *ret_error (its last message). */
static int call_finish(const Runc *rc, RuncCall *c, pid_t pid, char **ret_stdout, char **ret_error) {
        /* runc's stdout is small (state's JSON); its stderr only what went wrong. Read one after
         * the other: runc writes stdout before it fails, never interleaved in bulk. */
        _cleanup_free_ char *output = c->out >= 0 ? read_all(c->out) : NULL;
        _cleanup_free_ char *errors = c->err >= 0 ? read_all(c->err) : NULL;
        c->out = safe_close(c->out);
        c->err = safe_close(c->err);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                if (ret_stdout)
                        *ret_stdout = TAKE_PTR(output);
                return 0;
        }
        if (c->log_dir_fd >= 0) {
                free(errors);
                errors = NULL;
                (void) read_full_file_at(c->log_dir_fd, RUNC_LOG_NAME, RUNC_OUTPUT_MAX, &errors, NULL);
        }
        if (ret_error) {
                *ret_error = last_message(errors);
                if (!*ret_error && WIFEXITED(status) && WEXITSTATUS(status) == 127)
                        *ret_error = strdup("runc could not be executed");
        }
        return -ECHILD;
}

static int call_run(const Runc *rc, RuncCall *c, char **ret_stdout, char **ret_error) {
        pid_t pid;
        int r = call_start(rc, c, &pid);
        return r < 0 ? r : call_finish(rc, c, pid, ret_stdout, ret_error);
}

static int runc_simple(const Runc *rc, const char *verb, const char *flag, const char *id, char **ret_error) {
        RuncCall c = {};
        call_begin(&c, rc, -1);
        call_add(&c, verb);
        if (flag)
                call_add(&c, flag);
        call_add(&c, id);
        return call_run(rc, &c, NULL, ret_error);
}

static bool says_not_exist(const char *error) {
        return error && strstr(error, "does not exist");
}

int runc_state(const Runc *rc, const char *id, RuncState *ret, char **reterr) {
        if (access(rc->binary, X_OK) < 0)
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "runc is not installed (%s); install it, or set "
                                   "[Containers] Runc= in cedana.conf.", rc->binary);
        RuncCall c = { .capture_stdout = true };
        call_begin(&c, rc, -1);
        call_add(&c, "state");
        call_add(&c, id);
        _cleanup_free_ char *output = NULL, *error = NULL;
        int r = call_run(rc, &c, &output, &error);
        if (r == -ECHILD && says_not_exist(error))
                return message_set(reterr, CEDANA_E_NO_SUCH_CONTAINER, "runc knows no container %s%s%s; see 'runc%s%s "
                                   "list'.", id, rc->root ? " in " : "", strempty(rc->root), rc->root ? " --root " : "",
                                   strempty(rc->root));
        if (r < 0)
                return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "runc could not say what container %s is: %s.", id,
                                   error ?: strerror(-r));
        _cleanup_json_ json_t *v = json_loads(output, 0, NULL);
        const char *status = json_string_value(json_object_get(v, "status"));
        const char *bundle = json_string_value(json_object_get(v, "bundle"));
        const char *rootfs = json_string_value(json_object_get(v, "rootfs"));
        const char *owner = json_string_value(json_object_get(v, "owner"));
        json_int_t pid = json_integer_value(json_object_get(v, "pid"));
        if (!status || !bundle || pid < 0 || pid > INT32_MAX)
                return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "runc said something unexpected about container %s.",
                                   id);
        RuncState s = { .pid = (pid_t) pid };
        /* runc 1.1 says "" for root's containers, the uid for rootless ones. */
        unsigned long uid = 0;
        if (!isempty(owner)) {
                char *end = NULL;
                uid = strtoul(owner, &end, 10);
                if (!end || *end || uid == 0)
                        uid = UINT32_MAX - 1;
        }
        s.owner = (uid_t) uid;
        if (!(s.id = strdup(id)) || !(s.status = strdup(status)) || !(s.bundle = strdup(bundle)) ||
            !(s.rootfs = strdup(strempty(rootfs)))) {
                runc_state_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void fd_arg(char buf[static 32], int fd) {
        snprintf(buf, 32, "/proc/self/fd/%i", fd);
}

typedef struct DumpWait {
        const RuncDump *dump;
        pid_t runc;
        bool asked;   /* the hook asked, and got commit()'s answer */
        int commit_r; /* ... which was this */
} DumpWait;

/* What our runc's CRIU asks: to commit, once. */
static int serve_hook(const char *request, void *userdata) {
        DumpWait *w = userdata;
        if (!streq(request, CRIU_HOOK_POST_DUMP) || w->asked)
                return -EBADMSG;
        w->asked = true;
        w->commit_r = w->dump->commit(w->dump->userdata);
        return w->commit_r;
}

int runc_dump(const Runc *rc, const RuncDump *d, char **reterr) {
        char name[64], images[32], work[32], env[128];
        _cleanup_close_ int listen_fd = -EBADF;
        int r = criu_hook_socket_new(name, &listen_fd);
        if (r < 0)
                return r;
        snprintf(env, sizeof(env), CRIU_HOOK_SOCKET_ENV "=%s", name);
        fd_arg(images, d->images_dir_fd);
        fd_arg(work, d->work_dir_fd);
        int keep[] = { d->images_dir_fd, d->work_dir_fd };
        RuncCall c = { .keep_fds = keep, .n_keep = ELEMENTSOF(keep), .env = env };
        call_begin(&c, rc, -1);
        call_add(&c, "checkpoint");
        call_add(&c, "--image-path");
        call_add(&c, images);
        call_add(&c, "--work-path");
        call_add(&c, work);
        if (d->options->leave_running)
                call_add(&c, "--leave-running");
        if (d->options->tcp_established)
                call_add(&c, "--tcp-established");
        if (d->options->file_locks)
                call_add(&c, "--file-locks");
        if (d->options->shell_job)
                call_add(&c, "--shell-job");
        call_add(&c, d->id);

        DumpWait w = { .dump = d };
        _cleanup_free_ char *error = NULL;
        CriuWatch *watch = NULL;
        r = call_start(rc, &c, &w.runc);
        _cleanup_close_ int pidfd = r >= 0 ? (int) syscall(SYS_pidfd_open, w.runc, 0) : -EBADF;
        if (r >= 0 && pidfd < 0)
                r = negative_errno();
        if (r >= 0 && d->init_pidfd >= 0)
                r = criu_watch_start_group(w.runc, 0, d->tree, d->n_tree, d->init_pidfd, CRIU_WATCH_GRACE_SEC, &watch);
        /* Until runc exits: whatever its CRIU's hook asks, as it asks (CRIU runs as root). */
        if (r >= 0)
                r = criu_hook_serve(listen_fd, pidfd, w.runc, 0, serve_hook, &w);
        if (w.runc > 0) {
                if (criu_watch_stop(watch)) {
                        /* CRIU hung after a process of the container exited: whatever it froze
                         * is thawed again. */
                        (void) runc_simple(rc, "resume", NULL, d->id, NULL);
                }
                int k = call_finish(rc, &c, w.runc, NULL, &error);
                if (r >= 0)
                        r = k;
        }
        if (w.asked) {
                /* Committed: the dump is done, whatever runc said afterwards. Not committed:
                 * CRIU let the container run on, and commit() said why. */
                if (w.commit_r >= 0 && r < 0)
                        log_warning("Container %s was checkpointed, but runc then failed: %s", d->id, strna(error));
                return w.commit_r < 0 ? w.commit_r : 0;
        }
        if (r == -ECHILD)
                return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "runc failed to checkpoint container %s: %s; it "
                                   "keeps running.", d->id, error ?: "it exited with an error");
        if (r < 0)
                return r;
        /* runc's CRIU never ran our hook (its configuration was not read), and the images are
         * complete: committed late, after runc let the container go. */
        log_warning("CRIU did not ask to commit the checkpoint of container %s (%s not read?); committing it now.", d->id,
                    CRIU_RUNC_CONFIG);
        return d->commit(d->userdata) < 0 ? -EIO : 0;
}

int runc_restore(const Runc *rc, const RuncRestore *rr, pid_t *ret_pid, char **reterr) {
        _cleanup_free_ char *error = NULL;
        RuncState existing = {};
        if (runc_state(rc, rr->id, &existing, &error) == 0) {
                runc_state_done(&existing);
                return message_set(reterr, CEDANA_E_EXISTS, "runc already has a container %s; give the restored one "
                                   "another --id, or delete that one first.", rr->id);
        }
        free(error);
        error = NULL;
        _cleanup_free_ char *config = path_join(rr->bundle, "config.json");
        if (!config)
                return -ENOMEM;
        if (access(config, R_OK) < 0)
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "The bundle %s has no config.json; give the "
                                   "container's bundle with --bundle.", rr->bundle);

        char images[32], work[32];
        fd_arg(images, rr->images_dir_fd);
        fd_arg(work, rr->work_dir_fd);
        int keep[] = { rr->images_dir_fd, rr->work_dir_fd };
        RuncCall c = { .keep_fds = keep, .n_keep = ELEMENTSOF(keep) };
        call_begin(&c, rc, rr->work_dir_fd);
        call_add(&c, "restore");
        call_add(&c, "--detach");
        call_add(&c, "--image-path");
        call_add(&c, images);
        call_add(&c, "--work-path");
        call_add(&c, work);
        call_add(&c, "--bundle");
        call_add(&c, rr->bundle);
        if (rr->tcp_established)
                call_add(&c, "--tcp-established");
        if (rr->file_locks)
                call_add(&c, "--file-locks");
        call_add(&c, rr->id);
        pid_t pid;
        CriuWatch *watch = NULL;
        int r = call_start(rc, &c, &pid);
        if (r >= 0 && rr->timeout_sec > 0 && criu_watch_start_group(pid, rr->timeout_sec, NULL, 0, -EBADF, 0, &watch) < 0)
                log_warning("Could not watch runc's restore of container %s; it runs without a time limit.", rr->id);
        if (r >= 0) {
                /* Exited, not yet reaped: the watch stops before the pid could be anyone's. */
                siginfo_t si;
                while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                        ;
                bool timed_out = criu_watch_stop(watch);
                r = call_finish(rc, &c, pid, NULL, &error);
                if (timed_out) {
                        free(error);
                        if (asprintf(&error, "it did not finish within %u seconds and was stopped ([Restore] "
                                     "TimeoutSec=)", rr->timeout_sec) < 0)
                                error = NULL;
                }
        }
        RuncState s = {};
        _cleanup_free_ char *state_error = NULL;
        int k = runc_state(rc, rr->id, &s, &state_error);
        if (r < 0 || k < 0 || s.pid <= 0 || !streq(s.status, "running")) {
                /* Nothing of a failed restore stays, in runc or running. */
                if (k >= 0)
                        (void) runc_simple(rc, "delete", "--force", rr->id, NULL);
                runc_state_done(&s);
                return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "runc failed to restore container %s: %s.", rr->id,
                                   error ?: state_error ?: "it did not start");
        }
        *ret_pid = s.pid;
        runc_state_done(&s);
        return 0;
}
