/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana checkpoint inspect ID|PATH`: what a checkpoint is and what is inside, read by the CLI
 * itself with the caller's own rights; cedanad only turns an ID into its path. */

#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-error.h"
#include "cedana-job.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "cli-util.h"
#include "format-util.h"
#include "inspect.h"
#include "log.h"
#include "naming.h"
#include "parse-util.h"
#include "strv.h"

/* ---- ID or path ---- */

/* A path is what exists, or what cannot be a checkpoint ID; "alice/run-1" that does not exist
 * is root's way of naming alice's checkpoint. */
static bool checkpoint_arg_is_path(const char *arg) {
        struct stat st;
        return !checkpoint_spec_is_valid(arg) || fstatat(AT_FDCWD, arg, &st, AT_SYMLINK_NOFOLLOW) >= 0;
}

static int user_uid(const char *user, uid_t *ret) {
        struct passwd pw, *result = NULL;
        char buf[4096];
        unsigned u;
        if (safe_atou(user, &u) >= 0) {
                *ret = (uid_t) u;
                return 0;
        }
        if (getpwnam_r(user, &pw, buf, sizeof(buf), &result) != 0 || !result)
                return -ESRCH;
        *ret = result->pw_uid;
        return 0;
}

/* The path of checkpoint spec ("NAME" or "USER/NAME") among those cedanad lets the caller see,
 * as cedanad itself resolves a name: one's own first; for root, else the one user's who has it. */
static int resolve_checkpoint(const char *spec, char **ret_path) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ CheckpointInfo *list = NULL;
        size_t n = 0;
        const char *slash = strchr(spec, '/'), *name = slash ? slash + 1 : spec;
        _cleanup_free_ char *user = slash ? strndup(spec, (size_t) (slash - spec)) : NULL;
        uid_t uid = getuid();
        if (slash && (!user || user_uid(user, &uid) < 0)) {
                log_error("There is no checkpoint %s: no user %s.", spec, strna(user));
                return CEDANA_EXIT_NOT_FOUND;
        }
        int r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = list_checkpoints(&bus, NULL, &error, &reply, &list, &n);
        if (r < 0)
                return log_bus_error(&error, r, "list checkpoints");
        const CheckpointInfo *found = NULL;
        size_t n_found = 0;
        for (size_t i = 0; i < n; i++)
                if (streq(list[i].id, name) && list[i].uid == uid)
                        found = &list[i];
        if (!found && !slash && getuid() == 0)
                for (size_t i = 0; i < n; i++)
                        if (streq(list[i].id, name) && n_found++ == 0)
                                found = &list[i];
        if (n_found > 1) {
                log_error("Several users have a checkpoint %s; name it as USER/%s.", name, name);
                return CEDANA_EXIT_USAGE;
        }
        if (!found) {
                log_error("There is no checkpoint or file %s; see 'cedana checkpoint list'.", spec);
                return CEDANA_EXIT_NOT_FOUND;
        }
        if (!(*ret_path = strdup(found->path)))
                return log_oom();
        return 0;
}

/* ---- JSON ---- */

static json_t *options_to_json(const DumpOptions *o) {
        return json_pack("{s:b, s:b, s:b, s:b, s:b, s:o, s:b}", "leave_running", o->leave_running, "tcp_established",
                         o->tcp_established, "file_locks", o->file_locks, "shell_job", o->shell_job, "link_remap",
                         o->link_remap, "external", json_strv(o->external), "attached", o->attach_pipes != NULL || o->attach_tty != NULL);
}

static json_t *images_to_json(const CheckpointMetadata *m) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < m->n_files; i++) {
                const CheckpointFile *f = &m->files[i];
                _cleanup_free_ char *digest = NULL;
                if (!isempty(f->sha256) && asprintf(&digest, METADATA_DIGEST_PREFIX "%s", f->sha256) < 0)
                        digest = NULL;
                json_t *o = json_pack("{s:s, s:I, s:o}", "name", f->name, "size", (json_int_t) f->size, "sha256",
                                      json_string_or_null(digest));
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *fds_to_json(const InspectProcess *p) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < p->n_fds; i++) {
                const InspectFd *d = &p->fds[i];
                json_t *o = json_pack("{s:I, s:s, s:o, s:o}", "fd", (json_int_t) d->fd, "type", d->type, "name",
                                      json_string_or_null(d->name), "state", json_string_or_null(d->state));
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *process_to_json(const InspectProcess *p) {
        json_t *tids = json_array();
        for (size_t i = 0; tids && i < p->n_threads; i++)
                if (json_array_append_new(tids, json_integer(p->threads[i])) < 0) {
                        json_decref(tids);
                        return NULL;
                }
        if (!tids)
                return NULL;
        return json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:I, s:o}", "pid", (json_int_t) p->pid, "ppid",
                         (json_int_t) p->ppid, "pgid", (json_int_t) p->pgid, "sid", (json_int_t) p->sid, "command",
                         json_string_or_null(p->command), "threads", (json_int_t) p->n_threads, "tids", tids, "mapped",
                         (json_int_t) p->mapped, "dumped", (json_int_t) p->dumped, "fds", fds_to_json(p));
}

/* The checkpoint in the vocabulary of the other listings (README, "JSON output"). */
static json_t *checkpoint_summary_to_json(const CheckpointSummary *s, const char *path) {
        const CheckpointMetadata *m = s->metadata;
        _cleanup_free_ char *user = uid_to_user(m->uid);
        json_t *procs = json_array();
        for (size_t i = 0; procs && i < s->n_processes; i++)
                if (json_array_append_new(procs, process_to_json(&s->processes[i])) < 0) {
                        json_decref(procs);
                        procs = NULL;
                }
        if (!procs)
                return NULL;
        const CheckpointContainer *k = &m->container;
        json_t *container = k->runtime ? metadata_container_to_json(k) : json_null();
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:I, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:I, s:o, "
                         "s:o, s:o, s:{s:I, s:I}, s:o}",
                         "id", json_string_or_null(m->id), "path", json_string_or_null(path), "job",
                         json_string_or_null(m->job), "container", container, "type", json_string_or_null(m->type),
                         "user",
                         json_string_or_null(user), "uid", (json_int_t) m->uid, "pid",
                         m->pid > 0 ? json_integer(m->pid) : json_null(), "time", (json_int_t) m->time_usec, "size",
                         (json_int_t) m->size, "stored_size", (json_int_t) s->stored_size, "compression",
                         compression_to_string(s->format), "host", json_string_or_null(m->hostname), "command",
                         m->command ? json_strv(m->command) : json_null(), "criu_version",
                         json_string_or_null(m->criu_version), "cedana_version", json_string_or_null(m->cedana_version),
                         "format", (json_int_t) m->format_version, "digest", json_string_or_null(m->digest), "options",
                         options_to_json(&m->options), "images", images_to_json(m), "memory", "mapped",
                         (json_int_t) s->mapped, "dumped", (json_int_t) s->dumped, "processes", procs);
}

/* ---- for people ---- */


/* "leave-running, tcp-established", as the flags are typed; NULL for none. */
static char *options_text(const DumpOptions *o) {
        _cleanup_(strv_freep) char **l = NULL;
        const struct {
                bool set;
                const char *name;
        } flags[] = {
                { o->leave_running, "leave-running" }, { o->tcp_established, "tcp-established" },
                { o->file_locks, "file-locks" },       { o->shell_job, "shell-job" },
                { o->link_remap, "link-remap" },       { o->attach_pipes != NULL || o->attach_tty != NULL, "attached" },
        };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (flags[i].set && strv_extend(&l, flags[i].name) < 0)
                        return NULL;
        STRV_FOREACH(e, o->external) {
                _cleanup_free_ char *s = NULL;
                if (asprintf(&s, "external %s", *e) < 0 || strv_extend(&l, s) < 0)
                        return NULL;
        }
        return l ? strv_join(l, ", ") : NULL;
}

static bool all_digests(const CheckpointMetadata *m) {
        for (size_t i = 0; i < m->n_files; i++)
                if (isempty(m->files[i].sha256))
                        return false;
        return true;
}

static void print_summary(const CheckpointSummary *s, const char *path) {
        const CheckpointMetadata *m = s->metadata;
        char a[FORMAT_TIMESTAMP_MAX], b[FORMAT_TIMESTAMP_MAX], c[FORMAT_BYTES_MAX], d[FORMAT_BYTES_MAX];
        _cleanup_free_ char *user = uid_to_user(m->uid), *command = m->command ? strv_join(m->command, " ") : NULL;
        _cleanup_free_ char *options = options_text(&m->options);

        printf("%s %s (%s checkpoint)\n", glyph_bullet(), strna(m->id), strna(m->type));
        print_field("Path", path);
        if (m->pid > 0)
                print_fieldf("Source", "PID %i on %s", (int) m->pid, strna(m->hostname));
        else
                print_field("Source", m->hostname);
        print_field("Job", m->job);
        const CheckpointContainer *k = &m->container;
        if (k->runtime && streq(k->runtime, "containerd")) {
                print_fieldf("Container", "%s (containerd, namespace %s)", k->id, k->namespace);
                print_fieldf("Image", "%s (%s snapshot %s)", k->image, k->snapshotter, k->parent);
        } else if (k->runtime) {
                print_fieldf("Container", "%s (%s, root %s)", k->id, k->runtime, k->root);
                print_field("Bundle", k->bundle);
        }
        print_fieldf("Owner", "%s (UID %u)", strna(user), (unsigned) m->uid);
        print_field("Command", command);
        print_fieldf("Time", "%s (%s)", format_timestamp(a, sizeof(a), m->time_usec),
                     format_timestamp_relative(b, sizeof(b), m->time_usec, 0));
        if (s->format == COMPRESSION_NONE)
                print_fieldf("Stored", "a directory, %s", format_bytes(c, sizeof(c), s->stored_size));
        else
                print_fieldf("Stored", "a %s archive, %s", compression_to_string(s->format),
                             format_bytes(c, sizeof(c), s->stored_size));
        print_fieldf("Images", "%s in %zu files", format_bytes(c, sizeof(c), m->size), m->n_files);
        print_fieldf("Digests", "%s (cedana.json format %u)",
                     m->format_version >= 2 && all_digests(m) ? "SHA-256 of every file" : "CRC32 only", m->format_version);
        print_field("Digest", m->digest);
        print_fieldf("CRIU", "%s (written by cedana %s)", strna(m->criu_version), strna(m->cedana_version));
        print_field("Options", options ?: "none");
        print_fieldf("Memory", "%s mapped, %s dumped", format_bytes(c, sizeof(c), s->mapped),
                     format_bytes(d, sizeof(d), s->dumped));
}

/* One line of the tree: "1234 workload (2 threads, 12 MiB mapped, 3 MiB dumped)". */
static void print_process(const InspectProcess *p, const char *prefix, const char *branch) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        printf("%s%s%i %s (%zu thread%s, %s mapped, %s dumped)\n", prefix, branch, (int) p->pid, strna(p->command),
               p->n_threads, p->n_threads == 1 ? "" : "s", format_bytes(a, sizeof(a), p->mapped),
               format_bytes(b, sizeof(b), p->dumped));
}

/* Deep enough for any real tree; a crafted one deeper than this is shown flat below it. */
#define TREE_DEPTH_MAX 32

static void print_children(const CheckpointSummary *s, bool *shown, pid_t parent, const char *prefix,
                           unsigned depth) {
        bool utf8 = !streq(glyph_bullet(), "*");
        size_t last = SIZE_MAX;
        for (size_t i = 0; i < s->n_processes; i++)
                if (!shown[i] && s->processes[i].ppid == parent && s->processes[i].pid != parent)
                        last = i;
        for (size_t i = 0; last != SIZE_MAX && i <= last; i++) {
                const InspectProcess *p = &s->processes[i];
                if (shown[i] || p->ppid != parent || p->pid == parent)
                        continue;
                shown[i] = true;
                print_process(p, prefix, i == last ? (utf8 ? "└─" : "`-") : (utf8 ? "├─" : "|-"));
                if (depth >= TREE_DEPTH_MAX)
                        continue;
                _cleanup_free_ char *sub = NULL;
                if (asprintf(&sub, "%s%s", prefix, i == last ? "  " : (utf8 ? "│ " : "| ")) < 0)
                        return;
                print_children(s, shown, p->pid, sub, depth + 1);
        }
}

