# SPDX-License-Identifier: Apache-2.0
# A job marked to persist outlives a reboot: a real `systemctl poweroff` of one systemd container
# has cedanad checkpoint it within logind's delay, and a second container booted on the same state,
# log and checkpoint directories (binds on the host that outlive the first) has it running again
# from cedana-restore.service, in the boot transaction, its log continuing where it stopped and
# its 256 MiB of memory the same. The poweroff comes while the job's scheduled checkpoint runs:
# the shutdown's checkpoint waits for it.

import contextlib
import json
import os
import re
import shutil
import tempfile

import cedana_container as cc
import oci
from workloads import read_report as report
from workloads import workload

TIMEOUT = 300
TICKER = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"
# What outlives the containers, bound at the same place in both.
KEPT = ("/var/lib/cedana", "/var/log/cedana", "/var/lib/cedana-checkpoints")


def cedana(h, *args, check=True):
    return h.run(["cedana", *args], check=check, timeout=240)


def ticks(text):
    return [int(m) for m in re.findall(r"^tick (\d+)$", text, re.M)]


def stage_binds(stage):
    """The staged install, file by file, for a container that must have it when it boots. The
    enabling symlink cannot be bound (a bound file is no symlink to systemd): boot_args pull the
    unit in instead, and the first container checks that the install enables it."""
    binds = []
    for root, _, files in os.walk(stage):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                binds.append(f"--bind-ro={p}:/{os.path.relpath(p, stage)}")
    return binds


# Once a container has booted, the harness makes the v1 cgroup controllers and CRIU's
# per-namespace sysctls writable (nspawn mounts them read-only); a container restored at boot
# needs both before cedana-restore.service. On a host they are writable all along.
PREPARE_UNIT = """[Unit]
DefaultDependencies=no
Before=cedana-restore.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'for p in /sys/fs/cgroup/*; do case $p in */unified|*/systemd) continue;; esac; \
  if mountpoint -q $p; then mount -o remount,bind,rw $p; fi; done; \
  for f in %s; do p=/proc/sys/kernel/$f; mount --bind $p $p && mount -o remount,bind,rw $p; done'
""" % " ".join(cc.NS_SYSCTLS)


def kept_path(kept, d):
    return os.path.join(kept, d.strip("/").replace("/", "-"))


def host(c, kept, at_boot=False, dirs=KEPT):
    binds = [f"--bind={kept_path(kept, d)}:{d}" for d in dirs]
    boot_args = []
    if at_boot:
        unit = os.path.join(kept, "prepare.service")
        with open(unit, "w") as f:
            f.write(PREPARE_UNIT)
        binds += stage_binds(c.stage_dir) + [f"--bind-ro={unit}:/etc/systemd/system/cedana-test-prepare.service"]
        boot_args = ["systemd.wants=cedana-test-prepare.service", "systemd.wants=cedana-restore.service"]
    h = cc.Container(binds_ro=[c.source_dir, c.build_dir, c.stage_dir], extra_nspawn_args=binds,
                     boot_args=boot_args)
    h.start()
    h.source_dir, h.build_dir, h.stage_dir = c.source_dir, c.build_dir, c.stage_dir
    return h


def inhibitors(h):
    return h.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"]).stdout


@contextlib.contextmanager
def two_boots(c, dirs=KEPT):
    """The host directories that outlive the containers, and the list of containers to tear down,
    whatever happens."""
    kept = tempfile.mkdtemp(prefix="cedana-persist-", dir="/var/tmp")
    hosts = []
    try:
        for d in dirs:
            os.mkdir(kept_path(kept, d), 0o755)
        yield kept, hosts
    finally:
        for h in hosts:
            h.shutdown()
        shutil.rmtree(kept, ignore_errors=True)


def first_boot(c, kept, hosts, inhibit_delay_sec, dirs=KEPT):
    """A container with cedana installed and logind waiting this long for delay locks."""
    a = host(c, kept, dirs=dirs)
    hosts.append(a)
    a.install(c.stage_dir)
    a.run(["mkdir", "-p", "/etc/systemd/logind.conf.d"])
    a.write_file("/etc/systemd/logind.conf.d/50-delay.conf", f"[Login]\nInhibitDelayMaxSec={inhibit_delay_sec}\n")
    a.run(["systemctl", "restart", "systemd-logind"])
    a.run(["systemctl", "start", "cedanad.socket"])
    return a


