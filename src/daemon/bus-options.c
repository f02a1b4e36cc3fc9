/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven reading of option dictionaries, so every method refuses bad input the same way
 * and no handler parses a{sv} by hand. */

#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "bus-options.h"
#include "fd-util.h"
#include "macro.h"
#include "strv.h"

bool bus_string_is_sane(const char *s) {
        if (isempty(s) || strlen(s) > BUS_STRING_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < ' ' || *p == 0x7f)
                        return false;
        return true;
}

int bus_read_strv(sd_bus_message *m, size_t max, char ***ret, sd_bus_error *error) {
        int r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, allocated = 0;
        const char *s;
        /* Counted while read: a huge array is refused at its limit, not after reading all of it. */
        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                if (n >= max)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Too many entries (at most %zu).", max);
                if (strlen(s) > BUS_STRING_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "An entry is longer than %u characters.", BUS_STRING_MAX);
                if (!GREEDY_REALLOC(l, allocated, n + 2))
                        return -ENOMEM;
                if (!(l[n] = strdup(s)))
                        return -ENOMEM;
                l[++n] = NULL;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

static const char *type_signature(BusOptionType t) {
        switch (t) {
        case BUS_OPTION_STRING:
                return "s";
        case BUS_OPTION_BOOL:
                return "b";
        case BUS_OPTION_FD:
                return "h";
        case BUS_OPTION_STRV:
                return "as";
        case BUS_OPTION_UINT32:
                return "u";
        }
        return "?";
}

static int read_one(sd_bus_message *m, const BusOption *o, void *base, sd_bus_error *error) {
        void *field = (uint8_t *) base + o->offset;
        int r;
        switch (o->type) {
        case BUS_OPTION_STRING: {
                const char *s;
                r = sd_bus_message_read(m, "s", &s);
                if (r < 0)
                        return r;
                if (!bus_string_is_sane(s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must be a non-empty string of at most %u printable characters.",
                                                 o->key, BUS_STRING_MAX);
                char *c = strdup(s);
                if (!c)
                        return -ENOMEM;
                *(char **) field = c;
                return 0;
        }
        case BUS_OPTION_BOOL: {
                int b;
                r = sd_bus_message_read(m, "b", &b);
                if (r < 0)
                        return r;
                *(bool *) field = b;
                return 0;
        }
        case BUS_OPTION_UINT32:
                return sd_bus_message_read(m, "u", (uint32_t *) field);
        case BUS_OPTION_FD: {
                int fd;
                r = sd_bus_message_read(m, "h", &fd);
                if (r < 0)
                        return r;
                /* The message owns fd; the operation outlives the message handler. */
                int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (copy < 0)
                        return negative_errno();
                *(int *) field = copy;
                return 0;
        }
        case BUS_OPTION_STRV: {
                _cleanup_strv_free_ char **l = NULL;
                r = bus_read_strv(m, BUS_STRV_MAX, &l, error);
                if (r < 0)
                        return r;
                STRV_FOREACH(s, l)
                        if (!bus_string_is_sane(*s))
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option '%s' has an empty, oversized or unprintable entry.",
                                                         o->key);
                *(char ***) field = TAKE_PTR(l);
                return 0;
        }
        }
        return -EINVAL;
}

int bus_read_options(sd_bus_message *m, const BusOption *table, size_t n_table, void *base, sd_bus_error *error) {
        uint64_t seen = 0;
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                size_t i;
                for (i = 0; i < n_table; i++)
                        if (streq(table[i].key, key))
                                break;
                if (i == n_table)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%.64s'.", key);
                if (seen & (UINT64_C(1) << i))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' is given twice.", key);
                seen |= UINT64_C(1) << i;

                const char *sig = type_signature(table[i].type);
                const char *contents;
                char type;
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (!streq(contents, sig))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' must be of type '%s'.",
                                                 key, sig);
                r = sd_bus_message_enter_container(m, 'v', sig);
                if (r < 0)
                        return r;
                r = read_one(m, &table[i], base, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

void bus_options_done(const BusOption *table, size_t n_table, void *base) {
        for (size_t i = 0; i < n_table; i++) {
                void *field = (uint8_t *) base + table[i].offset;
                switch (table[i].type) {
                case BUS_OPTION_STRING:
                        free(*(char **) field);
                        *(char **) field = NULL;
                        break;
                case BUS_OPTION_FD:
                        *(int *) field = safe_close(*(int *) field);
                        break;
                case BUS_OPTION_STRV:
                        *(char ***) field = strv_free(*(char ***) field);
                        break;
                case BUS_OPTION_BOOL:
                case BUS_OPTION_UINT32:
                        break;
                }
        }
}

int bus_check_output_fd(int fd, const char *option, bool daemon_writes, sd_bus_error *error) {
        static const unsigned long slow[] = { NFS_SUPER_MAGIC, SMB_SUPER_MAGIC, 0x65735546 /* FUSE */,
                                              0xFF534D42 /* CIFS */, 0xFE534D42 /* SMB2 */, 0x01021997 /* 9P */,
                                              0x00C36400 /* CEPH */ };
        struct stat st;
        struct statfs sfs;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fstatfs(fd, &sfs) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option '%s' must be a regular file open for writing.", option);
        for (size_t i = 0; daemon_writes && i < ELEMENTSOF(slow); i++)
                if ((unsigned long) sfs.f_type == slow[i])
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option '%s' must be a file on a local file system.", option);
        return 0;
}
