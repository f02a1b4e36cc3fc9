/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint at shutdown, restore at boot: logind's inhibitor lock and the shutdown's dumps. */

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bus-error.h"
#include "fd-util.h"
#include "job-dbus.h"
#include "job.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "persist.h"

#define LOGIND_DEST "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"

bool persist_wanted(const Job *j) {
        return j->persist || j->manager->config.persist_all;
}

bool persist_holds(Manager *m) {
        return m->inhibit_fd >= 0 || (m->shutting_down && !m->shutdown_settled);
}

static void release_lock(Manager *m) {
        if (m->inhibit_fd < 0)
                return;
        m->inhibit_fd = safe_close(m->inhibit_fd);
        log_debug("Released the shutdown inhibitor lock.");
        manager_check_idle(m);
}

/* Whether j still needs its shutdown checkpoint started. */
static bool shutdown_owes(const Job *j) {
        return j->state == JOB_RUNNING && persist_wanted(j) && !j->shutdown_tried;
}

void persist_continue(Manager *m) {
        if (!m->shutting_down || m->shutdown_settled)
                return;
        bool waiting = false;
        LIST_FOREACH(jobs, j, m->jobs) {
                if (!shutdown_owes(j))
                        continue;
                /* A dump or restore of it in flight (a scheduled checkpoint, say): its turn comes
                 * when that ends. */
                if (j->busy) {
                        waiting = true;
                        continue;
                }
                j->shutdown_tried = true;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                int r = bus_dump_job_for_owner(NULL, m, j, DUMP_ORIGIN_SHUTDOWN, &e);
                if (r < 0)
                        log_ctx_errno(LOG_ERR, r, LOG_CTX(.job = j->id),
                                      "Job %s cannot be checkpointed for the shutdown: %s It will not be restored at "
                                      "boot.", job_display_name(j, 0), e.message ?: strerror(-r));
                else
                        m->shutdown_dumps++;
        }
        if (waiting || m->shutdown_dumps > 0)
                return;
        m->shutdown_settled = true;
        persist_sync(m); /* the boot flag, before the shutdown may go on */
        log_info("Checkpoints for the shutdown done; letting it proceed.");
        release_lock(m);
}

static void shutdown_begins(Manager *m) {
        unsigned n = 0;
        m->shutting_down = true;
        m->shutdown_settled = false;
        LIST_FOREACH(jobs, j, m->jobs) {
                j->shutdown_tried = false;
                n += shutdown_owes(j);
        }
        log_notice("The system is shutting down: checkpointing %u job(s) marked to persist.", n);
        persist_continue(m);
}

void persist_dump_done(Manager *m, Job *j, int r, const char *message) {
        if (r == 0)
                log_ctx(LOG_INFO, LOG_CTX(.job = j->id), "Job %s was checkpointed for the shutdown and is restored at "
                        "the next boot.", job_display_name(j, 0));
        else
                log_ctx(LOG_ERR, LOG_CTX(.job = j->id), "Job %s could not be checkpointed for the shutdown: %s It "
                        "will not be restored at boot.", job_display_name(j, 0), strna(message));
        if (m->shutdown_dumps > 0)
                m->shutdown_dumps--;
        persist_continue(m);
}

static int on_prepare_for_shutdown(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int start;
        if (sd_bus_message_read(msg, "b", &start) < 0)
                return 0;
        if (start && !m->shutting_down)
                shutdown_begins(m);
        else if (!start && m->shutting_down) {
                /* Called off: the jobs halted for it stay halted; those still running are
                 * protected again. */
                log_info("The shutdown was cancelled.");
                m->shutting_down = false;
                persist_sync(m);
        }
        return 0;
}

static int take_lock(Manager *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = 0, fd;
        if (!m->shutdown_slot)
                r = sd_bus_match_signal_async(m->bus, &m->shutdown_slot, LOGIND_DEST, LOGIND_PATH, LOGIND_MANAGER,
                                              "PrepareForShutdown", on_prepare_for_shutdown, NULL, m);
        if (r >= 0)
                r = sd_bus_call_method(m->bus, LOGIND_DEST, LOGIND_PATH, LOGIND_MANAGER, "Inhibit", &e, &reply, "ssss",
                                       "shutdown", "cedana", "Checkpointing the jobs marked to persist", "delay");
        if (r >= 0)
                r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return log_warning_errno(r, "Failed to take logind's shutdown inhibitor lock (%s); jobs marked to "
                                         "persist will not be checkpointed at shutdown.", e.message ?: strerror(-r));
        m->inhibit_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (m->inhibit_fd < 0)
                return log_warning_errno(errno, "Failed to keep the inhibitor lock: %m");
        log_debug("Took logind's shutdown inhibitor lock.");
        return 0;
}

/* The boot unit's condition: there while a job waits to be restored at boot. */
static void sync_boot_flag(Manager *m) {
        bool want = false;
        LIST_FOREACH(jobs, j, m->jobs)
                want = want || (j->restore_at_boot && j->state == JOB_HALTED);
        bool have = faccessat(m->state_dir_fd, PERSIST_BOOT_FLAG, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
        if (want == have)
                return;
        if (!want) {
                (void) unlinkat(m->state_dir_fd, PERSIST_BOOT_FLAG, 0);
                return;
        }
        _cleanup_close_ int fd = openat(m->state_dir_fd, PERSIST_BOOT_FLAG,
                                        O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || fsync(fd) < 0 || fsync(m->state_dir_fd) < 0)
                log_error_errno(errno, "Failed to create %s/%s: %m; the jobs checkpointed for the shutdown will not "
                                "be restored at boot, restore them with 'cedana job restore-persisted'.",
                                m->state_dir, PERSIST_BOOT_FLAG);
}

void persist_sync(Manager *m) {
        if (m->state_dir_fd >= 0)
                sync_boot_flag(m);
        if (!m->bus || m->shutting_down)
                return;
        bool want = false;
        LIST_FOREACH(jobs, j, m->jobs)
                want = want || (j->state == JOB_RUNNING && persist_wanted(j));
        if (want && m->inhibit_fd < 0)
                (void) take_lock(m);
        else if (!want)
                release_lock(m);
}

int persist_set(Job *j, bool on, sd_bus_error *error) {
        Manager *m = j->manager;
        if (on && !m->bus)
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED, "A checkpoint at shutdown needs logind, and "
                                      "cedanad has no system bus to reach it on; job %s is not marked.", j->id);
        bool was = j->persist;
        j->persist = on;
        persist_sync(m);
        /* Marked but unprotected would be a promise not kept: say so, and take it back. */
        if (on && j->state == JOB_RUNNING && m->inhibit_fd < 0) {
                j->persist = was;
                persist_sync(m);
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED, "logind refused cedanad a shutdown inhibitor "
                                      "lock (see 'journalctl -u cedanad'); job %s is not marked.", j->id);
        }
        int r = job_save(j);
        if (r < 0) {
                j->persist = was;
                persist_sync(m);
                return bus_error_setf(error, r, "Failed to save job %s: %s", j->id, strerror(-r));
        }
        job_send_changed(j, "Persist", NULL);
        return 0;
}

void persist_done(Manager *m) {
        m->shutdown_slot = sd_bus_slot_unref(m->shutdown_slot);
        m->inhibit_fd = safe_close(m->inhibit_fd);
}
