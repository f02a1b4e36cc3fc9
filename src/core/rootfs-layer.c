/* SPDX-License-Identifier: Apache-2.0 */

#include <errno.h>
#include <libarchive.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "bus-error.h"
#include "message.h"
#include "path-util.h"
#include "rootfs-layer.h"

#define LAYER_BLOCK (1U << 20)

static int layer_failed(struct archive *a, int r, char **reterr, const char *what) {
        const char *why = a ? archive_error_string(a) : NULL;
        int e = a ? archive_errno(a) : 0;
        return message_set(reterr, e > 0 ? -e : r, "Cannot %s the container's writable layer: %s.", what,
                           why ?: strerror(e > 0 ? e : -r));
}

int rootfs_layer_write(const char *dir, int out_fd, char **reterr) {
        struct archive *disk = archive_read_disk_new(), *tar = archive_write_new();
        struct archive_entry *entry = archive_entry_new();
        _cleanup_free_ char *buf = malloc(LAYER_BLOCK);
        size_t prefix = strlen(dir);
        int r = 0;
        if (!disk || !tar || !entry || !buf) {
                r = -ENOMEM;
                goto finish;
        }
        /* Owners by number only: names are the host's, not the container's. Never into other
         * file systems mounted below (the upper directory has none of its own). */
        if (archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS) !=
                    ARCHIVE_OK ||
            archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
                r = layer_failed(disk, -EIO, reterr, "read");
                goto finish;
        }
        if (archive_write_set_format_pax_restricted(tar) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(tar, 1) != ARCHIVE_OK || archive_write_open_fd(tar, out_fd) != ARCHIVE_OK) {
                r = layer_failed(tar, -EIO, reterr, "write");
                goto finish;
        }
        for (;;) {
                int k = archive_read_next_header2(disk, entry);
                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN) {
                        r = layer_failed(disk, -EIO, reterr, "read");
                        goto finish;
                }
                (void) archive_read_disk_descend(disk);
                const char *path = archive_entry_pathname(entry);
                /* Names relative to the layer's top; the top itself is the new snapshot's. */
                if (!path || strncmp(path, dir, prefix) != 0 || (path[prefix] != '/' && path[prefix] != 0))
                        continue;
                if (path[prefix] == 0)
                        continue;
                _cleanup_free_ char *rel = strdup(path + prefix + 1);
                if (!rel) {
                        r = -ENOMEM;
                        goto finish;
                }
                archive_entry_set_pathname(entry, rel);
                archive_entry_set_uname(entry, NULL);
                archive_entry_set_gname(entry, NULL);
                if (archive_write_header(tar, entry) < ARCHIVE_WARN) {
                        r = layer_failed(tar, -EIO, reterr, "write");
                        goto finish;
                }
                if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0)
                        for (;;) {
                                la_ssize_t n = archive_read_data(disk, buf, LAYER_BLOCK);
                                if (n < 0) {
                                        r = layer_failed(disk, -EIO, reterr, "read");
                                        goto finish;
                                }
                                if (n == 0)
                                        break;
                                if (archive_write_data(tar, buf, (size_t) n) != n) {
                                        r = layer_failed(tar, -EIO, reterr, "write");
                                        goto finish;
                                }
                        }
        }
        if (archive_write_close(tar) != ARCHIVE_OK)
                r = layer_failed(tar, -EIO, reterr, "write");
finish:
        archive_entry_free(entry);
        if (disk)
                archive_read_free(disk);
        if (tar)
                archive_write_free(tar);
        return r;
}

/* A name the layer may hold: relative, normalized, inside (a directory's may end in '/'). */
static bool layer_name_ok(const char *name) {
        if (!name || !*name || name[0] == '/')
                return false;
        _cleanup_free_ char *abs = path_join("/", name);
        size_t n = abs ? strlen(abs) : 0;
        while (n > 1 && abs[n - 1] == '/')
                abs[--n] = 0;
        return abs && path_is_normalized(abs);
}

/* Extended attributes a container's files carry (user.*, security.* such as file capabilities),
 * and overlayfs's mark of a directory that replaced the image's. Others are dropped: overlayfs's
 * trusted.overlay.redirect and .metacopy would make the mount look elsewhere in the layers. */
static bool xattr_is_kept(const char *name) {
        return startswith(name, "user.") || startswith(name, "security.") || streq(name, "trusted.overlay.opaque");
}

