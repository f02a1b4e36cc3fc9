/* SPDX-License-Identifier: Apache-2.0 */
/* org.cedana.Checkpoint1.Job: one object per job below /org/cedana/Checkpoint1/job, served by a
 * fallback vtable and a node enumerator, the way machined serves machines. */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct Job Job;

#define JOB_OBJECT_PREFIX "/org/cedana/Checkpoint1/job"
#define JOB_INTERFACE "org.cedana.Checkpoint1.Job"

extern const sd_bus_vtable job_vtable[];

int job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error);
int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

/* The job's object path, JOB_OBJECT_PREFIX/<uid>/<escaped name>; NULL on allocation failure. */
char *job_bus_path(const Job *j);
/* PropertiesChanged for the named properties (NULL-terminated) on every connection. */
void job_send_changed(Job *j, const char *property, ...) _sentinel_;
/* JobNew / JobRemoved and the ObjectManager's InterfacesAdded/Removed. */
void job_announce(Job *j);
void job_send_removed(Job *j);
