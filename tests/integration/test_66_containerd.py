# SPDX-License-Identifier: Apache-2.0
# Smoke tests of the containerd harness (ctrd.py): containerd, its busybox image and its tasks
# run and checkpoint inside the test container with nothing on the host, so that a failure in a
# later cedana containerd test is cedana's. They also pin down the containerd behaviour cedana
# builds on: raw CRIU images from a task checkpoint, paused tasks staying paused, cgroups and
# network namespaces of tasks.

import os
import time

import ctrd
import oci

TIMEOUT = 120
CK = f"{oci.TOP}/ck"
APPLETS = ("sh", "nc", "httpd", "sleep", "dd", "sha256sum", "cat", "mv", "mkdir", "ip")
GET = ("python3 -c \"import urllib.request; print(urllib.request.urlopen("
       "'http://127.0.0.1:8080/index.html', timeout=3).read().decode().strip())\"")


def setup(c):
    t0 = time.monotonic()
    ctrd.start(c)
    t1 = time.monotonic()
    ctrd.image(c)
    c._t66_times = (t1 - t0, time.monotonic() - t1)
    c.run(["mkdir", "-p", CK])


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def image_digest(c):
    lines = ctrd.ctr(c, "image", "ls").stdout.splitlines()[1:]
    return {f[0]: f[2] for f in (ln.split() for ln in lines)}[ctrd.IMAGE]


def unit_main_pid(c):
    return int(c.run(["systemctl", "show", "-P", "MainPID", ctrd.UNIT]).stdout)


def test_start_and_image(c):
    print("start() %.3f s, image() %.3f s" % c._t66_times)
    # The packaged unit is masked; containerd runs as the harness's transient unit, on a
    # tmpfs that only the test container sees.
    assert c.run(["systemctl", "is-enabled", "containerd.service"],
                 check=False).stdout.strip() == "masked-runtime"
    assert c.run(["systemctl", "is-active", "containerd.service"],
                 check=False).stdout.strip() == "inactive"
    c.run(["systemctl", "is-active", "--quiet", ctrd.UNIT])
    main = unit_main_pid(c)
    assert c.read_file(f"/proc/{main}/cmdline").split("\0")[0] == ctrd.CONTAINERD
    fs = c.run(["findmnt", "-n", "-o", "FSTYPE", ctrd.ROOT]).stdout.strip()
    assert fs == "tmpfs", f"{ctrd.ROOT} is {fs!r}"
    assert c.run(["mountpoint", "-q", ctrd.IMAGE_BUILD], check=False).returncode != 0
    assert ctrd.ROOT not in host_mounts(), "containerd's tmpfs is mounted on the host"
    # Idempotent: no second containerd, no second build (it would have a new digest).
    digest = image_digest(c)
    ctrd.start(c)
    assert ctrd.image(c) == ctrd.IMAGE
    assert unit_main_pid(c) == main
    assert ctrd.images(c) == [ctrd.IMAGE] and image_digest(c) == digest
    # The image's default command idles and ends on SIGTERM; it has the applets tests use.
    with ctrd.cleanup_after(c):
        pid = ctrd.run(c, "t66-idle")
        bins = set(c.run(["ls", f"/proc/{pid}/root/bin"]).stdout.split())
        assert set(APPLETS) <= bins, sorted(set(APPLETS) - bins)
        assert c.run(["test", "-d", f"/proc/{pid}/root/data"], check=False).returncode == 0
        ctrd.kill(c, "t66-idle", signal="SIGTERM", wait=True)
        ctrd.delete(c, "t66-idle")


