# SPDX-License-Identifier: Apache-2.0
# OCI containers for the integration tests: busybox bundles and runc, run inside the throwaway
# systemd container (cedana_container.Container), never on the host.
"""runc containers inside the test container.

    import oci
    with oci.cleanup_after(c):                     # kills and deletes every runc container
        b = oci.make_bundle(c, "counter", oci.COUNTER_SH)
        pid = oci.runc_run(c, "ctr1", b)["pid"]
        ...
        oci.runc_checkpoint(c, "ctr1", "/var/lib/cedana-test/ck/ctr1")
        oci.runc_restore(c, "ctr1", b, "/var/lib/cedana-test/ck/ctr1")

Facts these helpers are built on (/work/shared/ENVIRONMENT.md, "OCI containers inside the
test container", and tests/integration/test_60_runc.py):
- The test container makes the v1 cgroup controllers writable and has its own cgroup in each
  (cedana_container.py): runc's cgroups (/sys/fs/cgroup/<c>/<id> inside) land below it on the
  host and vanish with it.
- Bundles live in the container's overlay (BUNDLES), a busybox-static rootfs each.
- runc is started from a unit (`systemd-run --wait --pipe`), not from the nsenter shell: that
  one sits in the host's cgroups and holds capabilities a service does not.
- A container's stdio is /dev/null: CRIU cannot dump a file outside the container (the
  harness's pipes). runc's own messages go to a --log file (LOGS), shown on failure.
- CRIU's default network lock runs iptables-restore, which a minimal Debian 12 lacks (podman
  pulls iptables in; tools/setup installs podman for the benchmarks): prepare() makes raw runc's
  CRIU use nftables (/etc/criu/runc.conf, read by runc for every checkpoint and restore).
  cedana's own container checkpoints bring that setting themselves (criu-runc.conf).
- runc restores a container's network namespace empty: lo is down afterwards. The lo-up
  prestart hook (make_bundle(lo_up_hook=True)) brings it up; runc runs prestart hooks on
  restore too.
"""

import contextlib
import json
import shlex

import cedana_container as cc

RUNC = "/usr/sbin/runc"
CRIU = "/usr/local/sbin/criu"
BUSYBOX = "/bin/busybox"            # Debian's busybox-static: no shared libraries needed
TOP = "/var/lib/cedana-test"        # in the test container's overlay: gone with it
BUNDLES = f"{TOP}/bundles"
LOGS = f"{TOP}/runc-logs"
HOOKS = f"{TOP}/hooks"
LO_UP_HOOK = f"{HOOKS}/lo-up"
LO_UP_LOG = f"{HOOKS}/lo-up.log"    # one line per run of the hook: "<id> <pid>"
CRIU_RUNC_CONF = "/etc/criu/runc.conf"

# A workload that counts from 1 in /data/count (atomically, by rename) every 0.1 s. Restored,
# it goes on from the number in its memory; started afresh it would begin at 1 again.
COUNTER_SH = ("i=0; while :; do i=$((i+1)); echo $i > /data/count.new; "
              "mv /data/count.new /data/count; sleep 0.1; done")

# OCI prestart hook, run by runc in the test container's namespaces with the container's
# state (JSON: ... "pid":N ...) on stdin: brings lo up in the container's network namespace
# with the test container's own `ip` (the rootfs need not have one).
_LO_UP_SCRIPT = r"""#!/bin/sh
state=$(cat)
pid=$(printf '%s' "$state" | sed -n 's/.*"pid":[ ]*\([0-9][0-9]*\).*/\1/p')
id=$(printf '%s' "$state" | sed -n 's/.*"id":[ ]*"\([^"]*\)".*/\1/p')
[ -n "$pid" ] || { echo "lo-up: no pid in the state: $state" >&2; exit 1; }
nsenter --net=/proc/$pid/ns/net ip link set lo up || exit 1
echo "$id $pid" >> @LOG@
"""


class RuncFailed(cc.CommandFailed):
    """runc failed; the message carries its log and the end of CRIU's log, if any."""


def prepare(c, criu_runc_conf=True):
    """Once per test container (idempotent): directories, the lo-up hook, and CRIU's
    configuration for runc (network lock through nftables). criu_runc_conf=False leaves
    /etc/criu/runc.conf out: cedana's own container checkpoints must not need it."""
    if getattr(c, "_oci_prepared", False):
        return
    c.run(["mkdir", "-p", BUNDLES, LOGS, HOOKS, "/etc/criu"])
    c.write_file(LO_UP_HOOK, _LO_UP_SCRIPT.replace("@LOG@", LO_UP_LOG), mode=0o755)
    if criu_runc_conf:
        c.write_file(CRIU_RUNC_CONF, "network-lock nftables\n")
    else:
        c.run(["rm", "-f", CRIU_RUNC_CONF])
    c._oci_prepared = True
    if not hasattr(c, "_oci_ids"):
        c._oci_ids = set()