def poweroff(a, hosts):
    """A real poweroff from inside, through logind, which waits for delay locks."""
    a.run(["systemctl", "poweroff"], check=False)
    assert a.wait_powered_off(60), "the first container did not power off"
    a.shutdown()
    hosts.remove(a)


def test_a_persisted_job_survives_a_poweroff_and_runs_after_boot(c):
    with two_boots(c) as (kept, hosts):
        # logind waits 60 s for cedanad's lock (5 s by default): what two dumps of the job may take
        # on a busy machine.
        a = first_boot(c, kept, hosts, 60)
        deps = a.run(["systemctl", "list-dependencies", "--plain", "--no-pager", "multi-user.target"]).stdout
        assert "cedana-restore.service" in deps, "the install does not put cedana-restore.service into the boot"
        # Pids the restore in the next boot needs free: well past what a boot uses.
        a.run(["sh", "-c", "for i in $(seq 400); do /bin/true; done"])
        mem = "/var/lib/cedana-checkpoints/mem.report"
        cedana(a, "run", "process", "--name", "keep", "--", "sh", "-c",
               f"{workload(c)} {mem} memory 256 2 & {TICKER}")
        log = "/var/log/cedana/0/keep.log"
        a.wait_until(lambda: len(ticks(a.read_file(log))) > 10 and report(a, mem).get("initial"), timeout=60,
                     what="the job to count and fill its memory")
        initial = report(a, mem)["initial"]
        assert "cedana" not in inhibitors(a)
        # Its schedule's settings are what the shutdown's checkpoint uses; the schedule comes back too.
        cedana(a, "job", "schedule", "keep", "--every", "1h", "--compression", "zstd")
        r = cedana(a, "job", "persist", "keep")
        assert "checkpointed when the system shuts down" in r.stdout, r.stdout
        assert re.search(r"cedana .*shutdown .*delay", inhibitors(a)), inhibitors(a)
        assert "persist" in cedana(a, "job", "list").stdout
        # Unmarked, the lock goes (cedanad may idle-exit again); marked again, it comes back.
        cedana(a, "job", "persist", "keep", "--off")
        assert "cedana" not in inhibitors(a)
        cedana(a, "job", "persist", "keep")

        # The timer's service, as at a tick; once its CRIU runs, a real poweroff, through logind,
        # which waits for cedanad's lock while cedanad waits for the scheduled checkpoint.
        a.run(["systemctl", "start", "--no-block", "cedana-schedule-0-keep.service"])
        a.wait_until(lambda: a.run(["pgrep", "-x", "criu"], check=False).returncode == 0, interval=0.02,
                     what="the scheduled checkpoint to run")
        poweroff(a, hosts)
        state = os.path.join(kept, "var-lib-cedana")
        assert os.path.exists(os.path.join(state, "restore-at-boot")), os.listdir(state)
        before = ticks(open(os.path.join(kept, "var-log-cedana", "0", "keep.log")).read())
        # The scheduled checkpoint and the shutdown's, both complete.
        saved = sorted(os.listdir(os.path.join(kept, "var-lib-cedana-checkpoints", "root")))
        assert len(saved) == 2 and all(re.fullmatch(r"dump-job-keep-\d+(-2)?\.tar\.zst", f) for f in saved), saved
        assert before == list(range(1, len(before) + 1))

        # The next boot restores it, before anyone asks.
        b = host(c, kept, at_boot=True)
        hosts.append(b)
        assert "cedana-restore.service" not in b.failed_units, b.failed_units
        show = b.run(["systemctl", "show", "-p", "Result,ExecMainStatus,ExecMainStartTimestampMonotonic",
                      "cedana-restore.service"]).stdout
        assert "Result=success" in show and "ExecMainStatus=0" in show, show
        assert "ExecMainStartTimestampMonotonic=0" not in show, "cedana-restore.service did not run at boot"
        assert "Restored job keep" in b.journal(["-u", "cedana-restore.service", "-o", "cat", "--no-pager"])
        lst = cedana(b, "job", "list").stdout
        assert re.search(r"^keep\s+process\s+\d+\s+running", lst, re.M), lst
        b.wait_until(lambda: max(ticks(b.read_file(log))) > before[-1] + 5, what="the job to count on")
        seq = ticks(b.read_file(log))
        assert seq == list(range(1, len(seq) + 1)), "the count restarted or lost a step across the reboot"
        b.run(["pkill", "-USR1", "-x", "workload"])
        b.wait_until(lambda: report(b, mem).get("rounds") == "1", what="a checksum after the reboot")
        assert report(b, mem)["current"] == initial
        assert not b.path_exists("/var/lib/cedana/restore-at-boot")
        assert "cedana-schedule-0-keep.timer" in b.run(["systemctl", "list-timers", "--no-pager"]).stdout
        # Still marked: protected again in this boot too.
        assert re.search(r"cedana .*shutdown .*delay", inhibitors(b)), inhibitors(b)
        cedana(b, "job", "kill", "keep", "--signal", "KILL")


