# SPDX-License-Identifier: Apache-2.0
# The job store kept in line with reality: generated names never fail, a checkpoint whose file
# is gone shows as missing and frees its name, prune commands and the collection of ended jobs
# (with their logs) do what they say and nothing more.

import json
import os
import re
import time

TIMEOUT = 300
D = "/var/tmp/store"


def cedana(c, *args, user=None, check=True):
    return c.run(["cedana", *args], user=user, check=check, timeout=240)


def jobs(c, user=None):
    return {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--all", "--json", user=user).stdout)}


def checkpoints(c, user=None, job=None):
    args = ["job", "checkpoints", job] if job else ["checkpoint", "list"]
    return json.loads(cedana(c, *args, "--json", user=user).stdout)


def counter_job(c, name, user=None):
    report = f"{D}/{name}.report"
    r = cedana(c, "run", "process", "--name", name, "--json", "--",
               os.path.join(c.build_dir, "tests/integration/workload"), report, "counter", user=user)
    c.wait_until(lambda: c.path_exists(report), what=f"{name} to start")
    return json.loads(r.stdout)


def setup(c):
    c.add_user("alice")
    c.add_user("bob")
    c.run(["mkdir", "-p", D])
    c.run(["chmod", "1777", D])
    c.run(["systemctl", "start", "cedanad.socket"])


def test_generated_names_never_fail(c):
    pid = counter_job(c, "names")["pid"]
    # five dumps within the same second, none named; then each restored without a job name
    ids = []
    for _ in range(5):
        ids.append(json.loads(cedana(c, "dump", "job", "names", "--dir", D, "--leave-running", "--json").stdout)
                   ["checkpoint"])
    assert len(set(ids)) == 5 and all(i.startswith("dump-job-names-") for i in ids), ids
    cedana(c, "job", "kill", "names", "--signal", "KILL")
    restored = []
    for i in ids:
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the process to be gone")
        # the checkpoint as the argument or with --path
        path = [f"{D}/{i}"] if len(restored) % 2 else ["--path", f"{D}/{i}"]
        restored.append(json.loads(cedana(c, "restore", "process", *path, "--json").stdout)["job"])
        cedana(c, "job", "kill", restored[-1], "--signal", "KILL")
    assert len(set(restored)) == 5 and "names" not in restored, restored


def test_missing_checkpoint_frees_its_name_and_prune(c):
    counter_job(c, "pr")
    made = []
    for n in ("pr-1", "pr-2", "pr-3", "pr-4"):
        made.append(json.loads(cedana(c, "dump", "job", "pr", "--dir", D, "--name", n, "--leave-running",
                                      "--compression", "zstd", "--json").stdout))
        time.sleep(0.01)
    # pr-1 deleted by hand: listed as missing; its name is free for the next dump
    c.run(["rm", "-f", made[0]["path"]])
    status = {x["id"]: x["status"] for x in checkpoints(c)}
    assert status["pr-1"] == "missing" and status["pr-2"] == "ok", status
    human = cedana(c, "job", "checkpoints", "pr").stdout
    assert "missing" in human, human
    r = json.loads(cedana(c, "dump", "job", "pr", "--dir", D, "--name", "pr-1", "--leave-running", "--json").stdout)
    assert r["checkpoint"] == "pr-1" and c.path_exists(r["path"]), r
    # pr-3 moved away: prune without --keep forgets it, and nothing else
    c.run(["mv", made[2]["path"], f"{D}/elsewhere"])
    out = json.loads(cedana(c, "checkpoint", "prune", "--json").stdout)
    assert out == ["pr-3"], out
    assert c.path_exists(f"{D}/elsewhere")
    assert sorted(x["id"] for x in checkpoints(c, job="pr")) == ["pr-1", "pr-2", "pr-4"]
    # --keep 1: only the newest of the job stays
    out = json.loads(cedana(c, "checkpoint", "prune", "--job", "pr", "--keep", "1", "--json").stdout)
    assert sorted(out) == ["pr-2", "pr-4"], out
    left = checkpoints(c, job="pr")
    assert [x["id"] for x in left] == ["pr-1"], left
    for m in (made[1], made[3]):
        assert not c.path_exists(m["path"]), m
    assert "Nothing to remove." in cedana(c, "checkpoint", "prune").stdout
    # usage errors are usage errors
    r = cedana(c, "checkpoint", "prune", "--keep", "-1", check=False)
    assert r.returncode == 2 and "--keep needs a number" in r.stderr, r.stderr
    r = cedana(c, "checkpoint", "prune", "--job", "nosuchjob", check=False)
    assert r.returncode == 5 and "no job nosuchjob" in r.stderr, (r.returncode, r.stderr)
    cedana(c, "job", "kill", "pr", "--signal", "KILL")


def test_job_prune_and_collection(c):
    # alice's ended jobs go with `job prune`, with their logs; running and halted ones stay;
    # root's are not hers to prune
    cedana(c, "run", "process", "--name", "roots-ended", "--", "true")
    logs = []
    for n in ("e1", "e2"):
        logs.append(json.loads(cedana(c, "run", "process", "--name", n, "--json", "--", "true", user="alice").stdout)
                    ["log"])
    counter_job(c, "keeps-running", user="alice")
    counter_job(c, "halted", user="alice")
    c.run(["mkdir", "-p", f"{D}/alice"], user="alice")
    cedana(c, "dump", "job", "halted", "--dir", f"{D}/alice", user="alice")
    c.wait_until(lambda: jobs(c, "alice")["e1"]["status"] == "exited" and jobs(c, "alice")["e2"]["status"] == "exited",
                 what="the short jobs to end")
    out = json.loads(cedana(c, "job", "prune", "--json", user="alice").stdout)
    assert sorted(out) == ["e1", "e2"], out
    left = jobs(c, "alice")
    assert "e1" not in left and left["keeps-running"]["status"] == "running" and left["halted"]["status"] == "halted"
    for log in logs:
        assert not c.path_exists(log), log
    assert "roots-ended" in jobs(c)

    # collection: ended jobs without checkpoints go by themselves after [Jobs] CollectAfterSec=
    c.write_file("/etc/cedana/cedana.conf.d/50-collect.conf", "[Jobs]\nCollectAfterSec=1\n")
    try:
        time.sleep(1.5)
        c.run(["systemctl", "restart", "cedanad.service"])
        assert "roots-ended" not in jobs(c), "an ended job was not collected at start"
        assert not c.path_exists("/var/log/cedana/0/roots-ended.log")
        cedana(c, "run", "process", "--name", "short", "--", "true")
        c.wait_until(lambda: jobs(c)["short"]["status"] == "exited", what="short to end")
        time.sleep(1.5)
        c.run(["systemctl", "restart", "cedanad.service"])
        listing = jobs(c)
        assert "short" not in listing, listing
        assert listing["halted"]["status"] == "halted", listing  # it has a checkpoint
        assert listing["keeps-running"]["status"] == "running", listing
        journal = c.journal(["-u", "cedanad", "-o", "cat"])
        assert "Collecting job short: it ended more than 1s ago, without a checkpoint." in journal, journal
    finally:
        c.run(["rm", "-f", "/etc/cedana/cedana.conf.d/50-collect.conf"])
        c.run(["systemctl", "restart", "cedanad.service"])
    cedana(c, "job", "kill", "keeps-running", "--signal", "KILL", user="alice")


def test_criu_failures_in_plain_words(c):
    # a restore whose PID is taken: the original still runs
    made = counter_job(c, "pidtaken")
    ck = json.loads(cedana(c, "dump", "job", "pidtaken", "--dir", D, "--leave-running", "--json").stdout)
    r = cedana(c, "restore", "process", ck["path"], check=False)
    assert r.returncode == 8, (r.returncode, r.stderr)
    assert f"PID {made['pid']}, which the checkpointed process had, belongs to another process now" in r.stderr, \
        r.stderr
    assert "CRIU's log: /var/log/cedana/0/criu/" in r.stderr and "File exists" not in r.stderr, r.stderr
    cedana(c, "job", "kill", "pidtaken", "--signal", "KILL")
    # the same for alice, who can read the log she is pointed at, and bob cannot
    made = counter_job(c, "pidtaken-a", user="alice")
    ck = json.loads(cedana(c, "dump", "job", "pidtaken-a", "--dir", D, "--leave-running", "--json", user="alice").stdout)
    r = cedana(c, "restore", "process", ck["path"], check=False, user="alice")
    uid = c.run(["id", "-u", "alice"]).stdout.strip()
    log = re.search(r"CRIU's log: (\S+?)\)", r.stderr)
    assert r.returncode == 8 and log and log.group(1).startswith(f"/var/log/cedana/{uid}/criu/"), r.stderr
    assert "File exists" in c.run(["cat", log.group(1)], user="alice").stdout
    assert c.run(["cat", log.group(1)], user="bob", check=False).returncode != 0
    cedana(c, "job", "kill", "pidtaken-a", "--signal", "KILL", user="alice")
    # a process whose output goes to the journal's socket
    pid = c.start_unit_process("to-journal", ["sleep", "1000"], output="journal")
    r = cedana(c, "dump", "process", str(pid), "--dir", D, check=False)
    assert r.returncode == 8 and "UNIX socket connected to a process outside the checkpoint" in r.stderr, \
        (r.returncode, r.stderr)
    c.run(["systemctl", "stop", "to-journal"])
