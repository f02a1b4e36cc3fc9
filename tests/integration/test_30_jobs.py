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
    assert log == "/var/log/cedana/0/cycle.log", log
    c.wait_until(lambda: len(ticks(c, log)) > 5, what="the job to write its log")
    j = jobs(c)["cycle"]
    assert (j["type"], j["pid"], j["status"], j["gpu"]) == ("process", pid, "running", False), j
    unit = c.run(["systemctl", "status", "--no-pager", "cedana-0-cycle.scope"]).stdout
    assert "cedana.slice" in c.run(["systemctl", "show", "-p", "Slice", "--value", "cedana-0-cycle.scope"]).stdout
    assert f"{pid} sh -c" in unit.replace("/usr/bin/", ""), unit

    r = cedana(c, "dump", "job", "cycle", "--dir", CKDIR, "--compression", "lz4", "--json")
    ck = json.loads(r.stdout)
    assert re.fullmatch(r"dump-job-cycle-\d+", ck["checkpoint"]), ck
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
    show = c.run(["systemctl", "show", "-p", "ActiveState,Slice", "cedana-0-cycle.scope"]).stdout
    assert "ActiveState=active" in show and "Slice=cedana.slice" in show, show
    cgroup = c.read_file(f"/proc/{pid}/cgroup")
    assert "cedana-0-cycle.scope" in cgroup, cgroup

    journal = c.journal(["CEDANA_JOB=cycle", "-o", "cat", "--no-pager"])
    assert "Started job cycle" in journal and "Restored" in journal, journal
    cedana(c, "job", "kill", "cycle")
    c.wait_until(lambda: jobs(c)["cycle"]["status"] == "killed", what="the job to end after kill")
    assert jobs(c)["cycle"]["signal"] == "TERM" and jobs(c)["cycle"]["pid"] is None, jobs(c)["cycle"]
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
            state = c.run(["systemctl", "is-active", f"cedana-0-keep-{n}.scope"], check=False).stdout.strip()
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


OBJ = "/org/cedana/Checkpoint1/job/0/obj"


def test_bus_objects(c):
    run_job(c, "obj")
    tree = c.run(["busctl", "tree", "--list", "org.cedana.Checkpoint1"]).stdout
    assert OBJ in tree, tree
    props = c.run(["busctl", "get-property", "org.cedana.Checkpoint1", OBJ,
                   "org.cedana.Checkpoint1.Job", "State", "Unit", "Id"]).stdout.split("\n")
    assert props[:3] == ['s "running"', 's "cedana-0-obj.scope"', 's "obj"'], props
    managed = c.run(["busctl", "call", "org.cedana.Checkpoint1", "/org/cedana/Checkpoint1",
                     "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"]).stdout
    assert OBJ in managed
    # another user sees none of root's objects, by any route
    for args in (["tree", "--list", "org.cedana.Checkpoint1"],
                 ["call", "org.cedana.Checkpoint1", "/org/cedana/Checkpoint1",
                  "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"]):
        out = c.run(["busctl", *args], user="alice").stdout
        assert "/job/0" not in out and "obj" not in out, out
    r = c.run(["busctl", "get-property", "org.cedana.Checkpoint1", OBJ, "org.cedana.Checkpoint1.Job", "State"],
              user="alice", check=False)
    assert r.returncode != 0 and "Unknown object" in r.stderr, r.stderr
    # PropertiesChanged when the state changes: root gets it, another user does not (the
    # broadcast names root's job)
    c.run(["sh", "-c", "timeout 6 busctl monitor --match \"type='signal',sender='org.cedana.Checkpoint1'\" "
           "> /run/mon.txt 2>&1 &"])
    c.run(["sh", "-c", "timeout 6 gdbus monitor --system --dest org.cedana.Checkpoint1 > /var/tmp/mon-alice.txt 2>&1 &"],
          user="alice")
    time.sleep(1.5)
    cedana(c, "job", "kill", "obj", "--signal", "KILL")
    c.wait_until(lambda: jobs(c)["obj"]["status"] != "running", what="obj to end")
    cedana(c, "job", "delete", "obj")
    time.sleep(5)
    mon, mon_alice = c.read_file("/run/mon.txt"), c.read_file("/var/tmp/mon-alice.txt")
    assert "PropertiesChanged" in mon and "JobRemoved" in mon, mon
    assert "Monitoring signals" in mon_alice, mon_alice
    for leak in ("PropertiesChanged", "JobRemoved", "InterfacesRemoved", "/job/0/obj"):
        assert leak not in mon_alice, mon_alice
    assert OBJ not in c.run(["busctl", "tree", "--list", "org.cedana.Checkpoint1"]).stdout


