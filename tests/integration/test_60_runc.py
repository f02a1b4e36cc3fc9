# SPDX-License-Identifier: Apache-2.0
# Smoke tests of the OCI harness (oci.py): runc containers run, checkpoint and restore inside
# the test container with nothing on the host, so that a failure in a later `cedana dump runc`
# test is cedana's. They also pin down the runc behaviour cedana's runc support is built on.

import os
import time

import oci

TIMEOUT = 120
CK = f"{oci.TOP}/ck"

# A TCP listener (httpd on 8080) and an established connection inside the container: a
# client sends 1, 2, 3, ... one a line over one connection to an echo server on 9000 and
# writes what comes back to /data/echo.
NET_SH = ("mkdir -p /www; echo hello-from-runc > /www/index.html; httpd -p 8080 -h /www; "
          "nc -ll -p 9000 -e /bin/cat & sleep 0.3; "
          "i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc 127.0.0.1 9000 > /data/echo")
GET = ("python3 -c \"import urllib.request; print(urllib.request.urlopen("
       "'http://127.0.0.1:8080/index.html', timeout=3).read().decode().strip())\"")


def setup(c):
    oci.prepare(c)
    c.run(["mkdir", "-p", CK])


def echoed(c, bundle):
    return [int(x) for x in oci.read_rootfs(c, bundle, "data/echo").split()]


def lo_state(c, id):
    return oci.in_netns(c, id, ["ip", "-o", "link", "show", "lo"]).stdout


def test_cgroups_and_sysctls_writable(c):
    # nspawn mounts the v1 controllers read-only; the harness remounted them writable.
    mounts = c.run(["findmnt", "-rn", "-t", "cgroup", "-o", "TARGET,OPTIONS"]).stdout
    v1 = {line.split()[0]: line.split()[1].split(",") for line in mounts.splitlines()}
    assert "/sys/fs/cgroup/memory" in v1 and "/sys/fs/cgroup/cpuset" in v1, mounts
    for target, opts in v1.items():
        assert "rw" in opts, f"{target} is not writable: {opts}"
    # ... and each is the container's own cgroup on the host, not the host's root.
    host = [cg for cg in c.cgroups if "/systemd/" not in cg and "/unified/" not in cg]
    assert len(host) >= 8, c.cgroups
    for cg in c.cgroups:
        assert os.path.isdir(cg) and os.path.basename(cg) == c.name, cg
    cpus = open(os.path.join([cg for cg in c.cgroups if "/cpuset/" in cg][0],
                             "cpuset.cpus")).read().strip()
    assert cpus, "the container's cpuset has no cpus"
    # CRIU restores a container's UTS namespace: hostname and domainname must be writable.
    c.run("echo t60 > /proc/sys/kernel/hostname && echo t60d > /proc/sys/kernel/domainname")
    assert c.run(["hostname"]).stdout.strip() == "t60"
    assert open("/proc/sys/kernel/hostname").read().strip() != "t60", "the host's name changed"


def test_run_and_list(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "run", oci.COUNTER_SH)
        st = oci.runc_run(c, "t60-run", b)
        assert st["status"] == "running" and st["pid"] > 0, st
        assert oci.runc_list(c) == {"t60-run": "running"}
        c.wait_until(lambda: oci.count(c, b) >= 3, 10, "the container to count")
        # runc's cgroups are /t60-run inside, below the test container's own on the host.
        cgs = oci.cgroup_paths(c, st["pid"])
        for ctrl in ("memory", "cpuset", "freezer", "pids", "unified"):
            assert cgs[ctrl] == "/t60-run", cgs
        for cg in c.cgroups:
            if "/systemd/" not in cg and "/unified/" not in cg:
                assert os.path.isdir(os.path.join(cg, "t60-run")), f"no {cg}/t60-run on the host"
        assert os.path.isdir(os.path.join([cg for cg in c.cgroups if "/unified/" in cg][0],
                                          "payload", "t60-run"))
        oci.runc_delete(c, "t60-run")
        assert oci.runc_list(c) == {}
        for cg in c.cgroups:
            assert not os.path.exists(os.path.join(cg, "t60-run")), f"{cg}/t60-run left"


