/* SPDX-License-Identifier: Apache-2.0 */
/* The tables of cedana's options and verbs, and the help text made from them, so that help,
 * validation and completion cannot disagree about what a verb accepts. */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus-error.h"
#include "build-config.h"
#include "cli-verbs.h"
#include "macro.h"

const CliOption cli_options[_OPT_MAX] = {
        [OPT_HELP] = { OPT_HELP, "help", 'h', no_argument, NULL, VALUE_NONE, "Show this help" },
        [OPT_VERSION] = { OPT_VERSION, "version", 0, no_argument, NULL, VALUE_NONE, "Show cedana's version" },
        [OPT_NO_PAGER] = { OPT_NO_PAGER, "no-pager", 0, no_argument, NULL, VALUE_NONE,
                           "Do not pipe output into a pager" },
        [OPT_NO_LEGEND] = { OPT_NO_LEGEND, "no-legend", 0, no_argument, NULL, VALUE_NONE,
                            "Do not print the header and footer of tables" },
        [OPT_JSON] = { OPT_JSON, "json", 0, optional_argument, "short|pretty", VALUE_JSON,
                       "Print JSON (plain --json means short)" },
        [OPT_NO_ASK_PASSWORD] = { OPT_NO_ASK_PASSWORD, "no-ask-password", 0, no_argument, NULL, VALUE_NONE,
                                  "Do not ask for a password to authorize the request" },
        [OPT_QUIET] = { OPT_QUIET, "quiet", 'q', no_argument, NULL, VALUE_NONE,
                        "Print only errors and requested data" },
        [OPT_DIR] = { OPT_DIR, "dir", 0, required_argument, "DIR", VALUE_DIR,
                      "Write the checkpoint into DIR (default: cedanad's choice)" },
        [OPT_NAME] = { OPT_NAME, "name", 0, required_argument, "NAME", VALUE_TEXT, "Name the job NAME" },
        [OPT_COMPRESSION] = { OPT_COMPRESSION, "compression", 0, required_argument, "FORMAT", VALUE_COMPRESSION,
                              "none (a directory), tar, gzip, lz4, zlib or zstd" },
        [OPT_LEAVE_RUNNING] = { OPT_LEAVE_RUNNING, "leave-running", 0, no_argument, NULL, VALUE_NONE,
                                "Let the process run on after the dump" },
        [OPT_TCP_ESTABLISHED] = { OPT_TCP_ESTABLISHED, "tcp-established", 0, no_argument, NULL, VALUE_NONE,
                                  "Checkpoint and restore established TCP connections" },
        [OPT_FILE_LOCKS] = { OPT_FILE_LOCKS, "file-locks", 0, no_argument, NULL, VALUE_NONE,
                             "Checkpoint file locks" },
        [OPT_SHELL_JOB] = { OPT_SHELL_JOB, "shell-job", 0, no_argument, NULL, VALUE_NONE,
                            "The process is an interactive shell's job (uses its terminal)" },
        [OPT_EXTERNAL] = { OPT_EXTERNAL, "external", 0, required_argument, "RES", VALUE_TEXT,
                           "Leave RES out of the checkpoint: unix[INODE], tty[..], file[..] (repeatable)" },
        [OPT_LINK_REMAP] = { OPT_LINK_REMAP, "link-remap", 0, no_argument, NULL, VALUE_NONE,
                             "Keep open files that were deleted, by linking them" },
        [OPT_PATH] = { OPT_PATH, "path", 0, required_argument, "PATH", VALUE_FILE,
                       "The checkpoint: a directory or an archive" },
        [OPT_NO_SERVER] = { OPT_NO_SERVER, "no-server", 0, no_argument, NULL, VALUE_NONE,
                            "Restore without cedanad, as a child of this command (needs root)" },
        [OPT_ATTACH] = { OPT_ATTACH, "attach", 0, no_argument, NULL, VALUE_NONE,
                         "Connect this terminal to the job's input and output (a pty when stdin is a terminal)" },
        [OPT_LOG] = { OPT_LOG, "log", 0, required_argument, "FILE", VALUE_FILE, "Write the log to FILE" },
        [OPT_PID_FILE] = { OPT_PID_FILE, "pid-file", 0, required_argument, "FILE", VALUE_FILE,
                           "Write the restored process's PID to FILE" },
        [OPT_SETENV] = { OPT_SETENV, "setenv", 'E', required_argument, "KEY=VALUE", VALUE_TEXT,
                         "Set an environment variable for the job (repeatable)" },
        [OPT_ALL] = { OPT_ALL, "all", 'a', no_argument, NULL, VALUE_NONE, "Also list jobs that exited or were killed" },
        [OPT_SIGNAL] = { OPT_SIGNAL, "signal", 0, required_argument, "SIGNAL", VALUE_SIGNAL,
                         "The signal to send (default: TERM)" },
        [OPT_WITH_CHECKPOINTS] = { OPT_WITH_CHECKPOINTS, "with-checkpoints", 0, no_argument, NULL, VALUE_NONE,
                                   "Delete the job's checkpoint files too" },
        [OPT_KEEP] = { OPT_KEEP, "keep", 0, required_argument, "N", VALUE_TEXT,
                       "Also delete all but the newest N checkpoints of each job" },
        [OPT_JOB] = { OPT_JOB, "job", 0, required_argument, "JOB", VALUE_JOB, "Only the checkpoints of JOB" },
        [OPT_FOLLOW] = { OPT_FOLLOW, "follow", 'f', no_argument, NULL, VALUE_NONE,
                         "Keep printing what is written, until interrupted" },
        [OPT_PRINT_STATS] = { OPT_PRINT_STATS, "print-stats", 0, no_argument, NULL, VALUE_NONE,
                              "After success, print how long each phase took and how many bytes it wrote" },
        [OPT_RUNC_ROOT] = { OPT_RUNC_ROOT, "root", 0, required_argument, "DIR", VALUE_DIR,
                            "runc's state directory, as runc --root takes it (default: /run/runc)" },
        [OPT_ID] = { OPT_ID, "id", 0, required_argument, "ID", VALUE_TEXT,
                     "The restored container's id (default: the dumped container's)" },
        [OPT_BUNDLE] = { OPT_BUNDLE, "bundle", 0, required_argument, "DIR", VALUE_DIR,
                         "The container's OCI bundle (default: the one it ran from when dumped)" },
        [OPT_NAMESPACE] = { OPT_NAMESPACE, "namespace", 'n', required_argument, "NS", VALUE_TEXT,
                            "containerd's namespace (default: default; a restore: the dumped container's)" },
        [OPT_EVERY] = { OPT_EVERY, "every", 0, required_argument, "SPAN", VALUE_TEXT,
                        "Checkpoint the job every SPAN (15min, 1h, 90s, 1h 30min)" },
        [OPT_OFF] = { OPT_OFF, "off", 0, no_argument, NULL, VALUE_NONE, "Remove the schedule" },
        [OPT_NOW] = { OPT_NOW, "now", 0, no_argument, NULL, VALUE_NONE,
                      "Take the scheduled checkpoint now, as the timer does" },
};