def test_manage_adopts_a_process(c):
    pid = c.start_unit_process("adopt-me", ["sh", "-c", TICKER])
    r = json.loads(cedana(c, "manage", "process", str(pid), "--name", "adopted", "--json").stdout)
    assert r["job"] == "adopted", r
    assert "cedana-0-adopted.scope" in c.read_file(f"/proc/{pid}/cgroup")
    j = jobs(c)["adopted"]
    assert j["pid"] == pid and j["status"] == "running", j
    cedana(c, "job", "kill", "adopted", "--signal", "KILL")
    c.wait_until(lambda: jobs(c)["adopted"]["status"] != "running", what="adopted to end")
    cedana(c, "job", "delete", "adopted")


def test_user_runs_and_dumps_own_job(c):
    pid, log = run_job(c, "alices", user="alice")
    status = c.read_file(f"/proc/{pid}/status")
    assert re.search(r"^Uid:\s+(\d+)\s+\1\s+\1\s+\1$", status, re.M).group(1) != "0", "job runs as root"
    cedana(c, "dump", "job", "alices", "--dir", CKDIR, "--compression", "zstd", "--log", "/tmp/alices-dump.log",
           user="alice")
    assert jobs(c, user="alice")["alices"]["status"] == "halted"
    # CRIU's log of her own dump, in a file she opened
    assert c.run(["stat", "-c", "%U", "/tmp/alices-dump.log"]).stdout.strip() == "alice"
    assert "Dumping finished successfully" in c.read_file("/tmp/alices-dump.log")
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
    assert "got:hello" in c.read_file("/var/log/cedana/0/att.log")

    # the job's terminal gets modes of its own (as a program that sets up its terminal does) ...
    pid = jobs(c)["att"]["pid"]
    c.run(["stty", "-F", f"/proc/{pid}/fd/0", "intr", "^T", "-echoctl"])
    # dumped and restored: a new terminal, in those modes, and the same conversation
    cedana(c, "dump", "job", "att", "--dir", CKDIR, "--compression", "zstd")
    assert jobs(c)["att"]["status"] == "halted"
    cedana(c, "restore", "job", "att")
    assert jobs(c)["att"]["status"] == "running"
    modes = c.run(["stty", "-F", f"/proc/{jobs(c)['att']['pid']}/fd/0", "-a"]).stdout
    assert "intr = ^T;" in modes and "-echoctl" in modes, modes
    tmux(c, "new-session", "-d", "-s", "two", "-x", "150", "-y", "30", "cedana job attach att; sleep 60")
    c.wait_until(lambda: "got:hello" in screen(c, "two"), what="the scrollback in the second pane")
    tmux(c, "send-keys", "-t", "two", "again", "Enter")
    c.wait_until(lambda: "got:again" in screen(c, "two"), what="the restored job to answer")
    assert "got:again" in c.read_file("/var/log/cedana/0/att.log")

    # cedanad stopped, and killed: the job neither notices nor loses a line; the next cedanad
    # takes its pipes back from the holder, and a new attach carries on the conversation
    pid = jobs(c)["att"]["pid"]
    # started from a terminal, it has a pty, and a new one after the restore: its controlling terminal
    assert c.run(["readlink", f"/proc/{pid}/fd/0"]).stdout.startswith("/dev/pts/")
    assert c.read_file(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[4] != "0", "no controlling terminal"
    holder = c.run(["pgrep", "-x", "cedana-hold"]).stdout.split()
    assert len(holder) == 1, holder
    assert "cedana-0-att.scope" in c.read_file(f"/proc/{holder[0]}/cgroup")
    for i, how in enumerate(("stop", "kill")):
        if how == "stop":
            c.run(["systemctl", "stop", "cedanad.service"])
        else:
            main = c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad.service"]).stdout.strip()
            c.run(["kill", "-KILL", main])
            c.wait_until(lambda: service_state(c) != "active", what="cedanad to die")
        assert c.path_exists(f"/proc/{pid}"), f"{how} of cedanad ended the attached job"
        j = jobs(c)["att"]
        assert j["status"] == "running" and j["pid"] == pid, j
        tmux(c, "new-session", "-d", "-s", f"after-{how}", "-x", "150", "-y", "30", "cedana job attach att; sleep 60")
        c.wait_until(lambda: "Attached to job att" in screen(c, f"after-{how}"), what=f"an attach after the {how}")
        tmux(c, "send-keys", "-t", f"after-{how}", f"after{i}", "Enter")
        c.wait_until(lambda: f"got:after{i}" in screen(c, f"after-{how}"), what=f"an answer after the {how}")
    log = c.read_file("/var/log/cedana/0/att.log")
    assert log.index("got:hello") < log.index("got:again") < log.index("got:after0") < log.index("got:after1"), log

    # a job that was not started attached says so
    run_job(c, "plain")
    r = cedana(c, "job", "attach", "plain", check=False)
    assert r.returncode == 10 and "was not started with --attach" in r.stderr, (r.returncode, r.stderr)
    for j in ("att", "plain"):
        cedana(c, "job", "kill", j, "--signal", "KILL")
    # the holder goes with its job
    c.wait_until(lambda: not c.run(["pgrep", "-x", "cedana-hold"], check=False).stdout, what="the holder to end")
    tmux(c, "kill-server", check=False)


def test_attach_from_a_terminal_gives_the_job_a_terminal(c):
    # Started from a tmux pane: the job gets a pty of its own, as large as the pane
    c.run(["systemd-run", "--unit=tmux-pty", "-p", "Type=forking", "--", "tmux", "-L", "att", "new-session", "-d",
           "-s", "pty", "-x", "120", "-y", "30", "cedana run process --attach --name pty -- python3 -q -i; sleep 60"])
    c.wait_until(lambda: ">>> " in screen(c, "pty"), what="python's prompt")
    # a typo mended with Backspace: the pty's line editing (and readline) take it
    tmux(c, "send-keys", "-t", "pty", "print(6*7)x", "BSpace", "Enter")
    c.wait_until(lambda: re.search(r"^42\s*$", screen(c, "pty"), re.M), what="the mended line's result")
    assert "U+007F" not in screen(c, "pty") and "SyntaxError" not in screen(c, "pty"), screen(c, "pty")
    # Ctrl-C is SIGINT for the job's foreground group: a loop is interrupted, the job goes on
    tmux(c, "send-keys", "-t", "pty", "import time", "Enter", "while True: time.sleep(0.1)", "Enter", "Enter")
    time.sleep(1)
    tmux(c, "send-keys", "-t", "pty", "C-c")
    c.wait_until(lambda: "KeyboardInterrupt" in screen(c, "pty"), what="the loop to be interrupted")
    assert jobs(c)["pty"]["status"] == "running"
    # the window size, and its changes
    size = "import shutil; print('cols=%d' % shutil.get_terminal_size().columns)"
    tmux(c, "send-keys", "-t", "pty", size, "Enter")
    c.wait_until(lambda: "cols=120" in screen(c, "pty"), what="the job to see the pane's width")
    tmux(c, "resize-window", "-t", "pty", "-x", "100", "-y", "30")
    time.sleep(0.5)
    tmux(c, "send-keys", "-t", "pty", size, "Enter")
    c.wait_until(lambda: "cols=100" in screen(c, "pty"), what="the job to see the resized pane")
    # Ctrl-Z does not leave the job stopped with nobody to continue it: like a login shell, the
    # session's own process group is not stopped by the terminal
    pid = jobs(c)["pty"]["pid"]
    tmux(c, "send-keys", "-t", "pty", "C-z")
    time.sleep(1)
    assert c.read_file(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[0] != "T", "Ctrl-Z stopped the job"
    # detached, re-attached from a narrower pane: raw mode and the new size there too
    tmux(c, "send-keys", "-t", "pty", "C-]", "C-]", "C-]")
    c.wait_until(lambda: "Detached from job pty." in screen(c, "pty"), what="the detach")
    assert jobs(c)["pty"]["status"] == "running"
    tmux(c, "new-session", "-d", "-s", "pty2", "-x", "90", "-y", "30", "cedana job attach pty; sleep 60")
    c.wait_until(lambda: "Attached to job pty" in screen(c, "pty2"), what="the re-attach")
    tmux(c, "send-keys", "-t", "pty2", size, "Enter")
    c.wait_until(lambda: "cols=90" in screen(c, "pty2"), what="the re-attached job to see the new pane's width")
    tmux(c, "send-keys", "-t", "pty2", "print(1+2)xy", "BSpace", "BSpace", "Enter")
    c.wait_until(lambda: re.search(r"^3\s*$", screen(c, "pty2"), re.M), what="line editing after the re-attach")
    # Ctrl-D is EOF: python ends, and so does the job
    tmux(c, "send-keys", "-t", "pty2", "C-d")
    c.wait_until(lambda: jobs(c)["pty"]["status"] == "exited", what="the job to end on Ctrl-D")
    assert "cols=100" in c.read_file("/var/log/cedana/0/pty.log")
    cedana(c, "job", "delete", "pty")
    tmux(c, "kill-session", "-t", "pty", check=False)
    tmux(c, "kill-session", "-t", "pty2", check=False)


def test_attach_from_a_pipe_passes_eof_on(c):
    # Not a terminal: pipes, and the end of our input is the end of the job's
    r = c.run("echo hi | cedana run process --attach --name eof1 -- cat", timeout=30)
    assert r.stdout == "hi\n", (r.stdout, r.stderr)
    r = c.run("cedana run process --attach --name eof2 -- cat </dev/null", timeout=30)
    assert r.stdout == "", (r.stdout, r.stderr)
    r = c.run("printf 'a\\nb\\n' | cedana run process --attach --name eof3 -- sh -c 'wc -l; echo done'", timeout=30)
    assert r.stdout.split() == ["2", "done"], (r.stdout, r.stderr)
    c.wait_until(lambda: all(jobs(c)[j]["status"] == "exited" for j in ("eof1", "eof2", "eof3")),
                 what="the jobs to end")
    for j in ("eof1", "eof2", "eof3"):
        cedana(c, "job", "delete", j)


def test_attach_through_pipes_across_dump_restore(c):
    # Started from a pipe (no terminal): the job reads a pipe; dumped and restored, it gets new
    # pipes, and a client attached from a pipe carries on the conversation
    echo = "while read l; do echo got:$l; done"
    c.run(["mkfifo", "/tmp/pin1", "/tmp/pin2"])
    c.start_unit_process("pipe-client1", ["sh", "-c", "tail -f /tmp/pin1 | cedana run process --attach --name patt "
                                          f"-- sh -c '{echo}' >/tmp/pout1 2>&1"])
    c.wait_until(lambda: "patt" in jobs(c), what="the attached job to start")
    c.run("echo hello >/tmp/pin1")
    c.wait_until(lambda: "got:hello" in c.read_file("/tmp/pout1"), what="the job to answer")
    cedana(c, "dump", "job", "patt", "--dir", CKDIR)
    cedana(c, "restore", "job", "patt")
    c.start_unit_process("pipe-client2", ["sh", "-c", "tail -f /tmp/pin2 | cedana job attach patt >/tmp/pout2 2>&1"])
    c.run("echo again >/tmp/pin2")
    c.wait_until(lambda: "got:again" in c.read_file("/tmp/pout2"), what="the restored job to answer")
    log = c.read_file("/var/log/cedana/0/patt.log")
    assert "\r" not in log and log.index("got:hello") < log.index("got:again"), log
    cedana(c, "job", "kill", "patt", "--signal", "KILL")
    c.run(["systemctl", "stop", "pipe-client1.service", "pipe-client2.service"], check=False)


def service_state(c):
    return c.run(["systemctl", "is-active", "cedanad.service"], check=False).stdout.strip()


def test_idle_exit_after_an_attached_job(c):
    c.write_file("/etc/cedana/cedana.conf.d/50-idle.conf", "[Daemon]\nIdleExitSec=2\n")
    try:
        c.run(["systemctl", "restart", "cedanad.service"])
        c.run(["systemd-run", "--unit=tmux-idle", "-p", "Type=forking", "--", "tmux", "-L", "idle", "new-session",
               "-d", "-s", "one", "-x", "150", "-y", "30", "cedana run process --attach --name idle -- cat; sleep 60"])
        c.wait_until(lambda: "idle" in jobs(c), what="the attached job to start")
        # it stays while the attached job runs (its output has nowhere else to go) ...
        time.sleep(4)
        assert service_state(c) == "active"
        cedana(c, "job", "kill", "idle", "--signal", "KILL")
        # ... and exits once it has ended
        c.wait_until(lambda: service_state(c) == "inactive", timeout=20, what="cedanad to exit when idle")
    finally:
        c.run(["tmux", "-L", "idle", "kill-server"], check=False)
        c.run(["rm", "-f", "/etc/cedana/cedana.conf.d/50-idle.conf"])
        c.run(["systemctl", "restart", "cedanad.service"])


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


def test_run_finds_the_command_in_the_callers_path(c):
    # a command only the caller's PATH knows, started from the caller's working directory
    c.run(["sh", "-c", "mkdir -p ~/bin ~/work && printf '#!/bin/sh\\npwd\\necho mine\\nsleep 1000\\n' > ~/bin/mytool "
                       "&& chmod +x ~/bin/mytool"], user="alice")
    home = c.user_info("alice")[3]
    env = {"PATH": f"{home}/bin:/usr/bin:/bin"}
    r = json.loads(c.run(["cedana", "run", "process", "--name", "mine", "--json", "--", "mytool"], user="alice",
                         env=env, cwd=f"{home}/work").stdout)
    c.wait_until(lambda: "mine" in c.read_file(r["log"]), what="mytool to run")
    assert c.read_file(r["log"]).splitlines()[0] == f"{home}/work"
    # what the caller's PATH does not have is not found, with the caller's words
    r2 = c.run(["cedana", "run", "process", "--", "mytool"], user="alice", env={"PATH": "/usr/bin:/bin"},
               check=False)
    assert r2.returncode == 5 and "Command 'mytool' was not found in your PATH." in r2.stderr, (r2.returncode, r2.stderr)
    # of the rest of the caller's environment, only what the README lists, and what -E adds
    r3 = json.loads(c.run(["cedana", "run", "process", "--json", "-E", "BAZ=qux", "--", "sh", "-c",
                           'echo "[$HOME|$BAZ|$FOO]"'], user="alice", env={**env, "FOO": "leak"}).stdout)
    c.wait_until(lambda: "[" in c.read_file(r3["log"]), what="the environment check to run")
    assert c.read_file(r3["log"]).strip() == f"[{home}|qux|]", c.read_file(r3["log"])
    cedana(c, "job", "kill", "mine", "--signal", "KILL", user="alice")


def test_listings_share_one_vocabulary(c):
    cedana(c, "run", "process", "--name", "v-exited", "--", "true")
    cedana(c, "run", "process", "--name", "v-failed", "--", "sh", "-c", "exit 3")
    run_job(c, "v-killed")
    cedana(c, "job", "kill", "v-killed", "--signal", "KILL")
    pid, _ = run_job(c, "v-alice", "echo hello from alice; " + TICKER, user="alice")
    c.wait_until(lambda: {jobs(c)[j]["status"] for j in ("v-exited", "v-failed", "v-killed")} ==
                 {"exited", "failed", "killed"}, what="the jobs to end")
    every = jobs(c)
    keys = {"job", "user", "uid", "type", "status", "pid", "gpu", "exit_code", "signal", "checkpoint", "size", "log",
            "unit", "checkpoint_id", "restored_from", "schedule", "persist", "restore_at_boot"}
    assert set(every["v-exited"]) == keys, every["v-exited"]
    assert (every["v-exited"]["schedule"], every["v-exited"]["persist"]) == (None, False), every["v-exited"]
    assert (every["v-exited"]["exit_code"], every["v-exited"]["signal"], every["v-exited"]["pid"]) == (0, None, None)
    assert (every["v-failed"]["exit_code"], every["v-failed"]["signal"]) == (3, None), every["v-failed"]
    assert (every["v-killed"]["exit_code"], every["v-killed"]["signal"]) == (None, "KILL"), every["v-killed"]
    assert every["v-alice"]["user"] == "alice" and every["v-alice"]["pid"] == pid, every["v-alice"]
    # without --all: what needs attention, as systemctl shows failed units
    shown = {j["job"] for j in json.loads(cedana(c, "job", "list", "--json").stdout)}
    assert "v-failed" in shown and "v-alice" in shown and not shown & {"v-exited", "v-killed"}, shown
    human = cedana(c, "job", "list", "-a").stdout
    assert re.search(r"^v-failed\s+root\s+process\s+-\s+failed \(status 3\)", human, re.M), human
    assert re.search(r"^v-killed\s+root\s+process\s+-\s+killed \(KILL\)", human, re.M), human
    assert re.search(r"^v-alice\s+alice\s+process\s+\d+\s+running", human, re.M), human
    # alice sees her own jobs, without a USER column
    assert "USER" not in cedana(c, "job", "list", user="alice").stdout
    # inspect says the same in the same words, and adds the checkpoints
    i = inspect(c, "v-failed")
    shared = keys - {"unit", "checkpoint_id", "restored_from"}  # what only the job's own properties carry
    assert {k: i[k] for k in shared} == {k: every["v-failed"][k] for k in shared}, i
    assert i["unit"] == "cedana-0-v-failed.scope" and i["checkpoints"] == [] and i["restored_from"] is None, i
    # logs, and following them
    assert "hello from alice" in cedana(c, "job", "logs", "v-alice", user="alice").stdout
    at_start = len(ticks(c, every["v-alice"]["log"]))
    r = c.run(["timeout", "2", "cedana", "job", "logs", "v-alice", "-f"], user="alice", check=False)
    ticks_seen = [int(t) for t in re.findall(r"^tick (\d+)$", r.stdout, re.M)]
    assert r.returncode == 124 and ticks_seen == list(range(1, len(ticks_seen) + 1)), r.stdout
    assert len(ticks_seen) >= at_start + 10, (len(ticks_seen), at_start)  # it went on past the end it found
    for j in ("v-exited", "v-failed", "v-killed"):
        cedana(c, "job", "delete", j)
    cedana(c, "job", "kill", "v-alice", "--signal", "KILL", user="alice")


def test_restored_checkpoint_keeps_its_jobs_name(c):
    pid, log = run_job(c, "keepname")
    c.wait_until(lambda: len(ticks(c, log)) > 3, what="the job to write its log")
    ck = json.loads(cedana(c, "dump", "job", "keepname", "--dir", CKDIR, "--compression", "zstd", "--json").stdout)
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the dumped job's process to end")
    # the job is gone (as on another host); its checkpoint restored without --name is it again
    cedana(c, "job", "delete", "keepname")
    r = json.loads(cedana(c, "restore", "process", ck["path"], "--json").stdout)
    assert r["job"] == "keepname" and r["pid"] == pid, r
    i = inspect(c, "keepname")
    assert i["status"] == "running" and i["restored_from"] == ck["path"] and i["unit"] == "cedana-0-keepname.scope", i
    assert f"Restored from: {ck['path']}" in cedana(c, "job", "inspect", "keepname").stdout
    # its old log went with the deleted job: it writes to a new one of its own, and goes on counting
    assert i["log"] == "/var/log/cedana/0/keepname.log", i
    c.wait_until(lambda: len(ticks(c, i["log"])) > 3, what="the restored job to write its new log")
    assert min(ticks(c, i["log"])) > 3, ticks(c, i["log"])[:5]  # continued, not started again
    # while a job of that name exists, the next restore of it gets a name of its own
    cedana(c, "job", "kill", "keepname", "--signal", "KILL")
    c.wait_until(lambda: inspect(c, "keepname")["status"] == "killed", what="the job to be killed")
    r = json.loads(cedana(c, "restore", "process", ck["path"], "--json").stdout)
    assert r["job"] != "keepname" and r["pid"] == pid, r
    other = inspect(c, r["job"])
    assert other["restored_from"] == ck["path"] and other["log"] == f"/var/log/cedana/0/{r['job']}.log", other
    c.wait_until(lambda: len(ticks(c, other["log"])) > 3, what="the second copy to write its own log")
    cedana(c, "job", "kill", r["job"], "--signal", "KILL")
    cedana(c, "job", "delete", "keepname")
