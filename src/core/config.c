/* SPDX-License-Identifier: Apache-2.0 */
/* Reads /etc/cedana/cedana.conf and cedana.conf.d/ with systemd's INI dialect, so that an admin
 * who knows system.conf knows this file: every mistake is named with file, line and the fix. */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "archive.h"
#include "build-config.h"
#include "compression.h"
#include "config.h"
#include "containerd.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "path-util.h"
#include "strv.h"

/* Longer lines are refused rather than read: the longest legitimate value is a path. */
#define CONFIG_LINE_MAX 4096U
#define CRIU_LOG_LEVEL_DEFAULT 4
#define CRIU_LOG_LEVEL_MAX 4

typedef int (*ConfigParser)(const char *file, unsigned line, const char *key, const char *value,
                            Config *c);

typedef struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParser parse; /* called with "" to reset the key to its default */
} ConfigItem;

static void freestrp(char **p) {
        free(*p);
        *p = NULL;
}

int config_init(Config *c) {
        *c = (Config) {
                .compression = COMPRESSION_NONE,
                .criu_log_level = CRIU_LOG_LEVEL_DEFAULT,
                .idle_exit_usec = (uint64_t) DEFAULT_IDLE_EXIT_SEC * USEC_PER_SEC,
                .collect_after_usec = CONFIG_COLLECT_AFTER_DEFAULT_USEC,
                .restore_timeout_sec = CONFIG_RESTORE_TIMEOUT_DEFAULT_SEC,
                .max_restore_bytes = ARCHIVE_LIMITS_DEFAULT.max_bytes,
        };
        c->checkpoint_directory = strdup(DEFAULT_CHECKPOINT_DIR);
        c->criu_binary = strdup(CRIU_BINARY);
        c->runc_binary = strdup(RUNC_BINARY);
        c->containerd_address = strdup(CONTAINERD_DEFAULT_ADDRESS);
        c->s3_region = strdup(CONFIG_S3_REGION_DEFAULT);
        c->s3_credentials_file = strdup(CONFIG_S3_CREDENTIALS_DEFAULT);
        c->s3_user_prefix = strdup(CONFIG_S3_USER_PREFIX_DEFAULT);
        c->s3_path_style = true;
        if (!c->checkpoint_directory || !c->criu_binary || !c->runc_binary || !c->containerd_address || !c->s3_region || !c->s3_credentials_file ||
            !c->s3_user_prefix) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(Config *c) {
        if (!c)
                return;
        freestrp(&c->checkpoint_directory);
        freestrp(&c->criu_binary);
        freestrp(&c->runc_binary);
        freestrp(&c->containerd_address);
        freestrp(&c->s3_endpoint);
        freestrp(&c->s3_region);
        freestrp(&c->s3_credentials_file);
        freestrp(&c->s3_ca_file);
        freestrp(&c->s3_user_prefix);
}

/* Collapses "//" and "/./" and drops a trailing "/". ".." is refused rather than resolved:
 * resolving it lexically is wrong when a component is a symlink, and a configured path with
 * ".." in it is a mistake worth pointing out. */
static int config_parse_path(const char *file, unsigned line, const char *key, const char *value,
                             const char *default_value, char **target) {
        _cleanup_free_ char *n = NULL;
        size_t len = 0;

        if (isempty(value)) {
                n = strdup(default_value);
                if (!n)
                        return log_oom();
                goto done;
        }
        if (!path_is_absolute(value)) {
                log_error("%s:%u: %s=%s is not an absolute path; use a path starting with \"/\".",
                          file, line, key, value);
                return -EINVAL;
        }
        if (strlen(value) >= PATH_MAX) {
                log_error("%s:%u: %s= is longer than %u bytes; use a shorter path.", file, line, key,
                          (unsigned) PATH_MAX - 1);
                return -EINVAL;
        }

        n = malloc(strlen(value) + 1);
        if (!n)
                return log_oom();
        for (const char *p = value; *p;) {
                size_t l;

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if (l == 0 || (l == 1 && p[0] == '.')) {
                        p += l;
                        continue;
                }
                if (l == 2 && p[0] == '.' && p[1] == '.') {
                        log_error("%s:%u: %s=%s contains a \"..\" component; use a path without \"..\".",
                                  file, line, key, value);
                        return -EINVAL;
                }
                n[len++] = '/';
                memcpy(n + len, p, l);
                len += l;
                p += l;
        }
        if (len == 0)
                n[len++] = '/';
        n[len] = 0;

done:
        free(*target);
        *target = TAKE_PTR(n);
        return 0;
}

static int config_parse_directory(const char *file, unsigned line, const char *key, const char *value,
                                  Config *c) {
        for (const char *p = strchr(value, '%'); p; p = strchr(p + 2, '%'))
                if (!strchr("uU%", p[1]) || p[1] == 0) {
                        log_error("%s:%u: %s=%s has an unknown specifier; use %%u (user name), %%U (uid) or %%%%.",
                                  file, line, key, value);
                        return -EINVAL;
                }
        return config_parse_path(file, line, key, value, DEFAULT_CHECKPOINT_DIR, &c->checkpoint_directory);
}

int checkpoint_directory_expand(const char *pattern, uid_t uid, char **ret, bool *ret_per_user) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        if (!f)
                return -ENOMEM;
        bool per_user = false;
        for (const char *p = pattern; *p; p++) {
                if (p[0] != '%' || !p[1]) {
                        fputc(*p, f);
                        continue;
                }
                p++;
                if (*p == 'U' || *p == 'u') {
                        struct passwd pw, *found = NULL;
                        char buf[4096];
                        /* A user without a name (or whose name could not make a path) by number. */
                        if (*p == 'u' && getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found &&
                            !strchr(pw.pw_name, '/') && !streq(pw.pw_name, ".") && !streq(pw.pw_name, "..") &&
                            !isempty(pw.pw_name))
                                fputs(pw.pw_name, f);
                        else
                                fprintf(f, "%u", (unsigned) uid);
                        per_user = true;
                } else
                        fputc(*p, f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        if (ret_per_user)
                *ret_per_user = per_user;
        return 0;
}

static int config_parse_criu_binary(const char *file, unsigned line, const char *key, const char *value,
                                    Config *c) {
        return config_parse_path(file, line, key, value, CRIU_BINARY, &c->criu_binary);
}

static int config_parse_runc_binary(const char *file, unsigned line, const char *key, const char *value,
                                    Config *c) {
        return config_parse_path(file, line, key, value, RUNC_BINARY, &c->runc_binary);
}

static int config_parse_containerd_address(const char *file, unsigned line, const char *key, const char *value,
                                           Config *c) {
        return config_parse_path(file, line, key, value, CONTAINERD_DEFAULT_ADDRESS, &c->containerd_address);
}

static int set_string(char **target, const char *value) {
        char *n = value ? strdup(value) : NULL;
        if (value && !n)
                return log_oom();
        free(*target);
        *target = n;
        return 0;
}

static int config_parse_s3_endpoint(const char *file, unsigned line, const char *key, const char *value, Config *c) {
        if (isempty(value))
                return set_string(&c->s3_endpoint, NULL);
        const char *host = startswith(value, "https://") ?: startswith(value, "http://");
        if (!host || isempty(host) || strpbrk(value, " \t\"'\\?#@") || strlen(value) > 1024) {
                /* Not echoed: a URL with credentials in it would put them into the journal. */
                log_error("%s:%u: %s= is not an endpoint; use a URL such as https://s3.example.com or "
                          "http://127.0.0.1:7480, without credentials, query or fragment.", file, line, key);
                return -EINVAL;
        }
        _cleanup_free_ char *n = strdup(value);
        if (!n)
                return log_oom();
        for (size_t l = strlen(n); l > 0 && n[l - 1] == '/'; l--)
                n[l - 1] = 0;
        return set_string(&c->s3_endpoint, n);
}

static int config_parse_s3_region(const char *file, unsigned line, const char *key, const char *value, Config *c) {
        if (isempty(value))
                return set_string(&c->s3_region, CONFIG_S3_REGION_DEFAULT);
        if (strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(value) || strlen(value) > 64) {
                log_error("%s:%u: %s=%s is not a region name; use lower-case letters, digits and '-', e.g. us-east-1.",
                          file, line, key, value);
                return -EINVAL;
        }
        return set_string(&c->s3_region, value);
}

static int config_parse_s3_credentials(const char *file, unsigned line, const char *key, const char *value,
                                       Config *c) {
        return config_parse_path(file, line, key, value, CONFIG_S3_CREDENTIALS_DEFAULT, &c->s3_credentials_file);
}

static int config_parse_s3_ca_file(const char *file, unsigned line, const char *key, const char *value, Config *c) {
        if (isempty(value))
                return set_string(&c->s3_ca_file, NULL);
        return config_parse_path(file, line, key, value, value, &c->s3_ca_file);
}

static int parse_bool_value(const char *file, unsigned line, const char *key, const char *value, bool dflt,
                            bool *ret) {
        int b = isempty(value) ? dflt : parse_boolean(value);
        if (b < 0) {
                log_error("%s:%u: %s=%s is not a boolean; use yes or no.", file, line, key, value);
                return -EINVAL;
        }
        *ret = b;
        return 0;
}

static int config_parse_s3_path_style(const char *file, unsigned line, const char *key, const char *value,
                                      Config *c) {
        return parse_bool_value(file, line, key, value, true, &c->s3_path_style);
}

static int config_parse_persist_all(const char *file, unsigned line, const char *key, const char *value, Config *c) {
        return parse_bool_value(file, line, key, value, false, &c->persist_all);
}

static int config_parse_s3_user_prefix(const char *file, unsigned line, const char *key, const char *value,
                                       Config *c) {
        if (isempty(value))
                return set_string(&c->s3_user_prefix, CONFIG_S3_USER_PREFIX_DEFAULT);
        /* Each user's own: without the user in it, one user's keys would be another's. */
        if ((!strstr(value, "%U") && !strstr(value, "%u")) || value[0] == '/' || value[strlen(value) - 1] != '/' ||
            strstr(value, "//") || strstr(value, "..")) {
                log_error("%s:%u: %s=%s is not a prefix of each user's own; use one with %%U (uid) or %%u (user name) "
                          "that ends in '/', e.g. users/%%U/.", file, line, key, value);
                return -EINVAL;
        }
        return set_string(&c->s3_user_prefix, value);
}

static int config_parse_compression(const char *file, unsigned line, const char *key, const char *value,
                                    Config *c) {
        char choices[128] = "";
        Compression x;

        if (isempty(value)) {
                c->compression = COMPRESSION_NONE;
                return 0;
        }
        x = compression_from_string(value);
        if (x >= 0) {
                c->compression = x;
                return 0;
        }

        /* "none, tar, gzip, lz4, zlib or zstd", from the table, so a new format shows up here. */
        for (Compression i = 0; i < _COMPRESSION_MAX; i++) {
                size_t l = strlen(choices);
                (void) snprintf(choices + l, sizeof(choices) - l, "%s%s",
                                i == 0 ? "" : i + 1 == _COMPRESSION_MAX ? " or " : ", ",
                                compression_to_string(i));
        }
        log_error("%s:%u: %s=%s is not a supported format; use %s.", file, line, key, value, choices);
        return -EINVAL;
}

static int config_parse_criu_log_level(const char *file, unsigned line, const char *key, const char *value,
                                       Config *c) {
        unsigned level;

        if (isempty(value)) {
                c->criu_log_level = CRIU_LOG_LEVEL_DEFAULT;
                return 0;
        }
        if (safe_atou(value, &level) < 0 || level > CRIU_LOG_LEVEL_MAX) {
                log_error("%s:%u: %s=%s is not a CRIU log level; use a number from 0 (no messages) "
                          "to %u (debug).", file, line, key, value, CRIU_LOG_LEVEL_MAX);
                return -EINVAL;
        }
        c->criu_log_level = (int) level;
        return 0;
}

static int config_parse_idle_exit(const char *file, unsigned line, const char *key, const char *value,
                                  Config *c) {
        uint64_t usec;
        int r;

        if (isempty(value)) {
                c->idle_exit_usec = (uint64_t) DEFAULT_IDLE_EXIT_SEC * USEC_PER_SEC;
                return 0;
        }
        r = parse_sec(value, &usec);
        if (r == -ERANGE) {
                log_error("%s:%u: %s=%s is too large; use \"infinity\" to never exit when idle.",
                          file, line, key, value);
                return -EINVAL;
        }
        if (r < 0) {
                log_error("%s:%u: %s=%s is not a time span; use a number of seconds such as 60 or 2.5, "
                          "or \"infinity\".", file, line, key, value);
                return -EINVAL;
        }
        c->idle_exit_usec = usec;
        return 0;
}

static int config_parse_max_archive_size(const char *file, unsigned line, const char *key,
                                         const char *value, Config *c) {
        uint64_t bytes;
        int r;

        if (isempty(value)) {
                c->max_restore_bytes = ARCHIVE_LIMITS_DEFAULT.max_bytes;
                return 0;
        }
        r = parse_size(value, &bytes);
        if (r == -ERANGE) {
                log_error("%s:%u: %s=%s is too large; use at most 16777215T.", file, line, key, value);
                return -EINVAL;
        }
        if (r < 0) {
                log_error("%s:%u: %s=%s is not a size; use a number of bytes, optionally with a K, M, G "
                          "or T suffix, such as 64G.", file, line, key, value);
                return -EINVAL;
        }
        if (bytes == 0) {
                log_error("%s:%u: %s=%s would refuse every archive; use a size greater than 0.",
                          file, line, key, value);
                return -EINVAL;
        }
        c->max_restore_bytes = bytes;
        return 0;
}

static int config_parse_collect_after(const char *file, unsigned line, const char *key, const char *value,
                                      Config *c) {
        uint64_t usec;
        if (isempty(value)) {
                c->collect_after_usec = CONFIG_COLLECT_AFTER_DEFAULT_USEC;
                return 0;
        }
        int r = parse_sec(value, &usec);
        if (r < 0) {
                log_error("%s:%u: %s=%s is not a time span; use a number of seconds such as 86400, or \"infinity\" "
                          "to keep ended jobs until they are deleted.", file, line, key, value);
                return -EINVAL;
        }
        c->collect_after_usec = usec;
        return 0;
}

static int config_parse_restore_timeout(const char *file, unsigned line, const char *key, const char *value,
                                        Config *c) {
        uint64_t usec;
        if (isempty(value)) {
                c->restore_timeout_sec = CONFIG_RESTORE_TIMEOUT_DEFAULT_SEC;
                return 0;
        }
        int r = parse_sec(value, &usec);
        if (r < 0 || (usec != UINT64_MAX && usec / USEC_PER_SEC > UINT32_MAX) || (usec != UINT64_MAX && usec < USEC_PER_SEC)) {
                log_error("%s:%u: %s=%s is not a time span of at least a second; use a number of seconds such as 3600, "
                          "or \"infinity\".", file, line, key, value);
                return -EINVAL;
        }
        c->restore_timeout_sec = usec == UINT64_MAX ? 0 : (unsigned) (usec / USEC_PER_SEC);
        return 0;
}

static const ConfigItem config_items[] = {
        { "Checkpoint", "Directory",      config_parse_directory },
        { "Checkpoint", "Compression",    config_parse_compression },
        { "CRIU",       "Binary",         config_parse_criu_binary },
        { "CRIU",       "LogLevel",       config_parse_criu_log_level },
        { "Containers", "Runc",           config_parse_runc_binary },
        { "Containers", "Containerd",     config_parse_containerd_address },
        { "Daemon",     "IdleExitSec",    config_parse_idle_exit },
        { "Jobs",       "CollectAfterSec", config_parse_collect_after },
        { "Jobs",       "PersistAll",     config_parse_persist_all },
        { "Restore",    "MaxArchiveSize", config_parse_max_archive_size },
        { "Restore",    "TimeoutSec",     config_parse_restore_timeout },
        { "S3",         "Endpoint",       config_parse_s3_endpoint },
        { "S3",         "Region",         config_parse_s3_region },
        { "S3",         "CredentialsFile", config_parse_s3_credentials },
        { "S3",         "CAFile",         config_parse_s3_ca_file },
        { "S3",         "PathStyle",      config_parse_s3_path_style },
        { "S3",         "UserPrefix",     config_parse_s3_user_prefix },
};

static bool config_section_is_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, section))
                        return true;
        return false;
}