#define DUMP_OPTIONS                                                                                  \
        (OPT_BIT(OPT_DIR) | OPT_BIT(OPT_NAME) | OPT_BIT(OPT_COMPRESSION) | OPT_BIT(OPT_LEAVE_RUNNING) | \
         OPT_BIT(OPT_TCP_ESTABLISHED) | OPT_BIT(OPT_FILE_LOCKS) | OPT_BIT(OPT_SHELL_JOB) |              \
         OPT_BIT(OPT_EXTERNAL) | OPT_BIT(OPT_LINK_REMAP) | OPT_BIT(OPT_LOG) | OPT_BIT(OPT_PRINT_STATS))
#define RESTORE_JOB_OPTIONS                                                                    \
        (OPT_BIT(OPT_PATH) | OPT_BIT(OPT_TCP_ESTABLISHED) | OPT_BIT(OPT_SHELL_JOB) | OPT_BIT(OPT_ATTACH) | \
         OPT_BIT(OPT_LOG) | OPT_BIT(OPT_PID_FILE) | OPT_BIT(OPT_PRINT_STATS))
#define RESTORE_PROCESS_OPTIONS (RESTORE_JOB_OPTIONS | OPT_BIT(OPT_NO_SERVER) | OPT_BIT(OPT_NAME))
#define DUMP_RUNC_OPTIONS                                                                                 \
        (OPT_BIT(OPT_DIR) | OPT_BIT(OPT_NAME) | OPT_BIT(OPT_COMPRESSION) | OPT_BIT(OPT_LEAVE_RUNNING) | \
         OPT_BIT(OPT_TCP_ESTABLISHED) | OPT_BIT(OPT_FILE_LOCKS) | OPT_BIT(OPT_LOG) | OPT_BIT(OPT_PRINT_STATS) | \
         OPT_BIT(OPT_RUNC_ROOT))
#define RESTORE_RUNC_OPTIONS                                                                             \
        (OPT_BIT(OPT_PATH) | OPT_BIT(OPT_TCP_ESTABLISHED) | OPT_BIT(OPT_LOG) | OPT_BIT(OPT_PRINT_STATS) | \
         OPT_BIT(OPT_RUNC_ROOT) | OPT_BIT(OPT_ID) | OPT_BIT(OPT_BUNDLE))

#define DUMP_CONTAINERD_OPTIONS                                                                           \
        (OPT_BIT(OPT_DIR) | OPT_BIT(OPT_NAME) | OPT_BIT(OPT_COMPRESSION) | OPT_BIT(OPT_LEAVE_RUNNING) | \
         OPT_BIT(OPT_TCP_ESTABLISHED) | OPT_BIT(OPT_FILE_LOCKS) | OPT_BIT(OPT_LOG) | OPT_BIT(OPT_PRINT_STATS) | \
         OPT_BIT(OPT_NAMESPACE))