static int print_tree(const CheckpointSummary *s) {
        _cleanup_free_ bool *shown = calloc(MAX(s->n_processes, (size_t) 1), sizeof(bool));
        if (!shown)
                return -ENOMEM;
        printf("\nProcesses:\n");
        /* Roots first: those whose parent is not in the checkpoint; then anything a crafted tree
         * left out (cycles, depth), so that every process is shown once. */
        for (size_t pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < s->n_processes; i++) {
                        bool has_parent = false;
                        for (size_t j = 0; pass == 0 && j < s->n_processes; j++)
                                has_parent = has_parent || (j != i && s->processes[j].pid == s->processes[i].ppid);
                        if (shown[i] || has_parent)
                                continue;
                        shown[i] = true;
                        print_process(&s->processes[i], "", "");
                        print_children(s, shown, s->processes[i].pid, "", 1);
                }
        return 0;
}

static const TableColumn fd_columns[] = {
        { "PID", "pid", TABLE_ALIGN_RIGHT },  { "FD", "fd", TABLE_ALIGN_RIGHT },
        { "TYPE", "type", TABLE_ALIGN_LEFT }, { "NAME", "name", TABLE_ALIGN_LEFT },
        { "STATE", "state", TABLE_ALIGN_LEFT },
};

static int print_fds(const CheckpointSummary *s) {
        _cleanup_table_ Table *t = NULL;
        int r = table_new(fd_columns, ELEMENTSOF(fd_columns), &t);
        for (size_t i = 0; r >= 0 && i < s->n_processes; i++)
                for (size_t j = 0; r >= 0 && j < s->processes[i].n_fds; j++) {
                        const InspectFd *d = &s->processes[i].fds[j];
                        r = table_add_pid(t, (uint32_t) s->processes[i].pid);
                        if (r >= 0)
                                r = table_add_unsigned(t, d->fd);
                        if (r >= 0)
                                r = table_add_string(t, d->type);
                        if (r >= 0)
                                r = table_add_string(t, d->name);
                        if (r >= 0)
                                r = table_add_string(t, d->state);
                }
        if (r < 0)
                return r;
        if (table_get_rows(t) == 0)
                return 0;
        _cleanup_free_ char *text = NULL;
        r = table_format(t, true, colors_enabled(), &text);
        if (r < 0)
                return r;
        printf("\nOpen files:\n%s", text);
        return 0;
}

