/* SPDX-License-Identifier: Apache-2.0 */
/* Strict parsers for numbers, booleans and sizes given on command lines and in configuration. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Decimal only, no sign, no whitespace, no trailing junk: -EINVAL, -ERANGE on overflow. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atou(const char *s, unsigned *ret);
int safe_atoi(const char *s, int *ret); /* an optional leading '-' */
/* A pid > 0 that fits pid_t. */
int parse_pid(const char *s, pid_t *ret);
/* "1", "yes", "true", "on" / "0", "no", "false", "off" (case-insensitive). */
int parse_boolean(const char *s);
/* "123", "4K", "10M", "2G", "1T" (powers of 1024; optional "B"/"iB"). */
int parse_size(const char *s, uint64_t *ret);
/* Seconds ("30", "1.5") or "infinity" (UINT64_MAX), in µs. */
int parse_sec(const char *s, uint64_t *ret);
/* A signal number or name with or without "SIG" ("TERM", "SIGKILL", "9"). */
int parse_signal(const char *s, int *ret);
const char *signal_to_string(int sig);
