/* SPDX-License-Identifier: Apache-2.0 */
/* MESSAGE_ID= values of cedanad's lifecycle journal entries: stable, so that
 * `journalctl MESSAGE_ID=...` finds every job start, restore or checkpoint across versions. */
#pragma once

#define MESSAGE_ID_DAEMON_STARTED "0d86d5f83f514a45a80b34419af6ff5b"
#define MESSAGE_ID_JOB_STARTED "9bbcda8031364f54a65210df6daaa82c"
#define MESSAGE_ID_JOB_EXITED "a5d19d611a6f41eba2489ac12c7ab40e"
#define MESSAGE_ID_JOB_RESTORED "d86fe2d51ebc43178b0b34cc6c4c1b79"
#define MESSAGE_ID_CONTAINER_RESTORED "4afe9d7fdb9f461d91b8b49846ddef34"
#define MESSAGE_ID_CHECKPOINT_WRITTEN "06f6f3978c0a48cea1ecc5e3f63f69ff"
#define MESSAGE_ID_DUMP_FAILED "fb634fb1550244639b5b0d720bb85b3d"
#define MESSAGE_ID_RESTORE_FAILED "6c45e07bad0147dfa9b91d77d496beb1"
#define MESSAGE_ID_JOB_REMOVED "a4c965c472714604bfbea75cbc830cfe"
#define MESSAGE_ID_CHECKPOINT_REMOVED "296c2d10a8c94595bf54fc337e65d54b"