static int config_assign(Config *c, const char *file, unsigned line, const char *section, const char *key,
                         const char *value) {
        const char *hint = NULL;

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                if (!streq(config_items[i].section, section))
                        continue;
                if (streq(config_items[i].key, key))
                        return config_items[i].parse(file, line, key, value, c);
                /* Keys are case-sensitive, as in systemd; a near miss gets a hint. */
                if (strcasecmp(config_items[i].key, key) == 0)
                        hint = config_items[i].key;
        }
        if (hint)
                log_warning("%s:%u: Unknown key %s= in section [%s], ignoring. Did you mean %s=?",
                            file, line, key, section, hint);
        else
                log_warning("%s:%u: Unknown key %s= in section [%s], ignoring.", file, line, key, section);
        return 0;
}

static char *strstrip(char *s) {
        char *e;

        s += strspn(s, " \t\r");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r", e[-1]))
                e--;
        *e = 0;
        return s;
}

/* Reads one line without its newline into buf (CONFIG_LINE_MAX + 1 bytes). Returns 1 for a
 * line, 0 at the end of the file, -E2BIG for a line that is too long (the rest of it is
 * skipped), -EBADMSG for a line with a NUL byte, or the read error. */
static int read_line(FILE *f, char *buf) {
        bool too_long = false, nul = false;
        size_t n = 0;

        for (;;) {
                int ch = getc_unlocked(f);

                if (ch == EOF) {
                        if (ferror(f))
                                return negative_errno();
                        if (n == 0 && !too_long && !nul)
                                return 0;
                        break;
                }
                if (ch == '\n')
                        break;
                if (ch == 0)
                        nul = true;
                if (n >= CONFIG_LINE_MAX) {
                        too_long = true;
                        continue;
                }
                buf[n++] = (char) ch;
        }
        buf[n] = 0;
        if (too_long)
                return -E2BIG;
        if (nul)
                return -EBADMSG;
        return 1;
}

