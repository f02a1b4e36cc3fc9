/* SPDX-License-Identifier: Apache-2.0 */
/* Collecting ended jobs, removing leftovers and aging logs. */

#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "checkpoint-files.h"
#include "criu-log.h"
#include "fd-util.h"
#include "format-util.h"
#include "hygiene.h"
#include "job-run.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "strv.h"

#define HYGIENE_INTERVAL_USEC (3600 * USEC_PER_SEC)

static bool job_is_collectable(Job *j) {
        return !j->busy && job_state_is_ended(j->state) && !j->last_checkpoint_id;
}

int jobs_prune(Manager *m, uid_t uid, char ***ret_removed) {
        _cleanup_strv_free_ char **removed = NULL;
        LIST_FOREACH_SAFE(jobs, j, next, m->jobs) {
                if ((uid != 0 && j->uid != uid) || !job_is_collectable(j))
                        continue;
                int r = strv_extend(&removed, job_display_name(j, uid));
                if (r < 0)
                        return r;
                r = job_delete(j, NULL);
                if (r < 0)
                        return r;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        return 0;
}

/* How many newer records of the same job are kept. */
static uint32_t newer_kept(const CheckpointRecord *list, const bool *kept, size_t i) {
        uint32_t n = 0;
        for (size_t k = 0; k < i; k++)
                if (kept[k] && streq(list[k].job, list[i].job) && list[k].job_uid == list[i].job_uid)
                        n++;
        return n;
}

int checkpoints_prune_select(Manager *m, const CheckpointFilter *f, uint32_t keep, CheckpointRecord **ret,
                             size_t *ret_n) {
        CheckpointRecord *list = NULL;
        size_t n = 0;
        int r = jobstore_list_checkpoints(m->store, f, &list, &n);
        if (r < 0)
                return r;
        _cleanup_free_ bool *kept = calloc(n ?: 1, sizeof(bool));
        _cleanup_free_ bool *prune = calloc(n ?: 1, sizeof(bool));
        if (!kept || !prune) {
                checkpoint_records_free(list, n);
                return -ENOMEM;
        }
        /* Newest first: a job's kept ones are the first intact ones met. */
        for (size_t i = 0; i < n; i++) {
                Job *j = list[i].job ? manager_get_job(m, list[i].job_uid, list[i].job) : NULL;
                RecordStatus status = checkpoint_record_status(&list[i]);
                if (j && j->busy)
                        continue;
                if (status == RECORD_STATUS_MISSING)
                        prune[i] = true;
                /* An object on the store is not looked at: it counts as intact, and the delete
                 * removes it from the store. */
                else if ((status == RECORD_STATUS_OK || status == RECORD_STATUS_REMOTE) && list[i].job) {
                        prune[i] = keep != UINT32_MAX && newer_kept(list, kept, i) >= keep;
                        kept[i] = !prune[i];
                }
        }
        size_t n_selected = 0;
        for (size_t i = 0; i < n; i++) {
                if (prune[i])
                        list[n_selected++] = list[i];
                else
                        checkpoint_record_done(&list[i]);
        }
        *ret = list;
        *ret_n = n_selected;
        return 0;
}

static void collect_jobs(Manager *m) {
        if (m->config.collect_after_usec == UINT64_MAX)
                return;
        uint64_t now = now_realtime_usec();
        LIST_FOREACH_SAFE(jobs, j, next, m->jobs) {
                uint64_t ended = MAX(j->ended_usec, j->created_usec);
                if (!job_is_collectable(j) || ended + m->config.collect_after_usec > now)
                        continue;
                char span[FORMAT_TIMESPAN_MAX];
                log_ctx(LOG_INFO, LOG_CTX(.job = j->id), "Collecting job %s: it ended more than %s ago, without a "
                        "checkpoint.", j->id, format_timespan(span, sizeof(span), m->config.collect_after_usec));
                (void) job_delete(j, NULL);
        }
}

typedef struct HygieneWork {
        bool startup;
} HygieneWork;

static int hygiene_worker(int sock, void *userdata) {
        Operation *op = userdata;
        HygieneWork *w = op->userdata;
        Manager *m = op->manager;
        /* Restores extract, and uploads are written, into staging-* below the state directory; none
         * is in flight now. */
        DIR *d;
        if (w->startup && opendir_at(m->state_dir_fd, &d) >= 0) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (startswith(de->d_name, "staging-"))
                                (void) rm_rf_at(dirfd(d), de->d_name);
                closedir(d);
        }
        if (m->config.collect_after_usec != UINT64_MAX)
                criu_log_dirs_age(m, m->config.collect_after_usec);
        return EXIT_SUCCESS;
}

static void hygiene_free(Operation *op) {
        free(op->userdata);
}

static void hygiene_on_exit(Operation *op, int status, const WorkerUsage *usage) {
        operation_free(op);
}

void manager_hygiene(Manager *m, bool startup) {
        collect_jobs(m);
        _cleanup_(operation_freep) Operation *op = NULL;
        if (operation_new(m, OPERATION_RECONCILE, NULL, 0, NULL, &op) < 0)
                return;
        HygieneWork *w = calloc(1, sizeof(HygieneWork));
        if (!w)
                return;
        w->startup = startup;
        op->userdata = w;
        op->on_free = hygiene_free;
        op->on_exit = hygiene_on_exit;
        int r = operation_spawn(op, "hygiene", (int[]) { m->state_dir_fd, m->log_dir_fd }, 2, hygiene_worker);
        if (r < 0) {
                log_warning_errno(r, "Failed to start removing leftovers: %m");
                return;
        }
        TAKE_PTR(op);
}

static int on_hygiene_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        manager_hygiene(m, false);
        (void) sd_event_source_set_time_relative(s, HYGIENE_INTERVAL_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int manager_hygiene_start_timer(Manager *m) {
        int r = sd_event_add_time_relative(m->event, &m->hygiene_timer, CLOCK_MONOTONIC, HYGIENE_INTERVAL_USEC,
                                           USEC_PER_SEC * 60, on_hygiene_timer, m);
        if (r >= 0)
                (void) sd_event_source_set_description(m->hygiene_timer, "hygiene");
        return r;
}
