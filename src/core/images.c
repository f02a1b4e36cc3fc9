/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's image framing (magics, then a 32-bit size before each packed entry), and the
 * credentials of core-*.img's core_entry, read with protobuf-c. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.pb-c.h"
#include "fd-util.h"
#include "images.h"
#include "message.h"
#include "process.h"

/* criu/include/magic.h */
#define IMG_COMMON_MAGIC 0x54564319
#define IMG_SERVICE_MAGIC 0x55105940

static uint64_t caps64(size_t n, const uint32_t *words) {
        return (n > 0 ? words[0] : 0) | (n > 1 ? (uint64_t) words[1] << 32 : 0);
}

static bool check_entry(const CoreEntry *e, const Identity *id, uint64_t bounding, char *what, size_t l) {
        const CredsEntry *c = e->thread_core ? e->thread_core->creds : NULL;
        if (!c)
                return true; /* CRIU gives such a thread the task's credentials */
        Creds creds = {
                .uid = { c->uid, c->euid, c->suid, c->fsuid },
                .gid = { c->gid, c->egid, c->sgid, c->fsgid },
                .groups = c->groups,
                .n_groups = c->n_groups,
                .caps = { caps64(c->n_cap_inh, c->cap_inh), caps64(c->n_cap_prm, c->cap_prm),
                          caps64(c->n_cap_eff, c->cap_eff), caps64(c->n_cap_bnd, c->cap_bnd),
                          caps64(c->n_cap_amb, c->cap_amb) },
        };
        return identity_allows(id, &creds, bounding, what, l);
}

int image_for_each_entry(const char *name, const void *image, size_t n, uint32_t magic, const char *kind,
                         ImageEntryFunc f, void *userdata, char **reterr) {
        const uint8_t *data = image;
        size_t off = 0;
        uint32_t m;
        if (n < 8)
                return message_set(reterr, -EBADMSG, "Image %s is not a CRIU %s image.", name, kind);
        memcpy(&m, data, 4);
        off = 4;
        if (m == IMG_COMMON_MAGIC || m == IMG_SERVICE_MAGIC) {
                memcpy(&m, data + 4, 4);
                off = 8;
        }
        if (m != magic)
                return message_set(reterr, -EBADMSG, "Image %s is not a CRIU %s image.", name, kind);
        for (size_t i = 0; off < n; i++) {
                uint32_t size;
                if (n - off < 4)
                        return message_set(reterr, -EBADMSG, "Image %s is truncated.", name);
                memcpy(&size, data + off, 4);
                off += 4;
                if (size > n - off)
                        return message_set(reterr, -EBADMSG, "Image %s is truncated.", name);
                int r = f(i, data + off, size, userdata, reterr);
                if (r < 0)
                        return r;
                off += size;
        }
        return 0;
}

typedef struct CredsCheck {
        const char *name;
        const Identity *id;
        uint64_t bounding;
} CredsCheck;

static int check_core_entry(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        CredsCheck *c = userdata;
        CoreEntry *e = core_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU core image.", c->name);
        char what[128];
        bool ok = check_entry(e, c->id, c->bounding, what, sizeof(what));
        core_entry__free_unpacked(e, NULL);
        if (!ok)
                return message_set(reterr, -EPERM, "thread %.*s with %s", (int) (strlen(c->name) - STRLEN("core-.img")),
                                   c->name + STRLEN("core-"), what);
        return 0;
}

static int check_core(int dir_fd, const char *name, const Identity *id, uint64_t bounding, char **reterr) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r = read_full_file_at(dir_fd, name, CORE_IMAGE_MAX, &data, &n);
        if (r < 0)
                return message_set(reterr, -EBADMSG, "Cannot read image %s: %s.", name, strerror(-r));
        CredsCheck c = { .name = name, .id = id, .bounding = bounding };
        return image_for_each_entry(name, data, n, CORE_MAGIC, "core", check_core_entry, &c, reterr);
}

int images_check_creds(int dir_fd, const CheckpointMetadata *m, const Identity *id, char **reterr) {
        uint64_t bounding;
        int r = process_own_bounding_set(&bounding);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_files; i++) {
                const char *name = m->files[i].name;
                if (startswith(name, "creds-"))
                        return message_set(reterr, -EBADMSG, "The checkpoint holds a legacy credentials image (%s), "
                                           "which cedana does not restore.", name);
                if (!startswith(name, "core-"))
                        continue;
                r = check_core(dir_fd, name, id, bounding, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}
