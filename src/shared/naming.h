/* SPDX-License-Identifier: Apache-2.0 */
/* Names users see and type: job names ("famous_hopper7") and checkpoint names. */
#pragma once

#include <stdbool.h>

#define NAME_MAX_LEN 64

/* 1..64 characters of [a-z0-9_.-] (also A-Z), starting with a letter or digit, so a name is a
 * safe file name, a safe systemd unit name component and a safe bus path component. Rejects
 * "/", "..", whitespace, control characters and the unit-name escape "\". */
bool job_name_is_valid(const char *name);
/* 1..200 characters of [A-Za-z0-9._-], starting with a letter or digit, no "..". */
bool checkpoint_name_is_valid(const char *name);
/* A name as a caller may give it: NAME, or USER/NAME for another user's (USER a user name or a
 * uid: 1..32 of [A-Za-z0-9._-]). */
bool job_spec_is_valid(const char *spec);
bool checkpoint_spec_is_valid(const char *spec);
/* A new adjective_surnameN name (N a digit 0-9), random each call; -ENOMEM. */
int job_name_generate(char **ret);
