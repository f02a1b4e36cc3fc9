/* SPDX-License-Identifier: Apache-2.0 */
/* What cedanad and its workers say to each other: fixed, typed messages over a SOCK_SEQPACKET
 * pair, one datagram each. Strings are fixed-size and NUL-terminated by the receiver. */
#pragma once

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "criu-stats.h"
#include "metadata.h"
#include "naming.h"

typedef enum WorkerMessageType {
        /* worker -> daemon */
        WM_PROGRESS = 1, /* a phase of the work began, or advanced */
        WM_SYNCED,       /* dump: the checkpoint is complete and durable, not yet published */
        WM_PUBLISHED,    /* dump: ... and under its final name; CRIU stops the process once answered */
        WM_TREE,         /* restore: the tree is verified and held stopped; put it into its scope */
        WM_RESTORED,     /* restore: CRIU let go of the tree, still stopped; record and continue it */
        WM_FAILED,       /* the work failed: why */
        WM_RECORD_DONE,  /* a checkpoint record's files were reconciled or deleted */
        WM_STATS,        /* dump or restore: what it measured, sent before it ends well */
        /* daemon -> worker */
        WM_REPLY,        /* the answer to SYNCED, PUBLISHED and TREE: 0, or why not */
        WM_CANCEL,       /* the caller cancelled: stop where that leaves nothing behind */
} WorkerMessageType;

#define WM_PHASE_MAX 32
#define WM_MESSAGE_MAX 2048
#define WM_TREE_MAX 65536 /* processes in one restored tree */

typedef struct WmProgress {
        char phase[WM_PHASE_MAX];
        uint64_t done, total;
} WmProgress;

typedef struct WmCommit {
        char final_name[256];
        uint64_t size, image_size, time_usec, dev, ino;
        char digest[METADATA_DIGEST_SIZE];
} WmCommit;

typedef struct WmTreeEntry {
        int32_t pid;
        uint32_t resume; /* 0: it was stopped when dumped and stays so */
} WmTreeEntry;

typedef struct WmTree {
        char source_job[NAME_MAX_LEN + 1]; /* the dumped job's name; "" if none or not a valid name */
        uint32_t attached; /* AttachKind: which attach fds CRIU hands the tree */
        uint32_t n;
        WmTreeEntry entries[WM_TREE_MAX];
} WmTree;

/* What a worker used: what the bench and the journal report. */
typedef struct WorkerUsage {
        uint64_t max_rss_kib; /* peak resident set */
        uint64_t cpu_usec;    /* user and system time, CRIU's included */
} WorkerUsage;

WorkerUsage worker_usage(const struct rusage *ru);

typedef struct WmRestored {
        int32_t pid;
        char container_id[256]; /* a container's: the id runc knows it by */
        uint32_t attached; /* AttachKind */
        uint32_t job_log_used; /* the job writes to the log the daemon handed the restore */
        WorkerUsage usage;     /* the worker's so far, CRIU's included */
} WmRestored;

typedef enum RecordAction {
        RECORD_FORGET,   /* nothing of it is on disk (any more): the record goes */
        RECORD_COMPLETE, /* it is published and complete: the record says so */
        RECORD_KEEP,     /* it could not be dealt with: the record stays as it is */
} RecordAction;

typedef struct WmRecordDone {
        uint32_t uid;
        char id[256];
        uint32_t action; /* RecordAction */
        int32_t code;    /* why not, for RECORD_KEEP */
        char message[WM_MESSAGE_MAX];
} WmRecordDone;

/* code: 0, a positive CedanaError, or a negative errno */
typedef struct WmStatus {
        int32_t code;
        char message[WM_MESSAGE_MAX];
} WmStatus;

typedef struct WmCancel {
        uint32_t reserved;
} WmCancel;

typedef struct WorkerMessage {
        uint32_t type;
        union {
                WmProgress progress;
                WmCommit commit;
                WmTree tree;
                WmRestored restored;
                WmStatus status; /* FAILED, REPLY */
                WmRecordDone record;
                CheckpointStats stats;
                WmCancel cancel;
        };
} WorkerMessage;

/* How many bytes of a message of this type are sent: its payload, and for a tree its entries. */
size_t worker_message_size(const WorkerMessage *m);
