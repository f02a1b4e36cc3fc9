/* SPDX-License-Identifier: Apache-2.0 */
/* The contract between `cedana __complete` and the shell scripts in completions/: one candidate
 * per line, or one of these markers asking the shell to complete files, directories or commands
 * itself. No job or checkpoint name can look like them: those start with a letter or digit. */
#pragma once

#define COMPLETE_FILES "__files__"
#define COMPLETE_DIRS "__dirs__"
#define COMPLETE_COMMANDS "__commands__"
