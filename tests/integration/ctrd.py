# SPDX-License-Identifier: Apache-2.0
# containerd for the integration tests: a containerd of its own in every throwaway systemd
# container (cedana_container.Container), a busybox image, and ctr; never on the host.
"""containerd and its tasks inside the test container.

    import ctrd
    with ctrd.cleanup_after(c):                    # starts containerd; afterwards every task
        pid = ctrd.run(c, "t1", oci.COUNTER_SH)    # and container in every namespace is gone
        ...
        ctrd.checkpoint(c, "t1", "/var/lib/cedana-test/ck/t1")
        ctrd.delete(c, "t1")

Facts these helpers are built on (/work/shared/ENVIRONMENT.md, "OCI containers inside the
test container", and tests/integration/test_66_containerd.py):
- containerd 1.6.20 from Debian; its package enables containerd.service, which the test
  container masks (cedana_container.DEFAULT_MASKS). A unit masked on the kernel command line
  cannot be unmasked, so start() runs containerd as a transient unit (UNIT) with the packaged
  unit's settings (Type=notify, Delegate=yes, KillMode=process, no limits); start() takes
  about 0.1 s, image() 0.6 s. Its log is that unit's journal (shown when ctr fails).
- Its storage (/var/lib/containerd) is a tmpfs of the test container: the overlayfs
  snapshotter cannot work on the container's overlay root (`failed to mount
  /tmp/containerd-mount...: invalid argument`). /run/containerd is in the container's /run.
  Both are in the container's mount namespace and vanish with it.
- The image (IMAGE) is made with umoci from Debian's busybox-static, on a tmpfs: on the
  overlay umoci sees colliding inode numbers and writes bogus hardlinks into the layer. The
  rootfs is the task's writable overlay snapshot; it has /data (for oci.COUNTER_SH) and a link
  for every busybox applet. Images live per namespace: run() imports IMAGE where it is
  missing. The shim mounts a task's snapshot at TASKS_STATE/<namespace>/<id>/rootfs in the
  test container's mount namespace, from task create until `ctr task rm`: read_file() reads
  there, a STOPPED task's files too.
- `ctr run -d --null-io`: the task's stdio is /dev/null (CRIU cannot dump a file outside the
  container). ctr is only a client, so it runs from the nsenter shell: the shims stay in
  containerd's unit (name=systemd and unified), and a task's init is a shim's child. The
  task's pid (ctr task ls) is as the test container sees it.
- cgroups: runc's cgroupfs driver puts a task in /<namespace>/<id> in every hierarchy
  (name=systemd and unified too), i.e. below the test container's own cgroups on the host;
  they go with `ctr task rm` (the /<namespace> parents stay until the container's teardown).
- Each task has its own network namespace with only lo, which runc brings up. CRIU dumps it
  as an empty namespace and locks no network, so /etc/criu/runc.conf (which containerd's runc
  reads too, see oci.prepare) is not needed for a checkpoint.
- `ctr task checkpoint --image-path D --work-path W ID` writes raw CRIU images to D (nothing
  goes to the content store) and leaves the task running; CRIU's log is W/dump.log. ctr pauses
  the task around it and resumes it, unless it was paused before: then it stays paused.
- ctr cannot restore from raw images (only containerd's API can); `ctr c rm` removes the
  container's snapshot with it.
"""

import contextlib

import cedana_container as cc
import oci

CTR = "/usr/bin/ctr"
CONTAINERD = "/usr/bin/containerd"
UNIT = "cedana-test-containerd.service"
UNIT_PROPERTIES = ("Type=notify", "Delegate=yes", "KillMode=process", "LimitNOFILE=infinity",
                   "LimitNPROC=infinity", "LimitCORE=infinity", "TasksMax=infinity")
ROOT = "/var/lib/containerd"        # a tmpfs inside the test container
SOCKET = "/run/containerd/containerd.sock"
TASKS_STATE = "/run/containerd/io.containerd.runtime.v2.task"   # <namespace>/<id>: bundles
IMAGE_NAME = "localhost/busybox"
IMAGE = f"{IMAGE_NAME}:1"
IMAGE_BUILD = f"{oci.TOP}/ctrd-image"   # a tmpfs while the image is built
# The image's default command: idles, and ends on SIGTERM (`ctr task kill`).
IDLE_SH = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"
JOURNAL_LINES = 30

