/* SPDX-License-Identifier: Apache-2.0 */
/* Translations of CRIU's commonest error lines (CRIU 4.2's wording). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "criu-explain.h"
#include "macro.h"

char *criu_explain(const char *line) {
        char *s = NULL;
        int pid = 0, sid = 0, pgid = 0, fd = 0, n = 0;
        if (!line)
                return NULL;
        /* Some parts of CRIU prefix their messages: "tty: ", "unix: ". */
        size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyz-");
        if (k > 0 && line[k] == ':' && line[k + 1] == ' ')
                line += k + 2;
        if (sscanf(line, "Can't fork for %d: File exists%n", &pid, &n) == 1 && n > 0) {
                if (asprintf(&s, "PID %d, which the checkpointed process had, belongs to another process now: end that "
                             "process (is the original still running?) and restore again.", pid) < 0)
                        return NULL;
        } else if (startswith(line, "Don't have tty to inherit session from")) {
                s = strdup("This is a checkpoint of a shell job, which needs a terminal to run in: restore it in a "
                           "terminal with 'cedana restore process --no-server --shell-job PATH'.");
        } else if (sscanf(line, "The root process %d is not a session leader.%n", &pid, &n) == 1 && n > 0) {
                if (asprintf(&s, "Process %d was started from a shell and is part of the shell's terminal session: dump "
                             "it with --shell-job (and restore it in a terminal with --no-server --shell-job), or start "
                             "it detached, with setsid or 'cedana run'.", pid) < 0)
                        return NULL;
        } else if (sscanf(line, "Found dangling tty with sid %d pgid %d (%*[^)]) on peer fd %d.", &sid, &pgid, &fd) == 3) {
                if (asprintf(&s, "The process uses the terminal of session %d, whose leader is not part of the "
                             "checkpoint (it was started from a shell): dump it with --shell-job, or start it "
                             "detached, with setsid or 'cedana run'.", sid) < 0)
                        return NULL;
        } else if ((sscanf(line, "%d was killed by %*d unexpectedly%n", &pid, &n) == 1 && n > 0) ||
                   (sscanf(line, "%d exited with %*d unexpectedly%n", &pid, &n) == 1 && n > 0)) {
                if (asprintf(&s, "Process %d of the tree ended while it was being dumped; no checkpoint was "
                             "written.", pid) < 0)
                        return NULL;
        } else if (startswith(line, "Some file locks are hold by dumping tasks")) {
                s = strdup("The process holds file locks (flock, fcntl or lease): dump it with --file-locks, and the "
                           "restored process holds them again.");
        } else if (startswith(line, "External socket is used.")) {
                s = strdup("The process has a UNIX socket connected to a process outside the checkpoint (often its "
                           "output going to the journal): start it with its output going to a file, or leave the "
                           "socket out with --external unix[INODE] (the inode is in CRIU's log).");
        }
        return s;
}