def make_bundle(c, path, argv, *, network_ns=True, lo_up_hook=None, env=(), hostname=None,
                files=None, edit=None):
    """Make an OCI bundle with a busybox rootfs at path (relative: below BUNDLES) inside the
    test container; return its absolute path.

    argv: the container's process (a str runs with sh -c). The rootfs has /bin/busybox with
    a link for every applet (sh, sleep, nc, httpd, ip, ...), a writable root (readonly false)
    and an empty /data. network_ns: a network namespace of its own (runc's default); False
    shares the test container's. lo_up_hook: True adds the lo-up prestart hook (only with
    network_ns). env: extra "K=V" strings. files: {path in rootfs: str} written into it.
    edit: a function given the config dict, to change anything else."""
    prepare(c)
    if not path.startswith("/"):
        path = f"{BUNDLES}/{path}"
    argv = ["sh", "-c", argv] if isinstance(argv, str) else [str(a) for a in argv]
    c.run(["sh", "-c", r"""
set -e
b=$1; bb=$2
rm -rf "$b"
mkdir -p "$b/rootfs"
cd "$b/rootfs"
mkdir -p bin proc sys dev tmp data etc root
cp "$bb" bin/busybox
for a in $(bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'root:x:0:' > etc/group
cd "$b"
runc spec
""", "sh", path, BUSYBOX])
    config = json.loads(c.read_file(f"{path}/config.json"))
    proc = config["process"]
    proc["terminal"] = False
    proc["args"] = argv
    proc["env"] = [e for e in proc.get("env", []) if not e.startswith("TERM=")] + list(env)
    config["root"]["readonly"] = False
    if hostname is not None:
        config["hostname"] = hostname
    if not network_ns:
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "network"]
    if lo_up_hook:
        if not network_ns:
            raise ValueError("lo_up_hook needs the container's own network namespace")
        config.setdefault("hooks", {}).setdefault("prestart", []).append(
            {"path": LO_UP_HOOK, "args": ["lo-up"], "timeout": 10})
    if edit is not None:
        edit(config)
    c.write_file(f"{path}/config.json", json.dumps(config, indent=1) + "\n")
    for rel, data in (files or {}).items():
        c.write_file(f"{path}/rootfs/{rel.lstrip('/')}", data)
    return path


def _log_path(id):
    return f"{LOGS}/{id}.log"


def _fail_details(c, id, work_path, logname):
    parts = []
    log = c.run(["cat", _log_path(id)], check=False).stdout.strip()
    if log:
        parts.append(f"--- runc log {_log_path(id)} (end):\n" + "\n".join(log.splitlines()[-20:]))
    if work_path and logname:
        crlog = c.run(["cat", f"{work_path}/{logname}"], check=False).stdout
        if crlog:
            lines = [ln for ln in crlog.splitlines() if "Error" in ln or "Warn" in ln]
            parts.append(f"--- CRIU log {work_path}/{logname} (errors, end):\n"
                         + "\n".join((lines or crlog.splitlines())[-25:]))
    return "\n".join(parts)


def runc(c, *args, detach=False, id=None, work_path=None, criu_log=None, check=True,
         timeout=120, unit_props=()):
    """Run `runc --criu CRIU --log LOGS/<id>.log ARGS` as a transient unit inside the test
    container (systemd-run --wait --pipe --collect) and wait for it.

    detach: the command leaves a container process behind (run -d, restore -d): all of its
    stdio is /dev/null, so that the container inherits nothing from the harness, and runc's
    messages are in the log only. Otherwise stdout and stderr come back as usual. On failure
    (check) raises RuncFailed with runc's log and the errors in CRIU's log
    (work_path/criu_log)."""
    log = _log_path(id or "runc")
    cmd = [RUNC, "--criu", CRIU, "--log", log, *[str(a) for a in args]]
    inner = shlex.join(cmd)
    if detach:
        inner = f"exec {inner} </dev/null >/dev/null 2>&1"
    else:
        inner = f"exec {inner} </dev/null"
    argv = ["systemd-run", "--wait", "--pipe", "--quiet", "--collect",
            *[f"--property={p}" for p in unit_props], "--", "sh", "-c", inner]
    r = c.run(argv, check=False, timeout=timeout)
    if check and r.returncode != 0:
        raise RuncFailed(cmd, r.returncode, r.stdout, r.stderr,
                         note=f"exited with status {r.returncode}\n"
                              + _fail_details(c, id or "runc", work_path, criu_log))
    return r


def _track(c, id):
    if not hasattr(c, "_oci_ids"):
        c._oci_ids = set()
    c._oci_ids.add(id)


def runc_run(c, id, bundle, *, timeout=60):
    """Start the container detached (`runc run -d`) from a unit; return its state (dict,
    "pid" as the test container sees it)."""
    _track(c, id)
    runc(c, "run", "-d", "--bundle", bundle, id, detach=True, id=id, timeout=timeout)
    st = runc_state(c, id)
    if st is None or st.get("status") != "running":
        raise cc.ContainerError(f"runc container {id} is not running after `runc run -d`: "
                                f"{st}\n{_fail_details(c, id, None, None)}")
    return st


