/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's life cycle: start-up (configuration, job store, buses, the socket systemd
 * passed), reaping children, and exiting when idle without losing anything. */

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <fcntl.h>

#include "build-config.h"
#include "bus-error.h"
#include "compression.h"
#include "criu.h"
#include "fd-util.h"
#include "format-util.h"
#include "job-attach.h"
#include "job.h"
#include "checkpoint-files.h"
#include "hygiene.h"
#include "job-run.h"
#include "operation.h"
#include "paused.h"
#include "persist.h"
#include "restore-operation.h"
#include "schedule.h"
#include "jobstore.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "polkit.h"
#include "strv.h"

#define BUS_NAME "org.cedana.Checkpoint1"

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        log_info("Received SIG%s, exiting.", sigabbrev_np((int) si->ssi_signo));
        m->exiting = true;
        return sd_event_exit(m->event, 0);
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        /* Reap everything: workers, jobs that are our children, and orphans that reached us as
         * the subreaper. One SIGCHLD may stand for several exits. */
        for (;;) {
                int status;
                struct rusage ru;
                pid_t pid = wait4(-1, &status, WNOHANG, &ru);
                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0)
                        break; /* 0: none exited; ECHILD: no children left */
                if (worker_dispatch_exit(m, pid, status, &ru))
                        continue;
                job_dispatch_exit(m, pid, status);
        }
        return 0;
}

static int on_post(sd_event_source *s, void *userdata);

int manager_new(Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->listen_fd = m->state_dir_fd = m->log_dir_fd = m->inhibit_fd = -EBADF;
        int r = config_init(&m->config);
        if (r < 0)
                return r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        (void) sd_event_set_watchdog(m->event, true);

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigchld_source, SIGCHLD, on_sigchld, m);
        if (r >= 0)
                r = sd_event_add_post(m->event, NULL, on_post, m);
        if (r < 0)
                return r;

        /* Restored process trees are orphaned by CRIU: as subreaper we get them, and their exit
         * status, instead of PID 1. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return negative_errno();

        *ret = TAKE_PTR(m);
        return 0;
}

static void private_bus_free(PrivateBus *pb) {
        if (!pb)
                return;
        if (pb->manager) {
                LIST_REMOVE(private_buses, pb->manager->private_buses, pb);
                pb->manager->n_private_buses--;
        }
        sd_bus_flush_close_unref(pb->bus);
        free(pb);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->exiting = true;
        while (m->operations)
                operation_free(m->operations);
        while (m->workers)
                worker_free(m->workers);
        while (m->jobs)
                job_free(m->jobs);
        polkit_queries_free(m);
        persist_done(m);
        while (m->private_buses)
                private_bus_free(m->private_buses);
        sd_event_source_disable_unref(m->listen_source);
        sd_event_source_disable_unref(m->idle_timer);
        sd_event_source_disable_unref(m->hygiene_timer);
        sd_event_source_disable_unref(m->sigchld_source);
        safe_close(m->listen_fd);
        sd_bus_flush_close_unref(m->bus);
        jobstore_free(m->store);
        safe_close(m->state_dir_fd);
        safe_close(m->log_dir_fd);
        config_done(&m->config);
        free(m->config_file);
        free(m->config_dropin_dir);
        free(m->state_dir);
        free(m->log_dir);
        free(m->criu_version);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

bool manager_is_idle(Manager *m) {
        if (m->operations || m->workers || m->polkit_queries || m->scope_starts || m->private_buses ||
            persist_holds(m))
                return false;
        LIST_FOREACH(jobs, j, m->jobs)
                if (j->attach_source)
                        return false;
        return true;
}

static int on_name_released(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        /* Calls that arrived before the release are ours to answer; then look again. */
        if (!manager_is_idle(m)) {
                log_debug("Work arrived while releasing the bus name; staying.");
                (void) sd_bus_request_name_async(m->bus, NULL, BUS_NAME, 0, NULL, NULL);
                manager_check_idle(m);
                return 0;
        }
        return sd_event_exit(m->event, 0);
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        if (!manager_is_idle(m))
                return 0;
        char span[FORMAT_TIMESPAN_MAX];
        log_info("Nothing to do for %s, exiting; the next call starts cedanad again.",
                 format_timespan(span, sizeof(span), m->config.idle_exit_usec));
        m->exiting = true;
        (void) sd_notify(false, "STOPPING=1");
        /* Give the name back first so the bus queues new callers for the next instance instead of
         * delivering them to one that is going away. */
        if (m->bus && sd_bus_release_name_async(m->bus, NULL, BUS_NAME, on_name_released, m) >= 0)
                return 0;
        return sd_event_exit(m->event, 0);
}

/* Idleness is derived from live state after every event (machined's check_idle), so no code
 * path that ends some work has to remember to look again: arm the countdown when idle and it
 * is not running yet, stop it when not idle. Activity (manager_check_idle) restarts it. */
