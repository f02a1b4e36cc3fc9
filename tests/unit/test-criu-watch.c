/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the watch that kills a CRIU that will never answer: after its timeout, after the
 * dumped process or a task CRIU had seized exits (with a grace for a CRIU that answers on its
 * own), never otherwise. */

#include "criu-watch.h"

#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child standing in for `criu swrk`: it sleeps for sec seconds, then exits 0. */
static pid_t sleeper(unsigned sec) {
        pid_t pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                sleep(sec);
                _exit(0);
        }
        return pid;
}

static void wait_exited(pid_t pid) {
        siginfo_t si;
        g_assert_cmpint(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), ==, 0);
}

static int reap(pid_t pid) {
        int status;
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        return status;
}

static void test_timeout_kills(void) {
        pid_t swrk = sleeper(60);
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start(swrk, 1, NULL, 0, -1, 0, &w), ==, 0);
        wait_exited(swrk);
        g_assert_true(criu_watch_stop(w));
        int status = reap(swrk);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* runc standing in for itself: a group leader whose child (its CRIU) would outlive it. The
 * whole group goes. */
static void test_group_timeout_kills_the_group(void) {
        int pipefd[2];
        g_assert_cmpint(pipe(pipefd), ==, 0);
        pid_t leader = fork();
        g_assert_cmpint(leader, >=, 0);
        if (leader == 0) {
                setpgid(0, 0);
                pid_t criu = fork();
                if (criu == 0) {
                        close(pipefd[0]);
                        sleep(60); /* holds the pipe's write end open until killed */
                        _exit(0);
                }
                close(pipefd[1]);
                sleep(60);
                _exit(0);
        }
        close(pipefd[1]);
        (void) setpgid(leader, leader); /* either side may set it first */
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start_group(leader, 1, NULL, 0, -1, 0, &w), ==, 0);
        wait_exited(leader);
        g_assert_true(criu_watch_stop(w));
        int status = reap(leader);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* The grandchild is gone too: its end of the pipe closed. */
        char c;
        g_assert_cmpint(read(pipefd[0], &c, 1), ==, 0);
        close(pipefd[0]);
}

static void test_target_exit_kills_after_grace(void) {
        pid_t target = sleeper(60), swrk = sleeper(60);
        int pidfd = (int) syscall(SYS_pidfd_open, target, 0);
        g_assert_cmpint(pidfd, >=, 0);
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start(swrk, 0, &target, 1, pidfd, 1, &w), ==, 0);
        gint64 start = g_get_monotonic_time();
        g_assert_cmpint(kill(target, SIGKILL), ==, 0);
        (void) reap(target);
        wait_exited(swrk);
        /* Not before the grace: a CRIU that answers within it is left alone. */
        g_assert_cmpint(g_get_monotonic_time() - start, >=, G_USEC_PER_SEC);
        g_assert_true(criu_watch_stop(w));
        int status = reap(swrk);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        close(pidfd);
}

static void test_answer_within_grace_is_left_alone(void) {
        pid_t target = sleeper(60), swrk = sleeper(1);
        int pidfd = (int) syscall(SYS_pidfd_open, target, 0);
        g_assert_cmpint(pidfd, >=, 0);
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start(swrk, 0, &target, 1, pidfd, 5, &w), ==, 0);
        g_assert_cmpint(kill(target, SIGKILL), ==, 0);
        (void) reap(target);
        wait_exited(swrk);
        g_assert_false(criu_watch_stop(w));
        int status = reap(swrk);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(pidfd);
}

static void test_stop_leaves_criu_running(void) {
        pid_t target = sleeper(60), swrk = sleeper(60);
        int pidfd = (int) syscall(SYS_pidfd_open, target, 0);
        g_assert_cmpint(pidfd, >=, 0);
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start(swrk, 1, &target, 1, pidfd, 1, &w), ==, 0);
        g_assert_false(criu_watch_stop(w));
        /* Past both deadlines: a stopped watch kills nothing. */
        g_assert_cmpint(kill(target, SIGKILL), ==, 0);
        (void) reap(target);
        sleep(2);
        g_assert_cmpint(waitpid(swrk, NULL, WNOHANG), ==, 0);
        g_assert_cmpint(kill(swrk, SIGKILL), ==, 0);
        (void) reap(swrk);
        close(pidfd);
}