def test_checkpoint_restore_counts_on(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "cr", oci.COUNTER_SH)
        oci.runc_run(c, "t60-cr", b)
        c.wait_until(lambda: oci.count(c, b) >= 5, 10, "the container to count")
        oci.runc_checkpoint(c, "t60-cr", f"{CK}/cr", f"{CK}/cr-work")
        assert oci.runc_state(c, "t60-cr") is None, "runc still knows the checkpointed container"
        at_dump = oci.count(c, b)
        time.sleep(0.4)
        assert oci.count(c, b) == at_dump, "the counter moved after the checkpoint"
        st = oci.runc_restore(c, "t60-cr", b, f"{CK}/cr", f"{CK}/cr-work2")
        assert st["status"] == "running", st
        c.wait_until(lambda: oci.count(c, b) >= at_dump + 3, 10, "the restored counter")
        now = oci.count(c, b)
        assert at_dump < now < at_dump + 40, f"{at_dump} -> {now}: restarted, not restored?"
        # Detached from a unit: runc exits, the init is the test container's systemd's child,
        # in runc's cgroups (name=systemd: below the unit that ran runc).
        pid = st["pid"]
        ppid = int(c.run(["ps", "-o", "ppid=", "-p", str(pid)]).stdout)
        assert ppid == 1, f"restored init {pid} has parent {ppid}"
        cgs = oci.cgroup_paths(c, pid)
        assert cgs["memory"] == cgs["freezer"] == cgs["unified"] == "/t60-cr", cgs
        assert cgs["name=systemd"].endswith("/t60-cr"), cgs
        fds = c.run(["ls", "-l", f"/proc/{pid}/fd"]).stdout
        assert fds.count("/dev/null") == 3, fds


def test_paused_checkpoint_leave_running(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "pause", oci.COUNTER_SH)
        oci.runc_run(c, "t60-pause", b)
        c.wait_until(lambda: oci.count(c, b) >= 3, 10, "the container to count")
        c.run([oci.RUNC, "pause", "t60-pause"])
        frozen = oci.count(c, b)
        oci.runc_checkpoint(c, "t60-pause", f"{CK}/pause", leave_running=True)
        # It stays paused (CRIU puts the freezer back as it found it) ...
        assert oci.runc_state(c, "t60-pause")["status"] == "paused"
        assert c.read_file("/sys/fs/cgroup/freezer/t60-pause/freezer.state").strip() == "FROZEN"
        time.sleep(0.4)
        assert oci.count(c, b) == frozen
        # ... and resumes where it was.
        c.run([oci.RUNC, "resume", "t60-pause"])
        assert oci.runc_state(c, "t60-pause")["status"] == "running"
        c.wait_until(lambda: oci.count(c, b) >= frozen + 3, 10, "the resumed counter")

        # The same id while it runs: refused, the running one untouched.
        r = oci.runc_restore(c, "t60-pause", b, f"{CK}/pause", f"{CK}/pause-r1", check=False)
        assert r is None
        assert "already exists" in c.read_file(f"{oci.LOGS}/t60-pause.log")
        assert oci.runc_state(c, "t60-pause")["status"] == "running"
        # A new id: a second, running (not paused) copy with its own cgroups, going on from
        # the checkpoint's count. Its own bundle copy, so that the two counters do not mix.
        c.run(["cp", "-a", b, f"{oci.BUNDLES}/pause2"])
        c.write_file(f"{oci.BUNDLES}/pause2/rootfs/data/count", "0\n")
        st = oci.runc_restore(c, "t60-pause2", f"{oci.BUNDLES}/pause2", f"{CK}/pause",
                              f"{CK}/pause-r2")
        assert st["status"] == "running", st
        assert oci.cgroup_paths(c, st["pid"])["memory"] == "/t60-pause2"
        b2 = f"{oci.BUNDLES}/pause2"
        c.wait_until(lambda: oci.count(c, b2) > frozen, 10, "the copy to count")
        assert oci.count(c, b2) < frozen + 30, (frozen, oci.count(c, b2))
        assert set(oci.runc_list(c).items()) == {("t60-pause", "running"),
                                                 ("t60-pause2", "running")}


