# SPDX-License-Identifier: Apache-2.0
# `cedana dump containerd` / `cedana restore containerd` through the real cedanad, containerd
# (its gRPC API), its runc shim and CRIU, on busybox containers in the test container: each
# container's state (a counter and files in its writable layer, 256 MiB of memory, a listener)
# is checked after the restore, containerd shows the restored task RUNNING and can kill and
# delete it, and every bad input gets its own exit code with the container left as it was.

import json

import ctrd
import oci
from workloads import cedana, fails, parse_report

TIMEOUT = 240
CK = "/var/tmp/ck"
FORMATS = {"none": "", "tar": ".tar", "gzip": ".tar.gz", "lz4": ".tar.lz4", "zlib": ".tar.zlib", "zstd": ".tar.zst"}
WORKLOAD = "/data/workload"  # the static workload, copied into a task's writable layer


def setup(c):
    ctrd.start(c)
    ctrd.image(c)
    c.run(["mkdir", "-p", CK])
    c.run(["systemctl", "start", "cedanad.socket"])
    c.add_user("alice")


def dump(c, id, name, fmt="zstd", *extra):
    r = cedana(c, "dump", "containerd", id, "--name", name, "--compression", fmt, "--dir", CK, "--json", *extra)
    out = json.loads(r.stdout)
    assert out["path"] == f"{CK}/{name}{FORMATS[fmt]}", out
    return out["path"]


def restore(c, path, id, *extra, namespace="default"):
    r = cedana(c, "restore", "containerd", "--path", path, "--json", *extra)
    out = json.loads(r.stdout)
    assert out["container"] == id, out
    tasks = ctrd.tasks(c, namespace)
    assert tasks.get(id) == {"pid": out["pid"], "status": "RUNNING"}, (tasks, out)
    return out["pid"]


def started(c, id, shell=oci.COUNTER_SH, namespace="default"):
    ctrd.run(c, id, shell, namespace)
    c.wait_until(lambda: ctrd.count(c, id, namespace) >= 3, what=f"container {id} to count")


def gone(c, id, namespace="default"):
    return id not in ctrd.tasks(c, namespace) and id not in ctrd.containers(c, namespace)


def check_counter(c, fmt):
    id = f"count-{fmt}"
    with ctrd.cleanup_after(c):
        started(c, id)
        path = dump(c, id, id, fmt)
        # Complete on disk, then the task ended and the container went, snapshot and all.
        assert gone(c, id), (ctrd.tasks(c), ctrd.containers(c))
        assert id not in ctrd.snapshots(c), ctrd.snapshots(c)
        info = json.loads(cedana(c, "checkpoint", "inspect", path, "--json").stdout)
        assert info["type"] == "containerd", info
        assert info["container"] == {"runtime": "containerd", "id": id, "namespace": "default",
                                     "image": ctrd.IMAGE, "snapshotter": "overlayfs",
                                     "parent": info["container"]["parent"]}, info
        assert info["container"]["parent"], info
        restore(c, path, id)
        at_restore = ctrd.count(c, id)
        c.wait_until(lambda: ctrd.count(c, id) > at_restore + 3, what="the restored container to count on")
        # From where it was, not from 1 again: the layer and the memory came back together.
        assert at_restore >= 3, at_restore
        # containerd stops and removes it as any of its own.
        ctrd.ctr(c, "task", "kill", "-s", "SIGKILL", id)
        ctrd.wait_status(c, id, "STOPPED")
        ctrd.ctr(c, "task", "rm", id)
        ctrd.ctr(c, "container", "rm", id)
        assert gone(c, id)


def _define(fmt):
    def t(c):
        check_counter(c, fmt)
    t.__name__ = f"test_counter_continues_{fmt}"
    globals()[t.__name__] = t


for _fmt in FORMATS:
    _define(_fmt)


def workload_task(c, id, *args, namespace="default"):
    """The static workload as the task's command, copied into its writable layer once it runs."""
    ctrd.run(c, id, f"while [ ! -x {WORKLOAD} ]; do sleep 0.1; done; exec {WORKLOAD} /data/report "
                    + " ".join(args), namespace)
    root = ctrd.rootfs(id, namespace)
    c.run(["cp", f"{c.build_dir}/tests/integration/workload-static", f"{root}{WORKLOAD}.new"])
    c.run(["mv", f"{root}{WORKLOAD}.new", f"{root}{WORKLOAD}"])


