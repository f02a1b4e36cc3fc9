# SPDX-License-Identifier: Apache-2.0
# `cedana dump runc` / `cedana restore runc` through the real cedanad, runc and CRIU, on busybox
# containers in the test container: each container's state (a counter in its root file system,
# 256 MiB of memory, TCP connections) is checked after the restore, runc knows the restored
# container, and every bad input gets its own exit code with the container left as it was.
# /etc/criu/runc.conf is absent: cedana brings its own CRIU settings for runc.

import json
import time

import oci
from workloads import cedana, fails, parse_report

TIMEOUT = 240
CK = "/var/tmp/ck"
FORMATS = {"none": "", "tar": ".tar", "gzip": ".tar.gz", "lz4": ".tar.lz4", "zlib": ".tar.zlib", "zstd": ".tar.zst"}
WORKLOAD = "/bin/workload"  # the static workload, copied into a bundle's root file system


def setup(c):
    oci.prepare(c, criu_runc_conf=False)
    c.run(["mkdir", "-p", CK])
    c.run(["systemctl", "start", "cedanad.socket"])
    c.add_user("alice")


def workload_bundle(c, name, *args, **kw):
    b = oci.make_bundle(c, name, [WORKLOAD, "/data/report", *args], **kw)
    c.run(["cp", f"{c.build_dir}/tests/integration/workload-static", f"{b}/rootfs{WORKLOAD}"])
    return b


def report(c, bundle):
    return parse_report(oci.read_rootfs(c, bundle, "data/report"))


def dump(c, id, name, fmt="zstd", *extra):
    r = cedana(c, "dump", "runc", id, "--name", name, "--compression", fmt, "--dir", CK, "--json", *extra)
    out = json.loads(r.stdout)
    assert out["path"] == f"{CK}/{name}{FORMATS[fmt]}", out
    return out["path"]


def restore(c, path, id, *extra):
    r = cedana(c, "restore", "runc", "--path", path, "--json", *extra)
    out = json.loads(r.stdout)
    assert out["container"] == id, out
    st = oci.runc_state(c, id)
    assert st and st["status"] == "running" and st["pid"] == out["pid"], (st, out)
    return out["pid"]


def frozen(c, id):
    """The container's freezer state, as the test container sees it."""
    path = oci.cgroup_paths(c, oci.init_pid(c, id))["freezer"]
    return c.read_file(f"/sys/fs/cgroup/freezer{path}/freezer.state").strip()


def started(c, id, bundle):
    oci.runc_run(c, id, bundle)
    c.wait_until(lambda: oci.count(c, bundle) >= 3, what=f"container {id} to count")


def check_counter(c, fmt):
    id = f"count-{fmt}"
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, id, oci.COUNTER_SH)
        started(c, id, b)
        path = dump(c, id, id, fmt)
        # Complete on disk, then the container ended and runc forgot it.
        assert oci.runc_state(c, id) is None, oci.runc_state(c, id)
        at_dump = oci.count(c, b)
        time.sleep(0.5)
        assert oci.count(c, b) == at_dump, "the container counted on after its dump"
        info = json.loads(cedana(c, "checkpoint", "inspect", path, "--json").stdout)
        assert info["type"] == "runc" and info["container"] == {
            "runtime": "runc", "id": id, "root": "/run/runc", "bundle": b}, info
        restore(c, path, id)
        assert id in oci.runc_list(c)
        c.wait_until(lambda: oci.count(c, b) > at_dump + 3, what="the restored container to count on")
        # From where it was (at_dump + 1 ...), not from 1 again.
        assert oci.count(c, b) < at_dump + 40
        # runc stops and removes it as any of its own.
        c.run([oci.RUNC, "kill", id, "KILL"])
        c.wait_until(lambda: oci.runc_state(c, id)["status"] == "stopped", what="runc kill to stop it")
        c.run([oci.RUNC, "delete", id])
        assert oci.runc_state(c, id) is None


def _define(fmt):
    def t(c):
        check_counter(c, fmt)
    t.__name__ = f"test_counter_continues_{fmt}"
    globals()[t.__name__] = t


