/* SPDX-License-Identifier: Apache-2.0 */
/* containerd containers a dump paused, recorded (STATEDIR/paused/<namespace>:<id>, holding
 * containerd's socket) from before the pause until the dump let go of them. Whatever ends a dump
 * abnormally (its worker or cedanad dying), the container is resumed: by the daemon once the
 * worker is gone, or at the next start. Nothing is left frozen. */
#pragma once

typedef struct Manager Manager;

/* Before the pause. 0 or -errno: a dump that cannot promise this does not pause anything. */
int paused_record(Manager *m, const char *address, const char *namespace, const char *id);
/* The dump let go of the container (resumed, or killed once committed). */
void paused_forget(Manager *m, const char *namespace, const char *id);
/* Resumes the recorded container (NULL id: every one) and forgets it. */
void paused_resume(Manager *m, const char *namespace, const char *id);