def test_a_checkpoint_that_does_not_fit_the_delay_is_left_out_whole(c):
    """logind gives up waiting after InhibitDelayMaxSec=: the shutdown goes on with the dump cut
    short. Nothing of it is recorded; the next boot restores nothing and finds no half checkpoint."""
    with two_boots(c) as (kept, hosts):
        a = first_boot(c, kept, hosts, 1)
        # 2 GiB in zstd: seconds of work on any machine, far past the one logind waits.
        mem = "/var/lib/cedana-checkpoints/big.report"
        cedana(a, "run", "process", "--name", "big", "--", workload(c), mem, "memory", "2048", "2")
        a.wait_until(lambda: report(a, mem).get("initial"), timeout=120, what="the job to fill its memory")
        cedana(a, "job", "schedule", "big", "--every", "1h", "--compression", "zstd")
        cedana(a, "job", "persist", "big")
        poweroff(a, hosts)
        assert not os.path.exists(os.path.join(kept, "var-lib-cedana", "restore-at-boot"))

        b = host(c, kept, at_boot=True)
        hosts.append(b)
        show = b.run(["systemctl", "show", "-p", "ConditionResult", "cedana-restore.service"]).stdout
        assert "ConditionResult=no" in show, show
        # The job ended with the first container; its cut dump left only an intent, which the
        # next cedanad removes with whatever was written.
        j = json.loads(cedana(b, "job", "inspect", "big", "--json").stdout)
        assert j["status"] == "exited" and j["checkpoints"] == [] and not j["restore_at_boot"], j
        assert json.loads(cedana(b, "checkpoint", "list", "--json").stdout) == []
        b.wait_until(lambda: b.run(["ls", "-A", "/var/lib/cedana-checkpoints/root"], check=False).stdout.strip() == "",
                     what="the cut dump's files to be removed")


def test_a_persisted_container_comes_back_at_boot(c):
    dirs = KEPT + (oci.TOP,)
    with two_boots(c, dirs) as (kept, hosts):
        a = first_boot(c, kept, hosts, 60, dirs=dirs)
        oci.prepare(a, criu_runc_conf=False)
        bundle = oci.make_bundle(a, "pweb", oci.COUNTER_SH)
        oci.runc_run(a, "pweb", bundle)
        a.wait_until(lambda: oci.count(a, bundle) >= 3, what="the container to count")
        cedana(a, "manage", "runc", "pweb", "--name", "pweb")
        cedana(a, "job", "persist", "pweb")
        assert re.search(r"cedana .*shutdown .*delay", inhibitors(a)), inhibitors(a)
        poweroff(a, hosts)
        count = os.path.join(kept_path(kept, oci.TOP), os.path.relpath(bundle, oci.TOP), "rootfs/data/count")
        at_shutdown = int(open(count).read())

        b = host(c, kept, at_boot=True, dirs=dirs)
        hosts.append(b)
        show = b.run(["systemctl", "show", "-p", "Result,ExecMainStatus", "cedana-restore.service"]).stdout
        assert "Result=success" in show and "ExecMainStatus=0" in show, \
            show + b.journal(["--no-pager", "-u", "cedana-restore", "-u", "cedanad", "-u", "cedana-test-prepare"])
        # runc knows it again, and it counts on from where the shutdown's checkpoint took it.
        st = oci.runc_state(b, "pweb")
        assert st and st["status"] == "running", st
        j = json.loads(cedana(b, "job", "inspect", "pweb", "--json").stdout)
        assert j["status"] == "running" and j["pid"] == st["pid"] and j["type"] == "runc", j
        b.wait_until(lambda: oci.count(b, bundle) > at_shutdown + 3, what="the container to count on")
        assert oci.count(b, bundle) < at_shutdown + 100, "the count started over"
        oci.runc(b, "kill", "pweb", "KILL")