static int on_post(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        polkit_queries_gc(m);
        persist_continue(m);
        int enabled = SD_EVENT_OFF;
        if (m->idle_timer)
                (void) sd_event_source_get_enabled(m->idle_timer, &enabled);
        if (enabled == SD_EVENT_OFF || !manager_is_idle(m))
                manager_check_idle(m);
        return 0;
}

void manager_check_idle(Manager *m) {
        if (m->exiting)
                return;
        if (!manager_is_idle(m) || m->config.idle_exit_usec == UINT64_MAX) {
                if (m->idle_timer)
                        (void) sd_event_source_set_enabled(m->idle_timer, SD_EVENT_OFF);
                return;
        }
        uint64_t now;
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        uint64_t when = now + m->config.idle_exit_usec;
        if (m->idle_timer) {
                (void) sd_event_source_set_time(m->idle_timer, when);
                (void) sd_event_source_set_enabled(m->idle_timer, SD_EVENT_ONESHOT);
                return;
        }
        if (sd_event_add_time(m->event, &m->idle_timer, CLOCK_MONOTONIC, when, USEC_PER_SEC, on_idle_timer, m) >= 0)
                (void) sd_event_source_set_description(m->idle_timer, "idle-timer");
}

int manager_foreach_bus(Manager *m, ManagerBusFunc f, void *userdata) {
        int ret = 0;
        if (m->bus) {
                int r = f(m->bus, userdata);
                if (r < 0)
                        ret = r;
        }
        LIST_FOREACH(private_buses, pb, m->private_buses) {
                int r = f(pb->bus, userdata);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int on_private_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        PrivateBus *pb = userdata;
        Manager *m = pb->manager;
        log_debug("Private connection closed.");
        private_bus_free(pb);
        manager_check_idle(m);
        return 0;
}

static int on_private_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        _cleanup_close_ int nfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(errno, "Failed to accept a private connection: %m");
                return 0;
        }
        /* The socket is 0600 root; checking again costs nothing and survives a bad chmod. */
        struct ucred uc;
        socklen_t l = sizeof(uc);
        if (getsockopt(nfd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0 || uc.uid != 0) {
                log_warning("Refused a private connection from UID %u: the private socket is for root only.",
                            (unsigned) uc.uid);
                return 0;
        }

        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *b = NULL;
        sd_id128_t id;
        int r = sd_bus_new(&b);
        if (r >= 0)
                r = sd_bus_set_fd(b, nfd, nfd);
        if (r >= 0) {
                TAKE_FD(nfd);
                r = sd_id128_randomize(&id);
        }
        if (r >= 0)
                r = sd_bus_set_server(b, true, id);
        if (r >= 0)
                r = sd_bus_negotiate_fds(b, true);
        if (r >= 0)
                r = sd_bus_negotiate_creds(b, true, SD_BUS_CREDS_PID | SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID);
        if (r >= 0)
                r = sd_bus_set_description(b, "private-connection");
        if (r >= 0)
                r = manager_bus_add_objects(m, b);
        if (r >= 0)
                r = sd_bus_start(b);
        if (r >= 0)
                r = sd_bus_attach_event(b, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_warning_errno(r, "Failed to set up a private connection: %m"), 0;

        PrivateBus *pb = calloc(1, sizeof(PrivateBus));
        if (!pb)
                return log_oom(), 0;
        pb->manager = m;
        pb->bus = TAKE_PTR(b);
        LIST_PREPEND(private_buses, m->private_buses, pb);
        m->n_private_buses++;
        r = sd_bus_match_signal(pb->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_private_disconnected, pb);
        if (r < 0) {
                private_bus_free(pb);
                return log_warning_errno(r, "Failed to watch a private connection: %m"), 0;
        }
        manager_check_idle(m);
        return 0;
}

/* What systemd passed: the private socket (cedanad.socket). */
static int manager_take_fds(Manager *m) {
        char **names = NULL;
        int n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the file descriptors systemd passed: %m");
        int r = 0;
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "";
                if (m->listen_fd < 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
                        m->listen_fd = fd;
                else {
                        log_warning("Ignoring unexpected file descriptor %i (%s) from systemd.", fd, name);
                        safe_close(fd);
                }
        }
        strv_free(names);
        if (m->listen_fd < 0) {
                log_debug("No socket passed; serving the system bus only.");
                return 0;
        }
        (void) fcntl(m->listen_fd, F_SETFL, fcntl(m->listen_fd, F_GETFL) | O_NONBLOCK);
        r = sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_private_connection, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->listen_source, "private-listen");
        return 0;
}