/* ---- the verb ---- */

int verb_checkpoint_inspect(const Verb *verb, int n_args, char **args) {
        _cleanup_(checkpoint_summary_freep) CheckpointSummary *s = NULL;
        _cleanup_free_ char *resolved = NULL, *absolute = NULL, *err = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *path = args[0];
        int r;

        if (isempty(path))
                return log_verb_usage(verb, "Give a checkpoint ID or path.");
        if (!checkpoint_arg_is_path(path)) {
                r = resolve_checkpoint(path, &resolved);
                if (r != 0)
                        return r;
                path = resolved;
        }
        /* As the caller: what they may not read, they do not see, whatever cedanad may. */
        r = open_user_path("Checkpoint", path, O_RDONLY, 0, &fd, &absolute);
        if (r != 0)
                return r;
        r = checkpoint_inspect(fd, &s, &err);
        if (r != 0) {
                if (err)
                        log_error("%s: %s", absolute ?: path, err);
                else
                        log_error_errno(r < 0 ? r : -EIO, "Failed to inspect %s: %m", absolute ?: path);
                return exit_status_from_result(r);
        }

        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *o = checkpoint_summary_to_json(s, absolute ?: path);
                return o ? json_print(o) : log_oom();
        }
        pager_open();
        print_summary(s, absolute ?: path);
        r = print_tree(s);
        if (r >= 0)
                r = print_fds(s);
        if (r < 0)
                return log_oom();
        return 0;
}
