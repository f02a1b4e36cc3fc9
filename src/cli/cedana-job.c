/* SPDX-License-Identifier: Apache-2.0 */
/* placeholder */
typedef int placeholder_cedana_job;