static int keep_xattrs(struct archive_entry *entry) {
        struct kept {
                char *name;
                void *value;
                size_t size;
        } *kept = NULL;
        size_t n = 0;
        int r = 0;
        const char *name;
        const void *value;
        size_t size;
        archive_entry_xattr_reset(entry);
        while (r == 0 && archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
                if (!xattr_is_kept(name))
                        continue;
                struct kept *k = realloc(kept, (n + 1) * sizeof(*kept));
                if (!k) {
                        r = -ENOMEM;
                        break;
                }
                kept = k;
                kept[n] = (struct kept) { strdup(name), malloc(size ?: 1), size };
                if (!kept[n].name || !kept[n].value)
                        r = -ENOMEM;
                else
                        memcpy(kept[n].value, value, size);
                n++;
        }
        if (r == 0) {
                archive_entry_xattr_clear(entry);
                for (size_t i = 0; i < n; i++)
                        archive_entry_xattr_add_entry(entry, kept[i].name, kept[i].value, kept[i].size);
        }
        for (size_t i = 0; i < n; i++) {
                free(kept[i].name);
                free(kept[i].value);
        }
        free(kept);
        return r;
}

static int corrupt(char **reterr, const char *name, const char *why) {
        return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT,
                           "The checkpoint's writable layer holds %s%.128s%s, which %s; it cannot be restored.",
                           name ? "'" : "", name ?: "an entry without a name", name ? "'" : "", why);
}

int rootfs_layer_extract(int in_fd, const char *dir, char **reterr) {
        struct archive *tar = archive_read_new(), *disk = archive_write_disk_new();
        struct archive_entry *entry;
        int r = 0;
        if (!tar || !disk) {
                r = -ENOMEM;
                goto finish;
        }
        if (archive_read_support_format_tar(tar) != ARCHIVE_OK || archive_read_open_fd(tar, in_fd, LAYER_BLOCK) != ARCHIVE_OK) {
                r = layer_failed(tar, -EIO, reterr, "read");
                goto finish;
        }
        /* The layer as it was: owners, modes, times, extended attributes (overlayfs's opaque
         * marks among them). Never through a symbolic link the layer itself made. */
        if (archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                         ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                         ARCHIVE_EXTRACT_SECURE_NODOTDOT) != ARCHIVE_OK) {
                r = layer_failed(disk, -EIO, reterr, "write");
                goto finish;
        }
        for (;;) {
                int k = archive_read_next_header(tar, &entry);
                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN) {
                        r = message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint's writable layer is "
                                        "not a tar cedana can read: %s.", strna(archive_error_string(tar)));
                        goto finish;
                }
                const char *name = archive_entry_pathname(entry), *link = archive_entry_hardlink(entry);
                mode_t type = archive_entry_filetype(entry);
                if (!layer_name_ok(name) || (link && !layer_name_ok(link))) {
                        r = corrupt(reterr, name, "points outside the layer");
                        goto finish;
                }
                if ((type == AE_IFCHR && archive_entry_rdev(entry) != makedev(0, 0)) || type == AE_IFBLK) {
                        r = corrupt(reterr, name, "is a device node");
                        goto finish;
                }
                _cleanup_free_ char *full = path_join(dir, name), *full_link = link ? path_join(dir, link) : NULL;
                if (!full || (link && !full_link) || keep_xattrs(entry) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                archive_entry_set_pathname(entry, full);
                if (link)
                        archive_entry_set_hardlink(entry, full_link);
                if (archive_write_header(disk, entry) < ARCHIVE_WARN) {
                        r = layer_failed(disk, -EIO, reterr, "restore");
                        goto finish;
                }
                const void *block;
                size_t size;
                la_int64_t offset;
                while ((k = archive_read_data_block(tar, &block, &size, &offset)) == ARCHIVE_OK)
                        if (archive_write_data_block(disk, block, size, offset) < ARCHIVE_WARN) {
                                r = layer_failed(disk, -EIO, reterr, "restore");
                                goto finish;
                        }
                if (k != ARCHIVE_EOF) {
                        r = message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint's writable layer is "
                                        "truncated: %s.", strna(archive_error_string(tar)));
                        goto finish;
                }
                if (archive_write_finish_entry(disk) < ARCHIVE_WARN) {
                        r = layer_failed(disk, -EIO, reterr, "restore");
                        goto finish;
                }
        }
        /* Directories' modes and times are set at the end, once nothing more goes into them. */
        if (archive_write_close(disk) != ARCHIVE_OK)
                r = layer_failed(disk, -EIO, reterr, "restore");
finish:
        if (tar)
                archive_read_free(tar);
        if (disk)
                archive_write_free(disk);
        return r;
}
