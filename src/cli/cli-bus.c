/* SPDX-License-Identifier: Apache-2.0 */
/* Talking to cedanad: find it on the system bus or its private socket, call it with a long
 * timeout and a polkit agent for password prompts, show its progress, report its errors. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "build-config.h"
#include "bus-error.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "fd-util.h"
#include "log.h"
#include "progress.h"

#define POLKIT_AGENT_BINARY "/usr/bin/pkttyagent"
/* Long enough for cedanad to be started by activation. */
#define PING_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define QUIET_PING_TIMEOUT_USEC (3 * USEC_PER_SEC)

/* ---- polkit agent ---- */

static pid_t agent_pid = 0;

/* Like systemd's polkit-agent.c: a text agent on our terminal for the duration of the call,
 * so polkit can ask for a password. We wait until it is registered (it closes the notify fd)
 * before sending the call, or polkit would find no agent. */
static void polkit_agent_open(void) {
        _cleanup_close_pair_ int pipe_fd[2] = { -EBADF, -EBADF };
        char notify_fd[16];

        if (agent_pid > 0 || geteuid() == 0) /* root is authorized without polkit */
                return;
        if (!isatty(STDIN_FILENO) || access(POLKIT_AGENT_BINARY, X_OK) < 0)
                return;
        if (pipe2(pipe_fd, O_CLOEXEC) < 0)
                return;

        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0)
                return;
        if (pid == 0) {
                int fd = pipe_fd[1];
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                /* The agent talks to the user: on the terminal even if our stdout is a pipe. */
                if (!isatty(STDOUT_FILENO) || !isatty(STDERR_FILENO)) {
                        int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
                        if (tty >= 0) {
                                (void) dup2(tty, STDOUT_FILENO);
                                (void) dup2(tty, STDERR_FILENO);
                        }
                }
                fd = fd_move_above_stdio(fd);
                (void) fcntl(fd, F_SETFD, 0);
                (void) close_all_fds(&fd, 1);
                (void) snprintf(notify_fd, sizeof(notify_fd), "%i", fd);
                execl(POLKIT_AGENT_BINARY, POLKIT_AGENT_BINARY, "--notify-fd", notify_fd, "--fallback", (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        agent_pid = pid;
        pipe_fd[1] = safe_close(pipe_fd[1]);
        struct pollfd p = { .fd = pipe_fd[0], .events = POLLIN };
        /* Closed (POLLHUP) once registered, or when the agent failed to start. */
        while (poll(&p, 1, 30 * 1000) < 0 && errno == EINTR)
                ;
}

void polkit_agent_close(void) {
        if (agent_pid <= 0)
                return;
        (void) kill(agent_pid, SIGTERM);
        (void) kill(agent_pid, SIGCONT);
        while (waitpid(agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        agent_pid = 0;
}

/* ---- connecting ---- */

static bool errno_is_access(int r) {
        return r == -EACCES || r == -EPERM;
}

static bool errno_is_disconnect(int r) {
        return r == -ENOTCONN || r == -ECONNRESET || r == -ECONNREFUSED || r == -EPIPE || r == -ESHUTDOWN;
}

static int ping(sd_bus *bus, const char *destination, uint64_t timeout, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, destination, CEDANA_MANAGER_PATH, "org.freedesktop.DBus.Peer",
                                               "Ping");
        if (r < 0)
                return r;
        return sd_bus_call(bus, m, timeout, error, NULL);
}

static int connect_private(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, "unix:path=" PRIVATE_SOCKET);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int cli_bus_connect(CliBus *ret, CliBusFlags flags) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t timeout = (flags & CLI_BUS_QUIET) ? QUIET_PING_TIMEOUT_USEC : PING_TIMEOUT_USEC;
        bool have_system_bus = false;
        int r;

        (void) sd_bus_error_add_map(cedana_bus_errors);

        /* Calling the name starts cedanad through bus activation. Any failure here (no system
         * bus, name unknown, activation failed or masked) sends us on to the private socket. */
        r = sd_bus_open_system(&bus);
        if (r >= 0) {
                have_system_bus = true;
                r = ping(bus, CEDANA_BUS_NAME, timeout, &error);
                if (r >= 0) {
                        *ret = (CliBus) { .bus = TAKE_PTR(bus), .destination = CEDANA_BUS_NAME };
                        return 0;
                }
                log_debug("cedanad is not reachable on the system bus: %s",
                          sd_bus_error_is_set(&error) ? error.message : strerror(-r));
                bus = sd_bus_flush_close_unref(bus);
        } else
                log_debug("No system bus: %s", strerror(-r));

        r = connect_private(&bus);
        if (r >= 0) {
                sd_bus_error_free(&error);
                r = ping(bus, NULL, timeout, &error);
                if (r >= 0) {
                        *ret = (CliBus) { .bus = TAKE_PTR(bus), .private_socket = true };
                        return 0;
                }
        }
        log_debug("cedanad is not reachable on %s: %s", PRIVATE_SOCKET, strerror(-r));

        if (flags & CLI_BUS_QUIET)
                return CEDANA_EXIT_NO_DAEMON;
        if (errno_is_access(r) && !have_system_bus)
                log_error("There is no system bus, and cedanad's private socket %s is for root only; run this "
                          "as root, or start the system bus.",
                          PRIVATE_SOCKET);
        else
                log_error(NO_DAEMON_MESSAGE);
        return CEDANA_EXIT_NO_DAEMON;
}

void cli_bus_done(CliBus *b) {
        b->bus = sd_bus_flush_close_unref(b->bus);
        polkit_agent_close();
}

const char *cli_bus_describe(const CliBus *b) {
        return b->private_socket ? "the private socket " PRIVATE_SOCKET : "the system bus";
}

/* ---- calls ---- */

/* The methods cedanad authorizes through polkit; reading lists and properties is not among them,
 * so those never start a password agent. */
static bool member_is_authorized(const char *member) {
        static const char *const members[] = {
                "Dump", "Restore", "Run", "Manage", "KillJob", "DeleteJob", "DeleteCheckpoint", "AttachJob",
                "CloseJobInput",
        };
        for (size_t i = 0; i < ELEMENTSOF(members); i++)
                if (streq(member, members[i]))
                        return true;
        return false;
}

int cli_bus_new_call(CliBus *b, const char *path, const char *interface, const char *member, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(b->bus, &m, b->destination, path ?: CEDANA_MANAGER_PATH, interface,
                                               member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_allow_interactive_authorization(m, arg_ask_password && member_is_authorized(member));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

typedef struct CallState {
        CliBus *bus;
        sd_bus_message *reply;
        CliCallInfo *info;       /* NULL for a plain call with progress */
        ProgressRate rate;
        sd_event_source *retry;  /* a Cancel sent again, until the operation exists */
        bool leave;              /* a second interrupt: stop waiting */
} CallState;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CallState *s = userdata;
        s->reply = sd_bus_message_ref(m);
        return 0;
}

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CallState *s = userdata;
        const char *operation, *phase;
        uint64_t done, total;
        if (sd_bus_message_read(m, "sstt", &operation, &phase, &done, &total) < 0)
                return 0;
        if (!s->info || !s->info->cancel_requested)
                progress_show_rate(phase, done, total, progress_rate_update(&s->rate, phase, done, now_monotonic_usec()));
        return 0;
}

static int on_statistics(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CallState *s = userdata;
        const char *operation, *key;
        uint64_t value;
        if (!s->info || sd_bus_message_read(m, "s", &operation) < 0 ||
            sd_bus_message_enter_container(m, 'a', "{st}") <= 0)
                return 0;
        _cleanup_json_ json_t *stats = json_object();
        if (!stats)
                return 0;
        while (sd_bus_message_read(m, "{st}", &key, &value) > 0)
                (void) json_object_set_new(stats, key, json_integer((json_int_t) value));
        json_decref(s->info->stats);
        s->info->stats = TAKE_PTR(stats);
        return 0;
}

static int send_cancel(CallState *s);

static int on_cancel_retry(sd_event_source *es, uint64_t usec, void *userdata) {
        CallState *s = userdata;
        s->retry = sd_event_source_disable_unref(s->retry);
        if (!s->reply)
                (void) send_cancel(s);
        return 0;
}

static int on_cancel_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CallState *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        if (!e || s->reply)
                return 0;
        /* The call may not have become an operation yet (polkit still asking): again shortly. */
        if (sd_bus_error_has_name(e, BUS_ERROR_NO_SUCH_OPERATION)) {
                sd_event *ev = sd_bus_get_event(s->bus->bus);
                if (ev && !s->retry)
                        (void) sd_event_add_time_relative(ev, &s->retry, CLOCK_MONOTONIC, USEC_PER_SEC / 4, 0,
                                                          on_cancel_retry, s);
                return 0;
        }
        log_warning("Could not cancel: %s", e->message ?: e->name);
        return 0;
}

/* Cancel("") stops what this connection started, and nothing else; no need to know its name. */
static int send_cancel(CallState *s) {
        CliBus *b = s->bus;
        int r = sd_bus_call_method_async(b->bus, NULL, b->destination, CEDANA_MANAGER_PATH, CEDANA_MANAGER_INTERFACE,
                                         "Cancel", on_cancel_reply, s, "s", "");
        if (r >= 0)
                r = sd_bus_flush(b->bus);
        return r;
}

static int on_interrupt(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        CallState *s = userdata;
        progress_clear();
        if (s->info->cancel_requested) {
                fprintf(stderr, "Leaving; cedanad finishes cancelling on its own.\n");
                s->leave = true;
                return 0;
        }
        s->info->cancel_requested = true;
        int r = send_cancel(s);
        if (r < 0) {
                log_error("Failed to ask cedanad to cancel: %s; it goes on.", strerror(-r));
                s->info->cancel_requested = false;
                return 0;
        }
        fprintf(stderr, "Cancelling... (interrupt again to leave without waiting)\n");
        return 0;
}

static int reply_to_result(sd_bus_message *reply, sd_bus_error *error, sd_bus_message **ret_reply) {
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                (void) sd_bus_error_copy(error, e);
                return -sd_bus_error_get_errno(e) ?: -EIO;
        }
        if (ret_reply)
                *ret_reply = sd_bus_message_ref(reply);
        return 0;
}

