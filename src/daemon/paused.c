/* SPDX-License-Identifier: Apache-2.0 */

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "containerd.h"
#include "fd-util.h"
#include "log.h"
#include "manager.h"
#include "paused.h"

#define PAUSED_DIR "paused"
#define ADDRESS_MAX 4096

/* "<namespace>:<id>": ':' is in neither. */
static int record_name(const char *namespace, const char *id, char **ret) {
        if (!containerd_name_is_valid(namespace) || !containerd_name_is_valid(id))
                return -EINVAL;
        return asprintf(ret, "%s:%s", namespace, id) < 0 ? -ENOMEM : 0;
}

static int open_paused_dir(Manager *m, bool create) {
        if (create && mkdirat(m->state_dir_fd, PAUSED_DIR, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        int fd = openat(m->state_dir_fd, PAUSED_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int paused_record(Manager *m, const char *address, const char *namespace, const char *id) {
        _cleanup_free_ char *name = NULL;
        int r = record_name(namespace, id, &name);
        if (r < 0)
                return r;
        _cleanup_close_ int dir_fd = open_paused_dir(m, true);
        if (dir_fd < 0)
                return dir_fd;
        return write_file_atomic_at(dir_fd, name, address, strlen(address), 0600);
}

void paused_forget(Manager *m, const char *namespace, const char *id) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir_fd = open_paused_dir(m, false);
        if (dir_fd >= 0 && record_name(namespace, id, &name) >= 0 && unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                log_warning_errno(-errno, "Failed to remove the pause record of container %s: %m", id);
}

static void resume_one(Manager *m, int dir_fd, const char *name) {
        _cleanup_free_ char *address = NULL, *namespace = strdup(name), *err = NULL;
        char *id = namespace ? strchr(namespace, ':') : NULL;
        if (!id || read_full_file_at(dir_fd, name, ADDRESS_MAX, &address, NULL) < 0)
                return (void) unlinkat(dir_fd, name, 0);
        *id++ = 0;
        /* From the event loop: well inside the watchdog's 30 s, however containerd fares. */
        Containerd c = { .address = address, .namespace = namespace, .call_timeout_sec = 5 };
        int r = containerd_resume(&c, id, &err);
        if (r != 0)
                log_error("A dump of containerd container %s (namespace %s) ended abnormally, and resuming it "
                          "failed: %s", id, namespace, err ?: strerror(r < 0 ? -r : EIO));
        else
                log_notice("A dump of containerd container %s (namespace %s) ended abnormally; it runs on.", id,
                           namespace);
        (void) unlinkat(dir_fd, name, 0);
}

void paused_resume(Manager *m, const char *namespace, const char *id) {
        _cleanup_close_ int dir_fd = open_paused_dir(m, false);
        if (dir_fd < 0)
                return;
        if (id) {
                _cleanup_free_ char *name = NULL;
                if (record_name(namespace, id, &name) >= 0 && faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                        resume_one(m, dir_fd, name);
                return;
        }
        DIR *d = NULL;
        if (opendir_at(dir_fd, &d) < 0)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        resume_one(m, dir_fd, de->d_name);
        closedir(d);
}
