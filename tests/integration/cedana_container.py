# SPDX-License-Identifier: Apache-2.0
# A throwaway systemd container (systemd-nspawn on a read-only bind of /, --volatile=overlay) in
# which the integration tests run the real cedanad under a real systemd, system bus and polkitd.
"""Throwaway systemd containers for cedana's integration tests.

Recipe and its reasons: /work/shared/ENVIRONMENT.md ("A real systemd for integration tests").
In short: a private mount namespace holds a read-only bind of the host's / on an empty
directory; systemd-nspawn boots that with --volatile=overlay, so every write lands in a tmpfs
and vanishes with the container. systemd must never boot on the host's real root (its
tmpfiles would wipe the host's /tmp), so this module never does anything else.

The container has a cgroup of its own in every hierarchy (name=systemd, unified and each v1
controller, below the harness's own cgroup), and the v1 controllers are writable inside: a
container runtime inside (runc, see oci.py) makes its cgroups below the container's, never on
the host, and teardown removes them (deepest first, after thawing any frozen one).

    with Container(binds_ro=[srcdir, builddir]) as c:
        c.install(stage)                      # a `meson install --destdir` tree
        print(c.run(["busctl", "list"]).stdout)
        pid = c.start_unit_process("counter", ["sh", "-c", "while :; do sleep 1; done"])

Every container is torn down by shutdown(): on leaving the `with`, at exit (atexit), and on
SIGTERM/SIGINT/SIGHUP (fast teardown, then Interrupted is raised in the main thread).
"""

import atexit
import itertools
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_ROOT = "/sys/fs/cgroup"
# The hierarchies nspawn itself manages (it creates <own cgroup>/payload in them with
# --keep-unit); the v1 controllers besides are found in /proc/self/mountinfo.
CGROUP_HIERARCHIES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
NSPAWN_PROPAGATE_DIR = "/run/systemd/nspawn/propagate"
# CRIU writes these when it restores pids and SysV IPC ids, and the UTS names when it restores
# a container (runc) with its own UTS namespace; nspawn mounts /proc/sys read-only. All are
# per-namespace: writing them inside changes nothing on the host.
NS_SYSCTLS = ("ns_last_pid", "sem_next_id", "msg_next_id", "shm_next_id", "hostname",
              "domainname")
# Units that have no business in a test container: slow, host-specific, or timers that could
# fire in the middle of a test.
DEFAULT_MASKS = (
    "postgresql.service",
    "console-getty.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "man-db.timer",
    "systemd-tmpfiles-clean.timer",
    # Enabled by the packages of the S3 tests (Ceph) and their dependencies (LVM): the tests
    # start the Ceph daemons they need themselves.
    "ceph-crash.service",
    "rbdmap.service",
    "lvm2-monitor.service",
    "dm-event.socket",
    "lvm2-lvmpolld.socket",
    "uuidd.socket",
    "logrotate.timer",
    # Enabled by podman (the container benchmark's peer): its API service, and what starts or
    # updates containers at boot. The benchmark runs podman itself.
    "podman.service",
    "podman.socket",
    "podman-restart.service",
    "podman-auto-update.service",
    "podman-auto-update.timer",
    # Enabled by containerd's package: the tests that need it start it themselves (ctrd.py),
    # as a transient unit, on a tmpfs of their own.
    "containerd.service",
)
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_counter = itertools.count(1)
_live = []  # containers started and not yet fully torn down
_handlers_installed = False


class ContainerError(Exception):
    """The container could not be booted, entered or torn down."""


class CommandFailed(ContainerError):
    """A command run inside the container failed (or timed out)."""

    def __init__(self, argv, returncode, stdout, stderr, note=None):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.note = note
        super().__init__(self._message())

    def _message(self):
        what = self.note or f"exited with status {self.returncode}"
        lines = [f"command {shlex.join(str(a) for a in self.argv)} {what}"]
        for label, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            if isinstance(data, bytes):
                data = data.decode(errors="replace")
            data = (data or "").rstrip("\n")
            if data:
                lines.append(f"--- {label}:")
                lines.extend(data.splitlines())
            else:
                lines.append(f"--- {label}: (empty)")
        return "\n".join(lines)


class CommandTimeout(CommandFailed):
    """A command run inside the container ran past its timeout and was killed."""