for _fmt in FORMATS:
    _define(_fmt)


def test_memory_256mib_checksum(c):
    with oci.cleanup_after(c):
        b = workload_bundle(c, "mem", "memory", "256", "2")
        oci.runc_run(c, "mem", b)
        c.wait_until(lambda: report(c, b).get("initial"), what="the workload to fill its memory")
        before = report(c, b)
        path = dump(c, "mem", "mem", "lz4")
        pid = restore(c, path, "mem")
        c.run(["kill", "-USR1", str(pid)])
        c.wait_until(lambda: report(c, b).get("rounds") == "1", what="a checksum of the restored memory")
        after = report(c, b)
        assert after["current"] == before["initial"], f"256 MiB checksum changed: {before} -> {after}"
        ticks = int(after["ticks"])
        c.wait_until(lambda: int(report(c, b)["ticks"]) > ticks + 20, what="both threads to run")


def ping(c, id, port):
    code = ("import socket; s=socket.create_connection(('127.0.0.1', %d), timeout=5); s.sendall(b'ping\\n'); "
            "print(s.recv(100).decode().strip())" % port)
    return oci.in_netns(c, id, ["python3", "-c", code]).stdout.strip()


def test_tcp_listener_and_established_connection(c):
    with oci.cleanup_after(c):
        # Its own network namespace, which runc checkpoints empty: cedana brings lo back up
        # before CRIU restores the sockets bound to 127.0.0.1.
        b = workload_bundle(c, "tcp", "tcp", "7300")
        oci.runc_run(c, "tcp", b)
        c.wait_until(lambda: "pongs" in report(c, b), what="the tcp workload")
        assert ping(c, "tcp", 7300) == "pong 1"
        path = dump(c, "tcp", "tcp", "zstd", "--tcp-established")
        before = report(c, b)
        restore(c, path, "tcp", "--tcp-established")
        assert ping(c, "tcp", 7300) == "pong 1"
        c.wait_until(lambda: int(report(c, b)["pongs"]) > int(before["pongs"]) + 5,
                     what="the established connection to keep answering")
        after = report(c, b)
        assert after["errors"] == "0" and "broken" not in after, after


def test_leave_running_and_restore_beside_it(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "orig", oci.COUNTER_SH)
        started(c, "orig", b)
        path = dump(c, "orig", "orig", "zstd", "--leave-running")
        st = oci.runc_state(c, "orig")
        assert st["status"] == "running" and frozen(c, "orig") == "THAWED", st
        at_dump = oci.count(c, b)
        c.wait_until(lambda: oci.count(c, b) > at_dump + 3, what="the original to run on")
        # A second copy with its own root file system, next to the original.
        b2 = f"{oci.BUNDLES}/copy"
        c.run(["cp", "-a", b, b2])
        c.run(["sh", "-c", f"echo {at_dump} > {b2}/rootfs/data/count"])
        restore(c, path, "copy", "--id", "copy", "--bundle", b2)
        assert set(oci.runc_list(c)) >= {"orig", "copy"}
        c.wait_until(lambda: oci.count(c, b2) > at_dump + 3, what="the copy to count")
        assert oci.count(c, b2) < oci.count(c, b) + 40
        assert oci.runc_state(c, "orig")["status"] == "running"