#define RESTORE_CONTAINERD_OPTIONS                                                                       \
        (OPT_BIT(OPT_PATH) | OPT_BIT(OPT_TCP_ESTABLISHED) | OPT_BIT(OPT_LOG) | OPT_BIT(OPT_PRINT_STATS) | \
         OPT_BIT(OPT_NAMESPACE) | OPT_BIT(OPT_ID))

#define SECTION_CHECKPOINTS "Checkpoints"
#define SECTION_JOBS "Jobs"
#define SECTION_SERVICE "Service"

const Verb cli_verbs[] = {
        { "dump", "process", 1, 1, verb_dump, DUMP_OPTIONS, VERB_ARG_PID, 0, SECTION_CHECKPOINTS,
          "PID [OPTIONS...]", "Checkpoint a process and its children",
          "Checkpoint process PID and every process below it. By default the processes end once the "
          "checkpoint is complete on disk; --leave-running lets them continue. On a terminal a line on "
          "stderr shows the phase, bytes, percentage and rate. Ctrl-C cancels: the process keeps running "
          "untouched and nothing is written (exit 130), unless the checkpoint was complete already. "
          "--print-stats prints CRIU's and cedana's figures afterwards (frozen time, time per phase, pages, "
          "bytes, compression ratio). --json prints {\"checkpoint\", \"path\", \"size\"}, with "
          "--print-stats also \"stats\": {\"total_usec\", \"frozen_usec\", \"freezing_usec\", "
          "\"memdump_usec\", \"memwrite_usec\", \"criu_usec\", \"commit_usec\", \"pages_scanned\", "
          "\"pages_skipped_parent\", \"pages_written\", \"image_bytes\", \"written_bytes\", "
          "\"compression_ratio\"}." },
        { "dump", "job", 1, 1, verb_dump, DUMP_OPTIONS, VERB_ARG_JOB, 0, SECTION_CHECKPOINTS,
          "JOB [OPTIONS...]", "Checkpoint a managed job",
          "Checkpoint the managed job JOB. The job is halted afterwards unless --leave-running is given; "
          "'cedana restore job JOB' brings it back. Progress, Ctrl-C, --print-stats and --json as for "
          "'dump process'." },
        { "dump", "runc", 1, 1, verb_dump, DUMP_RUNC_OPTIONS, VERB_ARG_CONTAINER, 0, SECTION_CHECKPOINTS,
          "ID [OPTIONS...]", "Checkpoint a runc container",
          "Checkpoint the runc container ID (root's; --root names runc's state directory, e.g. containerd's "
          "runc roots). runc has CRIU freeze the container; once the checkpoint is complete on disk, while "
          "it is still frozen, the container ends and runc deletes it, or with --leave-running it runs on and "
          "runc still knows it. On any failure it runs on untouched and nothing is written. The checkpoint records the "
          "container's id, runc root and bundle for 'restore runc'. Containers are root's: anyone else needs "
          "an administrator's authorization. Progress, Ctrl-C, --print-stats and --json as for "
          "'dump process'." },
        { "restore", "runc", 0, 1, verb_restore, RESTORE_RUNC_OPTIONS, VERB_ARG_PATH, 0, SECTION_CHECKPOINTS,
          "PATH|--path PATH [--id ID] [--bundle DIR] [OPTIONS...]", "Restore a runc container",
          "Restore a container's checkpoint with runc, as container ID (default: the dumped container's id) "
          "from the bundle DIR (default: the one it ran from), running, its loopback interface up. "
          "Afterwards 'runc list' shows it and 'runc kill' and 'runc delete' work. The checkpoint is verified "
          "before runc sees it. --json prints {\"container\", \"pid\", \"path\"}, with --print-stats also "
          "\"stats\" as for 'restore process'." },
        { "dump", "containerd", 1, 1, verb_dump, DUMP_CONTAINERD_OPTIONS, VERB_ARG_CONTAINERD, 0, SECTION_CHECKPOINTS,
          "ID [--namespace NS] [OPTIONS...]", "Checkpoint a containerd container",
          "Checkpoint the containerd container ID in namespace NS (default: default) through containerd's API. "
          "containerd pauses the task and has its runc shim's CRIU write the images; the checkpoint also carries "
          "containerd's record of the container (image, runtime, OCI spec, labels) and its writable layer, so "
          "that it restores on any host that has the image. Once it is complete on disk the task, still paused, "
          "is killed and the container removed; with --leave-running it resumes. On any failure it resumes "
          "untouched and nothing is written. Containers are root's: anyone else needs an administrator's "
          "authorization. Progress, Ctrl-C, --print-stats and --json as for 'dump process'." },
        { "restore", "containerd", 0, 1, verb_restore, RESTORE_CONTAINERD_OPTIONS, VERB_ARG_PATH, 0,
          SECTION_CHECKPOINTS, "PATH|--path PATH [--id ID] [--namespace NS] [OPTIONS...]",
          "Restore a containerd container",
          "Restore a containerd container's checkpoint through containerd's API, as container ID (default: the "
          "dumped container's id) in namespace NS (default: the dumped container's): the container is created "
          "again on a new snapshot of its image with its writable layer put back, its cgroup named after ID, "
          "and its task restored, running, its loopback interface up. The image must be pulled or imported "
          "there. Afterwards 'ctr task ls' shows it RUNNING and 'ctr task kill' and 'ctr task rm' work. The "
          "checkpoint is verified before containerd sees it. --json as for 'restore runc'." },
        { "restore", "process", 0, 1, verb_restore, RESTORE_PROCESS_OPTIONS, VERB_ARG_PATH, 0, SECTION_CHECKPOINTS,
          "PATH|--path PATH [OPTIONS...]", "Restore a checkpoint as a new job",
          "Restore the checkpoint at PATH (a directory or an archive; the format is detected from the "
          "content) as a new managed job. PATH may be given as the argument or with --path. With --no-server cedana restores it itself, without cedanad, "
          "as a child of this command, waits for it and exits with its status. Through cedanad, Ctrl-C "
          "cancels: nothing restored runs, the checkpoint is unchanged (exit 130). --json prints "
          "{\"job\", \"pid\", \"path\"}, with --print-stats also \"stats\": {\"total_usec\", "
          "\"prepare_usec\", \"forking_usec\", \"restore_usec\", \"criu_usec\", \"pages_restored\", "
          "\"pages_compared\", \"pages_skipped_cow\", \"image_bytes\", \"read_bytes\", \"streamed_bytes\" "
          "(page images CRIU read straight from the archive or directory, without a copy on disk; 0 when "
          "it was extracted)}." },
        { "restore", "job", 1, 1, verb_restore, RESTORE_JOB_OPTIONS, VERB_ARG_JOB, 0, SECTION_CHECKPOINTS,
          "JOB [--path PATH] [OPTIONS...]", "Restore a halted job",
          "Restore the job JOB from its latest checkpoint, or from PATH. Ctrl-C, --print-stats and --json "
          "as for 'restore process'." },
        { "checkpoint", "list", 0, 0, verb_checkpoint_list, 0, VERB_ARG_NONE, 0, SECTION_CHECKPOINTS,
          "", "List checkpoints",
          "List the checkpoints cedanad knows of, newest first. --json prints an array of {\"id\", \"job\", "
          "\"time\" (µs since the epoch), \"size\" (bytes), \"compression\", \"path\"}." },
        { "checkpoint", "inspect", 1, 1, verb_checkpoint_inspect, 0, VERB_ARG_CHECKPOINT_OR_PATH, 0,
          SECTION_CHECKPOINTS, "ID|PATH", "Show what a checkpoint is and what is inside",
          "Show a checkpoint's metadata (source host, job, PID, owner, command, CRIU version, options, format, "
          "sizes, digests) and what its CRIU images hold: the process tree with threads, open files, sockets "
          "and memory. ID is a checkpoint 'checkpoint list' shows; anything that exists, or cannot be an ID, is "
          "a PATH: a checkpoint directory or archive. The files are read by this command with your rights, "
          "never through cedanad, and pages are not read. --json prints {\"id\", \"path\", \"job\", "
          "\"container\" ({\"runtime\", \"id\", \"root\", \"bundle\"} or null), \"type\", "
          "\"user\", \"uid\", \"pid\", \"time\", \"size\", \"stored_size\", \"compression\", \"host\", "
          "\"command\", \"criu_version\", \"cedana_version\", \"format\", \"digest\", \"options\", \"images\" "
          "(an array of {\"name\", \"size\", \"sha256\"}), \"memory\" ({\"mapped\", \"dumped\"}, bytes), "
          "\"processes\" (an array of {\"pid\", \"ppid\", \"pgid\", \"sid\", \"command\", \"threads\", "
          "\"tids\", \"mapped\", \"dumped\", \"fds\": an array of {\"fd\", \"type\", \"name\", \"state\"}})}, "
          "null where a value is not known." },
        { "checkpoint", "delete", 1, VERB_ANY, verb_checkpoint_delete, 0, VERB_ARG_CHECKPOINT, 0,
          SECTION_CHECKPOINTS, "ID...", "Delete checkpoints", "Delete the files and records of checkpoints." },
        { "checkpoint", "prune", 0, 0, verb_checkpoint_prune, OPT_BIT(OPT_KEEP) | OPT_BIT(OPT_JOB), VERB_ARG_NONE, 0,
          SECTION_CHECKPOINTS, "[--job JOB] [--keep N]", "Forget missing checkpoints, delete old ones",
          "Forget your checkpoints whose files were deleted or moved away (root: everybody's), which frees "
          "their names. With --keep N, also delete all but the newest N checkpoints of each job whose files "
          "are where cedana wrote them; checkpoints of plain processes are only ever forgotten when missing, "
          "and a file something else replaced is left alone. --job limits it to JOB's checkpoints. --json "
          "prints an array of the removed IDs." },
        { "run", "process", 1, VERB_ANY, verb_run, OPT_BIT(OPT_NAME) | OPT_BIT(OPT_ATTACH) | OPT_BIT(OPT_LOG) |
          OPT_BIT(OPT_SETENV), VERB_ARG_COMMAND, 0, SECTION_JOBS, "[OPTIONS...] -- COMMAND [ARGS...]",
          "Start a command as a managed job",
          "Start COMMAND as a managed job, as you, in the current directory, with PATH, HOME, USER, "
          "LOGNAME, LANG and TERM of this environment and what -E adds; nothing else is inherited. "
          "COMMAND is looked up in that PATH, as your shell would. Its output goes to a log file. "
          "With --attach its input and output go through cedanad to this command as well: when stdin is a "
          "terminal the job gets a terminal of its own (line editing, Ctrl-C, Ctrl-Z, Ctrl-D and window size "
          "as in this one, which is in raw mode while attached); otherwise pipes, and the end of this "
          "command's input ends the job's. Press Ctrl-] three times within a second to detach. "
          "--json prints {\"job\", \"pid\", \"log\"}." },
        { "manage", "process", 1, 1, verb_manage, OPT_BIT(OPT_NAME), VERB_ARG_PID, 0, SECTION_JOBS,
          "PID [--name JOB]", "Make a running process a managed job", NULL },
        { "manage", "containerd", 1, 1, verb_manage, OPT_BIT(OPT_NAME) | OPT_BIT(OPT_NAMESPACE), VERB_ARG_CONTAINERD,
          0, SECTION_JOBS, "ID [--name JOB] [--namespace NS]", "Make a running containerd container a managed job",
          "Make the containerd container ID in namespace NS (default: default) a managed job of type containerd "
          "(root's; anyone else needs an administrator's authorization). containerd keeps its cgroups; 'dump job' "
          "checkpoints it as 'dump containerd' does and halts the job, 'restore job' brings the container back "
          "under its id, and schedules and 'job persist' work as for any job. --json prints {\"job\", "
          "\"container\"}." },
        { "manage", "runc", 1, 1, verb_manage, OPT_BIT(OPT_NAME) | OPT_BIT(OPT_RUNC_ROOT), VERB_ARG_CONTAINER, 0,
          SECTION_JOBS, "ID [--name JOB] [--root DIR]", "Make a running runc container a managed job",
          "Make the runc container ID a managed job of type runc (root's; anyone else needs an administrator's "
          "authorization). runc keeps its cgroups; 'dump job' checkpoints it as 'dump runc' does and halts the "
          "job, 'restore job' brings the container back under its id from its bundle, and 'job kill' signals "
          "its init." },
        { "job", "list", 0, 0, verb_job_list, OPT_BIT(OPT_ALL), VERB_ARG_NONE, 0, SECTION_JOBS, "[--all]",
          "List jobs",
          "List managed jobs: running, halted and failed ones; --all adds those that exited or were killed. "
          "Root sees everybody's, with a USER column. --json prints an array of {\"job\", \"user\", \"uid\", "
          "\"type\", \"status\", \"pid\", \"gpu\", \"exit_code\", \"signal\", \"checkpoint\" (µs since the epoch), "
          "\"size\", \"log\", \"unit\", \"checkpoint_id\", \"schedule\" (as 'job schedule --json' has it), \"persist\", "
          "\"restore_at_boot\"}, null where a value does not apply. The SCHEDULE column says how often the job is "
          "checkpointed, when next, whether the last one failed, and whether it persists across reboots." },
        { "job", "checkpoints", 1, 1, verb_job_checkpoints, 0, VERB_ARG_JOB, 0, SECTION_JOBS, "JOB",
          "List the checkpoints of a job",
          "List the checkpoints of JOB, newest first. --json prints an array of {\"id\", \"time\", \"size\", "
          "\"path\"}." },
        { "job", "inspect", 1, 1, verb_job_inspect, 0, VERB_ARG_JOB, 0, SECTION_JOBS, "JOB",
          "Show a job's properties and checkpoints",
          "Show the properties of JOB and its checkpoints. --json prints the job as 'job list --json' does, "
          "with \"checkpoints\" added: an array as 'job checkpoints --json' prints." },
        { "job", "kill", 1, 1, verb_job_kill, OPT_BIT(OPT_SIGNAL), VERB_ARG_JOB, 0, SECTION_JOBS,
          "JOB [--signal SIGNAL]", "Send a signal to a job's processes", NULL },
        { "job", "delete", 1, 1, verb_job_delete, OPT_BIT(OPT_WITH_CHECKPOINTS), VERB_ARG_JOB, 0, SECTION_JOBS,
          "JOB [--with-checkpoints]", "Forget a job that is not running", NULL },
        { "job", "prune", 0, 0, verb_job_prune, 0, VERB_ARG_NONE, 0, SECTION_JOBS, "",
          "Forget jobs that ended without a checkpoint",
          "Forget your jobs that exited or failed and have no checkpoint (root: everybody's), with their "
          "logs, now instead of after cedanad's [Jobs] CollectAfterSec=. --json prints an array of the "
          "removed names." },
        { "job", "schedule", 1, 1, verb_job_schedule,
          OPT_BIT(OPT_EVERY) | OPT_BIT(OPT_KEEP) | OPT_BIT(OPT_COMPRESSION) | OPT_BIT(OPT_DIR) | OPT_BIT(OPT_OFF) |
                  OPT_BIT(OPT_NOW) | OPT_BIT(OPT_PRINT_STATS),
          VERB_ARG_JOB, 0, SECTION_JOBS, "JOB [--every SPAN [--keep N] [--compression F] [--dir DIR] | --off | --now]",
          "Checkpoint a job on a schedule",
          "Checkpoint the running job JOB every SPAN (15min, 1h, 1h 30min, 90s) with the job left running, "
          "keeping the newest N of those checkpoints with --keep N: the oldest beyond N are deleted only once a "
          "newer one is complete. Each schedule is a systemd timer, cedana-schedule-UID-JOB.timer, shown by "
          "'systemctl list-timers'; it runs while the job does, survives restarts of cedanad, and starts again "
          "when the job is restored. A failed scheduled checkpoint is logged with its reason and tried again "
          "at the next tick; the job is never stopped by it. Giving --every again changes the schedule; --off "
          "removes it (its checkpoints stay); --now takes the scheduled checkpoint at once, as the timer does. "
          "Without options, shows the schedule. --json prints {\"job\", \"schedule\": {\"every_usec\", \"keep\", "
          "\"next_usec\", \"last_usec\", \"last_result\"} or null, \"persist\", \"restore_at_boot\"}; with "
          "--now, as 'dump job' does." },
        { "job", "persist", 1, 1, verb_job_persist, OPT_BIT(OPT_OFF), VERB_ARG_JOB, 0, SECTION_JOBS, "JOB [--off]",
          "Checkpoint a job at shutdown, restore it at boot",
          "Mark JOB to survive reboots: when the system shuts down, cedanad (holding a logind delay lock "
          "while a marked job runs) checkpoints it with its schedule's --compression and --dir, and at the "
          "next boot cedana-restore.service restores it under the same name, continuing its log. A job "
          "whose checkpoint did not fit into logind's InhibitDelayMaxSec= is logged and left out, never "
          "half recorded. [Jobs] PersistAll=yes in cedana.conf marks every job. A runc container job comes "
          "back from its bundle, which must be there at boot. --off removes the mark." },
        { "job", "restore-persisted", 0, 0, verb_job_restore_persisted, 0, VERB_ARG_NONE, 0, SECTION_JOBS, "",
          "Restore the jobs checkpointed at shutdown",
          "Restore every job that cedanad checkpointed when the system last shut down, from that checkpoint, "
          "each under its name in its own scope. cedana-restore.service runs this at boot; run it yourself "
          "after a failed boot restore. Prints a line per job; exit status 1 if any could not be restored." },
        { "job", "logs", 1, 1, verb_job_logs, OPT_BIT(OPT_FOLLOW), VERB_ARG_JOB, 0, SECTION_JOBS, "JOB [--follow]",
          "Show a job's output",
          "Print the log of JOB: its output, or the file its --log chose. With --follow keep printing what "
          "it writes until interrupted. The file is read with your rights." },
        { "job", "attach", 1, 1, verb_job_attach, 0, VERB_ARG_JOB, 0, SECTION_JOBS, "JOB",
          "Connect the terminal to a job's input and output",
          "Connect this terminal to the input and output of JOB, which must have been started or "
          "restored with --attach, starting with the last 64 KiB of its output. For a job with a terminal, "
          "this one is put in raw mode and its size passed on; for a job with pipes, the end of this "
          "command's input ends the job's input for good. Press Ctrl-] three times within a second to "
          "detach." },
        { NULL, "features", 0, 0, verb_features, 0, VERB_ARG_NONE, 0, SECTION_SERVICE, "",
          "Show what cedanad can do", NULL },
        { NULL, "version", 0, 0, verb_version, 0, VERB_ARG_NONE, 0, SECTION_SERVICE, "",
          "Show the versions of cedana and cedanad", NULL },
        { "daemon", "status", 0, 0, verb_daemon_status, 0, VERB_ARG_NONE, 0, SECTION_SERVICE, "",
          "Show whether cedanad answers, and how", NULL },
        { NULL, "help", 0, 2, verb_help, 0, VERB_ARG_VERB, VERB_NO_DAEMON, SECTION_SERVICE, "[COMMAND]",
          "Show this help, or a command's", NULL },
        { NULL, "__complete", 0, VERB_ANY, verb_complete, 0, VERB_ARG_RAW, VERB_HIDDEN | VERB_RAW_ARGS, NULL,
          "WORDS...", "Print completions for the last word", NULL },
        { NULL, "__man", 0, 0, verb_man, 0, VERB_ARG_RAW, VERB_HIDDEN | VERB_RAW_ARGS | VERB_NO_DAEMON, NULL, "",
          "Print the commands, options and exit statuses as scdoc, for cedana(1)", NULL },
};