static void test_nothing_to_watch(void) {
        CriuWatch *w = (CriuWatch *) 1;
        g_assert_cmpint(criu_watch_start(getpid(), 0, NULL, 0, -1, 0, &w), ==, 0);
        g_assert_null(w);
        g_assert_false(criu_watch_stop(w));
}

/* A tree's root with one child, which lets any process of its user trace it; the child's pid in
 * *ret_child. */
static pid_t tree_with_child(pid_t *ret_child) {
        int p[2];
        g_assert_cmpint(pipe(p), ==, 0);
        pid_t root = fork();
        g_assert_cmpint(root, >=, 0);
        if (root == 0) {
                pid_t child = fork();
                if (child == 0) {
                        (void) prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
                        pid_t me = getpid();
                        (void) write(p[1], &me, sizeof(me));
                        sleep(60);
                        _exit(0);
                }
                sleep(60);
                _exit(0);
        }
        g_assert_cmpint(read(p[0], ret_child, sizeof(pid_t)), ==, sizeof(pid_t));
        close(p[0]);
        close(p[1]);
        return root;
}

/* Stands in for CRIU: seizes pid with ptrace, as CRIU's dump does every task. */
static pid_t seizer(pid_t pid) {
        pid_t s = fork();
        g_assert_cmpint(s, >=, 0);
        if (s == 0) {
                if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
                        _exit(3);
                sleep(60);
                _exit(0);
        }
        return s;
}

static pid_t tracer(pid_t pid) {
        char path[64], *text = NULL;
        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        const char *t = strstr(text, "\nTracerPid:");
        pid_t r = t ? (pid_t) atoi(t + strlen("\nTracerPid:")) : 0;
        g_free(text);
        return r;
}

static void test_seized_child_exit_kills_after_grace(void) {
        pid_t child, root = tree_with_child(&child);
        int pidfd = (int) syscall(SYS_pidfd_open, root, 0);
        g_assert_cmpint(pidfd, >=, 0);
        pid_t swrk = seizer(child);
        while (tracer(child) != swrk)
                g_usleep(10000);
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start(swrk, 0, (pid_t[]) { root, child }, 2, pidfd, 1, &w), ==, 0);
        g_usleep(300000); /* a few looks at the tree: it sees the child seized */
        g_assert_cmpint(kill(child, SIGKILL), ==, 0);
        wait_exited(swrk);
        g_assert_true(criu_watch_stop(w));
        int status = reap(swrk);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        g_assert_cmpint(kill(root, SIGKILL), ==, 0);
        (void) reap(root);
        close(pidfd);
}

/* A child that ends before CRIU seized it was never part of the dump. */
static void test_unseized_child_exit_is_left_alone(void) {
        pid_t child, root = tree_with_child(&child);
        int pidfd = (int) syscall(SYS_pidfd_open, root, 0);
        g_assert_cmpint(pidfd, >=, 0);
        pid_t swrk = sleeper(60);
        CriuWatch *w;
        g_assert_cmpint(criu_watch_start(swrk, 0, (pid_t[]) { root, child }, 2, pidfd, 1, &w), ==, 0);
        g_assert_cmpint(kill(child, SIGKILL), ==, 0);
        sleep(2);
        g_assert_cmpint(waitpid(swrk, NULL, WNOHANG), ==, 0);
        g_assert_false(criu_watch_stop(w));
        g_assert_cmpint(kill(swrk, SIGKILL), ==, 0);
        (void) reap(swrk);
        g_assert_cmpint(kill(root, SIGKILL), ==, 0);
        (void) reap(root);
        close(pidfd);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/criu-watch/timeout-kills", test_timeout_kills);
        g_test_add_func("/criu-watch/group-timeout-kills-the-group", test_group_timeout_kills_the_group);
        g_test_add_func("/criu-watch/target-exit-kills-after-grace", test_target_exit_kills_after_grace);
        g_test_add_func("/criu-watch/answer-within-grace-is-left-alone", test_answer_within_grace_is_left_alone);
        g_test_add_func("/criu-watch/stop-leaves-criu-running", test_stop_leaves_criu_running);
        g_test_add_func("/criu-watch/nothing-to-watch", test_nothing_to_watch);
        g_test_add_func("/criu-watch/seized-child-exit-kills-after-grace", test_seized_child_exit_kills_after_grace);
        g_test_add_func("/criu-watch/unseized-child-exit-is-left-alone", test_unseized_child_exit_is_left_alone);
        return g_test_run();
}
