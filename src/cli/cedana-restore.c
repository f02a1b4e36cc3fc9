/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana restore process|job|runc`: through cedanad into a new job (or runc's container), or
 * with --no-server right here with libcriu as a child of this command (the one place the CLI
 * runs CRIU itself). */

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "build-config.h"
#include "bus-error.h"
#include "checkpoint.h"
#include "criu.h"
#include "cli-args.h"
#include "cli-attach.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "cli-util.h"
#include "config.h"
#include "containerd.h"
#include "fd-util.h"
#include "identity.h"
#include "log.h"
#include "naming.h"
#include "progress.h"
#include "runc.h"

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/* What restore opens before doing anything, so a bad path fails before any work starts. */
typedef struct RestoreFiles {
        int source_fd;
        char *source_path; /* absolute, for messages; NULL if unknown */
        int log_fd;
        int pid_fd;
} RestoreFiles;

static void restore_files_done(RestoreFiles *f) {
        safe_close(f->source_fd);
        safe_close(f->log_fd);
        safe_close(f->pid_fd);
        free(f->source_path);
}

/* Whether the checkpoint came as PATH rather than --path: errors name it the way it was given. */
static bool path_positional;

static int open_restore_files(RestoreFiles *f) {
        int r;
        *f = (RestoreFiles) { .source_fd = -EBADF, .log_fd = -EBADF, .pid_fd = -EBADF };
        if (arg_path && startswith(arg_path, "s3://")) {
                /* cedanad downloads it; what the caller may read there, it decides. */
                if (!(f->source_path = strdup(arg_path)))
                        return log_oom();
        } else if (arg_path) {
                /* A directory or an archive; O_RDONLY opens either. */
                r = open_user_path(path_positional ? "The checkpoint" : "--path", arg_path, O_RDONLY, 0, &f->source_fd,
                                   &f->source_path);
                if (r != 0)
                        return r;
        }
        if (arg_log) {
                r = open_user_path("--log", arg_log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0640, &f->log_fd, NULL);
                if (r != 0)
                        return r;
        }
        if (arg_pid_file) {
                r = open_user_path("--pid-file", arg_pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644,
                                   &f->pid_fd, NULL);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int print_restore_result(const char *path, const char *runtime, const char *job, uint32_t pid, json_t *stats) {
        bool container = runtime;
        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = json_pack("{s:o, s:I, s:s}", container ? "container" : "job",
                                                     json_string_or_null(job), "pid", (json_int_t) pid, "path", path);
                if (!v || (arg_print_stats && json_object_set(v, "stats", stats ?: json_null()) < 0))
                        return log_oom();
                return json_print(v);
        }
        if (arg_quiet)
                return 0;
        if (!job)
                printf("Restored %s (PID %" PRIu32 ").\n", strna(path), pid);
        else if (container)
                printf("Restored %s as %s container %s (PID %" PRIu32 ").\n", strna(path), runtime, job, pid);
        else if (path)
                printf("Restored %s as job %s (PID %" PRIu32 ").\n", path, job, pid);
        else
                printf("Restored job %s (PID %" PRIu32 ").\n", job, pid);
        int r = print_stats(stats);
        fflush(stdout);
        return r;
}

/* ---- without the daemon ---- */

static bool have_checkpoint_restore_capability(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        if (syscall(SYS_capget, &h, d) < 0)
                return false;
        return d[CAP_CHECKPOINT_RESTORE / 32].effective & (1U << (CAP_CHECKPOINT_RESTORE % 32));
}

static int current_identity(Identity *ret) {
        Identity id = { .uid = geteuid(), .gid = getegid() };
        int n = getgroups(0, NULL);
        if (n < 0)
                return negative_errno();
        if (n > 0) {
                id.groups = calloc((size_t) n, sizeof(gid_t));
                if (!id.groups)
                        return -ENOMEM;
                n = getgroups(n, id.groups);
                if (n < 0) {
                        free(id.groups);
                        return negative_errno();
                }
        }
        id.n_groups = (size_t) n;
        *ret = id;
        return 0;
}

static void restore_progress(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        progress_show(phase, done, total);
}

/* The restored root is our child (we are its subreaper): its exit status becomes ours, like a
 * shell's. Orphans of the restored tree come to us too, and are reaped on the way. */
static int wait_for_restored(pid_t pid) {
        int status;
        for (;;) {
                pid_t p = waitpid(-1, &status, 0);
                if (p == pid)
                        break;
                if (p >= 0 || errno == EINTR)
                        continue;
                return log_error_errno(negative_errno(), "Failed to wait for restored process %i: %m", (int) pid);
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return CEDANA_EXIT_FAILURE;
}

typedef struct Staging {
        int tmp_fd;
        char *name;
        int fd;
} Staging;

static void staging_done(Staging *s) {
        safe_close(s->fd);
        safe_close(s->tmp_fd);
        free(s->name);
}

static int staging_create(Staging *s, int *ret_images_fd) {
        const char *tmp = getenv("TMPDIR");
        int r;
        if (isempty(tmp))
                tmp = "/tmp";
        *s = (Staging) { .tmp_fd = -EBADF, .fd = -EBADF };
        s->tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->tmp_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open the temporary directory %s: %m", tmp);
        r = mkdtemp_at(s->tmp_fd, "cedana-restore-", &s->name, &s->fd);
        if (r < 0)
                return log_error_errno(r, "Failed to make a staging directory in %s: %m", tmp);
        if (mkdirat(s->fd, "images", 0700) < 0)
                return log_error_errno(negative_errno(), "Failed to make a staging directory in %s: %m", tmp);
        *ret_images_fd = openat(s->fd, "images", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*ret_images_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open the staging directory: %m");
        return 0;
}

/* Ctrl-C while restoring without cedanad: the restore stops where it can, anything restored is
 * killed before it runs (CRIU, in our process group, gets the terminal's SIGINT too). */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
        interrupted = 1;
}

static bool restore_interrupted(void *userdata) {
        return interrupted;
}

/* What --print-stats and --json show, as cedanad's Statistics signal would carry it. */
static json_t *stats_to_json(const CheckpointStats *s, uint64_t total_usec) {
        StatsPair pairs[STATS_PAIRS_MAX];
        size_t n = checkpoint_stats_pairs(s, false, total_usec, pairs);
        _cleanup_json_ json_t *o = json_object();
        for (size_t i = 0; o && i < n; i++)
                if (json_object_set_new(o, pairs[i].key, json_integer((json_int_t) pairs[i].value)) < 0)
                        return NULL;
        if (!o || stats_add_ratio(o) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int restore_no_server(const Verb *verb) {
        _cleanup_(restore_files_done) RestoreFiles f = { .source_fd = -EBADF, .log_fd = -EBADF, .pid_fd = -EBADF };
        _cleanup_(staging_done) Staging staging = { .tmp_fd = -EBADF, .fd = -EBADF };
        _cleanup_(identity_done) Identity caller = {}, owner = {};
        _cleanup_(config_done) Config config = {};
        _cleanup_close_ int images_fd = -EBADF;
        _cleanup_free_ char *err = NULL;
        _cleanup_(restored_tree_done) RestoredTree tree = {};
        CheckpointStats stats = {};
        _cleanup_json_ json_t *stats_json = NULL;
        int r;

        interrupted = 0;
        if (arg_attach)
                return log_verb_usage(verb, "--attach needs cedanad and cannot be combined with --no-server.");
        if (arg_name)
                return log_verb_usage(verb, "--name names a job of cedanad and cannot be combined with --no-server.");
        if (geteuid() != 0 && !have_checkpoint_restore_capability()) {
                log_error("'cedana restore process --no-server' needs root (or CAP_CHECKPOINT_RESTORE); drop "
                          "--no-server to let cedanad restore it.");
                return CEDANA_EXIT_ACCESS_DENIED;
        }
        r = open_restore_files(&f);
        if (r != 0)
                return r;

        r = config_init(&config);
        if (r < 0)
                return log_oom();
        r = config_load(&config, PKGSYSCONFDIR "/cedana.conf", PKGSYSCONFDIR "/cedana.conf.d");
        if (r < 0) {
                log_error("Fix the configuration in %s first; it is what cedanad would use too.", PKGSYSCONFDIR);
                return CEDANA_EXIT_FAILURE;
        }
        r = current_identity(&caller);
        if (r >= 0)
                r = identity_copy(&caller, &owner);
        if (r < 0)
                return log_error_errno(r, "Failed to determine who we are: %m");
        r = staging_create(&staging, &images_fd);
        if (r < 0)
                goto finish;
        /* CRIU restores the tree as its own child and exits: the tree is orphaned and goes to the
         * nearest subreaper. That must be us, or we could not wait for it. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                r = log_error_errno(negative_errno(), "Failed to become a subreaper: %m");
                goto finish;
        }

        RestoreOptions options = { .tcp_established = arg_tcp_established, .shell_job = arg_shell_job };
        RestoreRequest req = {
                .source_fd = f.source_fd,
                .owner = owner,
                .options = &options,
                .staging_fd = images_fd,
                .criu_binary = config.criu_binary,
                .criu_log_level = config.criu_log_level,
                .log_dir_fd = staging.fd,
                .log_name = "restore.log",
                .max_archive_bytes = config.max_restore_bytes,
                .timeout_sec = config.restore_timeout_sec,
                /* Nothing to hand over: an attached job's checkpoint is refused, a job's log
                 * reopened where it was. */
                .attach_stdin_fd = -EBADF,
                .attach_stdout_fd = -EBADF,
                .attach_tty_fd = -EBADF,
                .job_log_fd = -EBADF,
                .before_resume = NULL,
                .progress = restore_progress,
                .cancelled = restore_interrupted,
                .ret_stats = &stats,
        };
        struct sigaction sa = { .sa_handler = on_interrupt }, old_int, old_term;
        (void) sigaction(SIGINT, &sa, &old_int);
        (void) sigaction(SIGTERM, &sa, &old_term);
        uint64_t start = now_monotonic_usec();
        r = checkpoint_restore(&req, &tree, &err);
        uint64_t total_usec = now_monotonic_usec() - start;
        (void) sigaction(SIGINT, &old_int, NULL);
        (void) sigaction(SIGTERM, &old_term, NULL);
        progress_clear();
        if (r != 0 && interrupted) {
                /* Whatever CRIU made of the signal: nothing of the restore runs. */
                free(err);
                err = strdup(RESTORE_CANCELLED_MESSAGE);
                r = CEDANA_E_CANCELLED;
        }
        if (f.log_fd >= 0)
                criu_log_copy(staging.fd, "restore.log", f.log_fd);
        if (r != 0) {
                if (err)
                        log_error("%s", err);
                else
                        log_error_errno(r < 0 ? r : -EIO, "Failed to restore %s: %m", arg_path);
                /* Keep CRIU's log if it ran (the message names the log); the images go. */
                struct stat st;
                if (fstatat(staging.fd, "restore.log", &st, AT_SYMLINK_NOFOLLOW) >= 0 && st.st_size > 0) {
                        (void) rm_rf_at(staging.fd, "images");
                        free(staging.name);
                        staging.name = NULL;
                }
                r = exit_status_from_result(r);
                goto finish;
        }

        /* Verified and held stopped: ours to let run. */
        restored_tree_resume(&tree);
        if (f.pid_fd >= 0)
                (void) write_pid_file(f.pid_fd, arg_pid_file, tree.pids[0]);
        if (arg_print_stats)
                stats_json = stats_to_json(&stats, total_usec);
        (void) print_restore_result(f.source_path ?: arg_path, false, NULL, (uint32_t) tree.pids[0], stats_json);
        /* Out now, not when the restored process ends: we wait for it next. */
        fflush(stdout);
        r = 0;
finish:
        if (staging.name)
                (void) rm_rf_at(staging.tmp_fd, staging.name);
        free(staging.name);
        staging.name = NULL;
        if (r != 0)
                return r;
        /* With --shell-job the restored shell owns the terminal now; we only wait. */
        return wait_for_restored(tree.pids[0]);
}

/* ---- through cedanad ---- */

/* The path restore job will use without --path, for the message; NULL when unknown. */
static char *latest_checkpoint_path(CliBus *bus, const char *job) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *id, *j, *path;
        uint64_t t, size;
        const char *compression;
        if (cli_bus_new_manager_call(bus, "ListCheckpoints", &m) < 0 || sd_bus_message_append(m, "s", job) < 0)
                return NULL;
        if (sd_bus_call(bus->bus, m, 0, NULL, &reply) < 0)
                return NULL;
        uint32_t uid;
        const char *status;
        if (sd_bus_message_enter_container(reply, 'a', "(sssttsus)") <= 0)
                return NULL;
        if (sd_bus_message_read(reply, "(sssttsus)", &id, &j, &path, &t, &size, &compression, &uid, &status) <= 0)
                return NULL;
        return strdup(path);
}

static int append_restore_options(sd_bus_message *m, const RestoreFiles *f) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && f->source_fd >= 0)
                r = bus_append_option_fd(m, "source_fd", f->source_fd);
        if (r >= 0 && f->source_path)
                r = bus_append_option_string(m, "path", f->source_path);
        if (r >= 0 && arg_name)
                r = bus_append_option_string(m, "name", arg_name);
        if (r >= 0 && arg_tcp_established)
                r = bus_append_option_bool(m, "tcp_established", true);
        if (r >= 0 && arg_shell_job)
                r = bus_append_option_bool(m, "shell_job", true);
        if (r >= 0 && arg_attach)
                r = bus_append_option_bool(m, "attach", true);
        if (r >= 0 && f->log_fd >= 0)
                r = bus_append_option_fd(m, "log_fd", f->log_fd);
        if (r >= 0 && arg_id)
                r = bus_append_option_string(m, "id", arg_id);
        if (r >= 0 && arg_bundle)
                r = bus_append_option_string(m, "bundle", arg_bundle);
        if (r >= 0 && arg_runc_root)
                r = bus_append_option_string(m, "runc_root", arg_runc_root);
        if (r >= 0 && arg_namespace)
                r = bus_append_option_string(m, "namespace", arg_namespace);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int verb_restore(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(cli_call_info_done) CliCallInfo info = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(restore_files_done) RestoreFiles f = { .source_fd = -EBADF, .log_fd = -EBADF, .pid_fd = -EBADF };
        _cleanup_free_ char *latest = NULL;
        bool is_job = streq(verb->name, "job"), is_containerd = streq(verb->name, "containerd");
        bool is_container = is_containerd || streq(verb->name, "runc");
        const char *job;
        uint32_t pid;
        int r;

        if (!is_job && n_args > 0) {
                if (arg_path)
                        return log_verb_usage(verb, "Give the checkpoint once: as PATH or with --path, not both.");
                if (!(arg_path = strdup(args[0])))
                        return log_oom();
                path_positional = true;
        }
        if (!is_job && !arg_path)
                return log_verb_usage(verb, "'cedana restore %s' needs the checkpoint to restore: PATH or --path PATH.",
                                      verb->name);
        if (arg_id && !(is_containerd ? containerd_name_is_valid(arg_id) : runc_id_is_valid(arg_id)))
                return log_verb_usage(verb, "'%s' is not a valid container id.", arg_id);
        if (arg_bundle && arg_bundle[0] != '/')
                return log_verb_usage(verb, "--bundle needs an absolute path, not '%s'.", arg_bundle);
        if (is_job && !job_spec_is_valid(args[0]))
                return log_verb_usage(verb, "'%s' is not a valid job name.", args[0]);
        if (arg_name && !job_name_is_valid(arg_name))
                return log_verb_usage(verb,
                                      "'%s' is not a valid job name: use up to 64 letters, digits, '.', '_' and '-', "
                                      "starting with a letter or digit.",
                                      arg_name);
        if (arg_no_server && arg_path && startswith(arg_path, "s3://"))
                return log_verb_usage(verb, "--no-server restores local checkpoints; an s3:// one goes through "
                                      "cedanad.");
        if (arg_no_server)
                return restore_no_server(verb);
        if (arg_attach && arg_json != JSON_MODE_OFF)
                return log_verb_usage(verb, "--attach puts the job's output on stdout and cannot be combined with --json.");

        r = open_restore_files(&f);
        if (r != 0)
                return r;
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        if (is_job && f.source_fd < 0)
                latest = latest_checkpoint_path(&bus, args[0]);

        r = cli_bus_new_manager_call(&bus, "Restore", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", verb->name, is_job ? args[0] : strempty(f.source_path));
        if (r >= 0)
                r = append_restore_options(m, &f);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call_long(&bus, m, &info, &error, &reply);
        if (r == -ECANCELED && !sd_bus_error_is_set(&error))
                return CEDANA_EXIT_CANCELLED;
        if (r < 0)
                return is_job ? log_bus_error(&error, r, "restore job %s", args[0])
                              : log_bus_error(&error, r, "restore %s", arg_path);
        r = sd_bus_message_read(reply, "su", &job, &pid);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");
        if (info.cancel_requested)
                log_warning("Too late to cancel: %s %s was restored and runs already.",
                            is_container ? "container" : "job", job);

        if (f.pid_fd >= 0)
                (void) write_pid_file(f.pid_fd, arg_pid_file, (pid_t) pid);
        r = print_restore_result(f.source_path ?: (arg_path ?: latest), is_container ? verb->name : NULL, job, pid,
                                 info.stats);
        if (r < 0 || !arg_attach)
                return r;
        return attach_job(&bus, job);
}