const size_t cli_n_verbs = ELEMENTSOF(cli_verbs);

const CliExitStatus cli_exit_statuses[] = {
        { CEDANA_EXIT_SUCCESS, "success", "Success." },
        { CEDANA_EXIT_USAGE, "usage error", "The command line was wrong, or cedanad refused the request's arguments." },
        { CEDANA_EXIT_NO_DAEMON, "cedanad not reachable", "cedanad is not installed or could not be reached." },
        { CEDANA_EXIT_ACCESS_DENIED, "access denied",
          "polkit or cedanad refused, or the checkpoint would restore a process with more rights than its "
          "restorer has." },
        { CEDANA_EXIT_NOT_FOUND, "no such thing", "No such job, process, checkpoint or file." },
        { CEDANA_EXIT_BUSY, "busy or running", "The job is busy with a dump or restore, or still running." },
        { CEDANA_EXIT_BAD_CHECKPOINT, "bad checkpoint",
          "The checkpoint is damaged, changed since it was written, or not a checkpoint." },
        { CEDANA_EXIT_CRIU, "CRIU failed", "CRIU failed; the message says why and where its log is." },
        { CEDANA_EXIT_NO_SPACE, "no space left", "No space left on the device." },
        { CEDANA_EXIT_UNSUPPORTED, "unsupported", "Not supported, e.g. a GPU job without CRIU's CUDA plugin." },
        { CEDANA_EXIT_EXISTS, "already exists", "A job or checkpoint of that name exists." },
        { CEDANA_EXIT_LIMITS, "over a limit", "Too many operations at once, or a request too large." },
        { CEDANA_EXIT_CONTAINER, "no such container",
          "No container of that id, or it is not running (paused, stopped or only created)." },
        { CEDANA_EXIT_WRONG_KIND, "wrong kind of checkpoint",
          "A container's checkpoint restored as a process, or a process's restored as a container." },
        { CEDANA_EXIT_RUNTIME, "runtime failed", "The container runtime (runc) failed; the message says why." },
        { CEDANA_EXIT_REMOTE, "S3 store failed",
          "The object store (S3) failed or could not be reached; the message says which and why." },
        { CEDANA_EXIT_CANCELLED, "cancelled", "Cancelled with Ctrl-C (SIGINT or SIGTERM): nothing of the dump or "
          "restore is left." },
        { CEDANA_EXIT_FAILURE, "any other failure", "Any other failure." },
};

