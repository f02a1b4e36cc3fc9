# SPDX-License-Identifier: Apache-2.0
# Smoke tests of the test environment itself: systemd, the system bus, polkitd and CRIU work
# inside the container, so a failure in a later module is cedana's and not the harness's.

import time

CRIU = "/usr/local/sbin/criu"
TIMEOUT = 120


def test_systemd_is_pid1(c):
    comm = c.run(["cat", "/proc/1/comm"]).stdout.strip()
    assert comm == "systemd", f"PID 1 inside the container is {comm!r}, not systemd"
    state = c.run(["systemctl", "is-system-running"], check=False).stdout.strip()
    assert state in ("running", "degraded"), f"system state is {state!r}"
    if state == "degraded":
        failed = c.run(["systemctl", "list-units", "--failed", "--plain", "--no-legend"]).stdout
        print(f"degraded; failed units:\n{failed}")


def test_system_bus_answers(c):
    r = c.run(["busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
               "org.freedesktop.DBus", "GetId"])
    assert r.stdout.startswith('s "'), f"unexpected GetId reply: {r.stdout!r}"
    bus_id = r.stdout.split('"')[1]
    assert len(bus_id) == 32 and all(ch in "0123456789abcdef" for ch in bus_id), bus_id


def test_polkitd_on_the_bus(c):
    r = c.run(["busctl", "introspect", "org.freedesktop.PolicyKit1",
               "/org/freedesktop/PolicyKit1/Authority"])
    assert "org.freedesktop.PolicyKit1.Authority" in r.stdout, r.stdout
    assert ".CheckAuthorization" in r.stdout, r.stdout
    # Activated by the bus, it is now a running service of the container's systemd.
    active = c.run(["systemctl", "is-active", "polkit.service"], check=False).stdout.strip()
    assert active == "active", f"polkit.service is {active!r}"


def test_criu_check(c):
    r = c.run([CRIU, "check"], check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Looks good." in out, \
        f"criu check failed (status {r.returncode}):\n{out}"


def _criu_errors(c, path):
    log = c.run(["cat", path], check=False).stdout
    return "\n".join(line for line in log.splitlines() if "Error" in line or "Warn" in line) \
        or log[-3000:]


def _counter(c):
    return int(c.read_file("/tmp/counter").strip() or 0)


def test_criu_dump_restore_unit_workload(c):
    # A unit's main process is a session leader without a terminal, so no --shell-job; its
    # output must not be the journal's socket (start_unit_process defaults to /dev/null).
    pid = c.start_unit_process(
        "smoke-counter",
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/counter.new; "
        "mv /tmp/counter.new /tmp/counter; sleep 0.05; done")
    c.wait_until(lambda: _counter(c) >= 3, 10, "the counter to count")
    c.run(["mkdir", "-p", "/tmp/smoke-dump"])
    r = c.run([CRIU, "dump", "-t", str(pid), "-D", "/tmp/smoke-dump", "-v4", "-o", "dump.log"],
              check=False)
    assert r.returncode == 0, \
        f"criu dump failed ({r.returncode}):\n{_criu_errors(c, '/tmp/smoke-dump/dump.log')}"
    assert not c.path_exists(f"/proc/{pid}"), "the dumped process still runs"
    frozen = _counter(c)
    time.sleep(0.3)
    assert _counter(c) == frozen, "the counter moved although its process was dumped"

    r = c.run([CRIU, "restore", "-D", "/tmp/smoke-dump", "-d", "-v4", "-o", "restore.log"],
              check=False)
    assert r.returncode == 0, \
        f"criu restore failed ({r.returncode}):\n{_criu_errors(c, '/tmp/smoke-dump/restore.log')}"
    assert c.path_exists(f"/proc/{pid}"), f"no process {pid} after the restore"
    c.wait_until(lambda: _counter(c) >= frozen + 3, 10, "the restored counter to go on")
    # It went on from where it stopped, it did not start again from 0.
    assert _counter(c) > frozen
    c.run(["kill", "-9", str(pid)])


def test_user_runs_commands(c):
    uid = c.add_user("smoke")
    assert uid >= 1000, uid
    out = c.run(["id"], user="smoke").stdout
    assert out.startswith(f"uid={uid}(smoke) gid="), out
    assert c.run(["sh", "-c", "echo $HOME; pwd"], user="smoke").stdout.split() == \
        ["/home/smoke", "/home/smoke"]
    # The user has no capabilities left (setpriv dropped root properly).
    user_caps = c.run(["grep", "CapEff", "/proc/self/status"], user="smoke").stdout.split()[1]
    assert int(user_caps, 16) == 0, f"user process has capabilities {user_caps}"


def test_user_unit_workload(c):
    c.add_user("smokeunit")
    pid = c.start_unit_process("smoke-user-sleep", ["sleep", "600"], user="smokeunit")
    status = c.read_file(f"/proc/{pid}/status")
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    uid = c.user_info("smokeunit")[1]
    assert uid_line.split()[1:] == [str(uid)] * 4, uid_line
    cg = c.read_file(f"/proc/{pid}/cgroup")
    assert "/system.slice/smoke-user-sleep.service" in cg, cg
    c.run(["systemctl", "stop", "smoke-user-sleep.service"])