_IMAGE_SCRIPT = r"""
set -e
t=$1; bb=$2; idle=$3
cd "$t"
umoci init --layout oci
umoci new --image oci:1
umoci unpack --image oci:1 bundle >/dev/null
cd bundle/rootfs
mkdir -p bin proc sys dev tmp data etc root
cp "$bb" bin/busybox
for a in $(bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'root:x:0:' > etc/group
cd "$t"
umoci repack --image oci:1 bundle
umoci config --image oci:1 --config.env PATH=/bin --config.workingdir / \
    --config.cmd sh --config.cmd -c --config.cmd "$idle"
tar -C oci -cf busybox.tar .
"""


class CtrFailed(cc.CommandFailed):
    """ctr failed; the message carries the end of containerd's journal."""


def journal_tail(c, lines=JOURNAL_LINES):
    """The last lines of containerd's journal (its unit's), as str."""
    r = c.run(["journalctl", "--no-pager", "-q", "-o", "short-precise", "-u", UNIT,
               "-n", str(lines)], check=False, timeout=20)
    return r.stdout


def ctr(c, *args, namespace="default", check=True, timeout=60):
    """`ctr -n NAMESPACE ARGS` inside the test container; on failure (check) raises
    CtrFailed with containerd's journal tail."""
    argv = [CTR, "-n", namespace, *[str(a) for a in args]]
    r = c.run(argv, check=False, timeout=timeout)
    if check and r.returncode != 0:
        raise CtrFailed(argv, r.returncode, r.stdout, r.stderr,
                        note=f"exited with status {r.returncode}\n"
                             f"--- containerd's journal (end):\n{journal_tail(c)}")
    return r


def _answers(c):
    return (c.path_exists(SOCKET)
            and c.run([CTR, "version"], check=False, timeout=10).returncode == 0)


def start(c, env=None):
    """Once per test container (idempotent): a tmpfs on ROOT, then containerd as the transient
    unit UNIT; returns when `ctr version` answers. env: {name: value} for containerd (and so
    for the shims, runc and CRIU it starts), fixed at the first call: later ones may only pass
    None or the same. (A transient unit cannot be started again while shims, which
    KillMode=process leaves, are in it: "Unit ... was already loaded or has a fragment
    file".)"""
    if getattr(c, "_ctrd_env", None) is not None:
        if env is not None and dict(env) != c._ctrd_env:
            raise ValueError(f"containerd runs with env {c._ctrd_env}, not {dict(env)}")
        return
    env = dict(env or {})
    if c.run(["systemctl", "is-active", "--quiet", UNIT], check=False).returncode == 0:
        c.wait_until(lambda: _answers(c), 30, "containerd to answer")
        c._ctrd_env = env      # started by another handle on this container: taken as is
        return
    c.run(["sh", "-c", 'mountpoint -q "$1" || { mkdir -p "$1" && '
                       'mount -t tmpfs -o mode=0711 tmpfs "$1"; }', "sh", ROOT])
    c.run(["systemctl", "reset-failed", UNIT], check=False)   # a containerd that died
    argv = ["systemd-run", "--quiet", f"--unit={UNIT}",
            *[f"--property={p}" for p in UNIT_PROPERTIES],
            *[f"--setenv={k}={v}" for k, v in env.items()], "--", CONTAINERD]
    r = c.run(argv, check=False, timeout=60)
    if r.returncode != 0:
        raise cc.CommandFailed(argv, r.returncode, r.stdout, r.stderr,
                               note=f"exited with status {r.returncode}\n"
                                    f"--- containerd's journal (end):\n{journal_tail(c)}")
    try:
        c.wait_until(lambda: _answers(c), 30, "containerd to answer")
    except TimeoutError as e:
        raise cc.ContainerError(f"{e}\n--- containerd's journal (end):\n{journal_tail(c)}")
    c._ctrd_env = env


def images(c, namespace="default"):
    """The image names containerd has in namespace."""
    return ctr(c, "image", "ls", "-q", namespace=namespace).stdout.split()