static int manager_connect_bus(Manager *m) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system_with_description(&bus, "system-bus");
        if (r < 0) {
                log_notice_errno(r, "No system bus (%m); serving the private socket only.");
                return 0;
        }
        r = manager_bus_add_objects(m, bus);
        if (r < 0)
                return r;
        r = sd_bus_request_name_async(bus, NULL, BUS_NAME, 0, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to request bus name " BUS_NAME ": %m");
        r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        m->bus = TAKE_PTR(bus);
        return 0;
}

static int open_dir(const char *path, mode_t mode, int *ret) {
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        *ret = fd;
        return 0;
}

int manager_startup(Manager *m) {
        int r;

        r = config_load(&m->config, m->config_file ?: PKGSYSCONFDIR "/cedana.conf",
                        m->config_dropin_dir ?: PKGSYSCONFDIR "/cedana.conf.d");
        if (r < 0)
                return log_error_errno(r, "The configuration is invalid (see the errors above); refusing to start.");

        if (!m->state_dir && !(m->state_dir = strdup(STATEDIR)))
                return log_oom();
        if (!m->log_dir && !(m->log_dir = strdup(LOGDIR)))
                return log_oom();
        r = open_dir(m->state_dir, 0700, &m->state_dir_fd);
        if (r < 0)
                return r;
        r = open_dir(m->log_dir, 0755, &m->log_dir_fd);
        if (r < 0)
                return r;
        r = jobstore_open(m->state_dir_fd, &m->store);
        if (r < 0)
                return log_error_errno(r, "Failed to open the job store in %s: %m", m->state_dir);

        r = manager_load_jobs(m);
        if (r < 0)
                return log_error_errno(r, "Failed to load the jobs from the job store: %m");

        r = manager_take_fds(m);
        if (r < 0)
                return r;
        r = manager_connect_bus(m);
        if (r < 0)
                return r;
        if (!m->bus && m->listen_fd < 0)
                return log_error_errno(-ENOTCONN, "Neither a system bus nor a private socket to serve; exiting.");

        /* What a previous cedanad left half done: restores undone, dumps finished or removed. */
        restore_intents_reconcile(m);
        paused_resume(m, NULL, NULL);
        /* Now that systemd and logind can be asked: the jobs' timers and the shutdown lock. */
        LIST_FOREACH(jobs, j, m->jobs)
                schedule_sync(j);
        persist_sync(m);
        r = checkpoint_files_reconcile_all(m);
        if (r < 0)
                log_warning_errno(r, "Failed to start reconciling interrupted dumps: %m");
        manager_hygiene(m, true);
        r = manager_hygiene_start_timer(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the hygiene timer: %m");

        (void) sd_notify(false, "READY=1\nSTATUS=Serving checkpoint requests.");
        log_info("cedanad " PACKAGE_VERSION " started: %u job(s) known, %s%s.", m->n_jobs,
                 m->bus ? "on the system bus" : "without a system bus",
                 m->listen_fd >= 0 ? " and the private socket" : "");
        manager_check_idle(m);
        return 0;
}

int manager_run(Manager *m) {
        return sd_event_loop(m->event);
}

const char *manager_criu_version(Manager *m) {
        /* Asked once: it costs an exec of CRIU, and the binary does not change under us. */
        if (!m->criu_version && criu_query_version(m->config.criu_binary, &m->criu_version) < 0)
                m->criu_version = NULL;
        return m->criu_version;
}

int manager_features(Manager *m, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        (void) manager_criu_version(m);
        _cleanup_free_ char *criu = NULL;
        if (asprintf(&criu, "criu=%s", m->criu_version ?: "unavailable") < 0)
                return -ENOMEM;
        int r = strv_extend(&l, criu);
        for (Compression c = 0; r >= 0 && c < _COMPRESSION_MAX; c++) {
                _cleanup_free_ char *s = NULL;
                if (asprintf(&s, "compression=%s", compression_to_string(c)) < 0)
                        return -ENOMEM;
                r = strv_extend(&l, s);
        }
        static const char *const fixed[] = {
                "tcp-established", "file-locks", "link-remap", "shell-job", "external",
                "unprivileged", "scopes", "job-store", "polkit", "schedule", "persist",
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed); i++)
                r = strv_extend(&l, fixed[i]);
        if (r >= 0)
                r = strv_extend(&l, m->listen_fd >= 0 ? "private-socket" : "private-socket=no");
        if (r >= 0)
                /* Container checkpoints, where runc is installed. */
                r = strv_extend(&l, access(m->config.runc_binary, X_OK) >= 0 ? "runc" : "runc=no");
        if (r >= 0)
                /* containerd's containers, through its API: its socket exists while it runs. */
                r = strv_extend(&l, access(m->config.containerd_address, F_OK) >= 0 ? "containerd" : "containerd=no");
        if (r >= 0)
                r = strv_extend(&l, "gpu=no");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}