const size_t cli_n_exit_statuses = ELEMENTSOF(cli_exit_statuses);

const CliOption *cli_option_by_id(CliOptionId id) {
        if (id < 0 || id >= _OPT_MAX)
                return NULL;
        return &cli_options[id];
}

const CliOption *cli_option_by_long(const char *name) {
        for (size_t i = 0; i < _OPT_MAX; i++)
                if (streq(cli_options[i].name, name))
                        return &cli_options[i];
        return NULL;
}

const CliOption *cli_option_by_short(char c) {
        for (size_t i = 0; c != 0 && i < _OPT_MAX; i++)
                if (cli_options[i].short_name == c)
                        return &cli_options[i];
        return NULL;
}

const Verb *verb_find(const char *group, const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < cli_n_verbs; i++)
                if (streq_ptr(cli_verbs[i].group, group) && streq(cli_verbs[i].name, name))
                        return &cli_verbs[i];
        return NULL;
}

bool verb_is_group(const char *word) {
        for (size_t i = 0; word && i < cli_n_verbs; i++)
                if (streq_ptr(cli_verbs[i].group, word))
                        return true;
        return false;
}

const char *verb_full_name(const Verb *v) {
        static char buf[64];
        if (!v->group)
                return v->name;
        (void) snprintf(buf, sizeof(buf), "%s %s", v->group, v->name);
        return buf;
}