/* sd_bus_call() holds back every other message until the reply is in, so to see Progress
 * signals meanwhile the call is asynchronous and we run the loop ourselves. */
static int call_with_progress(CliBus *b, sd_bus_message *m, sd_bus_error *error, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *slot = NULL;
        CallState state = { .bus = b };
        int r;

        /* Progress is unicast to us; anything else spoofing it only changes what we draw. */
        r = sd_bus_match_signal(b->bus, &match, NULL, CEDANA_MANAGER_PATH, CEDANA_MANAGER_INTERFACE, "Progress",
                                on_progress, &state);
        if (r < 0)
                log_debug("Failed to subscribe to progress signals, continuing without: %s", strerror(-r));

        r = sd_bus_call_async(b->bus, &slot, m, on_reply, &state, CLI_CALL_TIMEOUT_USEC);
        if (r < 0)
                return r;
        while (!state.reply) {
                r = sd_bus_process(b->bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                r = sd_bus_wait(b->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        break;
        }
        progress_clear();
        if (!state.reply)
                return r < 0 ? r : -EIO;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = state.reply;
        return reply_to_result(reply, error, ret_reply);
}

int cli_bus_call(CliBus *b, sd_bus_message *m, bool progress, sd_bus_error *error, sd_bus_message **ret_reply) {
        if (sd_bus_message_get_allow_interactive_authorization(m) > 0)
                polkit_agent_open();
        if (progress && !arg_quiet && isatty(STDERR_FILENO))
                return call_with_progress(b, m, error, ret_reply);
        return sd_bus_call(b->bus, m, CLI_CALL_TIMEOUT_USEC, error, ret_reply);
}

void cli_call_info_done(CliCallInfo *info) {
        json_decref(info->stats);
        info->stats = NULL;
}

int cli_bus_call_long(CliBus *b, sd_bus_message *m, CliCallInfo *info, sd_bus_error *error,
                      sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *progress = NULL, *statistics = NULL, *slot = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        CallState state = { .bus = b, .info = info };
        sigset_t mask, saved;
        int r;

        if (sd_bus_message_get_allow_interactive_authorization(m) > 0)
                polkit_agent_open();
        r = sd_event_new(&e);
        if (r < 0)
                return r;
        /* Blocked, so that sd-event takes them through its signalfd: Ctrl-C becomes a Cancel. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, &saved) < 0)
                return negative_errno();
        r = sd_event_add_signal(e, NULL, SIGINT, on_interrupt, &state);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, on_interrupt, &state);
        if (r >= 0)
                r = sd_bus_attach_event(b->bus, e, SD_EVENT_PRIORITY_NORMAL);
        /* Asynchronous AddMatch: no round trips before the call, and the bus handles them before
         * the call that follows on the same connection, so no signal of it is missed. */
        if (r >= 0 && (r = sd_bus_match_signal_async(b->bus, &progress, NULL, CEDANA_MANAGER_PATH,
                                                     CEDANA_MANAGER_INTERFACE, "Progress", on_progress, NULL,
                                                     &state)) < 0)
                log_debug("Failed to subscribe to progress signals, continuing without: %s", strerror(-r));
        if (r >= 0 && (r = sd_bus_match_signal_async(b->bus, &statistics, NULL, CEDANA_MANAGER_PATH,
                                                     CEDANA_MANAGER_INTERFACE, "Statistics", on_statistics, NULL,
                                                     &state)) < 0)
                log_debug("Failed to subscribe to statistics signals, continuing without: %s", strerror(-r));
        r = sd_bus_call_async(b->bus, &slot, m, on_reply, &state, CLI_CALL_TIMEOUT_USEC);
        while (r >= 0 && !state.reply && !state.leave)
                r = sd_event_run(e, UINT64_MAX);
        progress_clear();
        state.retry = sd_event_source_disable_unref(state.retry);
        (void) sd_bus_detach_event(b->bus);
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        if (state.leave)
                return -ECANCELED;
        if (!state.reply)
                return r < 0 ? r : -EIO;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = state.reply;
        return reply_to_result(reply, error, ret_reply);
}

int cli_bus_get_property(CliBus *b, const char *path, const char *interface, const char *member,
                         sd_bus_error *error, sd_bus_message **ret_reply, const char *type) {
        return sd_bus_get_property(b->bus, b->destination, path ?: CEDANA_MANAGER_PATH, interface, member, error,
                                   ret_reply, type);
}

/* ---- errors ---- */

int log_bus_error(const sd_bus_error *error, int r, const char *what_format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (sd_bus_error_is_set(error) && !isempty(error->message)) {
                size_t l = strlen(error->message);
                /* cedanad's errors are sentences for users; the bus's own are fragments. */
                if (startswith(error->name, "org.cedana.") || error->message[l - 1] == '.')
                        log_error("%s", error->message);
                else {
                        va_start(ap, what_format);
                        if (vasprintf(&what, what_format, ap) < 0)
                                what = NULL;
                        va_end(ap);
                        log_error("Failed to %s: %s.", strna(what), error->message);
                }
                return bus_error_to_exit_code(error);
        }

        va_start(ap, what_format);
        if (vasprintf(&what, what_format, ap) < 0)
                what = NULL;
        va_end(ap);
        log_error("Failed to %s: %s.", strna(what), strerror(r < 0 ? -r : EIO));
        if (errno_is_disconnect(r))
                return CEDANA_EXIT_NO_DAEMON;
        return CEDANA_EXIT_FAILURE;
}
