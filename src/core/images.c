/* SPDX-License-Identifier: Apache-2.0 */
/* Reading core-*.img: CRIU's image framing (magics, then a 32-bit size before each packed
 * entry) and core_entry from protobuf-c. */

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
#define CORE_MAGIC 0x55053847
/* A core image is a few KiB; what is larger is not one. */
#define CORE_IMAGE_MAX (UINT64_C(16) << 20)

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

static int check_core(int dir_fd, const char *name, const Identity *id, uint64_t bounding, char **reterr) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r = read_full_file_at(dir_fd, name, CORE_IMAGE_MAX, &data, &n);
        if (r < 0)
                return message_set(reterr, -EBADMSG, "Cannot read image %s: %s.", name, strerror(-r));
        size_t off = 0;
        uint32_t magic;
        if (n < 8)
                return message_set(reterr, -EBADMSG, "Image %s is not a CRIU core image.", name);
        memcpy(&magic, data, 4);
        off = 4;
        if (magic == IMG_COMMON_MAGIC || magic == IMG_SERVICE_MAGIC) {
                memcpy(&magic, data + 4, 4);
                off = 8;
        }
        if (magic != CORE_MAGIC)
                return message_set(reterr, -EBADMSG, "Image %s is not a CRIU core image.", name);
        while (off < n) {
                uint32_t size;
                if (n - off < 4)
                        return message_set(reterr, -EBADMSG, "Image %s is truncated.", name);
                memcpy(&size, data + off, 4);
                off += 4;
                if (size > n - off)
                        return message_set(reterr, -EBADMSG, "Image %s is truncated.", name);
                CoreEntry *e = core_entry__unpack(NULL, size, (const uint8_t *) data + off);
                if (!e)
                        return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU core image.", name);
                char what[128];
                bool ok = check_entry(e, id, bounding, what, sizeof(what));
                core_entry__free_unpacked(e, NULL);
                if (!ok)
                        return message_set(reterr, -EPERM, "thread %.*s with %s", (int) (strlen(name) - STRLEN("core-.img")),
                                           name + STRLEN("core-"), what);
                off += size;
        }
        return 0;
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
