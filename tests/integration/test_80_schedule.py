# SPDX-License-Identifier: Apache-2.0
# Scheduled checkpoints: a job checkpointed every few seconds by its systemd timer keeps the
# newest N, is never stopped, and its schedule goes on through a stop of cedanad; a failing
# scheduled dump is recorded and retried; the timer follows the job's state.

import json
import os
import re
import time

TIMEOUT = 300
CKDIR = "/var/tmp/sched"
# Output every 100 ms, numbered: the log tells whether the job ever stopped or restarted.
TICKER = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"


def cedana(c, *args, check=True, user=None):
    return c.run(["cedana", *args], check=check, user=user, timeout=240)


def job(c, name, user=None):
    return {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--all", "--json", user=user).stdout)}[name]


def checkpoints(c, name, user=None):
    return json.loads(cedana(c, "job", "checkpoints", name, "--json", user=user).stdout)


def ticks(c, log):
    return [int(m) for m in re.findall(r"^tick (\d+)$", c.read_file(log), re.M)]


def timers(c):
    return c.run(["systemctl", "list-timers", "--all", "--no-legend", "--no-pager"]).stdout


def last_run(c, name, user=None):
    s = job(c, name, user=user)["schedule"]
    return (s["last_usec"], s["last_result"]) if s else (None, None)


def wait_for_runs(c, name, n, user=None, timeout=60):
    """Waits for n more scheduled runs; returns the last (time, result)."""
    seen = [last_run(c, name, user)[0]]

    def more():
        t = last_run(c, name, user)[0]
        if t != seen[-1]:
            seen.append(t)
        return len(seen) > n

    c.wait_until(more, timeout=timeout, interval=0.3, what=f"{n} scheduled checkpoints of {name}")
    return last_run(c, name, user)


def setup(c):
    c.add_user("alice")
    c.run(["mkdir", "-p", CKDIR])
    c.run(["chmod", "1777", CKDIR])
    c.run(["systemctl", "start", "cedanad.socket"])


def test_a_scheduled_job_keeps_n_checkpoints_and_never_stops(c):
    f = json.loads(cedana(c, "features", "--json").stdout)
    assert f["schedule"] is True and f["persist"] is True, f
    out = json.loads(cedana(c, "run", "process", "--name", "sched", "--json", "--", "sh", "-c", TICKER).stdout)
    pid, log = out["pid"], out["log"]
    r = cedana(c, "job", "schedule", "sched", "--every", "2s", "--keep", "2", "--compression", "zstd", "--dir", CKDIR)
    assert "every 2s while it runs, by cedana-schedule-0-sched.timer" in r.stdout, r.stdout
    assert "cedana-schedule-0-sched.timer" in timers(c), timers(c)
    s = job(c, "sched")["schedule"]
    assert s["every_usec"] == 2_000_000 and s["keep"] == 2 and s["next_usec"] > time.time() * 1e6 - 1e6, s
    assert re.search(r"sched\s.*every 2s, next", cedana(c, "job", "list").stdout)
    assert json.loads(cedana(c, "daemon", "status", "--json").stdout)["scheduled_jobs"] == 1

    _, result = wait_for_runs(c, "sched", 4)
    assert result == "success", result
    # The oldest beyond two are deleted once a newer one is complete.
    c.wait_until(lambda: len(checkpoints(c, "sched")) == 2, what="the schedule to keep two checkpoints")
    files = c.run(["ls", CKDIR]).stdout.split()
    assert len([f for f in files if f.startswith("dump-job-sched-")]) == 2, files
    # Never stopped: the same process, its count never restarted, still running.
    seq = ticks(c, log)
    assert seq == list(range(1, len(seq) + 1)), "the log is not one continuous sequence"
    assert job(c, "sched")["status"] == "running" and job(c, "sched")["pid"] == pid
    journal = c.journal(["CEDANA_JOB=sched", "-o", "cat", "--no-pager"])
    assert journal.count("Checkpoint dump-job-sched-") >= 4, journal

    # The schedule is systemd's: it goes on while cedanad is stopped, and starts cedanad again.
    c.run(["systemctl", "stop", "cedanad.service"])
    t, result = wait_for_runs(c, "sched", 1)
    assert result == "success"
    assert c.run(["systemctl", "is-active", "cedanad.service"]).stdout.strip() == "active"

    # A scheduled dump that fails is recorded and logged, the job runs on, the next tick retries.
    c.run(["mv", CKDIR, CKDIR + ".away"])
    t, result = wait_for_runs(c, "sched", 1)
    assert result != "success" and CKDIR in result, result
    assert job(c, "sched")["status"] == "running"
    assert "Scheduled checkpoint of job sched failed" in c.journal(["CEDANA_JOB=sched", "-o", "cat", "--no-pager"])
    assert "last failed" in cedana(c, "job", "list").stdout
    c.run(["mv", CKDIR + ".away", CKDIR])
    _, result = wait_for_runs(c, "sched", 1)
    assert result == "success", result

    # A manual checkpoint is not the schedule's to delete.
    manual = json.loads(cedana(c, "dump", "job", "sched", "--leave-running", "--dir", CKDIR, "--name", "by-hand",
                               "--json").stdout)
    wait_for_runs(c, "sched", 3)
    ids = [x["id"] for x in checkpoints(c, "sched")]
    assert manual["checkpoint"] in ids and len(ids) == 3, ids

    # --now takes it at once, as the timer does.
    r = json.loads(cedana(c, "job", "schedule", "sched", "--now", "--json").stdout)
    assert r["path"].startswith(CKDIR + "/dump-job-sched-") and r["path"].endswith(".tar.zst"), r

    # A halted job has no timer; restored, it has it again.
    cedana(c, "dump", "job", "sched", "--dir", CKDIR)
    c.wait_until(lambda: "cedana-schedule-0-sched.timer" not in timers(c), what="the timer to stop with the job")
    cedana(c, "restore", "job", "sched")
    assert "cedana-schedule-0-sched.timer" in timers(c)
    wait_for_runs(c, "sched", 1)

    # Changed, then removed: the timer follows; the checkpoints stay.
    cedana(c, "job", "schedule", "sched", "--every", "1h")
    assert job(c, "sched")["schedule"]["every_usec"] == 3600 * 10**6
    show = c.run(["systemctl", "show", "-p", "TimersMonotonic", "cedana-schedule-0-sched.timer"]).stdout
    assert "1h" in show, show
    cedana(c, "job", "schedule", "sched", "--off")
    assert "cedana-schedule-0-sched" not in timers(c)
    assert job(c, "sched")["schedule"] is None
    assert len(checkpoints(c, "sched")) >= 2
    cedana(c, "job", "kill", "sched", "--signal", "KILL")
    c.wait_until(lambda: job(c, "sched")["status"] != "running", what="the job to end")
    cedana(c, "job", "delete", "sched", "--with-checkpoints")


def test_a_users_schedule_makes_her_checkpoints(c):
    out = json.loads(cedana(c, "run", "process", "--name", "hers", "--json", "--", "sh", "-c", TICKER,
                            user="alice").stdout)
    uid = c.run(["id", "-u", "alice"]).stdout.strip()
    cedana(c, "job", "schedule", "hers", "--every", "1s", "--keep", "1", user="alice")
    assert f"cedana-schedule-{uid}-hers.timer" in timers(c)
    _, result = wait_for_runs(c, "hers", 2, user="alice")
    assert result == "success", result
    c.wait_until(lambda: len(checkpoints(c, "hers", user="alice")) == 1, what="one checkpoint kept")
    path = checkpoints(c, "hers", user="alice")[0]["path"]
    assert c.run(["stat", "-c", "%U", path]).stdout.strip() == "alice", path
    assert job(c, "hers", user="alice")["pid"] == out["pid"]
    # Bad requests: one sentence and a distinct exit status each.
    r = cedana(c, "job", "schedule", "hers", "--every", "5 parsecs", check=False, user="alice")
    assert r.returncode == 2 and "--every needs a time span" in r.stderr, r.stderr
    r = cedana(c, "job", "schedule", "hers", "--keep", "3", check=False, user="alice")
    assert r.returncode == 2 and "needs --every" in r.stderr, r.stderr
    r = cedana(c, "job", "schedule", "nosuch", "--every", "1h", check=False, user="alice")
    assert r.returncode == 5 and "There is no job nosuch" in r.stderr, r.stderr
    # A directory she cannot write, or a symbolic link: refused when set, as a dump refuses it.
    r = cedana(c, "job", "schedule", "hers", "--every", "1h", "--dir", "/etc", check=False, user="alice")
    assert r.returncode == 4 and "you cannot write there" in r.stderr, r.stderr
    c.run(["ln", "-sfn", CKDIR, "/var/tmp/schedlink"])
    r = cedana(c, "job", "schedule", "hers", "--every", "1h", "--dir", "/var/tmp/schedlink", check=False, user="alice")
    assert r.returncode == 4 and "symbolic link" in r.stderr, r.stderr
    # Busctl sends no such check: the tick refuses it, says why, and the job runs on.
    c.run(["busctl", "call", "org.cedana.Checkpoint1", "/org/cedana/Checkpoint1", "org.cedana.Checkpoint1.Manager",
           "SetJobSchedule", "sta{sv}", "hers", str(3600 * 10**6), "1", "dir", "s", "/etc"], user="alice")
    r = cedana(c, "job", "schedule", "hers", "--now", check=False, user="alice")
    assert r.returncode == 4 and "/etc" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "/etc" in last_run(c, "hers", user="alice")[1]
    assert job(c, "hers", user="alice")["status"] == "running"
    cedana(c, "job", "schedule", "hers", "--off", user="alice")
    r = cedana(c, "job", "schedule", "hers", "--now", check=False, user="alice")
    assert r.returncode == 2 and "has no schedule" in r.stderr, r.stderr
    cedana(c, "job", "kill", "hers", "--signal", "KILL", user="alice")
    c.wait_until(lambda: job(c, "hers", user="alice")["status"] != "running", what="her job to end")
    cedana(c, "job", "delete", "hers", "--with-checkpoints", user="alice")


def test_persist_all_marks_every_process_job(c):
    def inhibitors():
        return c.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"]).stdout

    cedana(c, "run", "process", "--name", "pa", "--", "sh", "-c", TICKER)
    assert "cedana" not in inhibitors() and not job(c, "pa")["persist"]
    # The job object's SetPersist is the command's: marked, then not.
    obj = ["org.cedana.Checkpoint1", "/org/cedana/Checkpoint1/job/0/pa", "org.cedana.Checkpoint1.Job"]
    c.run(["busctl", "call", *obj, "SetPersist", "b", "true"])
    assert job(c, "pa")["persist"] and "cedana" in inhibitors()
    c.run(["busctl", "call", *obj, "SetPersist", "b", "false"])
    assert not job(c, "pa")["persist"] and "cedana" not in inhibitors()
    c.write_file("/etc/cedana/cedana.conf.d/50-persist.conf", "[Jobs]\nPersistAll=yes\n")
    try:
        c.run(["systemctl", "restart", "cedanad.service"])
        assert job(c, "pa")["persist"] is True
        assert re.search(r"^pa\s.*\spersist\s", cedana(c, "job", "list").stdout, re.M)
        assert re.search(r"cedana .*shutdown .*delay", inhibitors()), inhibitors()
    finally:
        c.run(["rm", "-f", "/etc/cedana/cedana.conf.d/50-persist.conf"])
        c.run(["systemctl", "restart", "cedanad.service"])
    assert "cedana" not in inhibitors() and not job(c, "pa")["persist"]
    cedana(c, "job", "kill", "pa", "--signal", "KILL")
    c.wait_until(lambda: job(c, "pa")["status"] != "running", what="the job to end")
    cedana(c, "job", "delete", "pa")


def test_without_a_system_bus_neither_is_promised(c):
    """A cedanad that serves only its private socket can reach neither systemd nor logind: it
    refuses a schedule and a mark rather than keep a promise it cannot."""
    dropin = "/run/systemd/system/cedanad.service.d/50-no-bus.conf"
    nobus = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"}
    c.run(["mkdir", "-p", os.path.dirname(dropin)])
    c.write_file(dropin, "[Service]\nEnvironment=DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent\n")
    try:
        c.run(["systemctl", "daemon-reload"])
        c.run(["systemctl", "restart", "cedanad.service"])
        c.run(["cedana", "run", "process", "--name", "nobus", "--", "sh", "-c", TICKER], env=nobus)
        r = c.run(["cedana", "job", "schedule", "nobus", "--every", "1h"], env=nobus, check=False)
        assert r.returncode == 10 and "no system bus" in r.stderr, (r.returncode, r.stderr)
        r = c.run(["cedana", "job", "persist", "nobus"], env=nobus, check=False)
        assert r.returncode == 10 and "no system bus" in r.stderr, (r.returncode, r.stderr)
        j = json.loads(c.run(["cedana", "job", "inspect", "nobus", "--json"], env=nobus).stdout)
        assert j["schedule"] is None and not j["persist"], j
        c.run(["cedana", "job", "kill", "nobus", "--signal", "KILL"], env=nobus)
    finally:
        c.run(["rm", "-f", dropin])
        c.run(["systemctl", "daemon-reload"])
        c.run(["systemctl", "restart", "cedanad.service"])
    c.wait_until(lambda: job(c, "nobus")["status"] != "running", what="the job to end")
    cedana(c, "job", "delete", "nobus")