def image(c, namespace="default"):
    """Make IMAGE in namespace unless it is there (idempotent): built with umoci on a tmpfs
    (IMAGE_BUILD, unmounted afterwards) and imported with `ctr image import`."""
    start(c)
    if IMAGE in images(c, namespace):
        return IMAGE
    c.run(["mkdir", "-p", IMAGE_BUILD])
    c.run(["mount", "-t", "tmpfs", "tmpfs", IMAGE_BUILD])
    try:
        c.run(["sh", "-c", _IMAGE_SCRIPT, "sh", IMAGE_BUILD, oci.BUSYBOX, IDLE_SH], timeout=120)
        ctr(c, "image", "import", "--base-name", IMAGE_NAME, f"{IMAGE_BUILD}/busybox.tar",
            namespace=namespace, timeout=120)
    finally:
        c.run(["umount", IMAGE_BUILD], check=False)
    if IMAGE not in images(c, namespace):
        raise cc.ContainerError(f"{IMAGE} is not in namespace {namespace} after the import: "
                                f"{images(c, namespace)}")
    return IMAGE


def namespaces(c):
    """containerd's namespaces (names)."""
    return ctr(c, "namespace", "ls", "-q").stdout.split()


def tasks(c, namespace="default"):
    """{id: {"pid": int, "status": "RUNNING" | "PAUSED" | "STOPPED" | ...}} of `ctr task ls`."""
    out = {}
    for line in ctr(c, "task", "ls", namespace=namespace).stdout.splitlines()[1:]:
        f = line.split()
        if len(f) >= 3:
            out[f[0]] = {"pid": int(f[1]), "status": f[2]}
    return out


def containers(c, namespace="default"):
    """The container ids of `ctr c ls -q`."""
    return ctr(c, "container", "ls", "-q", namespace=namespace).stdout.split()


def snapshots(c, namespace="default"):
    """{key: kind ("Active", "Committed", "View")} of the default snapshotter's snapshots."""
    out = {}
    for line in ctr(c, "snapshot", "ls", namespace=namespace).stdout.splitlines()[1:]:
        f = line.split()
        if f:
            out[f[0]] = f[-1]
    return out


def status(c, id, namespace="default"):
    """The task's status ("RUNNING", ...), or None when it has none."""
    t = tasks(c, namespace).get(id)
    return t and t["status"]


def wait_status(c, id, want, namespace="default", timeout=10):
    c.wait_until(lambda: status(c, id, namespace) == want, timeout,
                 f"task {id} ({namespace}) to be {want}")


def pid(c, id, namespace="default"):
    """The task's init pid, as the test container sees it."""
    t = tasks(c, namespace).get(id)
    if t is None or t["pid"] <= 0:
        raise cc.ContainerError(f"no task {id} with a process in namespace {namespace}: {t}")
    return t["pid"]


def run(c, id, shell=None, namespace="default", *, args=(), timeout=60):
    """`ctr -n NAMESPACE run -d --null-io ARGS IMAGE ID sh -c SHELL` (shell: a str for sh -c,
    a list for an argv, None for the image's default command); returns the task's pid once
    it is RUNNING."""
    image(c, namespace)
    if shell is None:
        argv = []
    elif isinstance(shell, str):
        argv = ["sh", "-c", shell]
    else:
        argv = [str(a) for a in shell]
    ctr(c, "run", "-d", "--null-io", *args, IMAGE, id, *argv, namespace=namespace,
        timeout=timeout)
    t = tasks(c, namespace).get(id)
    if t is None or t["status"] != "RUNNING":
        raise cc.ContainerError(f"task {id} is not running after `ctr run -d`: {t}\n"
                                f"--- containerd's journal (end):\n{journal_tail(c)}")
    return t["pid"]


def rootfs(id, namespace="default"):
    """The task's root file system as the test container sees it: the shim's mount of the
    container's snapshot, there from task create until `ctr task rm` (a STOPPED task's too)."""
    return f"{TASKS_STATE}/{namespace}/{id}/rootfs"


def read_file(c, id, path, namespace="default"):
    """A file in the task's root file system (rootfs()), as str ("" if missing). An absolute
    symlink on the way would resolve in the test container's root."""
    return c.run(["cat", f"{rootfs(id, namespace)}/{path.lstrip('/')}"], check=False).stdout


def count(c, id, namespace="default", rel="data/count"):
    """The counter oci.COUNTER_SH keeps (0 before its first write)."""
    return int(read_file(c, id, rel, namespace).strip() or 0)