const char *verb_help_word(const Verb *v) {
        return v->group ?: v->name;
}

bool verb_accepts_option(const Verb *v, CliOptionId id) {
        return ((OPTS_GLOBAL | v->options) & OPT_BIT(id)) != 0;
}

const char *cli_option_help(const CliOption *o, const Verb *v) {
        if (!v)
                return o->help;
        if (o->id == OPT_NAME && streq_ptr(v->group, "dump"))
                return "Name the checkpoint NAME (default: dump-TYPE-TARGET-UNIXTIME)";
        if (o->id == OPT_NAME && streq_ptr(v->group, "run"))
                return "Name the job NAME (default: a generated name like famous_hopper7)";
        if (o->id == OPT_LOG && streq_ptr(v->group, "restore"))
                return "Write CRIU's restore log to FILE";
        if (o->id == OPT_LOG && streq_ptr(v->group, "dump"))
                return "Write CRIU's dump log to FILE, whatever the outcome";
        if (o->id == OPT_LOG && streq_ptr(v->group, "run"))
                return "Write the job's output to FILE (default: " LOGDIR "/JOB.log)";
        if (v->group && streq(v->group, "job") && streq(v->name, "schedule")) {
                if (o->id == OPT_KEEP)
                        return "Keep only the newest N scheduled checkpoints (default: all)";
                if (o->id == OPT_DIR)
                        return "Write them into DIR or s3://BUCKET/PREFIX (default: cedanad's choice)";
                if (o->id == OPT_COMPRESSION)
                        return "Their format: none, tar, gzip, lz4, zlib or zstd (default: the configured one)";
        }
        if (o->id == OPT_OFF && streq_ptr(v->group, "job") && streq(v->name, "persist"))
                return "Stop checkpointing the job at shutdown";
        if (o->id == OPT_PATH && streq_ptr(v->group, "restore") && streq(v->name, "job"))
                return "Restore from this checkpoint instead of the job's latest";
        return o->help;
}