def test_run_counts_kill_delete(c):
    with ctrd.cleanup_after(c):
        pid = ctrd.run(c, "t66-run", oci.COUNTER_SH)
        assert ctrd.tasks(c) == {"t66-run": {"pid": pid, "status": "RUNNING"}}
        assert ctrd.containers(c) == ["t66-run"]
        c.wait_until(lambda: ctrd.count(c, "t66-run") >= 3, 10, "the task to count")
        first = ctrd.count(c, "t66-run")
        c.wait_until(lambda: ctrd.count(c, "t66-run") > first, 10, "the count to go up")
        # --null-io: stdio is /dev/null, which CRIU can dump.
        fds = c.run(["ls", "-l", f"/proc/{pid}/fd"]).stdout
        assert fds.count("/dev/null") == 3, fds
        assert ctrd.snapshots(c)["t66-run"] == "Active"
        ctrd.kill(c, "t66-run")
        assert ctrd.status(c, "t66-run") == "STOPPED"
        assert not c.path_exists(f"/proc/{pid}")
        ctrd.delete(c, "t66-run")
        assert ctrd.tasks(c) == {}
        assert ctrd.containers(c) == []
        assert "t66-run" not in ctrd.snapshots(c)
        assert ctrd.ctr(c, "task", "ls", "-q").stdout.strip() == ""
        assert ctrd.ctr(c, "c", "ls", "-q").stdout.strip() == ""


def test_task_checkpoint_writes_raw_images(c):
    with ctrd.cleanup_after(c):
        pid = ctrd.run(c, "t66-ck", oci.COUNTER_SH)
        c.wait_until(lambda: ctrd.count(c, "t66-ck") >= 3, 10, "the task to count")
        # No CRIU configuration for runc: none is needed (the task's network namespace is
        # dumped empty, so no network lock runs).
        assert not c.path_exists(oci.CRIU_RUNC_CONF)
        img, work = f"{CK}/ck", f"{CK}/ck-work"
        c.run(["mkdir", "-p", img, work])
        t0 = time.monotonic()
        ctrd.ctr(c, "task", "checkpoint", "--image-path", img, "--work-path", work, "t66-ck")
        print(f"ctr task checkpoint: {time.monotonic() - t0:.3f} s")
        files = c.run(["ls", img]).stdout.split()
        assert "inventory.img" in files and "pstree.img" in files, files
        assert any(f.startswith("pages-") and f.endswith(".img") for f in files), files
        assert "core-1.img" in files, files  # pids of the task's own pid namespace
        log = c.read_file(f"{work}/dump.log")
        assert "Dumping finished successfully" in log, log[-2000:]
        assert "Version: 4." in log, "not CRIU 4.x from /usr/local/sbin"
        # Nothing in the content store; the task runs on, same process, and counts on.
        assert ctrd.ctr(c, "image", "ls", "-q").stdout.split() == [ctrd.IMAGE]
        assert ctrd.tasks(c)["t66-ck"] == {"pid": pid, "status": "RUNNING"}
        at = ctrd.count(c, "t66-ck")
        c.wait_until(lambda: ctrd.count(c, "t66-ck") >= at + 3, 10, "the count after it")


def test_paused_checkpoint_stays_paused(c):
    with ctrd.cleanup_after(c):
        pid = ctrd.run(c, "t66-pause", oci.COUNTER_SH)
        c.wait_until(lambda: ctrd.count(c, "t66-pause") >= 3, 10, "the task to count")
        freezer = "/sys/fs/cgroup/freezer" + oci.cgroup_paths(c, pid)["freezer"]
        ctrd.ctr(c, "task", "pause", "t66-pause")
        assert ctrd.status(c, "t66-pause") == "PAUSED"
        frozen = ctrd.count(c, "t66-pause")
        ctrd.checkpoint(c, "t66-pause", f"{CK}/pause")
        assert c.path_exists(f"{CK}/pause/inventory.img")
        # CRIU puts the freezer back as it found it, and ctr resumes only what it paused.
        assert ctrd.status(c, "t66-pause") == "PAUSED"
        assert c.read_file(f"{freezer}/freezer.state").strip() == "FROZEN"
        time.sleep(0.5)
        assert ctrd.count(c, "t66-pause") == frozen
        # SIGKILL to all while paused: runc thaws for it; the task stops without running on
        # (its rootfs stays mounted until `ctr task rm`).
        ctrd.kill(c, "t66-pause")
        assert not c.path_exists(f"/proc/{pid}")
        assert ctrd.count(c, "t66-pause") == frozen
        ctrd.delete(c, "t66-pause")
        assert not c.path_exists(ctrd.rootfs("t66-pause")), "the rootfs is still mounted"
        assert not c.path_exists(freezer), "the task's freezer cgroup is left"


