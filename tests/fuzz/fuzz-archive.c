/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any bytes as a checkpoint file, through what a restore does before CRIU
 * runs: format detection, decompression, secure extraction, metadata parsing and verification. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "fd-util.h"
#include "log.h"
#include "metadata.h"
#include "verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int tmp_fd = -1;
        if (tmp_fd < 0) {
                log_set_max_level(LOG_CRIT);
                char t[] = "/dev/shm/fuzz-archive-XXXXXX";
                if (!mkdtemp(t))
                        abort();
                tmp_fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (tmp_fd < 0)
                        abort();
        }

        int in = memfd_create("checkpoint", MFD_CLOEXEC);
        if (in < 0 || loop_write(in, data, size) < 0)
                abort();

        (void) rm_rf_at(tmp_fd, "x");
        if (mkdirat(tmp_fd, "x", 0700) < 0)
                abort();
        int dest = openat(tmp_fd, "x", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dest < 0)
                abort();

        /* Small caps: the fuzzer should find logic errors, not fill the disk. */
        ArchiveLimits limits = { .max_bytes = 16 << 20, .max_entries = 1000, .max_entry_bytes = 8 << 20 };
        /* As a restore does: with a verifier, finding cedana.json first where it is not. */
        char *err = NULL;
        Verifier *v = NULL;
        if (verifier_new(NULL, &v) < 0)
                abort();
        int r = archive_extract(in, dest, &limits, v, NULL, &err);
        if (r == -EAGAIN) {
                char *text = NULL;
                size_t n = 0;
                if (archive_read_metadata(in, &limits, &text, &n, &err) >= 0 && verifier_metadata(v, text, n, &err) >= 0) {
                        (void) rm_rf_at(tmp_fd, "x");
                        if (mkdirat(tmp_fd, "x", 0700) < 0)
                                abort();
                        close(dest);
                        dest = openat(tmp_fd, "x", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (dest < 0)
                                abort();
                        r = archive_extract(in, dest, &limits, v, NULL, &err);
                }
                free(text);
        }
        /* what it accepted is a complete checkpoint, as a directory verifies it too */
        if (r >= 0 && verifier_get_metadata(v)) {
                Verifier *again = NULL;
                char *verr = NULL;
                if (verifier_new(NULL, &again) < 0)
                        abort();
                (void) verifier_check_dir(again, dest, &verr);
                verifier_free(again);
                free(verr);
        }
        verifier_free(v);
        free(err);
        close(dest);
        close(in);
        return 0;
}