static void print_option(const CliOption *o, const Verb *v) {
        char left[64];
        const char *arg = o->metavar;
        if (!arg)
                (void) snprintf(left, sizeof(left), "--%s", o->name);
        else if (o->has_arg == optional_argument)
                (void) snprintf(left, sizeof(left), "--%s[=%s]", o->name, arg);
        else
                (void) snprintf(left, sizeof(left), "--%s %s", o->name, arg);
        if (o->short_name)
                printf("  -%c %-25s %s\n", o->short_name, left, cli_option_help(o, v));
        else
                printf("     %-25s %s\n", left, cli_option_help(o, v));
}

static void print_verb_line(const Verb *v) {
        char left[80];
        (void) snprintf(left, sizeof(left), "%s %s", verb_full_name(v), v->synopsis);
        /* Long synopses get a line of their own. */
        if (strlen(left) > 34)
                printf("  %s\n  %-34s %s\n", left, "", v->summary);
        else
                printf("  %-34s %s\n", left, v->summary);
}

const char *const cli_sections[] = { SECTION_CHECKPOINTS, SECTION_JOBS, SECTION_SERVICE };
const size_t cli_n_sections = ELEMENTSOF(cli_sections);

void cli_help_main(void) {

        printf("cedana [OPTIONS...] COMMAND ...\n\n"
               "Checkpoint and restore Linux processes with cedanad.\n");
        for (size_t s = 0; s < cli_n_sections; s++) {
                printf("\n%s:\n", cli_sections[s]);
                for (size_t i = 0; i < cli_n_verbs; i++)
                        if (!(cli_verbs[i].flags & VERB_HIDDEN) && streq_ptr(cli_verbs[i].section, cli_sections[s]))
                                print_verb_line(&cli_verbs[i]);
        }
        printf("\nOptions:\n");
        for (size_t i = 0; i < _OPT_MAX; i++)
                if (OPTS_GLOBAL & OPT_BIT(i))
                        print_option(&cli_options[i], NULL);
        printf("\nExit status:\n");
        for (size_t i = 0; i < cli_n_exit_statuses; i++) {
                bool last = i % 3 == 2 || i + 1 == cli_n_exit_statuses;
                printf(last ? "  %2d %s\n" : "  %2d %-16s ", cli_exit_statuses[i].code, cli_exit_statuses[i].brief);
        }
        printf("\nSee 'cedana COMMAND --help' for the options of a command.\n");
}

