/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the check of restored trees: every thread of every process, every uid, gid, group
 * and capability set (a process whose main thread is harmless and whose other thread is not is
 * refused), and the same rule applied to what images ask for. Needs root, to make such threads. */

#include "identity.h"
#include "process.h"

#include <glib.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

/* One thread's credentials, changed with raw system calls (glibc would change all threads'). */
static void become_nobody(bool keep_ptrace) {
        g_assert_cmpint(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), ==, 0);
        g_assert_cmpint(syscall(SYS_setgroups, 0, NULL), ==, 0);
        g_assert_cmpint(syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY), ==, 0);
        g_assert_cmpint(syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY), ==, 0);
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        if (keep_ptrace)
                d[0].permitted = d[0].effective = 1U << CAP_SYS_PTRACE;
        g_assert_cmpint(syscall(SYS_capset, &h, d), ==, 0);
}

typedef struct Child {
        pid_t pid;
        int ready[2];
} Child;

static int thread_ready[2], child_ready[2];
static bool thread_keeps_ptrace;

static void *other_thread(void *userdata) {
        /* The second thread stays privileged (or keeps one capability), the main one does not. */
        if (thread_keeps_ptrace)
                become_nobody(true);
        char c = 'x';
        g_assert_cmpint(write(thread_ready[1], &c, 1), ==, 1);
        pause();
        return NULL;
}

/* A process whose main thread is nobody without capabilities and whose second thread is root
 * (keep_ptrace false) or nobody with CAP_SYS_PTRACE (keep_ptrace true). */
static pid_t spawn(bool keep_ptrace) {
        g_assert_cmpint(pipe(thread_ready), ==, 0);
        g_assert_cmpint(pipe(child_ready), ==, 0);
        thread_keeps_ptrace = keep_ptrace;
        pid_t pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                pthread_t t;
                g_assert_cmpint(pthread_create(&t, NULL, other_thread, NULL), ==, 0);
                char c;
                g_assert_cmpint(read(thread_ready[0], &c, 1), ==, 1);
                become_nobody(false);
                g_assert_cmpint(write(child_ready[1], &c, 1), ==, 1);
                pause();
                _exit(0);
        }
        char c;
        g_assert_cmpint(read(child_ready[0], &c, 1), ==, 1);
        close(thread_ready[0]);
        close(thread_ready[1]);
        close(child_ready[0]);
        close(child_ready[1]);
        return pid;
}

static void reap(pid_t pid) {
        kill(pid, SIGKILL);
        g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
}

static void test_thread_checked(gconstpointer data) {
        if (geteuid() != 0) {
                g_test_message("needs root to make threads of other users");
                g_test_fail();
                return;
        }
        bool keep_ptrace = GPOINTER_TO_INT(data);
        pid_t pid = spawn(keep_ptrace);
        Identity nobody = { .uid = NOBODY, .gid = NOBODY };
        pid_t bad = 0;
        g_autofree char *what = NULL;
        int r = process_tree_verify(&pid, 1, &nobody, &bad, &what);
        g_test_message("%s", what ?: "(nothing)");
        g_assert_cmpint(r, ==, -EPERM);
        g_assert_cmpint(bad, ==, pid);
        /* named by the thread, which is not the main one */
        g_assert_nonnull(strstr(what, " in thread "));
        g_assert_nonnull(strstr(what, keep_ptrace ? "permitted capabilities 0000000000080000" : "user ID 0"));
        /* root may hold anything */
        Identity root = {};
        g_assert_cmpint(process_tree_verify(&pid, 1, &root, NULL, NULL), ==, 0);
        reap(pid);
        /* gone: nothing left to check proves nothing */
        g_assert_cmpint(process_tree_verify(&pid, 1, &nobody, NULL, NULL), ==, -ESRCH);
}

static void test_rule(void) {
        gid_t groups[] = { 100, 27 };
        Identity alice = { .uid = 1000, .gid = 1000, .groups = groups, .n_groups = 2 };
        Creds c = { .uid = { 1000, 1000, 1000, 1000 }, .gid = { 1000, 100, 1000, 27 }, .groups = groups, .n_groups = 2,
                    .caps = { 0, 0, 0, 0x1ffffffffff, 0 } };
        char what[128];
        g_assert_true(identity_allows(&alice, &c, 0x1ffffffffff, what, sizeof(what)));
        /* each set on its own */
        for (size_t i = 0; i < 5; i++) {
                Creds d = c;
                d.caps[i] = i == 3 ? 0x3ffffffffff : 1;
                g_assert_false(identity_allows(&alice, &d, 0x1ffffffffff, what, sizeof(what)));
        }
        c.uid[2] = 0; /* the saved uid alone */
        g_assert_false(identity_allows(&alice, &c, 0x1ffffffffff, what, sizeof(what)));
        g_assert_cmpstr(what, ==, "user ID 0");
        c.uid[2] = 1000;
        gid_t wheel[] = { 0 };
        c.groups = wheel;
        c.n_groups = 1;
        g_assert_false(identity_allows(&alice, &c, 0x1ffffffffff, what, sizeof(what)));
        g_assert_cmpstr(what, ==, "supplementary group 0");
        Identity root = {};
        g_assert_true(identity_allows(&root, &c, 0, what, sizeof(what)));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/process/rule", test_rule);
        g_test_add_data_func("/process/thread-root", GINT_TO_POINTER(false), test_thread_checked);
        g_test_add_data_func("/process/thread-ptrace", GINT_TO_POINTER(true), test_thread_checked);
        return g_test_run();
}