def report(c, id, namespace="default"):
    try:
        return parse_report(ctrd.read_file(c, id, "data/report", namespace))
    except Exception:
        return {}


def test_writable_layer_travels_with_the_checkpoint(c):
    with ctrd.cleanup_after(c):
        # Written, replaced and deleted files in the container's own layer, and a file of the
        # image deleted: after the restore the root file system is as the container left it.
        started(c, "layer", "echo kept > /data/kept; mkdir -p /data/dir; echo x > /data/dir/f; "
                            "rm /bin/vi; ln -s /data/kept /data/link; rm -rf /etc; mkdir /etc; echo fresh > /etc/only; "
                            + oci.COUNTER_SH)
        path = dump(c, "layer", "layer", "lz4")
        restore(c, path, "layer")
        assert ctrd.read_file(c, "layer", "data/kept").strip() == "kept"
        assert ctrd.read_file(c, "layer", "data/dir/f").strip() == "x"
        root = ctrd.rootfs("layer")
        assert c.run(["readlink", f"{root}/data/link"]).stdout.strip() == "/data/kept"
        assert c.run(["test", "-e", f"{root}/bin/vi"], check=False).returncode != 0, "a deleted file came back"
        assert c.run(["test", "-x", f"{root}/bin/sh"]).returncode == 0
        # A directory that replaced the image's (overlayfs's opaque mark) hides the image's files.
        assert c.run(["ls", f"{root}/etc"]).stdout.split() == ["only"], c.run(["ls", f"{root}/etc"]).stdout


def test_memory_256mib_checksum(c):
    with ctrd.cleanup_after(c):
        workload_task(c, "mem", "memory", "256", "2")
        c.wait_until(lambda: report(c, "mem").get("initial"), timeout=60, what="the workload to fill its memory")
        before = report(c, "mem")
        path = dump(c, "mem", "mem", "zstd")
        pid = restore(c, path, "mem")
        c.run(["kill", "-USR1", str(pid)])
        c.wait_until(lambda: report(c, "mem").get("rounds") == "1", what="a checksum of the restored memory")
        after = report(c, "mem")
        assert after["current"] == before["initial"], f"256 MiB checksum changed: {before} -> {after}"
        ticks = int(after["ticks"])
        c.wait_until(lambda: int(report(c, "mem")["ticks"]) > ticks + 20, what="both threads to run")


def ping(c, id, port):
    code = ("import socket; s=socket.create_connection(('127.0.0.1', %d), timeout=5); s.sendall(b'ping\\n'); "
            "print(s.recv(100).decode().strip())" % port)
    return ctrd.in_netns(c, id, ["python3", "-c", code]).stdout.strip()


def test_tcp_listener_and_established_connection(c):
    with ctrd.cleanup_after(c):
        # The task's own network namespace, which runc checkpoints empty: the restored
        # container's CRIU configuration brings lo back up before its sockets come back.
        workload_task(c, "tcp", "tcp", "7300")
        c.wait_until(lambda: "pongs" in report(c, "tcp"), what="the tcp workload")
        assert ping(c, "tcp", 7300) == "pong 1"
        before = report(c, "tcp")
        path = dump(c, "tcp", "tcp", "zstd", "--tcp-established")
        restore(c, path, "tcp")
        assert ping(c, "tcp", 7300) == "pong 1"
        c.wait_until(lambda: int(report(c, "tcp").get("pongs", 0)) > int(before["pongs"]) + 5,
                     what="the established connection to keep answering")
        after = report(c, "tcp")
        assert after["errors"] == "0" and "broken" not in after, after


def cgroup(c, pid):
    return oci.cgroup_paths(c, pid)["freezer"]


