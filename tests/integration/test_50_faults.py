# SPDX-License-Identifier: Apache-2.0
# Faults: cedanad killed with SIGKILL at each phase of a dump and of a restore (seen through its
# Progress signals; its CPU is throttled so that each phase lasts long enough to be hit).
# Afterwards the job runs, unfrozen and untraced, no checkpoint is recorded, and the next start
# removes what the interrupted operation left.

import json
import os
import re
import time

TIMEOUT = 300
CK = "/var/tmp/faults"
REPORTS = "/var/tmp/fault-reports"


def cedana(c, *args, check=True):
    return c.run(["cedana", *args], check=check, timeout=240)


def jobs(c):
    return {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--all", "--json").stdout)}


def report(c, job):
    try:
        return dict(l.split(" ", 1) for l in c.read_file(f"{REPORTS}/{job}").splitlines())
    except Exception:
        return {}


def start_job(c, job):
    cedana(c, "run", "process", "--name", job, "--", os.path.join(c.build_dir, "tests/integration/workload"),
           f"{REPORTS}/{job}", "memory", "192", "2")
    c.wait_until(lambda: report(c, job), timeout=60, what=f"job {job}")
    return jobs(c)[job]["pid"]


def throttle(c, quota):
    c.run(["systemctl", "set-property", "--runtime", "cedanad.service", f"CPUQuota={quota}"])


def kill_daemon_at(c, phase, command):
    """Runs command in the background and SIGKILLs cedanad once a Progress signal says phase."""
    c.run(["rm", "-f", "/run/progress.json"])
    c.run(["sh", "-c", "busctl monitor --json=short --match \"type='signal',interface='org.cedana.Checkpoint1.Manager',"
                       "member='Progress'\" > /run/progress.json 2>/dev/null & echo $! > /run/monitor.pid"])
    time.sleep(0.5)
    main = c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad.service"]).stdout.strip()
    throttle(c, "2%")
    c.run(["sh", "-c", f"{command} > /run/fault-cli.txt 2>&1 & echo $! > /run/cli.pid"])

    def seen():
        return any(f'"{phase}"' in line for line in c.read_file("/run/progress.json").splitlines())

    try:
        c.wait_until(seen, timeout=120, interval=0.02, what=f"the {phase} phase")
        # This module kills cedanad more often than systemd's start limit (5 starts in 10 s,
        # kept for real hosts as a guard against a crash loop) allows it to come back.
        c.run(["systemctl", "reset-failed", "cedanad.service", "cedanad.socket"])
        c.run(["kill", "-KILL", main])
    finally:
        throttle(c, "")
        c.run(["sh", "-c", "kill $(cat /run/monitor.pid)"], check=False)
    # the caller is told, one way or another, and nothing waits forever
    c.wait_until(lambda: c.run(["sh", "-c", "kill -0 $(cat /run/cli.pid)"], check=False).returncode != 0,
                 timeout=90, what="the interrupted command to end")
    return main


def wait_restarted(c, old_main):
    def up():
        pid = c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad.service"]).stdout.strip()
        return pid not in ("0", old_main) and c.run(["cedana", "daemon", "status"], check=False).returncode == 0
    c.wait_until(up, timeout=90, what="cedanad to be back")


def assert_running_untouched(c, job, pid):
    status = c.read_file(f"/proc/{pid}/status")
    assert re.search(r"^State:\s+[RS]", status, re.M), status
    assert re.search(r"^TracerPid:\s+0$", status, re.M), status
    ticks = int(report(c, job)["ticks"])
    c.wait_until(lambda: int(report(c, job)["ticks"]) > ticks + 20, what=f"job {job} to keep running")
    j = jobs(c)[job]
    assert j["status"] == "running" and j["pid"] == pid, j


def assert_nothing_left(c, name):
    listing = json.loads(cedana(c, "checkpoint", "list", "--json").stdout)
    assert name not in [x["id"] for x in listing], listing
    left = c.run(["ls", "-A", CK]).stdout.split()
    assert not [f for f in left if name in f or "staging" in f or "partial" in f], left
    assert not [f for f in c.run(["ls", "-A", "/var/lib/cedana"]).stdout.split() if f.startswith("staging-")]


def setup(c):
    c.run(["mkdir", "-p", CK, REPORTS])
    c.run(["systemctl", "start", "cedanad.socket"])


def _dump_fault(phase, compression):
    def t(c):
        job = f"d-{phase}-{compression}"
        pid = start_job(c, job)
        main = kill_daemon_at(c, phase, f"cedana dump job {job} --dir {CK} --name {job}-ck --compression {compression}")
        wait_restarted(c, main)
        recorded = f"{job}-ck" in [x["id"] for x in json.loads(cedana(c, "checkpoint", "list", "--json").stdout)]
        if c.path_exists(f"/proc/{pid}"):
            # The dump did not get to stop it: it runs on, unfrozen; if its checkpoint was
            # recorded before cedanad died, that checkpoint is complete.
            assert_running_untouched(c, job, pid)
            if not recorded:
                assert_nothing_left(c, f"{job}-ck")
            cedana(c, "dump", "job", job, "--dir", CK, "--name", f"{job}-ok", "--compression", compression)
        else:
            # Stopped by its dump: then its checkpoint must be recorded, and the job halted.
            assert recorded, "the process is gone and its checkpoint was not recorded"
            assert jobs(c)[job]["status"] == "halted", jobs(c)[job]
        assert jobs(c)[job]["status"] == "halted"
        cedana(c, "restore", "job", job)
        assert_running_untouched(c, job, pid)
        cedana(c, "job", "kill", job, "--signal", "KILL")
    t.__name__ = f"test_sigkill_during_dump_{phase}_{compression}"
    return t


# CRIU freezing and dumping; the metadata (checksums, cedana.json); the end of the archive; the
# record in the job store. A directory checkpoint's last step (fsync, rename) is too short to
# aim at.
test_sigkill_during_dump_dumping_gzip = _dump_fault("dumping", "gzip")
test_sigkill_during_dump_checksumming_none = _dump_fault("checksumming", "none")
test_sigkill_during_dump_checksumming_gzip = _dump_fault("checksumming", "gzip")
test_sigkill_during_dump_compressing_gzip = _dump_fault("compressing", "gzip")
test_sigkill_during_dump_recording_zstd = _dump_fault("recording", "zstd")


def _restore_fault(phase):
    def t(c):
        job = f"r-{phase}"
        pid = start_job(c, job)
        cedana(c, "dump", "job", job, "--dir", CK, "--name", f"{job}-ck", "--compression", "gzip")
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the dumped job to end")
        main = kill_daemon_at(c, phase, f"cedana restore job {job}")
        wait_restarted(c, main)
        # not half-restored: the job is still halted, nothing of it runs, the checkpoint is intact
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=30, what="no restored process to be left")
        j = jobs(c)[job]
        assert j["status"] == "halted", j
        assert_nothing_left(c, "no-such-checkpoint")
        cedana(c, "restore", "job", job)
        assert_running_untouched(c, job, pid)
        cedana(c, "job", "kill", job, "--signal", "KILL")
    t.__name__ = f"test_sigkill_during_restore_{phase}"
    return t


test_sigkill_during_restore_extracting = _restore_fault("extracting")
test_sigkill_during_restore_restoring = _restore_fault("restoring")
