/* SPDX-License-Identifier: Apache-2.0 */
/* Talking to systemd's manager about job scopes. A start is only done when systemd's job for
 * it is removed with result "done": then the PIDs are in the scope's cgroup. */

#include <stdlib.h>

#include "list.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "scope.h"

struct ScopeStart {
        Manager *manager;
        char *unit;
        char *job_path; /* systemd's job object, once StartTransientUnit answered */
        ScopeCallback cb;
        void *userdata;
        sd_bus_slot *call_slot;
        sd_bus_slot *match_slot;
        LIST_FIELDS(ScopeStart, starts);
};

static ScopeStart *scope_start_free(ScopeStart *s) {
        if (!s)
                return NULL;
        LIST_REMOVE(starts, s->manager->scope_starts, s);
        sd_bus_slot_unref(s->call_slot);
        sd_bus_slot_unref(s->match_slot);
        free(s->unit);
        free(s->job_path);
        free(s);
        return NULL;
}

static void scope_start_finish(ScopeStart *s, int error, const char *message) {
        ScopeCallback cb = s->cb;
        void *userdata = s->userdata;
        Manager *m = s->manager;
        scope_start_free(s);
        cb(m, error, message, userdata);
}

int scope_name_for_job(uid_t uid, const char *job, char **ret) {
        return asprintf(ret, "cedana-%u-%s.scope", (unsigned) uid, job) < 0 ? -ENOMEM : 0;
}

static int on_job_removed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        ScopeStart *s = userdata;
        uint32_t id;
        const char *path, *unit, *result;
        if (sd_bus_message_read(msg, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (!s->job_path || !streq(path, s->job_path))
                return 0;
        if (streq(result, "done"))
                scope_start_finish(s, 0, NULL);
        else {
                char m[256];
                snprintf(m, sizeof(m), "systemd could not start %s (job result: %s).", unit, result);
                scope_start_finish(s, -EIO, m);
        }
        return 0;
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ScopeStart *s = userdata;
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e) {
                char m[512];
                snprintf(m, sizeof(m), "systemd refused to create %s: %s", s->unit, e->message ?: e->name);
                scope_start_finish(s, -sd_bus_error_get_errno(e) ?: -EIO, m);
                return 0;
        }
        const char *path;
        if (sd_bus_message_read(reply, "o", &path) < 0 || !(s->job_path = strdup(path))) {
                scope_start_finish(s, -EIO, "systemd sent a malformed reply to StartTransientUnit.");
                return 0;
        }
        return 0;
}

int scope_start(Manager *m, const char *unit, const char *description, const pid_t *pids, size_t n_pids,
                ScopeCallback cb, void *userdata) {
        if (!m->bus)
                return -ENOTCONN;
        ScopeStart *s = calloc(1, sizeof(ScopeStart));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->cb = cb;
        s->userdata = userdata;
        s->unit = strdup(unit);
        LIST_PREPEND(starts, m->scope_starts, s);
        if (!s->unit) {
                scope_start_free(s);
                return -ENOMEM;
        }

        /* Match before asking, so the job's removal cannot slip past. */
        int r = sd_bus_match_signal_async(m->bus, &s->match_slot, "org.freedesktop.systemd1",
                                          "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                          "JobRemoved", on_job_removed, NULL, s);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        if (r >= 0)
                r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                   "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(msg, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(msg, "(sv)(sv)(sv)", "Description", "s", description, "Slice", "s",
                                          CEDANA_SLICE, "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(msg, "s", "PIDs");
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'v', "au");
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'a', "u");
        for (size_t i = 0; r >= 0 && i < n_pids; i++)
                r = sd_bus_message_append(msg, "u", (uint32_t) pids[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        if (r >= 0)
                r = sd_bus_message_append(msg, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(m->bus, &s->call_slot, msg, on_start_reply, s, 0);
        if (r < 0) {
                scope_start_free(s);
                return r;
        }
        return 0;
}

void scope_cancel(Manager *m, void *userdata) {
        LIST_FOREACH_SAFE(starts, s, n, m->scope_starts)
                if (s->userdata == userdata)
                        scope_start_free(s);
}

int scope_kill(Manager *m, const char *unit, int sig, sd_bus_error *error) {
        if (!m->bus)
                return -ENOTCONN;
        return sd_bus_call_method(m->bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                  "org.freedesktop.systemd1.Manager", "KillUnit", error, NULL, "ssi", unit, "all", sig);
}

int scope_is_active(Manager *m, const char *unit) {
        if (!m->bus)
                return -ENOTCONN;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(m->bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s", unit);
        if (r < 0)
                return sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit") ? 0 : r;
        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        _cleanup_free_ char *state = NULL;
        r = sd_bus_get_property_string(m->bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit",
                                       "ActiveState", &error, &state);
        if (r < 0)
                return r;
        return streq(state, "active") || streq(state, "activating") || streq(state, "reloading");
}