def test_leave_running_and_restore_beside_it_in_another_namespace(c):
    with ctrd.cleanup_after(c):
        started(c, "orig")
        pid = ctrd.pid(c, "orig")
        path = dump(c, "orig", "orig", "zstd", "--leave-running")
        assert ctrd.tasks(c)["orig"] == {"pid": pid, "status": "RUNNING"}
        at_dump = ctrd.count(c, "orig")
        c.wait_until(lambda: ctrd.count(c, "orig") > at_dump + 3, what="the original to run on")
        # A copy next to it, in its own cgroup: freezing or killing one leaves the other.
        copy = restore(c, path, "copy", "--id", "copy")
        assert cgroup(c, copy) == "/default/copy" and cgroup(c, pid) == "/default/orig"
        c.wait_until(lambda: ctrd.count(c, "copy") > at_dump + 3, what="the copy to count")
        ctrd.kill(c, "orig")
        n = ctrd.count(c, "copy")
        c.wait_until(lambda: ctrd.count(c, "copy") > n + 3, what="the copy to count on alone")
        # Into another namespace that has the same image (its layers): there under the dumped id.
        c.run(["sh", "-c", f"{ctrd.CTR} -n default image export - {ctrd.IMAGE} | {ctrd.CTR} -n other image import -"])
        restore(c, path, "orig", "--namespace", "other", namespace="other")
        c.wait_until(lambda: ctrd.count(c, "orig", "other") > at_dump + 3, what="the copy in namespace other")


def test_bad_inputs_leave_containers_as_they_were(c):
    with ctrd.cleanup_after(c):
        started(c, "victim")
        fails(c, ["dump", "containerd", "nosuch", "--dir", CK], 13, "containerd knows no container nosuch in namespace default")
        fails(c, ["dump", "containerd", "victim", "--namespace", "nosuch", "--dir", CK], 13, "in namespace nosuch")
        fails(c, ["dump", "containerd", "../x", "--dir", CK], 2, "not a valid containerd container id")
        fails(c, ["dump", "containerd", "victim", "--namespace", "a/b", "--dir", CK], 2, "not a valid containerd namespace")
        fails(c, ["dump", "containerd", "victim", "--dir", CK, "--external", "unix[1]"], 2, "does not apply")
        # Another user may not: containers are root's. Nothing was asked of containerd.
        fails(c, ["dump", "containerd", "victim", "--dir", "/tmp"], 4, "", user="alice")
        fails(c, ["restore", "containerd", "--path", "/etc/hostname"], 4, "", user="alice")
        # Paused by its owner: refused, and left paused.
        ctrd.ctr(c, "task", "pause", "victim")
        fails(c, ["dump", "containerd", "victim", "--dir", CK], 13, "is paused")
        assert ctrd.status(c, "victim") == "PAUSED"
        ctrd.ctr(c, "task", "resume", "victim")
        # A container without a task, and one whose task has stopped.
        ctrd.ctr(c, "container", "create", ctrd.IMAGE, "notask")
        fails(c, ["dump", "containerd", "notask", "--dir", CK], 13, "has no task")
        ctrd.ctr(c, "run", "-d", "--null-io", ctrd.IMAGE, "stopped", "sh", "-c", "exit 0")
        ctrd.wait_status(c, "stopped", "STOPPED")
        fails(c, ["dump", "containerd", "stopped", "--dir", CK], 13, "is stopped, not running")
        # No space for its images: it runs on, resumed, and nothing is left in the directory.
        c.run(["mkdir", "-p", "/var/tmp/small"])
        c.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", "/var/tmp/small"])
        try:
            r = cedana(c, "dump", "containerd", "victim", "--dir", "/var/tmp/small", "--name", "full", check=False)
            assert r.returncode in (8, 9, 15), (r.returncode, r.stderr)
            assert ctrd.status(c, "victim") == "RUNNING"
            assert c.run(["ls", "-A", "/var/tmp/small"]).stdout == "", "a failed dump left files"
        finally:
            c.run(["umount", "/var/tmp/small"])
        n = ctrd.count(c, "victim")
        c.wait_until(lambda: ctrd.count(c, "victim") > n, what="the victim to count on")

        # Each kind of checkpoint is restored only as what it is.
        path = dump(c, "victim", "victim", "gzip", "--leave-running")
        fails(c, ["restore", "process", "--path", path], 14, "restore it with 'cedana restore containerd")
        fails(c, ["restore", "runc", "--path", path], 14, "This is a checkpoint of containerd container victim")
        proc = c.start_unit_process("plain", ["sleep", "300"])
        r = cedana(c, "dump", "process", str(proc), "--dir", CK, "--name", "plain", "--compression", "zstd", "--json")
        fails(c, ["restore", "containerd", "--path", json.loads(r.stdout)["path"]], 14, "not of a container")
        # An id containerd has already, or a namespace without the image: nothing of it left.
        fails(c, ["restore", "containerd", "--path", path], 11, "containerd already has a container victim")
        fails(c, ["restore", "containerd", "--path", path, "--namespace", "empty"], 5,
              "pull or import the image there first")
        assert not ctrd.containers(c, "empty") and not ctrd.snapshots(c, "empty")
        # Its OCI spec runs with root's powers: a copy another user could have written is refused
        # (restored only from what a record vouches for, or from files only root can write).
        c.run(["cp", path, "/var/tmp/copy.tar.gz"])
        c.run(["chown", "alice", "/var/tmp/copy.tar.gz"])
        fails(c, ["restore", "containerd", "--path", "/var/tmp/copy.tar.gz", "--id", "copy"], 4,
              "not only root could have written it")
        c.run(["chown", "root", "/var/tmp/copy.tar.gz"])
        c.run(["chmod", "0666", "/var/tmp/copy.tar.gz"])
        fails(c, ["restore", "containerd", "--path", "/var/tmp/copy.tar.gz", "--id", "copy"], 4,
              "not only root could have written it")
        assert "copy" not in ctrd.containers(c)
        assert ctrd.status(c, "victim") == "RUNNING"