def in_netns(c, id, argv, namespace="default", **kw):
    """Run argv (list or sh -c str) inside the test container, with its own tools, but in the
    task's network namespace (nsenter --net=/proc/PID/ns/net)."""
    argv = ["sh", "-c", argv] if isinstance(argv, str) else [str(a) for a in argv]
    return c.run(["nsenter", f"--net=/proc/{pid(c, id, namespace)}/ns/net", "--", *argv], **kw)


def checkpoint(c, id, image_path, work_path=None, namespace="default", *, exit=False,
               check=True, timeout=120):
    """`ctr task checkpoint --image-path IMG --work-path W [--exit] ID` (W defaults to
    IMG-work): raw CRIU images in IMG; CRIU's log is W/dump.log, whose errors a failure
    shows."""
    work_path = work_path or f"{image_path}-work"
    c.run(["mkdir", "-p", image_path, work_path])
    args = ["task", "checkpoint", "--image-path", image_path, "--work-path", work_path]
    if exit:
        args.append("--exit")
    r = ctr(c, *args, id, namespace=namespace, check=False, timeout=timeout)
    if check and r.returncode != 0:
        log = c.run(["cat", f"{work_path}/dump.log"], check=False).stdout
        lines = [ln for ln in log.splitlines() if "Error" in ln or "Warn" in ln]
        raise CtrFailed(r.args, r.returncode, r.stdout, r.stderr,
                        note=f"exited with status {r.returncode}\n"
                             f"--- CRIU log {work_path}/dump.log (errors, end):\n"
                             + "\n".join((lines or log.splitlines())[-25:]))
    return r


def kill(c, id, namespace="default", signal="SIGKILL", wait=None):
    """`ctr task kill -a -s SIGNAL ID`: every process of the task (a paused task too: runc
    thaws it for that). wait (default: for SIGKILL) waits until it is STOPPED."""
    ctr(c, "task", "kill", "-a", "-s", signal, id, namespace=namespace)
    if wait is None:
        wait = signal in ("SIGKILL", "KILL", "9")
    if wait:
        wait_status(c, id, "STOPPED", namespace)


def delete(c, id, namespace="default"):
    """Kill and delete the task (whatever its state), then the container and with it its
    snapshot. No error if either does not exist."""
    st = status(c, id, namespace)
    if st is not None:
        if st != "STOPPED":
            ctr(c, "task", "kill", "-a", "-s", "SIGKILL", id, namespace=namespace,
                check=False)
            with contextlib.suppress(TimeoutError):
                wait_status(c, id, "STOPPED", namespace)
        if ctr(c, "task", "rm", id, namespace=namespace, check=False).returncode != 0:
            ctr(c, "task", "rm", "--force", id, namespace=namespace)
    if id in containers(c, namespace):
        ctr(c, "container", "rm", id, namespace=namespace)
    left = [what for what, there in (("task", id in tasks(c, namespace)),
                                     ("container", id in containers(c, namespace)),
                                     ("snapshot", id in snapshots(c, namespace))) if there]
    if left:
        raise cc.ContainerError(f"{id} ({namespace}): {', '.join(left)} left after delete")


def cleanup(c):
    """Delete every task and container in every namespace, and any active snapshot left
    without a container. Nothing to do if containerd was never started."""
    if getattr(c, "_ctrd_env", None) is None and not _answers(c):
        return
    errors = []
    for ns in namespaces(c):
        for id in sorted(set(tasks(c, ns)) | set(containers(c, ns))):
            try:
                delete(c, id, ns)
            except cc.ContainerError as e:
                errors.append(str(e))
        for key, kind in snapshots(c, ns).items():
            if kind == "Active":
                r = ctr(c, "snapshot", "rm", key, namespace=ns, check=False)
                if r.returncode != 0:
                    errors.append(f"snapshot {key} ({ns}): {r.stderr.strip()}")
    if errors:
        raise cc.ContainerError("; ".join(errors))


@contextlib.contextmanager
def cleanup_after(c):
    """with ctrd.cleanup_after(c): ... -- containerd runs; afterwards every task and
    container is gone, also when the body fails (a cleanup error then does not hide the
    body's)."""
    start(c)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            cleanup(c)
        raise
    cleanup(c)