def test_bad_inputs_leave_containers_as_they_were(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "victim", oci.COUNTER_SH)
        started(c, "victim", b)
        fails(c, ["dump", "runc", "nosuch", "--dir", CK], 13, "runc knows no container nosuch")
        fails(c, ["dump", "runc", "../x", "--dir", CK], 2, "not a valid container id")
        fails(c, ["dump", "runc", "victim", "--dir", CK, "--external", "unix[1]"], 2, "does not apply")
        # Another user may not: containers are root's. Nothing was asked of runc.
        fails(c, ["dump", "runc", "victim", "--dir", "/tmp"], 4, "", user="alice")
        fails(c, ["restore", "runc", "--path", "/etc/hostname"], 4, "", user="alice")
        # Paused by its owner: refused, and left paused (cedana froze nothing of its own).
        c.run([oci.RUNC, "pause", "victim"])
        fails(c, ["dump", "runc", "victim", "--dir", CK], 13, "is paused")
        assert oci.runc_state(c, "victim")["status"] == "paused"
        c.run([oci.RUNC, "resume", "victim"])
        # Created but never started: nothing runs yet.
        b2 = oci.make_bundle(c, "created", oci.COUNTER_SH)
        oci.runc(c, "create", "--bundle", b2, "created", detach=True, id="created")
        fails(c, ["dump", "runc", "created", "--dir", CK], 13, "is created, not running")
        # No space for its images: it runs on, thawed, and nothing is left in the directory.
        c.run(["mkdir", "-p", "/var/tmp/small"])
        c.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", "/var/tmp/small"])
        try:
            r = cedana(c, "dump", "runc", "victim", "--dir", "/var/tmp/small", "--name", "full", check=False)
            assert r.returncode in (8, 9, 15), (r.returncode, r.stderr)
            assert oci.runc_state(c, "victim")["status"] == "running" and frozen(c, "victim") == "THAWED"
            assert c.run(["ls", "-A", "/var/tmp/small"]).stdout == "", "a failed dump left files"
        finally:
            c.run(["umount", "/var/tmp/small"])
        n = oci.count(c, b)
        c.wait_until(lambda: oci.count(c, b) > n, what="the victim to count on")

        # Each kind of checkpoint is restored only as what it is.
        path = dump(c, "victim", "victim", "gzip", "--leave-running")
        fails(c, ["restore", "process", "--path", path], 14, "restore it with 'cedana restore runc")
        proc = c.start_unit_process("plain", ["sleep", "300"])
        r = cedana(c, "dump", "process", str(proc), "--dir", CK, "--name", "plain", "--compression", "zstd", "--json")
        fails(c, ["restore", "runc", "--path", json.loads(r.stdout)["path"]], 14, "not of a container")
        # An id runc has already, or a bundle that is not one.
        fails(c, ["restore", "runc", "--path", path], 11, "runc already has a container victim")
        fails(c, ["restore", "runc", "--path", path, "--id", "v2", "--bundle", "/nonexistent"], 5, "has no config.json")
        assert oci.runc_state(c, "v2") is None
        # A bundle runc cannot use: runc's own words, and nothing of the container left.
        c.run(["mkdir", "-p", "/var/tmp/norootfs"])
        c.run(["cp", f"{b}/config.json", "/var/tmp/norootfs/"])
        r = fails(c, ["restore", "runc", "--path", path, "--id", "v3", "--bundle", "/var/tmp/norootfs"], 15,
                  "runc failed to restore container v3: ")
        assert "rootfs" in r.stderr, r.stderr
        assert oci.runc_state(c, "v3") is None
        assert oci.runc_state(c, "victim")["status"] == "running" and frozen(c, "victim") == "THAWED"


INTERRUPT = ("import json, signal, subprocess, sys, time; "
             "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True); "
             "time.sleep(float(sys.argv[1])); p.send_signal(signal.SIGINT); "
             "out, err = p.communicate(); print(json.dumps([p.returncode, out, err]))")


def test_ctrl_c_cancels_a_dump_and_the_container_runs_on(c):
    with oci.cleanup_after(c):
        b = workload_bundle(c, "big", "memory", "512", "2")
        pid = oci.runc_run(c, "big", b)["pid"]
        c.wait_until(lambda: report(c, b).get("initial"), timeout=60, what="the workload to fill its memory")
        before = report(c, b)
        # gzip of 512 MiB of random bytes takes seconds: Ctrl-C lands while it is written, or
        # while the frozen container waits for its commit.
        rc, out, err = json.loads(c.run(["python3", "-c", INTERRUPT, "0.8", "cedana", "dump", "runc", "big", "--dir",
                                         CK, "--name", "big", "--compression", "gzip"], timeout=240).stdout)
        assert rc == 130, (rc, out, err)
        assert "Cancelled; container big keeps running, nothing was written." in err, err
        assert not [f for f in c.run(["ls", "-A", CK]).stdout.split() if f.startswith("big")]
        st = oci.runc_state(c, "big")
        assert st["status"] == "running" and st["pid"] == pid and frozen(c, "big") == "THAWED", st
        c.run(["kill", "-USR1", str(pid)])
        c.wait_until(lambda: report(c, b).get("rounds") == "1", what="the container to answer")
        assert report(c, b)["current"] == before["initial"]