# Starts the dump (argv[3:]), waits until containerd shows the task argv[1] PAUSED (the dump
# holds it), then interrupts: Ctrl-C, SIGKILL to cedanad's workers, or to cedanad itself.
INTERRUPT = """
import json, signal, subprocess, sys, time
def out(*argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout
id, how, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
end = time.monotonic() + 60
while time.monotonic() < end and not any(l.split()[:1] == [id] and l.split()[-1] == "PAUSED"
                                         for l in out("ctr", "task", "ls").splitlines()):
    time.sleep(0.02)
main = out("systemctl", "show", "-P", "MainPID", "cedanad").strip()
workers = out("pgrep", "-P", main).split()
if how == "worker":
    for w in workers:
        subprocess.run(["kill", "-KILL", w])
elif how == "daemon":
    subprocess.run(["kill", "-KILL", main])
else:
    p.send_signal(signal.SIGINT)
o, e = p.communicate()
print(json.dumps([p.returncode, o, e, workers]))
"""


def interrupted_dump(c, id, how):
    """A gzip dump of 512 MiB of random bytes (seconds), interrupted while it is written or while
    the paused container waits for its commit: by Ctrl-C, by killing cedanad's dump worker, or by
    killing cedanad itself (its next start, asked for here, resumes the container)."""
    workload_task(c, id, "memory", "512", "2")
    c.wait_until(lambda: report(c, id).get("initial"), timeout=60, what="the workload to fill its memory")
    before = report(c, id)
    pid = ctrd.pid(c, id)
    rc, out, err, workers = json.loads(c.run(["python3", "-c", INTERRUPT, id, how, "cedana", "dump", "containerd",
                                              id, "--dir", CK, "--name", id, "--compression", "gzip"],
                                             timeout=240).stdout)
    if how == "daemon":
        cedana(c, "daemon", "status")
    # The container runs on as it was, not paused, and nothing written stays (what a dead worker
    # left, cedanad removes by its intent).
    assert ctrd.tasks(c)[id] == {"pid": pid, "status": "RUNNING"}, ctrd.tasks(c)
    c.wait_until(lambda: not [f for f in c.run(["ls", "-A", CK]).stdout.split() if id in f],
                 what="the interrupted dump's files to go")
    c.run(["kill", "-USR1", str(pid)])
    c.wait_until(lambda: report(c, id).get("rounds") == "1", what="the container to answer")
    assert report(c, id)["current"] == before["initial"]
    return rc, err, workers


def test_ctrl_c_cancels_a_dump_and_the_container_runs_on(c):
    with ctrd.cleanup_after(c):
        rc, err, _ = interrupted_dump(c, "big", "ctrl-c")
        assert rc == 130, (rc, err)
        assert "Cancelled; container big keeps running, nothing was written." in err, err


def test_a_killed_dump_worker_leaves_nothing_paused(c):
    with ctrd.cleanup_after(c):
        rc, err, workers = interrupted_dump(c, "big2", "worker")
        assert workers and rc != 0, (rc, err, workers)
        assert "worker of cedanad died unexpectedly" in err, err
        assert not c.run(["ls", "-A", "/var/lib/cedana/paused"], check=False).stdout.strip()


def job(c, name):
    return json.loads(cedana(c, "job", "inspect", name, "--json").stdout)