typedef enum SectionState {
        SECTION_NONE,    /* before the first header: assignments are errors */
        SECTION_KNOWN,
        SECTION_IGNORED, /* unknown or invalid header, already reported: skip its assignments */
} SectionState;

static int config_parse_stream(Config *c, const char *path, FILE *f) {
        _cleanup_free_ char *buf = NULL, *section = NULL;
        SectionState state = SECTION_NONE;
        unsigned line = 0;
        int ret = 0;

        buf = malloc(CONFIG_LINE_MAX + 1);
        if (!buf)
                return log_oom();

        for (;;) {
                char *l, *eq, *key, *value;
                int r;

                r = read_line(f, buf);
                if (r == 0)
                        break;
                line++;
                if (r == -E2BIG) {
                        log_error("%s:%u: Line is longer than %u bytes; shorten it.", path, line,
                                  CONFIG_LINE_MAX);
                        ret = ret ?: -EINVAL;
                        continue;
                }
                if (r == -EBADMSG) {
                        log_error("%s:%u: Line contains a NUL byte; is this a text file?", path, line);
                        ret = ret ?: -EINVAL;
                        continue;
                }
                if (r < 0)
                        return log_error_errno(r, "Failed to read %s: %m", path);

                l = strstrip(buf);
                if (*l == 0 || *l == '#' || *l == ';')
                        continue;

                if (*l == '[') {
                        size_t n = strlen(l);
                        if (n < 3 || l[n - 1] != ']') {
                                log_error("%s:%u: Invalid section header %s; use [Name], such as [Checkpoint].",
                                          path, line, l);
                                ret = ret ?: -EINVAL;
                                state = SECTION_IGNORED;
                                continue;
                        }
                        l[n - 1] = 0;
                        free(section);
                        section = strdup(l + 1);
                        if (!section)
                                return log_oom();
                        if (config_section_is_known(section))
                                state = SECTION_KNOWN;
                        else {
                                log_warning("%s:%u: Unknown section [%s], ignoring its keys.", path, line,
                                            section);
                                state = SECTION_IGNORED;
                        }
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq) {
                        log_error("%s:%u: \"%s\" is not a Key=Value assignment, [Section] header or "
                                  "comment; add \"=\" or start the line with \"#\".", path, line, l);
                        ret = ret ?: -EINVAL;
                        continue;
                }
                *eq = 0;
                key = strstrip(l);
                value = strstrip(eq + 1);
                if (*key == 0) {
                        log_error("%s:%u: Assignment without a key name before \"=\"; use Key=Value.",
                                  path, line);
                        ret = ret ?: -EINVAL;
                        continue;
                }
                if (state == SECTION_NONE) {
                        log_error("%s:%u: %s= is outside of any section; put it below a [Section] header, "
                                  "such as [Checkpoint].", path, line, key);
                        ret = ret ?: -EINVAL;
                        continue;
                }
                if (state == SECTION_IGNORED)
                        continue;

                r = config_assign(c, path, line, section, key, value);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = ret ?: r;
        }
        return ret;
}