def runc_state(c, id):
    """`runc state ID` as a dict, or None when runc does not know the container."""
    r = c.run([RUNC, "state", id], check=False)
    if r.returncode != 0:
        if "does not exist" in r.stderr or "not exist" in r.stderr:
            return None
        raise cc.CommandFailed(r.args, r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def runc_list(c):
    """{id: status} of every container runc knows (default root)."""
    r = c.run([RUNC, "list", "--format", "json"])
    return {e["id"]: e["status"] for e in (json.loads(r.stdout or "null") or [])}


def init_pid(c, id):
    st = runc_state(c, id)
    if st is None:
        raise cc.ContainerError(f"no runc container {id}")
    return st["pid"]


def runc_delete(c, id):
    """Kill and delete the container, whatever its state (a paused one is resumed first:
    frozen tasks do not die). No error if it does not exist."""
    st = runc_state(c, id)
    if st is not None:
        if st.get("status") == "paused":
            c.run([RUNC, "resume", id], check=False)
        if st.get("status") in ("running", "paused", "created"):
            c.run([RUNC, "kill", id, "KILL"], check=False)
        c.run([RUNC, "delete", "--force", id], check=False)
        if runc_state(c, id) is not None:
            raise cc.ContainerError(f"runc container {id} survived delete --force")
    getattr(c, "_oci_ids", set()).discard(id)


def cleanup(c):
    """Delete every runc container in the test container (those the helpers started and any
    other runc knows)."""
    ids = set(getattr(c, "_oci_ids", ()))
    try:
        ids |= set(runc_list(c))
    except cc.CommandFailed:
        pass
    errors = []
    for id in sorted(ids):
        try:
            runc_delete(c, id)
        except cc.ContainerError as e:
            errors.append(str(e))
    if errors:
        raise cc.ContainerError("; ".join(errors))


@contextlib.contextmanager
def cleanup_after(c):
    """with oci.cleanup_after(c): ... -- every runc container is gone afterwards, also when
    the body fails (a cleanup error then does not hide the body's)."""
    prepare(c)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            cleanup(c)
        raise
    cleanup(c)


def runc_checkpoint(c, id, image_path, work_path=None, *, leave_running=False,
                    tcp_established=False, extra=(), check=True, timeout=120):
    """`runc checkpoint --image-path IMG --work-path W ID` (W defaults to IMG-work). CRIU's
    log: W/dump.log."""
    work_path = work_path or f"{image_path}-work"
    c.run(["mkdir", "-p", image_path, work_path])
    args = ["checkpoint", "--image-path", image_path, "--work-path", work_path]
    if leave_running:
        args.append("--leave-running")
    if tcp_established:
        args.append("--tcp-established")
    return runc(c, *args, *extra, id, id=id, work_path=work_path, criu_log="dump.log",
                check=check, timeout=timeout)


def runc_restore(c, id, bundle, image_path, work_path=None, *, tcp_established=False,
                 extra=(), check=True, timeout=120):
    """`runc restore -d --image-path IMG --work-path W --bundle B ID` from a unit (W defaults
    to IMG-restore); returns the container's state (None if it failed and not check). CRIU's
    log: W/restore.log."""
    work_path = work_path or f"{image_path}-restore"
    c.run(["mkdir", "-p", work_path])
    _track(c, id)
    args = ["restore", "-d", "--image-path", image_path, "--work-path", work_path,
            "--bundle", bundle]
    if tcp_established:
        args.append("--tcp-established")
    r = runc(c, *args, *extra, id, detach=True, id=id, work_path=work_path,
             criu_log="restore.log", check=check, timeout=timeout)
    if r.returncode != 0:
        return None
    return runc_state(c, id)


def in_netns(c, id, argv, **kw):
    """Run argv (list or sh -c str) inside the test container but in the runc container's
    network namespace (nsenter -t PID -n)."""
    argv = ["sh", "-c", argv] if isinstance(argv, str) else [str(a) for a in argv]
    return c.run(["nsenter", "-t", str(init_pid(c, id)), "-n", "--", *argv], **kw)


def read_rootfs(c, bundle, rel):
    """A file of the bundle's rootfs, as str ("" if missing)."""
    return c.run(["cat", f"{bundle}/rootfs/{rel.lstrip('/')}"], check=False).stdout


def count(c, bundle, rel="data/count"):
    """The counter COUNTER_SH keeps (0 before its first write)."""
    return int(read_rootfs(c, bundle, rel).strip() or 0)


def cgroup_paths(c, pid):
    """{controller(s): path} of a process as the test container sees it (/proc/PID/cgroup)."""
    out = {}
    for line in c.read_file(f"/proc/{pid}/cgroup").splitlines():
        _, ctrls, path = line.split(":", 2)
        out[ctrls or "unified"] = path
    return out
