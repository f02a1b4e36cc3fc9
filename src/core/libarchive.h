/* SPDX-License-Identifier: Apache-2.0 */
/* libarchive's own <archive.h>, which src/core/archive.h shadows on our include path. Include
 * this with angle brackets (<libarchive.h>) so that #include_next searches past src/core. */
#pragma once

#include_next <archive.h>
#include <archive_entry.h>

#ifndef ARCHIVE_VERSION_NUMBER
#error "libarchive's archive.h was not found behind src/core/archive.h"
#endif