def test_restore_without_lo_hook_leaves_lo_down(c):
    with oci.cleanup_after(c):
        b = oci.make_bundle(c, "nohook", "mkdir -p /www; echo hi > /www/index.html; "
                                         "exec httpd -f -p 8080 -h /www")
        oci.runc_run(c, "t60-nohook", b)
        assert "UP" in lo_state(c, "t60-nohook")  # runc brings lo up on run ...
        c.wait_until(lambda: oci.in_netns(c, "t60-nohook", GET).stdout.strip() == "hi", 10,
                     "httpd to answer")
        oci.runc_checkpoint(c, "t60-nohook", f"{CK}/nohook")
        oci.runc_restore(c, "t60-nohook", b, f"{CK}/nohook")
        lo = lo_state(c, "t60-nohook")
        assert "state DOWN" in lo and ",UP" not in lo, lo  # ... but not on restore
        r = oci.in_netns(c, "t60-nohook", GET, check=False)
        assert r.returncode != 0 and "unreachable" in r.stderr, r
        oci.in_netns(c, "t60-nohook", ["ip", "link", "set", "lo", "up"])
        assert oci.in_netns(c, "t60-nohook", GET).stdout.strip() == "hi"


def test_lo_hook_listener_and_established_connection(c):
    with oci.cleanup_after(c):
        c.run(["rm", "-f", oci.LO_UP_LOG])
        b = oci.make_bundle(c, "net", NET_SH, lo_up_hook=True)
        st = oci.runc_run(c, "t60-net", b)
        c.wait_until(lambda: len(echoed(c, b)) >= 5, 10, "the echo connection")
        assert oci.in_netns(c, "t60-net", GET).stdout.strip() == "hello-from-runc"
        # An established connection needs --tcp-established ...
        r = oci.runc_checkpoint(c, "t60-net", f"{CK}/net-no", check=False)
        assert r.returncode != 0
        assert "--tcp-established" in c.read_file(f"{CK}/net-no-work/dump.log")
        assert oci.runc_state(c, "t60-net")["status"] == "running"
        # ... with it the connection survives, and the hook brings lo up on restore too
        # (before CRIU reconnects the sockets: without it the restore fails "Network is
        # unreachable").
        oci.runc_checkpoint(c, "t60-net", f"{CK}/net", tcp_established=True)
        at_dump = echoed(c, b)
        rst = oci.runc_restore(c, "t60-net", b, f"{CK}/net", tcp_established=True)
        hooked = c.read_file(oci.LO_UP_LOG).split("\n")
        assert hooked[:2] == [f"t60-net {st['pid']}", f"t60-net {rst['pid']}"], hooked
        assert "UP" in lo_state(c, "t60-net")
        assert oci.in_netns(c, "t60-net", GET).stdout.strip() == "hello-from-runc"
        c.wait_until(lambda: len(echoed(c, b)) >= len(at_dump) + 5, 10,
                     "the connection to carry on after the restore")
        seq = echoed(c, b)
        assert seq == list(range(1, len(seq) + 1)), f"gap or restart in the echo: {seq}"


def test_nothing_left(c):
    assert oci.runc_list(c) == {}
    for cg in c.cgroups:
        left = [d for d in os.listdir(cg) if d.startswith("t60-")]
        assert not left, f"runc cgroups left in {cg}: {left}"
