/* SPDX-License-Identifier: Apache-2.0 */
/* Terminals of attached jobs: how CRIU names a pty (its key for --external and --inherit-fd),
 * and the terminal mode an attach client puts its own terminal in. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

/* "tty[rdev:dev]", both in hex, as CRIU names the terminal an fd refers to. */
int tty_key_format(uint64_t rdev, uint64_t dev, char **ret);
bool tty_key_is_valid(const char *s);
/* The key of the terminal fd refers to (a pty slave). */
int tty_key_from_fd(int fd, char **ret);
/* The key of the slave of the pty master fd (opened and closed again, never made a controlling
 * terminal). */
int tty_key_from_master(int master_fd, char **ret);

/* A terminal's modes as `stty -g` writes them: "iflag:oflag:cflag:lflag:cc0:...:cc31" in hex, so
 * `stty "$(...)"` takes them too. The line speed is not part of it (a pty has none to speak of). */
int tty_modes_get(int fd, char **ret);
bool tty_modes_is_valid(const char *s);
/* Sets fd's modes from such a string (-EINVAL if it is not one). */
int tty_modes_set(int fd, const char *s);

/* The client's terminal mode while attached. job_has_tty: the job has a pty of its own, whose
 * line discipline echoes, edits lines and turns Ctrl-C into SIGINT, so ours passes every byte on
 * untouched. Otherwise the job reads a pipe: ours keeps echoing and turning Enter into a
 * newline, and output processing, so that the job's "\n" starts a line. */
void termios_make_attach(struct termios *t, bool job_has_tty);
