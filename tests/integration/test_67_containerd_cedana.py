# SPDX-License-Identifier: Apache-2.0
# `cedana dump containerd` / `cedana restore containerd` through the real cedanad, containerd
# (its gRPC API), its runc shim and CRIU, on busybox containers in the test container: each
# container's state (a counter and files in its writable layer, 256 MiB of memory, a listener)
# is checked after the restore, containerd shows the restored task RUNNING and can kill and
# delete it, and every bad input gets its own exit code with the container left as it was.

import json
import time

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