class Interrupted(BaseException):
    """A terminating signal arrived; all containers have been torn down already.

    A BaseException, so that a test's `except Exception` does not swallow it."""

    def __init__(self, signum):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def cgroup_hierarchies():
    """[(mount point, own cgroup)] of every cgroup hierarchy mounted under /sys/fs/cgroup on
    the host: name=systemd, the unified (v2) one and each v1 controller (cpu, cpuset, memory,
    ..., comounted ones as one entry). The own cgroup is this process's, relative to the
    mount point ("" at the root). name=systemd and unified come first, in that order."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            own[frozenset(ctrls.split(",")) if ctrls else frozenset({"<v2>"})] = path
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.rstrip("\n").partition(" - ")
            fields = pre.split()
            mroot, mpoint = fields[3], fields[4]
            fstype, _, opts = post.split(" ", 2)
            if os.path.dirname(mpoint) != CGROUP_ROOT:
                continue
            if fstype == "cgroup2":
                key = frozenset({"<v2>"})
            elif fstype == "cgroup":
                key = frozenset(o for o in opts.split(",")
                                if o not in ("rw", "ro") and o in _ALL_V1_NAMES
                                or o.startswith("name="))
            else:
                continue
            path = own.get(key)
            if path is None:
                continue
            if mroot != "/" and (path + "/").startswith(mroot + "/"):
                path = path[len(mroot):]
            found.append((mpoint, path.strip("/")))
    order = {h: i for i, h in enumerate(CGROUP_HIERARCHIES)}
    found.sort(key=lambda e: order.get(e[0], len(order)))
    for h in CGROUP_HIERARCHIES:
        if h not in (m for m, _ in found):
            raise ContainerError(f"no cgroup hierarchy mounted at {h}")
    return found


# Every cgroup v1 controller the kernel may have (cat /proc/cgroups); mountinfo's super
# options hold these among mount options, which are told apart by this list.
_ALL_V1_NAMES = frozenset(("cpu", "cpuacct", "cpuset", "memory", "devices", "blkio",
                           "freezer", "pids", "net_cls", "net_prio", "perf_event", "hugetlb",
                           "rdma", "misc", "debug"))


def _thaw(top):
    """Thaw every frozen v1 freezer cgroup at and below top (a paused runc container):
    frozen tasks do not die of SIGKILL, so they would keep a container and its cgroups."""
    if not os.path.isdir(top):
        return
    for d in sorted((d for d, _, _ in os.walk(top)), key=len):
        p = os.path.join(d, "freezer.state")
        try:
            with open(p) as f:
                if f.read().strip() == "THAWED":
                    continue
            with open(p, "w") as f:
                f.write("THAWED")
        except OSError:
            pass


def _rmdir_tree(top, attempts=1):
    """rmdir top and every cgroup below it, deepest first (never anything but rmdir: only
    empty cgroups go). Returns the errors, one string each."""
    errors = []
    dirs = [d for d, _, _ in os.walk(top)]
    for d in sorted(dirs, key=len, reverse=True):
        for attempt in range(attempts):  # a cgroup stays busy briefly after its last exit
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if attempt == attempts - 1:
                    errors.append(f"cannot remove cgroup {d}: {e}")
                else:
                    time.sleep(0.02)
    return errors


def shutdown_all(fast=False):
    """Tear down every container this process started. Idempotent."""
    for c in list(_live):
        c.shutdown(fast=fast)


def cleanup_stale(prefix="cedana-test-"):
    """Remove what containers of dead harness processes left behind (only possible when a
    harness was SIGKILLed: nspawn then powers its container off by itself, see --pdeathsig,
    but nobody removes the cgroup and work directories). Names are PREFIX<pid>-<n>; only
    those whose pid is gone are touched, and only empty cgroups can be removed at all."""
    def dead(name):
        pid = name[len(prefix):].split("-", 1)[0].split(".", 1)[0]
        return pid.isdigit() and not os.path.exists(f"/proc/{pid}")

    removed = []
    parents = []
    for mpoint, own in cgroup_hierarchies():
        # Older harnesses made them at the root, this one below its own cgroup.
        for p in (mpoint, os.path.join(mpoint, own)):
            if p not in parents:
                parents.append(p)
    for h in parents:
        try:
            names = os.listdir(h)
        except OSError:
            continue
        for n in names:
            top = os.path.join(h, n)
            if not (n.startswith(prefix) and dead(n) and os.path.isdir(top)):
                continue
            _thaw(top)
            if not _rmdir_tree(top):
                removed.append(top)
    tmp = tempfile.gettempdir()
    for n in os.listdir(tmp):
        w = os.path.join(tmp, n)
        if not (n.startswith(prefix) and dead(n) and os.path.isdir(w) and not os.path.islink(w)):
            continue
        if time.time() - os.lstat(w).st_mtime < 60:
            continue  # its nspawn may still be powering the container off
        try:
            if os.path.isfile(os.path.join(w, "boot.log")):
                os.unlink(os.path.join(w, "boot.log"))
            for d in (os.path.join(w, "root"), w):
                if os.path.isdir(d):
                    os.rmdir(d)  # never recursive: see Container._remove_workdir
            removed.append(w)
        except OSError:
            pass
    for n in (os.listdir(NSPAWN_PROPAGATE_DIR) if os.path.isdir(NSPAWN_PROPAGATE_DIR) else ()):
        p = os.path.join(NSPAWN_PROPAGATE_DIR, n)
        if n.startswith(prefix) and dead(n):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _on_terminating_signal(signum, frame):
    shutdown_all(fast=True)
    raise Interrupted(signum)


def install_signal_handlers():
    """Tear everything down on SIGTERM/SIGINT/SIGHUP, then raise Interrupted.

    The teardown is fast (SIGKILL to the containers' PID 1): `meson test` sends SIGTERM on a
    timeout and SIGKILL 0.5 s later."""
    global _handlers_installed
    if _handlers_installed:
        return
    for s in TERMINATING_SIGNALS:
        signal.signal(s, _on_terminating_signal)
    _handlers_installed = True


atexit.register(shutdown_all)


class _SignalsBlocked:
    """Keeps teardown from being interrupted half-way by our own signal handlers."""

    SIGNALS = set(TERMINATING_SIGNALS) | {signal.SIGALRM}

    def __enter__(self):
        self.old = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)

    def __exit__(self, *exc):
        signal.pthread_sigmask(signal.SIG_SETMASK, self.old)


def _kill_group(proc):
    """SIGKILL the process group led by our own, not yet reaped, child."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stat_fields(pid):
    """Fields 3... of /proc/PID/stat (state, ppid, pgrp, ...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The parenthesised comm may hold spaces.
    return stat[stat.rfind(")") + 2:].split()


def _pgrp_members(pgrp):
    return [int(e) for e in os.listdir("/proc")
            if e.isdigit() and (_stat_fields(e) or [0, 0, 0])[2] == str(pgrp)]


def _kill_command(proc):
    """Kill a command started through nsenter (leader of its own process group).

    Kill everything in the group but nsenter first, so that nsenter reaps its child: killed
    first, nsenter would leave an orphan inside the container whose new parent is the host's
    PID 1 (it is outside the container's pid namespace), which reaps late; the zombie then
    holds up the container's poweroff, even a SIGKILL of its PID 1, for seconds."""
    for _ in range(40):
        if proc.poll() is not None:
            break
        members = [p for p in _pgrp_members(proc.pid) if p != proc.pid]
        if not members:
            break
        for p in members:
            try:
                fd = os.pidfd_open(p)
            except OSError:
                continue
            try:
                # Still in our group now that we hold it (no pid reuse under a pidfd)?
                if (_stat_fields(p) or [0, 0, 0])[2] == str(proc.pid):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            finally:
                os.close(fd)
        try:
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc)


def _read_proc_status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields


def _children_of(ppid):
    return [int(e) for e in os.listdir("/proc")
            if e.isdigit() and (_stat_fields(e) or [0, 0])[1] == str(ppid)]


def _tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


class Container:
    """One booted systemd container. Use as a context manager, or start()/shutdown()."""

    def __init__(self, binds_ro=(), name=None, masks=DEFAULT_MASKS, boot_timeout=90,
                 extra_nspawn_args=(), network_namespace=None, boot_args=()):
        self.name = name or f"cedana-test-{os.getpid()}-{next(_counter)}"
        self.binds_ro = [str(b) for b in binds_ro]
        self.masks = tuple(masks)
        self.boot_timeout = boot_timeout
        self.extra_nspawn_args = list(extra_nspawn_args)
        # More of systemd's own command line, e.g. "systemd.wants=UNIT".
        self.boot_args = list(boot_args)
        # A network namespace the caller made and removes (/run/netns/NAME), e.g. one that two
        # containers share; by default each container gets a private one of its own.
        self.network_namespace = network_namespace
        self.pid1 = None            # the container's PID 1, as the host sees it
        self.boot_seconds = None    # from spawning nspawn to is-system-running answering
        self.system_state = None    # "running" or "degraded"
        self.failed_units = []      # names of failed units right after boot
        self.workdir = None
        self.boot_log_path = None
        self._root = None
        self._nspawn = None
        self._log_file = None
        self._pid1_fd = None
        # Its own cgroup in every hierarchy, below the harness's: systemd, unified, then the
        # v1 controllers (filled in by start()).
        self._cgroups = []
        self._v1_controllers = []  # mount point names under /sys/fs/cgroup: cpu, memory, ...
        self._users = {}
        self._down = False

    @property
    def cgroups(self):
        """The container's own cgroups on the host, one per hierarchy (systemd, unified, then
        each v1 controller); what runc and the like make inside lands below them."""
        return list(self._cgroups)

    # ---- lifecycle -------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    def start(self):
        if self._nspawn is not None:
            raise ContainerError(f"container {self.name} was started already")
        if os.geteuid() != 0:
            raise ContainerError("booting a container needs root")
        for b in self.binds_ro:
            src = b.split(":", 1)[0]
            if not os.path.exists(src):
                raise ContainerError(f"bind source {src} does not exist")
        install_signal_handlers()
        _live.append(self)
        t0 = time.monotonic()
        try:
            self._spawn_nspawn()
            self._find_pid1()
            self._wait_booted(t0)
            self._make_sysctls_writable()
            self._make_cgroups_writable()
        except BaseException as e:
            log = _tail(self.boot_log_path) if self.boot_log_path else ""
            self.shutdown(fast=True)
            if isinstance(e, (Interrupted, KeyboardInterrupt)):
                raise
            raise ContainerError(f"container {self.name} failed to boot: {e}\n"
                                 f"--- last lines of the boot log:\n{log}") from e
        self.boot_seconds = time.monotonic() - t0
        return self

    def _spawn_nspawn(self):
        self.workdir = tempfile.mkdtemp(prefix=f"{self.name}.")
        self._root = os.path.join(self.workdir, "root")
        os.mkdir(self._root, 0o755)
        self.boot_log_path = os.path.join(self.workdir, "boot.log")
        self._make_cgroups()
        nspawn = [
            "systemd-nspawn", "-q", "-D", self._root, "--volatile=overlay", "-M", self.name,
            "--register=no", "--keep-unit",
            (f"--network-namespace-path={self.network_namespace}" if self.network_namespace
             else "--private-network"),
            "--link-journal=no",
            "--console=read-only", "--capability=CAP_SYS_TIME,CAP_CHECKPOINT_RESTORE",
        ]
        # nspawn grants CAP_NET_ADMIN with a private network only; CRIU needs it to lock the
        # network (nftables) in a shared one too.
        if self.network_namespace:
            nspawn.append("--capability=CAP_NET_ADMIN")
        nspawn += [f"--bind-ro={b}" for b in self.binds_ro]
        nspawn += self.extra_nspawn_args
        nspawn += ["-b", "--", "systemd.unit=multi-user.target", "systemd.log_color=0"]
        nspawn += [f"systemd.mask={m}" for m in self.masks]
        nspawn += self.boot_args
        # The shell runs in the new private mount namespace: it moves itself into the
        # container's own cgroups (with --keep-unit nspawn puts the payload below its own
        # cgroup; in the v1 controllers, runc and the like inside then make theirs below
        # it, not on the host), binds / read-only on the empty root directory and becomes
        # nspawn. The bind exists only in that namespace and goes away with it.
        script = (
            'set -e\n'
            'root=$1; shift\n'
            'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done\n'
            'shift\n'
            'mount --bind -o ro / "$root"\n'
            'exec env SYSTEMD_SECCOMP=0 "$@"\n'
        )
        argv = ["setpriv", "--pdeathsig=TERM", "--",
                "unshare", "-m", "--propagation", "private", "--",
                "sh", "-c", script, "sh", self._root, *self._cgroups, "--", *nspawn]
        self._log_file = open(self.boot_log_path, "wb")
        # Own session: a Ctrl-C in the terminal reaches only us, and we tear down in order.
        # --pdeathsig: should this process die without tearing down (SIGKILL), nspawn gets
        # SIGTERM and powers the container off itself.
        self._nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, close_fds=True,
                                        start_new_session=True)

    def _nspawn_exited(self):
        return self._nspawn is None or self._nspawn.poll() is not None

    def _find_pid1(self):
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if self._nspawn_exited():
                raise ContainerError(f"systemd-nspawn exited with status {self._nspawn.returncode}")
            for kid in _children_of(self._nspawn.pid):
                st = _read_proc_status(kid)
                if not st or st.get("Name") != "systemd":
                    continue
                if st.get("NSpid", "").split()[-1:] != ["1"]:
                    continue
                self._pid1_fd = os.pidfd_open(kid)
                self.pid1 = kid
                return
            time.sleep(0.02)
        raise ContainerError("timed out waiting for the container's systemd to start")

    def _wait_booted(self, t0):
        deadline = t0 + self.boot_timeout
        last = None
        while True:
            if self._nspawn_exited():
                raise ContainerError(f"systemd-nspawn exited with status {self._nspawn.returncode}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ContainerError(f"timed out waiting for boot; last answer: {last}")
            # Answers "offline" (or fails to connect) until the manager listens.
            r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                         timeout=max(1, left))
            state = r.stdout.strip()
            last = (state or r.stderr.strip())
            if state in ("running", "degraded"):
                break
            if state in ("maintenance", "stopping"):
                raise ContainerError(f"system state is {state!r}")
            time.sleep(0.05)
        self.system_state = state
        if state == "degraded":
            r = self.run(["systemctl", "list-units", "--failed", "--plain", "--no-legend",
                          "--no-pager"], check=False)
            self.failed_units = [line.split()[0] for line in r.stdout.splitlines() if line.split()]

    def _make_cgroups(self):
        """Make the container's own cgroup in every hierarchy, below the harness's own."""
        for mpoint, own in cgroup_hierarchies():
            cg = os.path.join(mpoint, own, self.name)
            self._cgroups.append(cg)  # before mkdir: teardown removes what exists
            os.makedirs(cg, exist_ok=True)
            if mpoint not in CGROUP_HIERARCHIES:
                self._v1_controllers.append(os.path.basename(mpoint))
            # A new cpuset has no cpus and no memory nodes: nothing could join it. ("cpus"
            # and "mems" on a cpuset hierarchy mounted with noprefix.)
            for knob in ("cpuset.cpus", "cpuset.mems", "cpus", "mems"):
                mine = os.path.join(cg, knob)
                if os.path.exists(mine):
                    with open(os.path.join(os.path.dirname(cg), knob)) as f:
                        value = f.read().strip()
                    with open(mine, "w") as f:
                        f.write(value)

    def _make_cgroups_writable(self):
        """nspawn mounts the v1 controllers read-only in the container; runc and the like
        must make their cgroups there. What they make lands below the container's own
        cgroups (see _spawn_nspawn) and goes at teardown. A plain remount is refused as
        busy; the bind variant changes only this mount's flags, in the container."""
        script = ('for c in "$@"; do p=/sys/fs/cgroup/$c; '
                  'if mountpoint -q "$p"; then mount -o remount,bind,rw "$p" || exit 1; fi; '
                  'done')
        self.run(["sh", "-c", script, "sh", *self._v1_controllers])

    def _make_sysctls_writable(self):
        script = ('for f in "$@"; do p=/proc/sys/kernel/$f; '
                  'mount --bind $p $p && mount -o remount,bind,rw $p || exit 1; done')
        self.run(["sh", "-c", script, "sh", *NS_SYSCTLS])

    def _pid1_alive(self):
        if self._pid1_fd is None:
            return False
        r, _, _ = select.select([self._pid1_fd], [], [], 0)
        return not r

    def _signal_pid1(self, sig):
        if self._pid1_fd is None:
            return
        try:
            signal.pidfd_send_signal(self._pid1_fd, sig)
        except ProcessLookupError:
            pass

    def _wait_nspawn(self, timeout):
        if self._nspawn is None:
            return True
        try:
            self._nspawn.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def shutdown(self, fast=False):
        """Power the container off and remove every trace of it. Idempotent.

        fast: SIGKILL the container's PID 1 at once instead of a clean poweroff."""
        if self._down:
            return
        with _SignalsBlocked():
            if self._down:
                return
            errors = []
            self._thaw_all()
            if self._nspawn is not None and self._nspawn.poll() is None:
                if self.pid1 is not None and not fast:
                    self._signal_pid1(signal.SIGRTMIN + 4)  # clean poweroff
                    self._wait_nspawn(5)
                if self._nspawn.poll() is None:
                    # SIGKILL to nspawn would not stop the container; to its PID 1 it does.
                    self._thaw_all()
                    self._signal_pid1(signal.SIGKILL)
                    self._wait_nspawn(5)
                if self._nspawn.poll() is None:
                    self._cgroup_kill()
                    self._wait_nspawn(5)
                if self._nspawn.poll() is None:
                    self._nspawn.kill()
                    if not self._wait_nspawn(5):
                        errors.append(f"systemd-nspawn (pid {self._nspawn.pid}) does not exit")
            if self._pid1_fd is not None:
                if self._pid1_alive():
                    errors.append(f"container PID 1 (host pid {self.pid1}) survived SIGKILL")
                os.close(self._pid1_fd)
                self._pid1_fd = None
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            self._thaw_all()
            errors += self._remove_cgroups()
            prop = os.path.join(NSPAWN_PROPAGATE_DIR, self.name)
            if os.path.isdir(prop) and not os.path.islink(prop):
                shutil.rmtree(prop, ignore_errors=True)
            if self.workdir is not None:
                errors += self._remove_workdir()
            self._down = True
            if self in _live:
                _live.remove(self)
            if errors:
                raise ContainerError(f"teardown of {self.name}: " + "; ".join(errors))

    def wait_powered_off(self, timeout=60):
        """After a poweroff asked for inside: whether the container went down within timeout.
        shutdown() still removes what is left of it."""
        return self._wait_nspawn(timeout)

    def _thaw_all(self):
        for cg in self._cgroups:
            if os.path.exists(os.path.join(cg, "freezer.state")):
                _thaw(cg)

    def _cgroup_kill(self):
        unified = next((cg for cg in self._cgroups
                        if cg.startswith(CGROUP_HIERARCHIES[1] + "/")), None)
        if unified is None:
            return
        try:
            with open(os.path.join(unified, "payload", "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass

    def _remove_cgroups(self):
        errors = []
        for top in self._cgroups:
            if os.path.isdir(top):
                errors += _rmdir_tree(top, attempts=50)
        return errors

    def _remove_workdir(self):
        errors = []
        if self.boot_log_path and os.path.exists(self.boot_log_path):
            os.unlink(self.boot_log_path)
        # Only rmdir: should the read-only bind of / ever be visible here, a recursive
        # removal would walk into the host's root.
        for d in (self._root, self.workdir):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as e:
                errors.append(f"cannot remove {d}: {e}")
        return errors

    def boot_log(self):
        return _tail(self.boot_log_path, 10**6) if self.boot_log_path else ""

    # ---- running things inside -------------------------------------------------------

    def _check_running(self):
        if self._down or self.pid1 is None:
            raise ContainerError(f"container {self.name} is not running")

    def user_info(self, user):
        """(name, uid, gid, home) of a user inside the container, by name or uid."""
        key = str(user)
        if key not in self._users:
            r = self.run(["getent", "passwd", key], check=False)
            if r.returncode != 0 or not r.stdout.strip():
                raise ContainerError(f"no user {key!r} in container {self.name}")
            f = r.stdout.strip().split("\n")[0].split(":")
            self._users[key] = (f[0], int(f[2]), int(f[3]), f[5])
        return self._users[key]

    def _inside_argv(self, cmd, user=None, env=None, cwd=None):
        self._check_running()
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        if not argv:
            raise ValueError("empty command")
        envs = [f"PATH={CONTAINER_PATH}", "LANG=C.UTF-8", "SYSTEMD_COLORS=0",
                "SYSTEMD_PAGER=", "PAGER=cat"]
        priv = []
        if user is not None:
            name, uid, gid, home = self.user_info(user)
            envs += [f"HOME={home}", f"USER={name}", f"LOGNAME={name}"]
            priv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--"]
            if cwd is None:
                cwd = home
        else:
            envs += ["HOME=/root", "USER=root", "LOGNAME=root"]
        for k, v in (env or {}).items():
            if not k or "=" in k:
                raise ValueError(f"bad environment variable name {k!r}")
            envs.append(f"{k}={v}")
        return ["nsenter", "-t", str(self.pid1), "-a",
                "env", "-i", "-C", cwd or "/", *envs, *priv, *argv]

    def run(self, cmd, user=None, input=None, timeout=60, check=True, env=None, cwd=None,
            text=True, stdin=None):
        """Run cmd (argv list, or a str for sh -c) inside the container.

        Clean environment (PATH plus env), no inherited fds above 2, as root or as user
        (name or uid). Returns a CompletedProcess; stdout/stderr are str (bytes if
        text=False). Raises CommandFailed if check and the status is not 0, CommandTimeout
        past timeout seconds (the command is killed). stdin: a file object to read from,
        instead of input. Like subprocess.run, it waits until stdout and stderr are closed:
        a command that leaves something running in the background must redirect that
        one's output (`cmd >/dev/null 2>&1 &`); better, start it with start_unit_process."""
        argv = self._inside_argv(cmd, user=user, env=env, cwd=cwd)
        shown = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        who = f" (as {user})" if user is not None else ""
        if isinstance(input, str):
            input = input.encode()
        if stdin is None:
            stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_command(proc)
            out, err = proc.communicate()
            raise CommandTimeout(shown, None, out.decode(errors="replace"),
                                 err.decode(errors="replace"),
                                 note=f"timed out after {timeout:g} s{who}") from None
        except BaseException:
            _kill_command(proc)
            proc.wait()
            raise
        if text:
            out, err = out.decode(errors="replace"), err.decode(errors="replace")
        if check and proc.returncode != 0:
            raise CommandFailed(shown, proc.returncode, out, err,
                                note=f"exited with status {proc.returncode}{who}")
        return subprocess.CompletedProcess(shown, proc.returncode, out, err)

    def start_unit_process(self, name, argv, user=None, properties=(), output="null",
                           timeout=60):
        """Start a long-lived workload as a transient service; return its main PID (as seen
        inside the container).

        A unit gives the workload a proper cgroup inside the container (a process started
        by nsenter stays in the harness's cgroup on the host, which CRIU cannot restore).
        output: "null" (default), "journal", or a path inside the container (appended to).
        CRIU cannot dump a workload whose stdout is the journal's socket (an external unix
        socket), hence the default."""
        unit = name if "." in name else f"{name}.service"
        args = ["systemd-run", "--quiet", f"--unit={unit}", "--property=Type=exec"]
        if output == "null":
            args += ["--property=StandardOutput=null", "--property=StandardError=null"]
        elif output != "journal":
            args += [f"--property=StandardOutput=append:{output}",
                     f"--property=StandardError=append:{output}"]
        if user is not None:
            args.append(f"--property=User={self.user_info(user)[0]}")
        args += [f"--property={p}" for p in properties]
        argv = ["sh", "-c", argv] if isinstance(argv, str) else [str(a) for a in argv]
        self.run(args + ["--", *argv], timeout=timeout)
        pid = int(self.run(["systemctl", "show", "-P", "MainPID", unit]).stdout.strip() or 0)
        if pid <= 0:
            status = self.run(["systemctl", "status", "--no-pager", "-n", "20", unit],
                              check=False)
            raise ContainerError(f"unit {unit} has no main process (it exited?):\n"
                                 f"{status.stdout}{status.stderr}")
        return pid

    # Runs inside: moves an unpacked tree ($1) into / the way a package manager does. Missing
    # directories are made with the tree's owner and mode, existing ones are left alone
    # (modes, symlinks like /lib -> usr/lib or /var/run -> /run); every other entry is
    # renamed into place, so nobody watching (dbus-daemon and polkitd reload on inotify)
    # ever sees a half-written file or a directory that tar made 0700 for a while.
    _INSTALL_SCRIPT = r"""
set -e
cd "$1"
find . -mindepth 1 -type d | while IFS= read -r d; do
    t="/${d#./}"
    if [ ! -e "$t" ] && [ ! -L "$t" ]; then
        mkdir "$t"
        chown --reference="$d" "$t"
        chmod --reference="$d" "$t"
    fi
done
find . -mindepth 1 ! -type d | while IFS= read -r f; do
    mv -f -T "$f" "/${f#./}"
done
cd /
rm -rf "$1"
"""

    def install(self, stage_dir, timeout=120):
        """Copy a staged `meson install --destdir` tree into the container's /, then reload
        systemd and the system bus (and apply shipped sysusers.d/tmpfiles.d files).

        The tree travels as a tar stream to a tar running inside, which unpacks it into a
        temporary directory; from there every file is renamed into place (see
        _INSTALL_SCRIPT). All paths are resolved inside the container: a copy from the host
        through /proc/PID/root would follow the container's absolute symlinks (/var/run ->
        /run) out onto the host."""
        stage_dir = os.path.abspath(stage_dir)
        if not os.path.isdir(stage_dir):
            raise ContainerError(f"stage directory {stage_dir} does not exist")
        tmp = self.run(["mktemp", "-d", "/var/tmp/.cedana-install.XXXXXX"]).stdout.strip()
        packer = subprocess.Popen(["tar", "-C", stage_dir, "--numeric-owner", "-cf", "-", "."],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
        try:
            unpack = self.run(["tar", "-C", tmp, "-xf", "-", "--numeric-owner"],
                              stdin=packer.stdout, timeout=timeout, check=False)
        finally:
            packer.stdout.close()
            try:
                perr = packer.communicate(timeout=timeout)[1]
            except BaseException:
                _kill_group(packer)
                packer.wait()
                raise
        if packer.returncode != 0:
            raise ContainerError(f"tar of {stage_dir} failed: {perr.decode(errors='replace')}")
        if unpack.returncode != 0:
            raise CommandFailed(unpack.args, unpack.returncode, unpack.stdout, unpack.stderr,
                                note="(unpacking the stage inside the container) failed")
        self.run(["sh", "-c", self._INSTALL_SCRIPT, "sh", tmp], timeout=timeout)
        for d in ("usr/lib/sysusers.d", "etc/sysusers.d"):
            if os.path.isdir(os.path.join(stage_dir, d)) and os.listdir(os.path.join(stage_dir, d)):
                self.run(["systemd-sysusers"])
                break
        tmpfiles = []
        for d in ("usr/lib/tmpfiles.d", "etc/tmpfiles.d"):
            p = os.path.join(stage_dir, d)
            if os.path.isdir(p):
                tmpfiles += ["/" + d + "/" + f for f in sorted(os.listdir(p)) if f.endswith(".conf")]
        if tmpfiles:
            self.run(["systemd-tmpfiles", "--create", *tmpfiles])
        self.run(["systemctl", "daemon-reload"])
        self.run(["busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                  "org.freedesktop.DBus", "ReloadConfig"])

    def add_user(self, name):
        """Create an ordinary user (with a home directory); return its uid."""
        self.run(["useradd", "-m", "-s", "/bin/sh", name])
        self._users.pop(name, None)
        return self.user_info(name)[1]

    def journal(self, args=(), timeout=60):
        """journalctl's output inside the container (args: a list, or a str split like sh)."""
        if isinstance(args, str):
            args = shlex.split(args)
        return self.run(["journalctl", "--no-pager", "-q", *args], timeout=timeout).stdout

    def read_file(self, path, binary=False):
        return self.run(["cat", "--", path], text=not binary).stdout

    def write_file(self, path, data, mode=None, user=None):
        """Write data (str or bytes) to path inside the container, optionally chmod it."""
        self.run(["sh", "-c", 'cat > "$1"', "sh", path], input=data, user=user)
        if mode is not None:
            self.run(["chmod", f"{mode:o}" if isinstance(mode, int) else mode, "--", path],
                     user=user)

    def path_exists(self, path):
        return self.run(["test", "-e", path], check=False).returncode == 0

    def wait_for_unit_active(self, unit, timeout=30):
        return wait_until(lambda: self.run(["systemctl", "is-active", "--quiet", unit],
                                           check=False).returncode == 0,
                          timeout, f"unit {unit} to be active")

    # Also usable as a method: c.wait_until(fn, timeout, what).
    def wait_until(self, fn, timeout=30, what="condition", interval=0.1):
        return wait_until(fn, timeout, what, interval)


def wait_until(fn, timeout=30, what="condition", interval=0.1):
    """Call fn until it returns something true; return that. An exception from fn counts as
    not yet (the last one is reported). Raises TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - e.g. the service is not up yet
            last_exc = e
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:g} s waiting for {what}"
            if last_exc is not None:
                msg += f" (last error: {last_exc})"
            raise TimeoutError(msg) from last_exc
        time.sleep(interval)
