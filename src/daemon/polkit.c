/* SPDX-License-Identifier: Apache-2.0 */
/* Asynchronous polkit CheckAuthorization, after systemd's bus-polkit.c: a query per (call,
 * action), the call parked until polkit replies, then re-enqueued and checked again. */

#include <stdlib.h>

#include "bus-error.h"
#include "list.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "polkit.h"

struct PolkitQuery {
        Manager *manager;
        sd_bus_message *call;
        char *action;
        sd_bus_slot *slot;
        sd_bus_message *reply; /* set once polkit answered */
        sd_bus_error error;    /* ... or failed */
        bool done;
        /* The handler has seen the answer: it stays for the rest of this dispatch, so that a
         * handler asking twice (a route that asks what another route asks) gets it twice, and
         * goes once the dispatch is over (polkit_queries_gc). */
        bool answered;
        LIST_FIELDS(PolkitQuery, polkit_queries);
};

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        LIST_REMOVE(polkit_queries, q->manager->polkit_queries, q);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->call);
        sd_bus_message_unref(q->reply);
        sd_bus_error_free(&q->error);
        free(q->action);
        free(q);
        return NULL;
}

void polkit_queries_free(Manager *m) {
        while (m->polkit_queries)
                polkit_query_free(m->polkit_queries);
}

void polkit_queries_gc(Manager *m) {
        LIST_FOREACH_SAFE(polkit_queries, q, next, m->polkit_queries)
                if (q->answered)
                        polkit_query_free(q);
}

int bus_caller_uid(sd_bus_message *call, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        return sd_bus_creds_get_euid(creds, ret);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        q->slot = sd_bus_slot_unref(q->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                (void) sd_bus_error_copy(&q->error, sd_bus_message_get_error(reply));
        else
                q->reply = sd_bus_message_ref(reply);
        q->done = true;

        /* Dispatch the parked call again: the handler finds this answer and goes on. */
        int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->call), q->call);
        if (r < 0) {
                log_error_errno(r, "Failed to re-dispatch a call after polkit answered: %m");
                (void) sd_bus_reply_method_errorf(q->call, SD_BUS_ERROR_FAILED, "Internal error during authorization.");
                polkit_query_free(q);
        }
        return 1;
}

static const char *action_description(const char *action) {
        if (streq(action, POLKIT_ACTION_MANAGE_OWN))
                return "checkpoint, restore or manage your processes";
        if (streq(action, POLKIT_ACTION_RESTORE_FOREIGN))
                return "restore a checkpoint that cedana did not make for you";
        if (streq(action, POLKIT_ACTION_MANAGE_ANY))
                return "act on processes, jobs or checkpoints of other users";
        return "do this";
}

static int polkit_result(PolkitQuery *q, sd_bus_error *error) {
        if (!q->reply) {
                log_warning("polkit did not answer (%s): refusing %s.", q->error.message ?: q->error.name, q->action);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Authorization is unavailable (polkit did not answer); refused.");
        }
        int authorized = 0, challenge = 0;
        int r = sd_bus_message_enter_container(q->reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(q->reply, "bb", &authorized, &challenge);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Authorization failed: polkit sent a malformed answer.");
        if (authorized)
                return 1;
        if (challenge && !sd_bus_message_get_allow_interactive_authorization(q->call))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                         "Authentication is required to %s; run the command from a terminal "
                                         "or allow interactive authorization.",
                                         action_description(q->action));
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "You are not allowed to %s (polkit action %s).",
                                 action_description(q->action), q->action);
}

static int polkit_start_query(Manager *m, sd_bus_message *call, const char *action, const char *const *details) {
        sd_bus *bus = sd_bus_message_get_bus(call);
        const char *sender = sd_bus_message_get_sender(call);
        if (!sender)
                return -EBADMSG;

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *q_msg = NULL;
        int r = sd_bus_message_new_method_call(bus, &q_msg, "org.freedesktop.PolicyKit1",
                                               "/org/freedesktop/PolicyKit1/Authority",
                                               "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(q_msg, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(q_msg, 'a', "{ss}");
        for (const char *const *d = details; r >= 0 && d && d[0] && d[1]; d += 2)
                r = sd_bus_message_append(q_msg, "{ss}", d[0], d[1]);
        if (r >= 0)
                r = sd_bus_message_close_container(q_msg);
        if (r >= 0)
                r = sd_bus_message_append(q_msg, "us", (uint32_t) !!sd_bus_message_get_allow_interactive_authorization(call), "");
        if (r < 0)
                return r;

        PolkitQuery *q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->manager = m;
        q->call = sd_bus_message_ref(call);
        q->action = strdup(action);
        LIST_PREPEND(polkit_queries, m->polkit_queries, q);
        if (!q->action) {
                polkit_query_free(q);
                return -ENOMEM;
        }
        /* Interactive authentication may take as long as the user needs. */
        r = sd_bus_call_async(bus, &q->slot, q_msg, on_polkit_reply, q, UINT64_MAX);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        manager_check_idle(m);
        return 0;
}

int polkit_check(Manager *m, sd_bus_message *call, const char *action, const char *const *details,
                 sd_bus_error *error) {
        uid_t uid;
        int r = bus_caller_uid(call, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %s", strerror(-r));
        if (uid == 0)
                return 1;

        LIST_FOREACH(polkit_queries, q, m->polkit_queries)
                if (q->call == call && streq(q->action, action)) {
                        if (!q->done)
                                return 0;
                        q->answered = true;
                        return polkit_result(q, error);
                }

        /* Only the system bus has bus names polkit can identify; the private socket is root's. */
        if (sd_bus_message_get_bus(call) != m->bus)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Only root may use the private socket.");

        /* One caller cannot keep polkit (and us) busy with questions. */
        unsigned pending = 0;
        LIST_FOREACH(polkit_queries, q, m->polkit_queries)
                pending += streq_ptr(sd_bus_message_get_sender(q->call), sd_bus_message_get_sender(call));
        if (pending >= POLKIT_QUERIES_PER_CALLER_MAX)
                return bus_error_setf(error, CEDANA_E_LIMITS,
                                      "You have %u authorization requests pending already; answer those first.",
                                      pending);

        r = polkit_start_query(m, call, action, details);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Authorization is unavailable (%s); refused.", strerror(-r));
        return 0;
}
