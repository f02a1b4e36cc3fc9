/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for cedana.conf parsing: defaults, overrides, drop-in order, resets, and the exact
 * "FILE:LINE: ..." message and result of every error and warning. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "archive.h"
#include "build-config.h"
#include "config.h"
#include "log.h"
#include "macro.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

#define DEFAULT_IDLE_EXIT_USEC ((uint64_t) DEFAULT_IDLE_EXIT_SEC * USEC_PER_SEC)

typedef struct Fixture {
        char *dir;
        char *main_path;
        char *dropin_dir;
        Config config;
        char *log; /* what the last load() logged */
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;

        f->dir = g_dir_make_tmp("test-config-XXXXXX", &error);
        g_assert_no_error(error);
        f->main_path = g_build_filename(f->dir, "cedana.conf", NULL);
        f->dropin_dir = g_build_filename(f->dir, "cedana.conf.d", NULL);
        g_assert_cmpint(mkdir(f->dropin_dir, 0755), ==, 0);
        g_assert_cmpint(config_init(&f->config), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        config_done(&f->config);
        g_assert_null(f->config.checkpoint_directory);
        g_assert_null(f->config.criu_binary);
        rm_rf(f->dir);
        g_assert_false(g_file_test(f->dir, G_FILE_TEST_EXISTS));
        g_free(f->dir);
        g_free(f->main_path);
        g_free(f->dropin_dir);
        g_free(f->log);
}

static void write_file(const char *path, const char *contents) {
        GError *error = NULL;

        g_file_set_contents(path, contents, -1, &error);
        g_assert_no_error(error);
}

static void write_main(Fixture *f, const char *contents) {
        write_file(f->main_path, contents);
}

static char *write_dropin(Fixture *f, const char *name, const char *contents) {
        char *p = g_build_filename(f->dropin_dir, name, NULL);

        write_file(p, contents);
        return p;
}

/* config_load() with stderr (the log, in console mode) redirected into f->log. */
static int load_paths(Fixture *f, const char *main_path, const char *dropin_dir) {
        _cleanup_close_ int saved = -EBADF, fd = -EBADF;
        struct stat st;
        ssize_t n;
        int r;

        fd = memfd_create("log", MFD_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        g_assert_cmpint(saved, >=, 0);
        fflush(stderr);
        g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);

        r = config_load(&f->config, main_path, dropin_dir);

        fflush(stderr);
        g_assert_cmpint(dup2(saved, STDERR_FILENO), ==, STDERR_FILENO);

        g_assert_cmpint(fstat(fd, &st), ==, 0);
        g_free(f->log);
        f->log = g_malloc0((size_t) st.st_size + 1);
        n = pread(fd, f->log, (size_t) st.st_size, 0);
        g_assert_cmpint(n, ==, st.st_size);
        if (*f->log)
                g_test_message("config_load() = %d, logged:\n%s", r, f->log);
        return r;
}

static int load(Fixture *f) {
        return load_paths(f, f->main_path, f->dropin_dir);
}

static void assert_defaults(const Config *c) {
        g_assert_cmpstr(c->checkpoint_directory, ==, DEFAULT_CHECKPOINT_DIR);
        g_assert_cmpint(c->compression, ==, COMPRESSION_NONE);
        g_assert_cmpstr(c->criu_binary, ==, CRIU_BINARY);
        g_assert_cmpint(c->criu_log_level, ==, 4);
        g_assert_cmpstr(c->runc_binary, ==, RUNC_BINARY);
        g_assert_cmpstr(c->containerd_address, ==, "/run/containerd/containerd.sock");
        g_assert_null(c->s3_endpoint);
        g_assert_cmpstr(c->s3_region, ==, "us-east-1");
        g_assert_cmpstr(c->s3_credentials_file, ==, "/etc/cedana/s3-credentials");
        g_assert_null(c->s3_ca_file);
        g_assert_true(c->s3_path_style);
        g_assert_cmpstr(c->s3_user_prefix, ==, "users/%U/");
        g_assert_cmpuint(c->idle_exit_usec, ==, DEFAULT_IDLE_EXIT_USEC);
        g_assert_cmpuint(c->collect_after_usec, ==, CONFIG_COLLECT_AFTER_DEFAULT_USEC);
        g_assert_false(c->persist_all);
        g_assert_cmpuint(c->max_restore_bytes, ==, ARCHIVE_LIMITS_DEFAULT.max_bytes);
        g_assert_cmpuint(c->restore_timeout_sec, ==, CONFIG_RESTORE_TIMEOUT_DEFAULT_SEC);
}

/* A configuration that differs from the defaults in every key. */
static const char all_keys[] =
        "[Checkpoint]\n"
        "Directory=/srv/checkpoints\n"
        "Compression=zstd\n"
        "[CRIU]\n"
        "Binary=/opt/criu/sbin/criu\n"
        "LogLevel=1\n"
        "[Containers]\n"
        "Runc=/opt/runc/runc\n"
        "Containerd=/srv/containerd.sock\n"
        "[Daemon]\n"
        "IdleExitSec=infinity\n"
        "[Jobs]\n"
        "CollectAfterSec=3600\n"
        "PersistAll=yes\n"
        "[Restore]\n"
        "MaxArchiveSize=1T\n"
        "TimeoutSec=60\n"
        "[S3]\n"
        "Endpoint=https://s3.example.com/\n"
        "Region=eu-west-3\n"
        "CredentialsFile=/srv/s3.keys\n"
        "CAFile=/srv/ca.pem\n"
        "PathStyle=no\n"
        "UserPrefix=cedana/%u/\n";

static void assert_all_keys(const Config *c) {
        g_assert_cmpstr(c->checkpoint_directory, ==, "/srv/checkpoints");
        g_assert_cmpint(c->compression, ==, COMPRESSION_ZSTD);
        g_assert_cmpstr(c->criu_binary, ==, "/opt/criu/sbin/criu");
        g_assert_cmpint(c->criu_log_level, ==, 1);
        g_assert_cmpstr(c->runc_binary, ==, "/opt/runc/runc");
        g_assert_cmpstr(c->containerd_address, ==, "/srv/containerd.sock");
        g_assert_cmpuint(c->idle_exit_usec, ==, UINT64_MAX);
        g_assert_cmpuint(c->collect_after_usec, ==, 3600 * USEC_PER_SEC);
        g_assert_true(c->persist_all);
        g_assert_cmpuint(c->max_restore_bytes, ==, UINT64_C(1) << 40);
        g_assert_cmpuint(c->restore_timeout_sec, ==, 60);
        g_assert_cmpstr(c->s3_endpoint, ==, "https://s3.example.com");
        g_assert_cmpstr(c->s3_region, ==, "eu-west-3");
        g_assert_cmpstr(c->s3_credentials_file, ==, "/srv/s3.keys");
        g_assert_cmpstr(c->s3_ca_file, ==, "/srv/ca.pem");
        g_assert_false(c->s3_path_style);
        g_assert_cmpstr(c->s3_user_prefix, ==, "cedana/%u/");
}

static void test_defaults(Fixture *f, gconstpointer data) {
        assert_defaults(&f->config);
        g_assert_cmpuint(f->config.max_restore_bytes, ==, UINT64_C(256) << 30);

        /* Nothing there at all, or nothing asked for: defaults, silently. */
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_autofree char *nope = g_build_filename(f->dir, "nope", NULL);
        g_autofree char *nope_d = g_build_filename(f->dir, "nope.d", NULL);
        g_assert_cmpint(load_paths(f, nope, nope_d), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_assert_cmpint(load_paths(f, NULL, NULL), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        assert_defaults(&f->config);

        /* Only comments and blank lines. */
        write_main(f, "# comment\n; also a comment\n\n   \n\t# indented comment\n[Checkpoint]\n# Directory=/x\n");
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        assert_defaults(&f->config);
}

static void test_overrides(Fixture *f, gconstpointer data) {
        write_main(f, all_keys);
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        assert_all_keys(&f->config);
}

static void test_syntax(Fixture *f, gconstpointer data) {
        /* Whitespace around keys, values and headers, CRLF line ends, a last line without a
         * newline, "=" inside the value's neighbourhood, repeated keys (the last one wins). */
        write_main(f,
                   "  [Checkpoint]  \r\n"
                   "\tDirectory =  //srv//ckpt/./a/  \r\n"
                   "Compression\t=\tgzip\n"
                   "Compression=lz4\n"
                   "[CRIU]\n"
                   "   LogLevel   =   0\n"
                   "Binary=/\n"
                   "[Daemon]\n"
                   "IdleExitSec=2.5\n"
                   "[Restore]\n"
                   "MaxArchiveSize=1.5G");
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_assert_cmpstr(f->config.checkpoint_directory, ==, "/srv/ckpt/a");
        g_assert_cmpint(f->config.compression, ==, COMPRESSION_LZ4);
        g_assert_cmpint(f->config.criu_log_level, ==, 0);
        g_assert_cmpstr(f->config.criu_binary, ==, "/");
        g_assert_cmpuint(f->config.idle_exit_usec, ==, 2500000);
        g_assert_cmpuint(f->config.max_restore_bytes, ==, UINT64_C(1536) << 20);
}

static void test_dropin_order(Fixture *f, gconstpointer data) {
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *g = NULL, *h = NULL;

        write_main(f, "[Checkpoint]\nCompression=gzip\nDirectory=/main\n[CRIU]\nLogLevel=1\n");
        /* Lexical order, not numeric: "10-..." comes before "9-...". */
        a = write_dropin(f, "9-late.conf", "[Checkpoint]\nDirectory=/nine\n");
        b = write_dropin(f, "10-early.conf", "[Checkpoint]\nDirectory=/ten\nCompression=lz4\n");
        c = write_dropin(f, "20-b.conf", "[Checkpoint]\nCompression=zstd\n");
        d = write_dropin(f, "05-first.conf", "[CRIU]\nLogLevel=3\n[Checkpoint]\nCompression=tar\n");
        /* Not drop-ins: another suffix, hidden, a backup. Each sets a key nothing else does. */
        e = write_dropin(f, "99-z.conf.disabled", "[Restore]\nMaxArchiveSize=1K\n");
        g = write_dropin(f, ".99-hidden.conf", "[Daemon]\nIdleExitSec=1\n");
        h = write_dropin(f, "99-z.conf~", "[CRIU]\nBinary=/backup\n");

        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_assert_cmpstr(f->config.checkpoint_directory, ==, "/nine");
        g_assert_cmpint(f->config.compression, ==, COMPRESSION_ZSTD);
        g_assert_cmpint(f->config.criu_log_level, ==, 3);
        g_assert_cmpuint(f->config.max_restore_bytes, ==, ARCHIVE_LIMITS_DEFAULT.max_bytes);
        g_assert_cmpuint(f->config.idle_exit_usec, ==, DEFAULT_IDLE_EXIT_USEC);
        g_assert_cmpstr(f->config.criu_binary, ==, CRIU_BINARY);

        /* Drop-ins apply without a main file too. */
        g_assert_cmpint(g_unlink(f->main_path), ==, 0);
        config_done(&f->config);
        g_assert_cmpint(config_init(&f->config), ==, 0);
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_assert_cmpstr(f->config.checkpoint_directory, ==, "/nine");
        g_assert_cmpint(f->config.compression, ==, COMPRESSION_ZSTD);
        g_assert_cmpint(f->config.criu_log_level, ==, 3);
}

static void test_empty_value_resets(Fixture *f, gconstpointer data) {
        g_autofree char *p = NULL;

        write_main(f, all_keys);
        p = write_dropin(f, "50-reset.conf",
                         "[Checkpoint]\nDirectory=\nCompression=   \n"
                         "[CRIU]\nBinary=\nLogLevel=\n[Containers]\nRunc=\nContainerd=\n"
                         "[Daemon]\nIdleExitSec=\t\n"
                         "[Jobs]\nCollectAfterSec=\nPersistAll=\n"
                         "[Restore]\nMaxArchiveSize=\nTimeoutSec=\n"
                         "[S3]\nEndpoint=\nRegion=\nCredentialsFile=\nCAFile=\nPathStyle=\nUserPrefix=\n");
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        assert_defaults(&f->config);
}

typedef struct ErrorCase {
        const char *contents;
        const char *message; /* after "PATH:" */
} ErrorCase;

static void test_errors(Fixture *f, gconstpointer data) {
        static const ErrorCase cases[] = {
                { "[Checkpoint]\nCompression=bzip2\n",
                  "2: Compression=bzip2 is not a supported format; use none, tar, gzip, lz4, zlib or zstd." },
                { "[Checkpoint]\nCompression=ZSTD\n",
                  "2: Compression=ZSTD is not a supported format; use none, tar, gzip, lz4, zlib or zstd." },
                { "[Checkpoint]\nCompression=zstd # fast\n",
                  "2: Compression=zstd # fast is not a supported format; use none, tar, gzip, lz4, zlib or zstd." },
                { "[Checkpoint]\nDirectory=var/ckpt\n",
                  "2: Directory=var/ckpt is not an absolute path; use a path starting with \"/\"." },
                { "[Checkpoint]\nDirectory=/srv/../etc\n",
                  "2: Directory=/srv/../etc contains a \"..\" component; use a path without \"..\"." },
                { "[Checkpoint]\nDirectory=/srv/..\n",
                  "2: Directory=/srv/.. contains a \"..\" component; use a path without \"..\"." },
                { "[Checkpoint]\nDirectory=/srv/%h\n",
                  "2: Directory=/srv/%h has an unknown specifier; use %u (user name), %U (uid) or %%." },
                { "[Checkpoint]\nDirectory=/srv/%\n",
                  "2: Directory=/srv/% has an unknown specifier; use %u (user name), %U (uid) or %%." },
                { "[S3]\nEndpoint=ftp://s3.example.com\n",
                  "2: Endpoint= is not an endpoint; use a URL such as https://s3.example.com or "
                  "http://127.0.0.1:7480, without credentials, query or fragment." },
                { "[S3]\nEndpoint=https://key:secret@s3.example.com\n",
                  "2: Endpoint= is not an endpoint; use a URL such as https://s3.example.com or "
                  "http://127.0.0.1:7480, without credentials, query or fragment." },
                { "[S3]\nUserPrefix=shared/\n",
                  "2: UserPrefix=shared/ is not a prefix of each user's own; use one with %U (uid) or %u (user name) "
                  "that ends in '/', e.g. users/%U/." },
                { "[S3]\nRegion=EU West\n",
                  "2: Region=EU West is not a region name; use lower-case letters, digits and '-', e.g. us-east-1." },
                { "[Jobs]\nPersistAll=sometimes\n", "2: PersistAll=sometimes is not a boolean; use yes or no." },
                { "[CRIU]\nBinary=criu\n",
                  "2: Binary=criu is not an absolute path; use a path starting with \"/\"." },
                { "[CRIU]\nLogLevel=5\n",
                  "2: LogLevel=5 is not a CRIU log level; use a number from 0 (no messages) to 4 (debug)." },
                { "[CRIU]\nLogLevel=-1\n",
                  "2: LogLevel=-1 is not a CRIU log level; use a number from 0 (no messages) to 4 (debug)." },
                { "[CRIU]\nLogLevel=debug\n",
                  "2: LogLevel=debug is not a CRIU log level; use a number from 0 (no messages) to 4 (debug)." },
                { "[Daemon]\nIdleExitSec=soon\n",
                  "2: IdleExitSec=soon is not a time span; use a number of seconds such as 60 or 2.5, or \"infinity\"." },
                { "[Daemon]\nIdleExitSec=-1\n",
                  "2: IdleExitSec=-1 is not a time span; use a number of seconds such as 60 or 2.5, or \"infinity\"." },
                { "[Daemon]\nIdleExitSec=99999999999999999\n",
                  "2: IdleExitSec=99999999999999999 is too large; use \"infinity\" to never exit when idle." },
                { "[Restore]\nMaxArchiveSize=10X\n",
                  "2: MaxArchiveSize=10X is not a size; use a number of bytes, optionally with a K, M, G or T suffix, such as 64G." },
                { "[Restore]\nMaxArchiveSize=16777216T\n",
                  "2: MaxArchiveSize=16777216T is too large; use at most 16777215T." },
                { "[Restore]\nMaxArchiveSize=0\n",
                  "2: MaxArchiveSize=0 would refuse every archive; use a size greater than 0." },
                { "# comment\nDirectory=/x\n[Checkpoint]\n",
                  "2: Directory= is outside of any section; put it below a [Section] header, such as [Checkpoint]." },
                { "[Checkpoint]\n\nthis line has no equals sign\n",
                  "3: \"this line has no equals sign\" is not a Key=Value assignment, [Section] header or comment; add \"=\" or start the line with \"#\"." },
                { "[Checkpoint\nDirectory=/x\n",
                  "1: Invalid section header [Checkpoint; use [Name], such as [Checkpoint]." },
                { "[]\n",
                  "1: Invalid section header []; use [Name], such as [Checkpoint]." },
                { "[Checkpoint]\n = /x\n",
                  "2: Assignment without a key name before \"=\"; use Key=Value." },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *expected = g_strdup_printf("%s:%s\n", f->main_path, cases[i].message);

                config_done(&f->config);
                g_assert_cmpint(config_init(&f->config), ==, 0);
                write_main(f, cases[i].contents);
                g_assert_cmpint(load(f), ==, -EINVAL);
                g_assert_cmpstr(f->log, ==, expected);
                /* A bad value leaves the key as it was; nothing else was assigned. */
                assert_defaults(&f->config);
        }
}

static void test_long_line_and_nul(Fixture *f, gconstpointer data) {
        g_autofree char *expected = NULL;
        GString *s = g_string_new("[Checkpoint]\nDirectory=/");
        GError *error = NULL;

        /* Exactly at the limit is fine ... */
        while (s->len < strlen("[Checkpoint]\n") + 4096)
                g_string_append_c(s, 'a');
        g_string_append(s, "\n[CRIU]\nLogLevel=2\n");
        write_main(f, s->str);
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_assert_cmpuint(strlen(f->config.checkpoint_directory), ==, 4096 - strlen("Directory="));
        g_assert_cmpint(f->config.criu_log_level, ==, 2);

        /* ... one more byte is not, and reading goes on after the line. */
        config_done(&f->config);
        g_assert_cmpint(config_init(&f->config), ==, 0);
        g_string_insert_c(s, strlen("[Checkpoint]\nDirectory=/"), 'b');
        write_main(f, s->str);
        g_assert_cmpint(load(f), ==, -EINVAL);
        expected = g_strdup_printf("%s:2: Line is longer than 4096 bytes; shorten it.\n", f->main_path);
        g_assert_cmpstr(f->log, ==, expected);
        g_assert_cmpstr(f->config.checkpoint_directory, ==, DEFAULT_CHECKPOINT_DIR);
        g_assert_cmpint(f->config.criu_log_level, ==, 2);
        g_string_free(s, TRUE);

        static const char with_nul[] = "[CRIU]\nLogLevel=1\0junk\nBinary=/x\n";
        g_file_set_contents(f->main_path, with_nul, sizeof(with_nul) - 1, &error);
        g_assert_no_error(error);
        config_done(&f->config);
        g_assert_cmpint(config_init(&f->config), ==, 0);
        g_assert_cmpint(load(f), ==, -EINVAL);
        g_free(expected);
        expected = g_strdup_printf("%s:2: Line contains a NUL byte; is this a text file?\n", f->main_path);
        g_assert_cmpstr(f->log, ==, expected);
        g_assert_cmpint(f->config.criu_log_level, ==, 4);
        g_assert_cmpstr(f->config.criu_binary, ==, "/x");
}

static void test_all_errors_reported(Fixture *f, gconstpointer data) {
        g_autofree char *dropin = NULL, *expected = NULL;

        write_main(f,
                   "[Checkpoint]\n"
                   "Compression=rar\n"
                   "Directory=/srv/ok\n"
                   "[CRIU]\n"
                   "LogLevel=9\n"
                   "Binary=/usr/bin/criu\n"
                   "[Daemon]\n"
                   "IdleExitSec=never\n");
        dropin = write_dropin(f, "10-more.conf", "[Restore]\nMaxArchiveSize=lots\n[Checkpoint]\nCompression=gzip\n");

        g_assert_cmpint(load(f), ==, -EINVAL);
        expected = g_strdup_printf(
                "%1$s:2: Compression=rar is not a supported format; use none, tar, gzip, lz4, zlib or zstd.\n"
                "%1$s:5: LogLevel=9 is not a CRIU log level; use a number from 0 (no messages) to 4 (debug).\n"
                "%1$s:8: IdleExitSec=never is not a time span; use a number of seconds such as 60 or 2.5, or \"infinity\".\n"
                "%2$s:2: MaxArchiveSize=lots is not a size; use a number of bytes, optionally with a K, M, G or T suffix, such as 64G.\n",
                f->main_path, dropin);
        g_assert_cmpstr(f->log, ==, expected);

        /* Everything valid was applied, in order. */
        g_assert_cmpstr(f->config.checkpoint_directory, ==, "/srv/ok");
        g_assert_cmpstr(f->config.criu_binary, ==, "/usr/bin/criu");
        g_assert_cmpint(f->config.compression, ==, COMPRESSION_GZIP);
        g_assert_cmpint(f->config.criu_log_level, ==, 4);
        g_assert_cmpuint(f->config.idle_exit_usec, ==, DEFAULT_IDLE_EXIT_USEC);
        g_assert_cmpuint(f->config.max_restore_bytes, ==, ARCHIVE_LIMITS_DEFAULT.max_bytes);
}

static void test_unknown_is_warning(Fixture *f, gconstpointer data) {
        g_autofree char *expected = NULL;

        write_main(f,
                   "[Checkpoint]\n"
                   "Foo=bar\n"
                   "[Nope]\n"
                   "X=1\n"
                   "[CRIU]\n"
                   "loglevel=3\n"
                   "LogLevel=2\n"
                   "[checkpoint]\n"
                   "Directory=/ignored\n");
        g_assert_cmpint(load(f), ==, 0);
        expected = g_strdup_printf(
                "%1$s:2: Unknown key Foo= in section [Checkpoint], ignoring.\n"
                "%1$s:3: Unknown section [Nope], ignoring its keys.\n"
                "%1$s:6: Unknown key loglevel= in section [CRIU], ignoring. Did you mean LogLevel=?\n"
                "%1$s:8: Unknown section [checkpoint], ignoring its keys.\n",
                f->main_path);
        g_assert_cmpstr(f->log, ==, expected);
        g_assert_cmpint(f->config.criu_log_level, ==, 2);
        g_assert_cmpstr(f->config.checkpoint_directory, ==, DEFAULT_CHECKPOINT_DIR);
}

static void test_unreadable(Fixture *f, gconstpointer data) {
        g_autofree char *expected = NULL, *subdir = NULL, *dropin = NULL, *bad = NULL;

        /* The main path is a directory: an error, and the drop-ins are still applied. */
        g_assert_cmpint(mkdir(f->main_path, 0755), ==, 0);
        dropin = write_dropin(f, "10-a.conf", "[CRIU]\nLogLevel=2\n");
        g_assert_cmpint(load(f), ==, -EISDIR);
        expected = g_strdup_printf("Failed to read %s: %s\n", f->main_path, g_strerror(EISDIR));
        g_assert_cmpstr(f->log, ==, expected);
        g_assert_cmpint(f->config.criu_log_level, ==, 2);
        g_assert_cmpint(g_rmdir(f->main_path), ==, 0);

        /* A directory among the drop-ins, and a bad value after it: both are reported, the
         * first error is returned. */
        subdir = g_build_filename(f->dropin_dir, "20-dir.conf", NULL);
        g_assert_cmpint(mkdir(subdir, 0755), ==, 0);
        bad = write_dropin(f, "30-bad.conf", "[CRIU]\nLogLevel=x\n");
        g_assert_cmpint(load(f), ==, -EISDIR);
        g_free(expected);
        expected = g_strdup_printf("Failed to read %s: %s\n"
                                   "%s:2: LogLevel=x is not a CRIU log level; use a number from 0 (no "
                                   "messages) to 4 (debug).\n",
                                   subdir, g_strerror(EISDIR), bad);
        g_assert_cmpstr(f->log, ==, expected);
        g_assert_cmpint(g_rmdir(subdir), ==, 0);
        g_assert_cmpint(g_unlink(bad), ==, 0);

        /* The drop-in directory is a file. */
        g_autofree char *notdir = g_build_filename(f->dir, "file.d", NULL);
        write_file(notdir, "");
        g_assert_cmpint(load_paths(f, NULL, notdir), ==, -ENOTDIR);

        /* Permission denied; root reads anything, so only when not root. */
        if (geteuid() == 0) {
                g_test_message("Running as root, skipping the permission check.");
                return;
        }
        write_main(f, "[CRIU]\nLogLevel=1\n");
        g_assert_cmpint(chmod(f->main_path, 0), ==, 0);
        g_assert_cmpint(load(f), ==, -EACCES);
        g_free(expected);
        expected = g_strdup_printf("Failed to open %s: %s\n", f->main_path, g_strerror(EACCES));
        g_assert_cmpstr(f->log, ==, expected);
        g_assert_cmpint(f->config.criu_log_level, ==, 2);
}

#define USER_CHECKPOINT_DIR "/var/lib/cedana-checkpoints/%u"

/* conf/cedana.conf as meson installs it: every key is there, commented out with the value that
 * is the built-in default, but for the one it sets: per-user checkpoint directories. */
static char *example_config(void) {
        g_autofree char *in = NULL, *idle = g_strdup_printf("%d", DEFAULT_IDLE_EXIT_SEC);
        GError *error = NULL;
        static const char *const vars[][2] = {
                { "@pkgsysconfdir@", "/etc/cedana" },
                { "@DEFAULT_CHECKPOINT_DIR@", DEFAULT_CHECKPOINT_DIR },
                { "@USER_CHECKPOINT_DIR@", USER_CHECKPOINT_DIR },
                { "@CRIU_BINARY@", CRIU_BINARY },
                { "@RUNC_BINARY@", RUNC_BINARY },
                { "@DEFAULT_IDLE_EXIT_SEC@", NULL },
        };
        GString *s;

        g_file_get_contents(SRCDIR "/conf/cedana.conf", &in, NULL, &error);
        g_assert_no_error(error);
        s = g_string_new(in);
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                g_assert_cmpuint(g_string_replace(s, vars[i][0], vars[i][1] ?: idle, 0), >, 0);
        /* A new placeholder needs a line above. */
        g_assert_null(strchr(s->str, '@'));
        return g_string_free(s, FALSE);
}

static void test_example(Fixture *f, gconstpointer data) {
        static const char *const keys[] = {
                "Directory", "Compression", "Binary",         "LogLevel",   "Runc", "Containerd",
                "IdleExitSec", "CollectAfterSec", "PersistAll", "MaxArchiveSize", "TimeoutSec", "Endpoint", "Region",
                "CredentialsFile", "CAFile", "PathStyle", "UserPrefix",
        };
        g_autofree char *example = example_config();
        g_auto(GStrv) lines = NULL;
        GString *uncommented = g_string_new(NULL);
        unsigned n_assignments = 0;

        write_main(f, example);
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        g_assert_cmpstr(f->config.checkpoint_directory, ==, USER_CHECKPOINT_DIR);
        free(f->config.checkpoint_directory);
        f->config.checkpoint_directory = strdup(DEFAULT_CHECKPOINT_DIR);
        assert_defaults(&f->config);

        lines = g_strsplit(example, "\n", -1);
        for (char **l = lines; *l; l++) {
                if ((*l)[0] == '#' && g_ascii_isupper((*l)[1]) && strchr(*l, '=')) {
                        g_string_append(uncommented, *l + 1);
                        n_assignments++;
                } else if (g_str_has_prefix(*l, "Directory=")) {
                        g_string_append(uncommented, "Directory=");
                        n_assignments++;
                } else
                        g_string_append(uncommented, *l);
                g_string_append_c(uncommented, '\n');
        }
        g_assert_cmpuint(n_assignments, ==, ELEMENTSOF(keys));
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                g_autofree char *needle = g_strdup_printf("\n%s=", keys[i]);
                g_assert_nonnull(strstr(uncommented->str, needle));
        }

        /* Start from something else, so that the defaults must come from the file. */
        write_main(f, all_keys);
        g_assert_cmpint(load(f), ==, 0);
        assert_all_keys(&f->config);

        write_main(f, uncommented->str);
        g_assert_cmpint(load(f), ==, 0);
        g_assert_cmpstr(f->log, ==, "");
        assert_defaults(&f->config);
        g_string_free(uncommented, TRUE);
}

static void test_user_directory(Fixture *f, gconstpointer data) {
        Config c = {};
        g_assert_cmpint(config_init(&c), ==, 0);
        char *d = NULL;
        bool per_user = true;
        /* the built-in default is everybody's */
        g_assert_cmpint(config_checkpoint_directory_for(&c, 0, &d, &per_user), ==, 0);
        g_assert_cmpstr(d, ==, DEFAULT_CHECKPOINT_DIR);
        g_assert_false(per_user);
        free(d);
        free(c.checkpoint_directory);
        c.checkpoint_directory = strdup("/srv/ck/%u/%U/100%%");
        g_assert_cmpint(config_checkpoint_directory_for(&c, 0, &d, &per_user), ==, 0);
        g_assert_cmpstr(d, ==, "/srv/ck/root/0/100%");
        g_assert_true(per_user);
        free(d);
        /* a uid without a user name: by number */
        g_assert_cmpint(config_checkpoint_directory_for(&c, 4242420, &d, &per_user), ==, 0);
        g_assert_cmpstr(d, ==, "/srv/ck/4242420/4242420/100%");
        free(d);
        config_done(&c);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        log_set_target(LOG_TARGET_CONSOLE);
        log_set_prefix(NULL);
        log_set_max_level(LOG_INFO);

#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/config/defaults", test_defaults);
        ADD("/config/overrides", test_overrides);
        ADD("/config/syntax", test_syntax);
        ADD("/config/user-directory", test_user_directory);
        ADD("/config/dropin-order", test_dropin_order);
        ADD("/config/empty-value-resets", test_empty_value_resets);
        ADD("/config/errors", test_errors);
        ADD("/config/long-line-and-nul", test_long_line_and_nul);
        ADD("/config/all-errors-reported", test_all_errors_reported);
        ADD("/config/unknown-is-warning", test_unknown_is_warning);
        ADD("/config/unreadable", test_unreadable);
        ADD("/config/example", test_example);
#undef ADD

        return g_test_run();
}
