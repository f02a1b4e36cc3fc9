/* SPDX-License-Identifier: Apache-2.0 */
/* Acting as a caller: a worker stays root but creates files with the caller's fsuid/fsgid and
 * groups, so the kernel's own permission checks decide what the caller may write. */

#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>

#include "identity.h"
#include "macro.h"
#include "process.h"

int identity_from_uid(uid_t uid, Identity *ret) {
        struct passwd pw, *result = NULL;
        char buf[16384];
        gid_t gid = (gid_t) uid;
        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) == 0 && result)
                gid = pw.pw_gid;
        Identity id = { .uid = uid, .gid = gid };
        int r = user_groups(uid, gid, &id.groups, &id.n_groups);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

void identity_done(Identity *id) {
        free(id->groups);
        *id = (Identity) {};
}

int identity_copy(const Identity *from, Identity *to) {
        Identity c = *from;
        if (from->n_groups > 0) {
                c.groups = malloc(from->n_groups * sizeof(gid_t));
                if (!c.groups)
                        return -ENOMEM;
                memcpy(c.groups, from->groups, from->n_groups * sizeof(gid_t));
        } else
                c.groups = NULL;
        *to = c;
        return 0;
}

bool identity_has_gid(const Identity *id, gid_t gid) {
        if (id->gid == gid)
                return true;
        for (size_t i = 0; i < id->n_groups; i++)
                if (id->groups[i] == gid)
                        return true;
        return false;
}

bool identity_allows(const Identity *id, const Creds *c, uint64_t bounding, char *what, size_t l) {
        static const char *const sets[5] = { "inheritable", "permitted", "effective", "bounding", "ambient" };
        if (id->uid == 0)
                return true; /* root's restores are root's own decision */
        for (size_t i = 0; i < 4; i++)
                if (c->uid[i] != id->uid)
                        return snprintf(what, l, "user ID %u", (unsigned) c->uid[i]), false;
        for (size_t i = 0; i < 4; i++)
                if (!identity_has_gid(id, c->gid[i]))
                        return snprintf(what, l, "group ID %u", (unsigned) c->gid[i]), false;
        for (size_t i = 0; i < c->n_groups; i++)
                if (!identity_has_gid(id, c->groups[i]))
                        return snprintf(what, l, "supplementary group %u", (unsigned) c->groups[i]), false;
        for (size_t i = 0; i < 5; i++) {
                /* An ordinary user holds no capability; the bounding set only ever shrinks. */
                uint64_t allowed = i == 3 ? bounding : 0;
                if (c->caps[i] & ~allowed)
                        return snprintf(what, l, "%s capabilities %016" PRIx64, sets[i], c->caps[i] & ~allowed), false;
        }
        return true;
}

int identity_set_fs(const Identity *id) {
        if (setgroups(id->n_groups, id->groups) < 0)
                return negative_errno();
        (void) setfsgid(id->gid);
        (void) setfsuid(id->uid);
        /* setfs*id() report nothing; asking again tells whether it took. */
        if ((uid_t) setfsuid((uid_t) -1) != id->uid || (gid_t) setfsgid((gid_t) -1) != id->gid)
                return -EPERM;
        return 0;
}

int identity_reset_fs(void) {
        (void) setfsuid(0);
        (void) setfsgid(0);
        if (setgroups(0, NULL) < 0)
                return negative_errno();
        return setfsuid((uid_t) -1) == 0 ? 0 : -EPERM;
}

int identity_drop(const Identity *id) {
        if (setgroups(id->n_groups, id->groups) < 0)
                return negative_errno();
        if (setresgid(id->gid, id->gid, id->gid) < 0)
                return negative_errno();
        if (setresuid(id->uid, id->uid, id->uid) < 0)
                return negative_errno();
        return 0;
}
