/* SPDX-License-Identifier: Apache-2.0 */
/* Unary gRPC calls over cleartext HTTP/2 on a unix socket, the way containerd serves its API:
 * libcurl speaks HTTP/2 (and reads the trailers that carry the call's status), protobuf-c packs
 * and unpacks the messages. Each message travels in gRPC's 5-byte frame (flag, big-endian
 * length); no compression is asked for, so none comes back. */
#pragma once

#include <protobuf-c/protobuf-c.h>

#include "macro.h"

/* The status codes a server answers with (grpc/doc/statuscodes.md), those cedana tells apart. */
enum {
        GRPC_OK = 0,
        GRPC_INVALID_ARGUMENT = 3,
        GRPC_DEADLINE_EXCEEDED = 4,
        GRPC_NOT_FOUND = 5,
        GRPC_ALREADY_EXISTS = 6,
        GRPC_FAILED_PRECONDITION = 9,
        GRPC_UNIMPLEMENTED = 12,
        GRPC_UNAVAILABLE = 14,
};

typedef struct GrpcChannel GrpcChannel;

/* A connection to the server on socket_path, sending the header lines in metadata ("name: value",
 * NULL-terminated; e.g. containerd's namespace) with every call. 0 or -errno. */
int grpc_channel_new(const char *socket_path, char *const *metadata, GrpcChannel **ret);
GrpcChannel *grpc_channel_free(GrpcChannel *ch);
DEFINE_TRIVIAL_CLEANUP_FUNC(GrpcChannel *, grpc_channel_free);

/* Calls method ("/package.Service/Method") with request; timeout_sec 0 waits for as long as it
 * takes. Returns 0 with *ret the answer (free it with protobuf_c_message_free_unpacked(), or pass
 * ret NULL to drop it); the status (> 0) the server answered with, *ret_message its message; or
 * -errno when no gRPC answer came (the server unreachable: -ECONNREFUSED, -ENOENT; -ETIMEDOUT;
 * -EPROTO), *ret_message saying what happened. */
int grpc_call(GrpcChannel *ch, const char *method, const ProtobufCMessage *request,
              const ProtobufCMessageDescriptor *answer, unsigned timeout_sec, ProtobufCMessage **ret,
              char **ret_message);
