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
/* 1 for "1", "yes", "y", "true", "t", "on"; 0 for "0", "no", "n", "false", "f", "off"
 * (case-insensitive); -EINVAL otherwise. */
int parse_boolean(const char *s);
/* "123", "4K", "10M", "2G", "1T" (powers of 1024; optional "B"/"iB" after the suffix, "B" after
 * a plain number); a fraction with a suffix ("1.5G", rounded down to bytes). Suffixes are upper
 * case; no whitespace. -ERANGE beyond UINT64_MAX. */
int parse_size(const char *s, uint64_t *ret);
/* Seconds ("30", "1.5", no unit suffix; rounded down to µs) or "infinity" (UINT64_MAX), in µs.
 * -ERANGE for a finite value that does not fit. */
int parse_sec(const char *s, uint64_t *ret);
/* A time span as systemd writes them, in µs: "90" (seconds), "90s", "15min", "1h 30min", "1.5h",
 * "2d"; units us, ms, s, min (m), h, d, w and their long forms. -ERANGE when it does not fit. */
int parse_timespan(const char *s, uint64_t *ret);
/* A signal number or name with or without "SIG" ("TERM", "SIGKILL", "9"; case-insensitive;
 * also "RTMIN+n" and "RTMAX-n"). -EINVAL for anything else. */
int parse_signal(const char *s, int *ret);
/* "SIGTERM", "SIGRTMIN+3" (in a thread-local buffer); NULL for a number that is no signal. */
const char *signal_to_string(int sig);