def job(c, name):
    return json.loads(cedana(c, "job", "inspect", name, "--json").stdout)


def test_container_as_a_managed_job(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "jobc", oci.COUNTER_SH)
        started(c, "jobc", b)
        out = json.loads(cedana(c, "manage", "runc", "jobc", "--name", "web", "--json").stdout)
        assert out == {"job": "web", "container": "jobc"}, out
        fails(c, ["manage", "runc", "jobc"], 11, "Container jobc is job web already")
        listed = {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--json").stdout)}
        assert listed["web"]["type"] == "runc" and listed["web"]["status"] == "running", listed
        assert listed["web"]["pid"] == oci.init_pid(c, "jobc")

        cedana(c, "dump", "job", "web", "--compression", "zstd", "--dir", CK)
        assert job(c, "web")["status"] == "halted"
        assert oci.runc_state(c, "jobc") is None
        at_dump = oci.count(c, b)
        # The store outlives cedanad; a halted container job stays halted.
        c.run(["systemctl", "restart", "cedanad.service"])
        assert job(c, "web")["status"] == "halted"

        out = json.loads(cedana(c, "restore", "job", "web", "--json").stdout)
        st = oci.runc_state(c, "jobc")
        assert out["job"] == "web" and st["status"] == "running" and st["pid"] == out["pid"], (out, st)
        assert job(c, "web")["status"] == "running" and job(c, "web")["pid"] == st["pid"]
        c.wait_until(lambda: oci.count(c, b) > at_dump + 3, what="the restored job to count on")
        assert oci.count(c, b) < at_dump + 40
        c.run(["systemctl", "restart", "cedanad.service"])
        assert job(c, "web")["status"] == "running", job(c, "web")

        # A schedule for a container job: its checkpoints leave the container running.
        cedana(c, "job", "schedule", "web", "--every", "1h", "--compression", "lz4", "--dir", CK, "--keep", "1")
        assert "cedana-schedule-0-web.timer" in c.run(["systemctl", "list-timers", "--no-pager"]).stdout
        pid = oci.runc_state(c, "jobc")["pid"]
        for _ in range(2):
            r = json.loads(cedana(c, "job", "schedule", "web", "--now", "--json").stdout)
            assert r["path"].startswith(CK + "/dump-job-web-") and r["path"].endswith(".tar.lz4"), r
        st = oci.runc_state(c, "jobc")
        assert st["status"] == "running" and st["pid"] == pid and job(c, "web")["status"] == "running", st
        c.wait_until(lambda: len(json.loads(cedana(c, "job", "checkpoints", "web", "--json").stdout)) == 2,
                     what="the schedule to keep one checkpoint beside the job's earlier one")
        at = oci.count(c, b)
        c.wait_until(lambda: oci.count(c, b) > at + 3, what="the container to count on after its checkpoints")
        # Marked to persist, a container job holds the shutdown lock as any job (test_85 reboots one).
        cedana(c, "job", "persist", "web")
        assert "cedana" in c.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"]).stdout
        cedana(c, "job", "persist", "web", "--off")

        cedana(c, "job", "kill", "web", "--signal", "KILL")
        # Its init is not cedanad's child (runc's is the container's systemd once cedanad
        # restarted): the exit is seen, its status is not known.
        c.wait_until(lambda: job(c, "web")["status"] in ("killed", "exited"), what="the job to end")
        assert oci.runc_state(c, "jobc")["status"] == "stopped"
        cedana(c, "job", "delete", "web", "--with-checkpoints")