def test_container_as_a_managed_job(c):
    with ctrd.cleanup_after(c):
        ctrd.image(c, "jobs")
        started(c, "jobc", namespace="jobs")
        out = json.loads(cedana(c, "manage", "containerd", "jobc", "--namespace", "jobs", "--name", "web",
                                "--json").stdout)
        assert out == {"job": "web", "container": "jobc"}, out
        fails(c, ["manage", "containerd", "jobc", "--namespace", "jobs"], 11, "Container jobc is job web already")
        fails(c, ["manage", "containerd", "jobc"], 13, "containerd knows no container jobc in namespace default")
        listed = {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--json").stdout)}
        assert listed["web"]["type"] == "containerd" and listed["web"]["status"] == "running", listed
        assert listed["web"]["pid"] == ctrd.pid(c, "jobc", "jobs")

        cedana(c, "dump", "job", "web", "--compression", "zstd", "--dir", CK)
        assert job(c, "web")["status"] == "halted"
        assert gone(c, "jobc", "jobs")
        # The store outlives cedanad; a halted container job stays halted.
        c.run(["systemctl", "restart", "cedanad.service"])
        assert job(c, "web")["status"] == "halted"

        out = json.loads(cedana(c, "restore", "job", "web", "--json").stdout)
        tasks = ctrd.tasks(c, "jobs")
        assert out["job"] == "web" and tasks["jobc"] == {"pid": out["pid"], "status": "RUNNING"}, (out, tasks)
        assert job(c, "web")["status"] == "running" and job(c, "web")["pid"] == out["pid"]
        at = ctrd.count(c, "jobc", "jobs")
        c.wait_until(lambda: ctrd.count(c, "jobc", "jobs") > at + 3, what="the restored job to count on")
        c.run(["systemctl", "restart", "cedanad.service"])
        assert job(c, "web")["status"] == "running", job(c, "web")

        # Scheduled checkpoints of a containerd job leave it running.
        cedana(c, "job", "schedule", "web", "--every", "1h", "--compression", "lz4", "--dir", CK, "--keep", "1")
        r = json.loads(cedana(c, "job", "schedule", "web", "--now", "--json").stdout)
        assert r["path"].startswith(CK + "/dump-job-web-") and r["path"].endswith(".tar.lz4"), r
        assert ctrd.tasks(c, "jobs")["jobc"] == {"pid": out["pid"], "status": "RUNNING"}
        cedana(c, "job", "schedule", "web", "--off")

        cedana(c, "job", "kill", "web", "--signal", "KILL")
        c.wait_until(lambda: job(c, "web")["status"] in ("killed", "exited"), what="the job to end")
        ctrd.wait_status(c, "jobc", "STOPPED", "jobs")
        cedana(c, "job", "delete", "web", "--with-checkpoints")


def test_file_locks(c):
    with ctrd.cleanup_after(c):
        # A container holding a lock (flock) on a file of its writable layer: CRIU dumps it only
        # when asked, and the restored container holds it again.
        workload_task(c, "locks", "lock", "/data/lock")
        c.wait_until(lambda: report(c, "locks").get("held") == "1", what="the container to hold its lock")
        fails(c, ["dump", "containerd", "locks", "--dir", CK, "--name", "nolocks"], 8,
              "holds file locks (flock, fcntl or lease): dump it with --file-locks")
        assert ctrd.status(c, "locks") == "RUNNING"
        n = int(report(c, "locks")["count"])
        c.wait_until(lambda: int(report(c, "locks")["count"]) > n, what="the container to go on after the refusal")
        path = dump(c, "locks", "locks", "zstd", "--file-locks")
        restore(c, path, "locks")
        at = int(report(c, "locks")["count"])
        c.wait_until(lambda: int(report(c, "locks")["count"]) > at + 3, what="the restored container to count on")
        assert report(c, "locks")["held"] == "1", report(c, "locks")


def test_a_killed_cedanad_leaves_nothing_paused(c):
    with ctrd.cleanup_after(c):
        rc, err, _ = interrupted_dump(c, "big3", "daemon")
        assert rc != 0, (rc, err)
        # The next cedanad found the record of the pause and resumed the container.
        assert ("A dump of containerd container big3 (namespace default) ended abnormally; it runs on."
                in c.run(["journalctl", "-u", "cedanad", "-o", "cat", "--no-pager"]).stdout)
        assert not c.run(["ls", "-A", "/var/lib/cedana/paused"], check=False).stdout.strip()