/* A paragraph, wrapped at 78 columns. */
static void print_wrapped(const char *text) {
        size_t col = 0;
        for (const char *w = text; *w;) {
                size_t l = strcspn(w, " ");
                if (col > 0 && col + 1 + l > 78) {
                        putchar('\n');
                        col = 0;
                } else if (col > 0) {
                        putchar(' ');
                        col++;
                }
                fwrite(w, 1, l, stdout);
                col += l;
                w += l;
                w += strspn(w, " ");
        }
        putchar('\n');
}

static void print_verb_body(const Verb *v) {
        const char *text = v->description ?: v->summary;
        _cleanup_free_ char *sentence = NULL;
        printf("cedana %s%s%s\n\n", verb_full_name(v), isempty(v->synopsis) ? "" : " ", v->synopsis);
        if (asprintf(&sentence, "%s%s", text, text[strlen(text) - 1] == '.' ? "" : ".") < 0)
                return;
        print_wrapped(sentence);
        if (v->options != 0) {
                printf("\nOptions:\n");
                for (size_t i = 0; i < _OPT_MAX; i++)
                        if (v->options & OPT_BIT(i))
                                print_option(&cli_options[i], v);
        }
}

static void print_help_footer(void) {
        printf("\nSee 'cedana --help' for the options every command takes.\n");
}

void cli_help_verb(const Verb *v) {
        print_verb_body(v);
        print_help_footer();
}

bool cli_help_group(const char *group) {
        bool first = true;
        for (size_t i = 0; i < cli_n_verbs; i++) {
                if (!streq_ptr(cli_verbs[i].group, group) || (cli_verbs[i].flags & VERB_HIDDEN))
                        continue;
                if (!first)
                        printf("\n");
                print_verb_body(&cli_verbs[i]);
                first = false;
        }
        if (!first)
                print_help_footer();
        return !first;
}
