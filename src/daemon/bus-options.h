/* SPDX-License-Identifier: Apache-2.0 */
/* The a{sv} option dictionaries of cedanad's methods, read against a table of known keys:
 * unknown keys, wrong types, duplicates and oversized values are InvalidArgs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

#define BUS_STRING_MAX 4096
#define BUS_STRV_MAX 4096
/* argv of Run: what ARG_MAX allows in practice is far below this */
#define BUS_ARGV_MAX 65536

typedef enum BusOptionType {
        BUS_OPTION_STRING, /* char *, NULL when absent */
        BUS_OPTION_BOOL,   /* bool */
        BUS_OPTION_FD,     /* int, a private duplicate (O_CLOEXEC); -EBADF when absent */
        BUS_OPTION_STRV,   /* char **, NULL when absent */
        BUS_OPTION_UINT32, /* uint32_t */
} BusOptionType;

typedef struct BusOption {
        const char *key;
        BusOptionType type;
        size_t offset; /* of the field in the caller's structure */
} BusOption;

/* Reads the a{sv} at the message's current position into base. Fields of absent keys keep
 * their values, so initialise fds to -EBADF first. On error, *error is set (InvalidArgs). */
int bus_read_options(sd_bus_message *m, const BusOption *table, size_t n_table, void *base, sd_bus_error *error);
/* Frees the strings and strvs and closes the fds of a table's fields. */
void bus_options_done(const BusOption *table, size_t n_table, void *base);
/* An array of strings at the message's position, refused (InvalidArgs) as soon as it has more
 * than max entries or an entry longer than BUS_STRING_MAX, before the rest is read. */
int bus_read_strv(sd_bus_message *m, size_t max, char ***ret, sd_bus_error *error);
/* An fd a caller passed for output: a regular file open for writing (a pipe, socket or
 * terminal could block whoever writes to it). daemon_writes: cedanad or its worker writes to
 * it, so it must also be on a file system that answers at once (not a network or FUSE one). */
int bus_check_output_fd(int fd, const char *option, bool daemon_writes, sd_bus_error *error);
/* A string argument: non-empty, at most BUS_STRING_MAX, no control characters. */
bool bus_string_is_sane(const char *s);