def test_cgroups_below_the_test_container(c):
    ns = "t66ns"
    with ctrd.cleanup_after(c):
        pid = ctrd.run(c, "t66-cg", oci.COUNTER_SH, namespace=ns)
        assert ctrd.images(c, ns) == [ctrd.IMAGE]   # imported into the namespace by run()
        assert ns in ctrd.namespaces(c)
        assert ctrd.tasks(c) == {} and ctrd.tasks(c, ns)["t66-cg"]["status"] == "RUNNING"
        c.wait_until(lambda: ctrd.count(c, "t66-cg", ns) >= 3, 10, "the task to count")
        # /<namespace>/<id> in every hierarchy, inside the test container ...
        cgs = oci.cgroup_paths(c, pid)
        for ctrl in ("memory", "cpuset", "freezer", "pids", "devices", "unified",
                     "name=systemd"):
            assert cgs[ctrl] == f"/{ns}/t66-cg", cgs
        # ... so below its own cgroups on the host (payload/ in the hierarchies nspawn
        # manages), gone with it.
        host = []
        for cg in c.cgroups:
            sub = "payload" if ("/systemd/" in cg or "/unified/" in cg) else ""
            host.append(os.path.join(cg, sub, ns, "t66-cg"))
        for d in host:
            assert os.path.isdir(d), f"no {d} on the host"
            with open(os.path.join(d, "cgroup.procs")) as f:
                assert f.read().split(), f"{d} is empty"
        # The shim stays in containerd's unit (its parent is the test container's systemd).
        shim = int(c.run(["ps", "-o", "ppid=", "-p", str(pid)]).stdout)
        assert "containerd-shim-runc-v2" in c.read_file(f"/proc/{shim}/cmdline")
        assert oci.cgroup_paths(c, shim)["name=systemd"] == f"/system.slice/{ctrd.UNIT}"
        ctrd.delete(c, "t66-cg", ns)
        assert ctrd.tasks(c, ns) == {} and ctrd.containers(c, ns) == []
        for d in host:
            assert not os.path.exists(d), f"{d} left on the host"


def test_netns_lo_and_listener(c):
    with ctrd.cleanup_after(c):
        pid = ctrd.run(c, "t66-net", "mkdir -p /www; echo hello-from-containerd > "
                                     "/www/index.html; exec httpd -f -p 8080 -h /www")
        own = c.run(["readlink", f"/proc/{pid}/ns/net"]).stdout.strip()
        assert own != c.run(["readlink", "/proc/1/ns/net"]).stdout.strip()
        links = ctrd.in_netns(c, "t66-net", ["ip", "-o", "link", "show"]).stdout
        assert [ln.split(":")[1].strip() for ln in links.splitlines()] == ["lo"], links
        assert ",UP" in links, links
        c.wait_until(lambda: ctrd.in_netns(c, "t66-net", GET).stdout.strip()
                     == "hello-from-containerd", 10, "httpd to answer in the task's netns")
        listen = ctrd.in_netns(c, "t66-net", ["ss", "-Hltn"]).stdout
        assert ":8080" in listen, listen
        # Not reachable from the test container's own network namespace.
        r = c.run(GET, check=False)
        assert r.returncode != 0, r


def test_nothing_left(c):
    for ns in ctrd.namespaces(c):
        assert ctrd.tasks(c, ns) == {}, ns
        assert ctrd.containers(c, ns) == [], ns
        assert [k for k, kind in ctrd.snapshots(c, ns).items() if kind == "Active"] == [], ns
    for cg in c.cgroups:
        for ns in ("default", "t66ns"):
            d = os.path.join(cg, "payload" if ("/systemd/" in cg or "/unified/" in cg) else "",
                             ns)
            left = [e for e in os.listdir(d) if e.startswith("t66-")] if os.path.isdir(d) else []
            assert not left, f"task cgroups left in {d}: {left}"