/* Opens name below dir_fd (or the path itself for AT_FDCWD) and applies it. path is what
 * messages call it. A missing file is not an error. */
static int config_load_file(Config *c, int dir_fd, const char *name, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_fclose_ FILE *f = NULL;
        struct stat st;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(negative_errno(), "Failed to open %s: %m", path);
        }
        if (fstat(fd, &st) < 0)
                return log_error_errno(negative_errno(), "Failed to stat %s: %m", path);
        if (S_ISDIR(st.st_mode))
                return log_error_errno(-EISDIR, "Failed to read %s: %m", path);

        f = fdopen(fd, "r");
        if (!f)
                return log_error_errno(negative_errno(), "Failed to open %s: %m", path);
        TAKE_FD(fd);

        return config_parse_stream(c, path, f);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static int config_load_dropins(Config *c, const char *dir) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_close_ int fd = -EBADF;
        int ret = 0, r;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(negative_errno(), "Failed to open %s: %m", dir);
        }
        d = fdopendir(fd);
        if (!d)
                return log_error_errno(negative_errno(), "Failed to open %s: %m", dir);
        TAKE_FD(fd);

        for (;;) {
                struct dirent *de;
                const char *suffix;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return log_error_errno(negative_errno(), "Failed to read %s: %m", dir);
                        break;
                }
                /* Hidden files are editor and package manager leftovers. */
                if (de->d_name[0] == '.')
                        continue;
                suffix = strrchr(de->d_name, '.');
                if (!suffix || !streq(suffix, ".conf"))
                        continue;
                if (strv_extend(&names, de->d_name) < 0)
                        return log_oom();
        }

        if (names)
                qsort(names, strv_length(names), sizeof(char *), strcmp_ptr);

        STRV_FOREACH(name, names) {
                _cleanup_free_ char *path = path_join(dir, *name);
                if (!path)
                        return log_oom();
                r = config_load_file(c, dirfd(d), *name, path);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = ret ?: r;
        }
        return ret;
}

int config_load(Config *c, const char *main_path, const char *dropin_dir) {
        int ret = 0, r;

        if (main_path) {
                r = config_load_file(c, AT_FDCWD, main_path, main_path);
                if (r == -ENOMEM)
                        return r;
                ret = r;
        }
        if (dropin_dir) {
                r = config_load_dropins(c, dropin_dir);
                if (r < 0)
                        ret = ret ?: r;
        }
        return ret;
}
