#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# The integration test runner: stages the build, boots one throwaway systemd container per
# tests/integration/test_*.py module, runs its test_* functions in it and prints TAP 13.
"""Run cedana's integration tests in throwaway systemd containers; print TAP 13.

    run.py --build-dir BUILD [--source-dir SRC] [-k PATTERN] [--timeout-per-test S]

The build must be configured with --prefix=/usr (the system bus and polkitd only look in
/usr/share). Needs root; never skips: anything that keeps a test from running fails it.

A test module defines test_*(c) functions, run in definition order, each given the module's
Container (cedana_container.py) with the staged build installed; optionally setup(c), run
once before the tests, and TIMEOUT, the per-test timeout in seconds. Anything a test prints
is shown as TAP diagnostics. c.source_dir, c.build_dir and c.stage_dir name the trees (bound
read-only at the same paths inside).
"""

import argparse
import contextlib
import fnmatch
import glob
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import cedana_container as cc  # noqa: E402

DEFAULT_TIMEOUT = 300
STAGE_PREFIX = "cedana-stage-"
JOURNAL_LINES_ON_FAILURE = 60


class TestTimeout(BaseException):
    """The per-test timeout expired (a BaseException: a test's `except Exception` must not
    swallow it)."""


# TAP goes to a private copy of stdout; fd 1 itself is pointed at stderr (see main), so that
# nothing a test or a command it starts writes can end up in the TAP stream.
_tap = sys.stdout


def out(line=""):
    print(line, file=_tap, flush=True)


def diag(text):
    for line in str(text).rstrip("\n").splitlines() or [""]:
        out(f"# {line}".rstrip())


def bail(message):
    out(f"Bail out! {message}")
    sys.exit(1)


class TestModule:
    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.module = None
        self.error = None      # formatted traceback if the import failed
        self.tests = []        # [(name, function)]; function None for an import failure

    @property
    def timeout(self):
        return getattr(self.module, "TIMEOUT", None)


def discover(test_dir, pattern):
    modules = []
    for path in sorted(glob.glob(os.path.join(test_dir, "test_*.py"))):
        m = TestModule(os.path.basename(path)[:-3], path)
        try:
            spec = importlib.util.spec_from_file_location(m.name, path)
            m.module = importlib.util.module_from_spec(spec)
            sys.modules[m.name] = m.module
            spec.loader.exec_module(m.module)
            tests = [(k, v) for k, v in vars(m.module).items()
                     if k.startswith("test_") and callable(v)]
        except Exception:
            m.error = traceback.format_exc()
            tests = [("import", None)]
        m.tests = [(t, fn) for t, fn in tests if selected(m.name, t, pattern)]
        if m.tests:
            modules.append(m)
    return modules


def selected(module, test, pattern):
    if not pattern:
        return True
    for ident in (f"{module}.{test}", f"{module}: {test}", f"{module}::{test}"):
        if pattern in ident or fnmatch.fnmatchcase(ident, pattern):
            return True
    return False


