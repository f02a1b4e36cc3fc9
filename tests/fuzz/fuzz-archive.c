/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any bytes as a checkpoint file, through what a restore does before CRIU
 * runs: format detection, decompression, secure extraction, metadata parsing and verification. */

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
        char *err = NULL;
        if (archive_extract(in, dest, &limits, NULL, NULL, &err) >= 0) {
                CheckpointMetadata *m = NULL;
                char *merr = NULL;
                if (metadata_read(dest, &m, &merr) >= 0) {
                        char *verr = NULL;
                        (void) metadata_verify(m, dest, &verr);
                        free(verr);
                }
                metadata_free(m);
                free(merr);
        }
        free(err);
        close(dest);
        close(in);
        return 0;
}
