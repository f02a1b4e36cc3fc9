# SPDX-License-Identifier: Apache-2.0
# Managed jobs: run -> list -> dump -> halted -> restore into a new scope with a continuous log;
# jobs outlive restarts and a SIGKILL of the daemon; concurrent dumps; bus objects.

import json
import re
import threading
import time

TIMEOUT = 300
CKDIR = "/var/tmp/jobs"
# Output every 100 ms, numbered: the log tells whether the job continued or restarted.
TICKER = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"


def cedana(c, *args, check=True, user=None, env=None):
    return c.run(["cedana", *args], check=check, user=user, env=env, timeout=240)


def jobs(c, *extra, user=None):
    return {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--all", "--json", *extra, user=user).stdout)}


def inspect(c, job, user=None):
    return json.loads(cedana(c, "job", "inspect", job, "--json", user=user).stdout)


def ticks(c, log):
    return [int(m) for m in re.findall(r"^tick (\d+)$", c.read_file(log), re.M)]


def run_job(c, name, cmd=TICKER, user=None):
    r = cedana(c, "run", "process", "--name", name, "--json", "--", "sh", "-c", cmd, user=user)
    out = json.loads(r.stdout)
    assert out["job"] == name, out
    return out["pid"], out["log"]


def setup(c):
    c.add_user("alice")
    c.run(["mkdir", "-p", CKDIR])
    c.run(["chmod", "1777", CKDIR])
    c.run(["systemctl", "start", "cedanad.socket"])


def test_run_list_dump_restore_cycle(c):
    pid, log = run_job(c, "cycle")
    assert log == "/var/log/cedana/cycle.log", log
    c.wait_until(lambda: len(ticks(c, log)) > 5, what="the job to write its log")
    j = jobs(c)["cycle"]
    assert (j["type"], j["pid"], j["status"], j["gpu"]) == ("process", pid, "running", False), j
    unit = c.run(["systemctl", "status", "--no-pager", "cedana-cycle.scope"]).stdout
    assert "cedana.slice" in c.run(["systemctl", "show", "-p", "Slice", "--value", "cedana-cycle.scope"]).stdout
    assert f"{pid} sh -c" in unit.replace("/usr/bin/", ""), unit

    r = cedana(c, "dump", "job", "cycle", "--dir", CKDIR, "--compression", "lz4", "--json")
    ck = json.loads(r.stdout)
    assert re.fullmatch(r"dump-process-cycle-\d+", ck["checkpoint"]), ck
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the dumped job's process to end")
    j = jobs(c)["cycle"]
    assert j["status"] == "halted", j
    assert j["size"] == ck["size"] and j["checkpoint"] > 0, j
    human = cedana(c, "job", "list").stdout
    assert re.search(r"cycle\s+process\s+\S+\s+halted\s+no\s+(now|\d+ seconds? ago)\s+\d+(\.\d)? [KM]iB", human), human
    cps = json.loads(cedana(c, "job", "checkpoints", "cycle", "--json").stdout)
    assert [x["id"] for x in cps] == [ck["checkpoint"]], cps
    last = max(ticks(c, log))

    r = json.loads(cedana(c, "restore", "job", "cycle", "--json").stdout)
    assert r["job"] == "cycle" and r["pid"] == pid, r
    c.wait_until(lambda: max(ticks(c, log)) > last + 5, what="the restored job to keep writing its log")
    seq = ticks(c, log)
    assert seq == list(range(1, len(seq) + 1)), "the log is not one continuous sequence"
    assert jobs(c)["cycle"]["status"] == "running"
    show = c.run(["systemctl", "show", "-p", "ActiveState,Slice", "cedana-cycle.scope"]).stdout
    assert "ActiveState=active" in show and "Slice=cedana.slice" in show, show
    cgroup = c.read_file(f"/proc/{pid}/cgroup")
    assert "cedana-cycle.scope" in cgroup, cgroup

    journal = c.journal(["CEDANA_JOB=cycle", "-o", "cat", "--no-pager"])
    assert "Started job cycle" in journal and "Restored" in journal, journal
    cedana(c, "job", "kill", "cycle")
    c.wait_until(lambda: jobs(c)["cycle"]["status"] in ("exited", "failed"), what="the job to end after kill")
    cedana(c, "job", "delete", "cycle", "--with-checkpoints")
    assert "cycle" not in jobs(c)
    assert not c.path_exists(f"{CKDIR}/{ck['checkpoint']}.tar.lz4"), "the checkpoint file was not deleted"


def test_jobs_survive_restart_and_sigkill(c):
    pids = {}
    for n in ("one", "two", "three"):
        pids[n], _ = run_job(c, f"keep-{n}")
    # and a halted one: its checkpoint is still listed after the restarts
    run_job(c, "halted-one")
    cedana(c, "dump", "job", "halted-one", "--dir", CKDIR)
    for how in ("restart", "kill"):
        if how == "restart":
            c.run(["systemctl", "restart", "cedanad.service"])
        else:
            main = c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad.service"]).stdout.strip()
            c.run(["kill", "-KILL", main])
            c.wait_until(lambda: c.run(["systemctl", "show", "-p", "MainPID", "--value",
                                        "cedanad.service"]).stdout.strip() not in (main,), what="cedanad to die")
        listing = jobs(c)
        assert listing["halted-one"]["status"] == "halted", listing["halted-one"]
        assert listing["halted-one"]["checkpoint"] > 0 and listing["halted-one"]["size"] > 0, listing["halted-one"]
        for n, pid in pids.items():
            j = listing[f"keep-{n}"]
            assert j["status"] == "running" and j["pid"] == pid, (how, j)
            assert c.path_exists(f"/proc/{pid}"), f"{how} killed job keep-{n}"
            state = c.run(["systemctl", "is-active", f"cedana-keep-{n}.scope"], check=False).stdout.strip()
            assert state == "active", (how, n, state)
    # a job that ends while the daemon is down is noticed at the next start
    c.run(["systemctl", "stop", "cedanad.service"])
    c.run(["kill", "-KILL", str(pids["two"])])
    c.wait_until(lambda: not c.path_exists(f"/proc/{pids['two']}"), what="keep-two to die")
    listing = jobs(c)
    assert listing["keep-two"]["status"] == "exited", listing["keep-two"]
    assert listing["keep-one"]["status"] == "running"
    for n in ("one", "three"):
        cedana(c, "job", "kill", f"keep-{n}", "--signal", "KILL")
    for n in ("one", "two", "three"):
        c.wait_until(lambda n=n: jobs(c)[f"keep-{n}"]["status"] != "running", what=f"keep-{n} to end")
        cedana(c, "job", "delete", f"keep-{n}")
    cedana(c, "job", "delete", "halted-one", "--with-checkpoints")


def test_concurrent_dumps_one_gets_busy(c):
    pid, _ = run_job(c, "busy", f"exec {c.build_dir}/tests/integration/workload /run/busy.report memory 256 2")
    c.wait_until(lambda: c.path_exists("/run/busy.report"), what="the workload")
    results = {}

    def dump(i):
        results[i] = cedana(c, "dump", "job", "busy", "--dir", CKDIR, "--name", f"busy-{i}", "--compression", "gzip",
                            "--leave-running", check=False)

    threads = [threading.Thread(target=dump, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.returncode for r in results.values())
    assert codes == [0, 6], [(r.returncode, r.stderr) for r in results.values()]
    busy = [r for r in results.values() if r.returncode == 6][0]
    assert "busy" in busy.stderr, busy.stderr
    assert jobs(c)["busy"]["status"] == "running"
    cedana(c, "job", "kill", "busy", "--signal", "KILL")
    c.wait_until(lambda: jobs(c)["busy"]["status"] != "running", what="busy to end")
    cedana(c, "job", "delete", "busy", "--with-checkpoints")


def test_restore_of_running_job_is_refused(c):
    run_job(c, "twice")
    cedana(c, "dump", "job", "twice", "--dir", CKDIR, "--leave-running")
    r = cedana(c, "restore", "job", "twice", check=False)
    assert r.returncode == 6 and "still running" in r.stderr, (r.returncode, r.stderr)
    cedana(c, "job", "kill", "twice", "--signal", "KILL")
    c.wait_until(lambda: jobs(c)["twice"]["status"] != "running", what="twice to end")
    cedana(c, "job", "delete", "twice", "--with-checkpoints")


def test_bus_objects(c):
    run_job(c, "obj")
    tree = c.run(["busctl", "tree", "--list", "org.cedana.Checkpoint1"]).stdout
    assert "/org/cedana/Checkpoint1/job/obj" in tree, tree
    props = c.run(["busctl", "get-property", "org.cedana.Checkpoint1", "/org/cedana/Checkpoint1/job/obj",
                   "org.cedana.Checkpoint1.Job", "State", "Unit", "Id"]).stdout.split("\n")
    assert props[:3] == ['s "running"', 's "cedana-obj.scope"', 's "obj"'], props
    managed = c.run(["busctl", "call", "org.cedana.Checkpoint1", "/org/cedana/Checkpoint1",
                     "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"]).stdout
    assert "/org/cedana/Checkpoint1/job/obj" in managed
    # PropertiesChanged when the state changes
    mon = c.run(["sh", "-c", "timeout 5 busctl monitor --match \"type='signal',member='PropertiesChanged',"
                 "path='/org/cedana/Checkpoint1/job/obj'\" > /run/mon.txt 2>&1 & sleep 1; "
                 "cedana job kill obj --signal KILL; sleep 2; cat /run/mon.txt"]).stdout
    assert '"State"' in mon or "State" in mon, mon
    cedana(c, "job", "delete", "obj")
    assert "/org/cedana/Checkpoint1/job/obj" not in c.run(["busctl", "tree", "--list", "org.cedana.Checkpoint1"]).stdout


def test_manage_adopts_a_process(c):
    pid = c.start_unit_process("adopt-me", ["sh", "-c", TICKER])
    r = json.loads(cedana(c, "manage", "process", str(pid), "--name", "adopted", "--json").stdout)
    assert r["job"] == "adopted", r
    assert "cedana-adopted.scope" in c.read_file(f"/proc/{pid}/cgroup")
    j = jobs(c)["adopted"]
    assert j["pid"] == pid and j["status"] == "running", j
    cedana(c, "job", "kill", "adopted", "--signal", "KILL")
    c.wait_until(lambda: jobs(c)["adopted"]["status"] != "running", what="adopted to end")
    cedana(c, "job", "delete", "adopted")


def test_user_runs_and_dumps_own_job(c):
    pid, log = run_job(c, "alices", user="alice")
    status = c.read_file(f"/proc/{pid}/status")
    assert re.search(r"^Uid:\s+(\d+)\s+\1\s+\1\s+\1$", status, re.M).group(1) != "0", "job runs as root"
    cedana(c, "dump", "job", "alices", "--dir", CKDIR, "--compression", "zstd", user="alice")
    assert jobs(c, user="alice")["alices"]["status"] == "halted"
    cedana(c, "restore", "job", "alices", user="alice")
    c.wait_until(lambda: jobs(c, user="alice")["alices"]["status"] == "running", what="alice's job to run again")
    # the restored process is alice's, without capabilities
    status = c.read_file(f"/proc/{pid}/status")
    assert re.search(r"^CapEff:\s+0+$", status, re.M) and re.search(r"^CapPrm:\s+0+$", status, re.M), status
    # root sees it too; alice does not see root's jobs
    assert "alices" in jobs(c)
    cedana(c, "job", "kill", "alices", "--signal", "KILL", user="alice")
    c.wait_until(lambda: jobs(c)["alices"]["status"] != "running", what="alices to end")
    cedana(c, "job", "delete", "alices", "--with-checkpoints", user="alice")


def tmux(c, *args, check=True):
    return c.run(["tmux", "-L", "att", *args], check=check)


def screen(c, pane):
    return tmux(c, "capture-pane", "-p", "-J", "-S", "-200", "-t", pane).stdout


def test_attach_run_detach_reattach_across_dump_restore(c):
    # A job that answers what it reads, started attached in one tmux pane ...
    echo = "while read l; do echo got:$l; done"
    c.run(["systemd-run", "--unit=tmux-att", "-p", "Type=forking", "--", "tmux", "-L", "att", "new-session", "-d",
           "-s", "one", "-x", "150", "-y", "30", f"cedana run process --attach --name att -- sh -c '{echo}'; sleep 60"])
    c.wait_until(lambda: "att" in jobs(c), what="the attached job to start")
    tmux(c, "send-keys", "-t", "one", "hello", "Enter")
    c.wait_until(lambda: "got:hello" in screen(c, "one"), what="the job to answer in the first pane")
    # ... detached with Ctrl-] three times; it keeps running and logging
    tmux(c, "send-keys", "-t", "one", "C-]", "C-]", "C-]")
    c.wait_until(lambda: "Detached from job att." in screen(c, "one"), what="the detach")
    assert jobs(c)["att"]["status"] == "running"
    assert "got:hello" in c.read_file("/var/log/cedana/att.log")

    # dumped and restored: new pipes, same conversation
    cedana(c, "dump", "job", "att", "--dir", CKDIR, "--compression", "zstd")
    assert jobs(c)["att"]["status"] == "halted"
    cedana(c, "restore", "job", "att")
    assert jobs(c)["att"]["status"] == "running"
    tmux(c, "new-session", "-d", "-s", "two", "-x", "150", "-y", "30", "cedana job attach att; sleep 60")
    c.wait_until(lambda: "got:hello" in screen(c, "two"), what="the scrollback in the second pane")
    tmux(c, "send-keys", "-t", "two", "again", "Enter")
    c.wait_until(lambda: "got:again" in screen(c, "two"), what="the restored job to answer")
    assert "got:again" in c.read_file("/var/log/cedana/att.log")

    # a job that was not started attached says so
    run_job(c, "plain")
    r = cedana(c, "job", "attach", "plain", check=False)
    assert r.returncode == 10 and "was not started with --attach" in r.stderr, (r.returncode, r.stderr)
    for j in ("att", "plain"):
        cedana(c, "job", "kill", j, "--signal", "KILL")
    tmux(c, "kill-server", check=False)


def test_gpu_jobs_are_marked_and_refused_clearly(c):
    # No GPU here: a file named like NVIDIA's device stands in for one (the check is by name).
    c.run(["sh", "-c", "echo > /dev/nvidia0-cedana-test"])
    run_job(c, "gpu", "exec 3</dev/nvidia0-cedana-test; " + TICKER)
    c.wait_until(lambda: jobs(c)["gpu"]["gpu"], what="the GPU column to say yes")
    assert re.search(r"^gpu\s+process\s+\d+\s+running\s+yes", cedana(c, "job", "list", "--no-legend").stdout, re.M)
    r = cedana(c, "dump", "job", "gpu", "--dir", CKDIR, check=False)
    assert r.returncode == 10, (r.returncode, r.stderr)
    assert "uses an NVIDIA GPU; dumping it needs CRIU's CUDA plugin" in r.stderr, r.stderr
    assert jobs(c)["gpu"]["status"] == "running"
    cedana(c, "job", "kill", "gpu", "--signal", "KILL")