def cleanup_stale_stages():
    """Remove stage directories of runners that were SIGKILLed (at least a minute ago)."""
    removed = []
    tmp = tempfile.gettempdir()
    for n in os.listdir(tmp):
        pid = n[len(STAGE_PREFIX):].split("-", 1)[0]
        p = os.path.join(tmp, n)
        if (n.startswith(STAGE_PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}")
                and os.path.isdir(p) and not os.path.islink(p)
                and time.time() - os.lstat(p).st_mtime > 60):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def check_prefix(meson, build_dir):
    r = subprocess.run([meson, "introspect", "--buildoptions", build_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        bail(f"meson introspect --buildoptions {build_dir} failed: {r.stderr.strip()}")
    prefix = next((o["value"] for o in json.loads(r.stdout) if o["name"] == "prefix"), None)
    if prefix != "/usr":
        bail(f"the build directory {build_dir} has prefix {prefix!r}; the integration tests "
             f"need --prefix=/usr (the system bus and polkitd read only /usr/share): "
             f"meson setup BUILD --prefix=/usr")


def warn_if_stale(build_dir):
    ninja = shutil.which("ninja")
    if not ninja:
        return
    r = subprocess.run([ninja, "-C", build_dir, "-n"], capture_output=True, text=True)
    if r.returncode != 0 or "no work to do" not in r.stdout:
        diag(f"warning: {build_dir} is not up to date (ninja -n has work to do); "
             "testing what was built last")


def stage(meson, build_dir, stage_dir):
    r = subprocess.run([meson, "install", "-C", build_dir, "--destdir", stage_dir,
                        "--no-rebuild", "--quiet"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        bail(f"meson install -C {build_dir} --destdir {stage_dir} failed "
             f"(status {r.returncode}): {(r.stdout + r.stderr).strip()}")


def _on_alarm(signum, frame):
    raise TestTimeout()


def format_failure(e):
    if isinstance(e, TestTimeout):
        head = "test timed out; it was at:\n"
        return head + "".join(traceback.format_tb(e.__traceback__)[1:])
    # Leave out the runner's own frame.
    return "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))


class Runner:
    def __init__(self, args):
        self.args = args
        self.n = 0
        self.failed = 0
        self.harness_errors = []

    def result(self, ok, module, test, details=None, seconds=None):
        self.n += 1
        if not ok:
            self.failed += 1
        out(f"{'ok' if ok else 'not ok'} {self.n} - {module}: {test}")
        if details:
            diag(details)
        if seconds is not None:
            diag(f"duration: {seconds:.3f} s")

    def fail_all(self, m, tests, reason):
        for t, _ in tests:
            self.result(False, m.name, t, reason)

    def run_module(self, m):
        if m.error:
            self.fail_all(m, m.tests, f"importing {m.path} failed:\n{m.error}")
            return
        t0 = time.monotonic()
        wall0 = time.time()
        self.last_output = ""
        c = cc.Container(binds_ro=[self.args.source_dir, self.args.build_dir, self.args.stage])
        c.source_dir, c.build_dir, c.stage_dir = \
            self.args.source_dir, self.args.build_dir, self.args.stage
        try:
            try:
                c.start()
            except Exception as e:  # whatever it is, this module's tests cannot run
                self.fail_all(m, m.tests, f"the container did not boot:\n{e}")
                return
            t_boot = time.monotonic()
            diag(f"{m.name}: container {c.name} booted in {c.boot_seconds:.3f} s "
                 f"(state {c.system_state})")
            if c.failed_units:
                diag(f"{m.name}: failed units after boot: {' '.join(c.failed_units)}")
            try:
                c.install(self.args.stage)
                t_install = time.monotonic()
                setup = getattr(m.module, "setup", None)
                if setup is not None:
                    self.call_with_timeout(setup, c, self.timeout_for(m, setup))
            except (Exception, TestTimeout) as e:
                printed = getattr(self, "last_output", "")
                self.fail_all(m, m.tests, "installing the build or setup(c) failed:\n"
                              + format_failure(e)
                              + (f"--- output of setup(c):\n{printed}" if printed else "")
                              + self.journal_tail(c, wall0))
                return
            diag(f"{m.name}: install {t_install - t_boot:.3f} s, setup "
                 f"{time.monotonic() - t_install:.3f} s")
            for t, fn in m.tests:
                self.run_test(m, c, t, fn)
        finally:
            t_down = time.monotonic()
            try:
                c.shutdown()
            except cc.ContainerError as e:
                self.harness_errors.append(str(e))
                diag(f"{m.name}: {e}")
            diag(f"{m.name}: teardown {time.monotonic() - t_down:.3f} s, "
                 f"module total {time.monotonic() - t0:.3f} s")

    def timeout_for(self, m, fn):
        return getattr(fn, "timeout", None) or m.timeout or self.args.timeout_per_test

    def call_with_timeout(self, fn, c, timeout):
        captured = io.StringIO()
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                fn(c)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            self.last_output = captured.getvalue()

    def run_test(self, m, c, t, fn):
        timeout = self.timeout_for(m, fn)
        wall = time.time()
        start = time.monotonic()
        self.last_output = ""
        try:
            self.call_with_timeout(fn, c, timeout)
        except (Exception, TestTimeout) as e:
            seconds = time.monotonic() - start
            if isinstance(e, TestTimeout):
                details = f"timed out after {timeout:g} s\n" + format_failure(e)
            else:
                details = format_failure(e)
            if self.last_output:
                details += "--- output of the test:\n" + self.last_output
            details += self.journal_tail(c, wall)
            self.result(False, m.name, t, details, seconds)
            return
        self.result(True, m.name, t, self.last_output or None, time.monotonic() - start)

    def journal_tail(self, c, since):
        """The container's journal since `since` (a time.time()), at most the last lines."""
        try:
            j = c.journal(["-S", f"@{since:.6f}", "-n", str(JOURNAL_LINES_ON_FAILURE),
                           "-o", "short-precise"], timeout=20)
        except (cc.ContainerError, OSError) as e:
            return f"\n(no journal: {e})"
        return (f"\n--- the container's journal during the test (at most "
                f"{JOURNAL_LINES_ON_FAILURE} lines):\n{j or '(empty)'}")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", required=True, help="meson build directory (--prefix=/usr)")
    p.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(HERE)),
                   help="source tree (default: the one this script is in)")
    p.add_argument("-k", dest="pattern", metavar="PATTERN",
                   help="run only tests whose 'module.test' contains PATTERN or matches it "
                        "as a glob")
    p.add_argument("--timeout-per-test", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds per test unless its module sets TIMEOUT "
                        f"(default {DEFAULT_TIMEOUT})")
    p.add_argument("--meson", default=shutil.which("meson") or "meson", help="meson to use")
    args = p.parse_args()
    args.build_dir = os.path.realpath(args.build_dir)
    args.source_dir = os.path.realpath(args.source_dir)
    return args


def main():
    global _tap
    sys.stdout.flush()
    _tap = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        return run(parse_args())
    except cc.Interrupted as e:
        out(f"Bail out! {e}")
        return 128 + e.signum


def run(args):
    out("TAP version 13")
    if os.geteuid() != 0:
        bail("the integration tests need root (they boot systemd containers); "
             "run them as root, they are never skipped")
    for d in (args.build_dir, args.source_dir):
        if not os.path.isdir(d):
            bail(f"{d} is not a directory")
    cc.install_signal_handlers()
    for left in cc.cleanup_stale() + cleanup_stale_stages():
        diag(f"removed leftover {left}")
    check_prefix(args.meson, args.build_dir)
    modules = discover(os.path.join(args.source_dir, "tests", "integration"), args.pattern)
    total = sum(len(m.tests) for m in modules)
    if total == 0:
        bail(f"no integration tests found{f' matching {args.pattern!r}' if args.pattern else ''}")
    warn_if_stale(args.build_dir)
    runner = Runner(args)
    args.stage = tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-")
    try:
        t0 = time.monotonic()
        stage(args.meson, args.build_dir, args.stage)
        diag(f"staged {args.build_dir} into {args.stage} in {time.monotonic() - t0:.3f} s")
        out(f"1..{total}")
        for m in modules:
            runner.run_module(m)
    finally:
        try:
            cc.shutdown_all(fast=True)
        finally:
            shutil.rmtree(args.stage, ignore_errors=True)
    if runner.harness_errors:
        diag("the harness could not clean up after itself; failing the run")
        return 1
    diag(f"{total - runner.failed} of {total} passed")
    return 0 if runner.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
