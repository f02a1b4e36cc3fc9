# SPDX-License-Identifier: Apache-2.0
# SECURITY.md's bad inputs 19-27: checkpoints edited by their owners (with CRIU's own pycriu) to
# claim privilege, checkpoint files replaced under their records, hostile shared directories,
# reused job names, hostile log fds, oversized and too many requests, decompression bombs, and
# deleting checkpoints someone else wrote. An escalation is proven absent by its effect: the
# forged process would create a file only a privileged process can create, and count.

import json
import os
import re
import threading
import time

TIMEOUT = 300
T = "/var/tmp/t45"
MARKER_DIR = "/root/markers"
BUS = ["org.cedana.Checkpoint1", "/org/cedana/Checkpoint1", "org.cedana.Checkpoint1.Manager"]
RULES = """
polkit.addRule(function(action, subject) {
    if (subject.user == "carol" && action.id == "org.cedana.checkpoint1.restore-foreign")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
"""


def cedana(c, *args, user=None, check=False, timeout=240):
    return c.run(["cedana", *args], user=user, check=check, timeout=timeout)


def busctl(c, *args, user=None, timeout=60):
    return c.run(["busctl", "call", "--timeout=60", *BUS, *args], user=user, check=False, timeout=timeout)


def forge(c, d, *edits, user):
    c.run(["python3", os.path.join(c.source_dir, "tests/integration/forge_images.py"), d, *edits], user=user)


def report(c, path):
    return dict(line.split(" ", 1) for line in c.read_file(path).splitlines())


def marker_job(c, name, user, threads=2):
    """A marker workload as a managed job of user; returns (pid, report path, marker path)."""
    rep, marker = f"{T}/{name}.report", f"{MARKER_DIR}/{name}"
    r = cedana(c, "run", "process", "--name", name, "--json", "--",
               os.path.join(c.build_dir, "tests/integration/workload"), rep, "marker", str(threads), marker,
               user=user, check=True)
    c.wait_until(lambda: c.path_exists(rep), what=f"{name} to report")
    return json.loads(r.stdout)["pid"], rep, marker


def nothing_ran(c, rep, marker, count):
    """After a refused restore: no trace of the forged tree, now or a moment later."""
    time.sleep(1)
    assert not c.path_exists(marker), f"{marker} exists: a forged process ran with privilege"
    assert report(c, rep)["count"] == count, "the forged process ran"
    assert c.run(["pgrep", "-f", rep], check=False).returncode == 1, "a forged process exists"


def uid_of(c, pid):
    status = c.read_file(f"/proc/{pid}/status")
    return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))


def setup(c):
    for u in ("alice", "bob", "carol"):
        c.add_user(u)
    c.write_file("/etc/polkit-1/rules.d/50-cedana-test.rules", RULES)
    c.run(["mkdir", "-p", T, MARKER_DIR, f"{T}/shared"])
    c.run(["chmod", "1777", T, f"{T}/shared"])
    c.run(["chmod", "0700", MARKER_DIR])
    c.run(["systemctl", "restart", "polkit.service"])
    c.run(["systemctl", "start", "cedanad.socket"])


# 19: images edited by their owner to claim privilege, in any thread, in any set

FORGERIES = [
    ("caps:eff:1", "caps:prm:1"),  # a thread other than the main one
    ("caps:eff:0", "caps:prm:0"),  # the main thread
    ("caps:inh:1",),
    ("caps:amb:1",),
    ("uid=0",),
    ("gid=0",),
    ("groups=0",),
]


def test_19_forged_images_never_run(c):
    # carol may restore checkpoints cedana did not make for her: a copy she edits is one
    pid, rep, marker = marker_job(c, "forge19", "carol")
    c.run(["mkdir", "-p", f"{T}/carol"], user="carol")
    cedana(c, "dump", "job", "forge19", "--dir", f"{T}/carol", "--name", "src", "--compression", "none",
           user="carol", check=True)
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the dumped job to stop")
    count = report(c, rep)["count"]
    for i, edits in enumerate(FORGERIES):
        d = f"{T}/carol/forged-{i}"
        c.run(["cp", "-a", f"{T}/carol/src", d], user="carol")
        forge(c, d, *edits, user="carol")
        path = d
        if i == 0:
            # the same, as an archive
            c.run(["tar", "-C", d, "--zstd", "-cf", f"{d}.tar.zst", "."], user="carol")
            path = f"{d}.tar.zst"
        r = cedana(c, "restore", "process", "--path", path, "--name", f"forged-{i}", user="carol")
        assert r.returncode == 4, (edits, r.returncode, r.stderr)
        assert "refused before anything of it ran" in r.stderr and "more than user" in r.stderr, (edits, r.stderr)
        nothing_ran(c, rep, marker, count)
        assert "forged-" not in cedana(c, "job", "list", "--all", user="carol", check=True).stdout
    # the unedited copy restores, as carol, and runs
    c.run(["cp", "-a", f"{T}/carol/src", f"{T}/carol/plain"], user="carol")
    r = cedana(c, "restore", "process", "--path", f"{T}/carol/plain", "--name", "plain19", "--json", user="carol",
               check=True)
    rpid = json.loads(r.stdout)["pid"]
    assert uid_of(c, rpid) == c.user_info("carol")[1]
    c.wait_until(lambda: int(report(c, rep)["count"]) > int(count), what="the unedited copy to run")
    assert not c.path_exists(marker)
    cedana(c, "job", "kill", "plain19", "--signal", "KILL", user="carol", check=True)


# 20: root restores a user's job whose checkpoint the user edited

def test_20_root_restores_an_edited_job_as_its_owner_or_not_at_all(c):
    pid, rep, marker = marker_job(c, "edited20", "alice")
    c.run(["mkdir", "-p", f"{T}/alice"], user="alice")
    cedana(c, "dump", "job", "edited20", "--dir", f"{T}/alice", "--compression", "none", user="alice", check=True)
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the dumped job to stop")
    count = report(c, rep)["count"]
    d = json.loads(cedana(c, "job", "checkpoints", "edited20", "--json", user="alice", check=True).stdout)[0]["path"]
    forge(c, d, "uid=0", "caps:eff:all", "caps:prm:all", user="alice")
    r = cedana(c, "restore", "job", "alice/edited20")
    assert r.returncode == 7 and "changed since" in r.stderr, (r.returncode, r.stderr)
    nothing_ran(c, rep, marker, count)
    assert json.loads(cedana(c, "job", "inspect", "alice/edited20", "--json", check=True).stdout)["status"] == "halted"

    # unedited: root's restore of alice's job runs as alice
    pid, rep, marker = marker_job(c, "plain20", "alice")
    cedana(c, "dump", "job", "plain20", "--dir", f"{T}/alice", "--compression", "zstd", user="alice", check=True)
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the dumped job to stop")
    r = json.loads(cedana(c, "restore", "job", "alice/plain20", "--json", check=True).stdout)
    assert uid_of(c, r["pid"]) == c.user_info("alice")[1]
    status = c.read_file(f"/proc/{r['pid']}/status")
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    assert "cedana-%d-plain20.scope" % c.user_info("alice")[1] in c.read_file(f"/proc/{r['pid']}/cgroup")
    cedana(c, "job", "kill", "plain20", "--signal", "KILL", user="alice", check=True)
    assert not c.path_exists(marker)


# 21: the file at a recorded path replaced, edited in place, or moved away and re-created

def restore_refused(c, job, what, rep, marker, count):
    r = cedana(c, "restore", "job", job, user="alice")
    assert r.returncode == 7, (what, r.returncode, r.stderr)
    print(f"{what}: {r.stderr.strip()}")
    nothing_ran(c, rep, marker, count)
    state = json.loads(cedana(c, "job", "inspect", job, "--json", user="alice", check=True).stdout)["status"]
    assert state == "halted", (what, state)
    return r.stderr


def test_21_replaced_checkpoint_files_are_refused(c):
    c.run(["mkdir", "-p", f"{T}/alice21"], user="alice")
    pid, rep, marker = marker_job(c, "j21", "alice")
    ck = json.loads(cedana(c, "dump", "job", "j21", "--dir", f"{T}/alice21", "--compression", "zstd", "--json",
                           user="alice", check=True).stdout)
    path = ck["path"]
    marker_job(c, "other21", "alice")
    other = json.loads(cedana(c, "dump", "job", "other21", "--dir", f"{T}/alice21", "--compression", "zstd", "--json",
                              user="alice", check=True).stdout)["path"]
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="j21 to stop")
    count = report(c, rep)["count"]
    c.run(["ln", path, f"{path}.keep"], user="alice")  # the original, kept aside by inode
    for what, sh in (("replaced by another checkpoint", f"cp {other} {path}.new && mv -f {path}.new {path}"),
                     ("moved away and re-created with the same bytes", f"mv {path} {path}.moved && "
                                                                        f"cp {path}.keep {path}")):
        c.run(["sh", "-c", sh], user="alice")
        err = restore_refused(c, "j21", what, rep, marker, count)
        assert "changed since it was written" in err, err
    listing = {x["id"]: x for x in json.loads(cedana(c, "checkpoint", "list", "--json", user="alice",
                                                     check=True).stdout)}
    assert listing[ck["checkpoint"]]["status"] == "changed", listing
    # the very file cedana wrote, back at its path: restores
    c.run(["mv", "-f", f"{path}.keep", path], user="alice")
    cedana(c, "restore", "job", "j21", user="alice", check=True)
    c.wait_until(lambda: report(c, rep)["count"] != count, what="j21 to run again")
    cedana(c, "job", "kill", "j21", "--signal", "KILL", user="alice", check=True)

    # edited in place: one byte in the middle of the archive
    pid, rep, marker = marker_job(c, "j21b", "alice")
    path = json.loads(cedana(c, "dump", "job", "j21b", "--dir", f"{T}/alice21", "--compression", "zstd", "--json",
                             user="alice", check=True).stdout)["path"]
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="j21b to stop")
    count = report(c, rep)["count"]
    size = int(c.run(["stat", "-c", "%s", path]).stdout)
    c.run(["sh", "-c", f"printf Z | dd of={path} bs=1 seek={size // 2} conv=notrunc status=none"], user="alice")
    restore_refused(c, "j21b", "edited in place", rep, marker, count)


# 22: a world-writable directory where another user plants names

def test_22_planted_names_in_a_shared_directory(c):
    shared = f"{T}/shared"
    c.write_file(f"{T}/bobs-file", "bob's\n", user="bob")
    c.run(["ln", "-s", f"{T}/bobs-file", f"{shared}/ck22.tar.zst"], user="bob")
    c.run(["mkdir", f"{shared}/ck22dir"], user="bob")
    c.run(["ln", f"{T}/bobs-file", f"{shared}/ck22hard.tar.zst"], user="bob")
    pid, rep, _ = marker_job(c, "j22", "alice")
    for name, comp in (("ck22", "zstd"), ("ck22dir", "none"), ("ck22hard", "zstd")):
        r = cedana(c, "dump", "job", "j22", "--dir", shared, "--name", name, "--compression", comp,
                   "--leave-running", user="alice")
        assert r.returncode == 11 and "exists" in r.stderr, (name, r.returncode, r.stderr)
    # generated names step around whatever is planted at the names cedana would pick
    now = int(time.time())
    for t in range(now, now + 30):
        c.run(["ln", "-sf", f"{T}/bobs-file", f"{shared}/dump-job-j22-{t}.tar.zst"], user="bob")
    r = json.loads(cedana(c, "dump", "job", "j22", "--dir", shared, "--compression", "zstd", "--leave-running",
                          "--json", user="alice", check=True).stdout)
    assert c.run(["stat", "-c", "%U %F", r["path"]]).stdout.strip() == "alice regular file", r
    # bob's things are bob's and untouched
    assert c.read_file(f"{T}/bobs-file") == "bob's\n"
    for p in (f"{T}/bobs-file", f"{shared}/ck22dir", f"{shared}/ck22hard.tar.zst"):
        assert c.run(["stat", "-c", "%U", p]).stdout.strip() == "bob", p
    assert c.run(["readlink", f"{shared}/ck22.tar.zst"]).stdout.strip() == f"{T}/bobs-file"
    assert c.run(["ls", "-A", f"{shared}/ck22dir"]).stdout.strip() == ""
    assert not [f for f in c.run(["ls", "-A", shared]).stdout.split() if "partial" in f or "staging" in f]
    cedana(c, "job", "kill", "j22", "--signal", "KILL", user="alice", check=True)
    assert rep


# 23: a job name reused, by another user or by the same one after a delete

def test_23_reused_job_names_get_fresh_logs(c):
    alice_uid, bob_uid = c.user_info("alice")[1], c.user_info("bob")[1]
    r = json.loads(cedana(c, "run", "process", "--name", "j23", "--json", "--", "sh", "-c",
                          "echo secret-of-alice; sleep 1000", user="alice", check=True).stdout)
    log = r["log"]
    assert log == f"/var/log/cedana/{alice_uid}/j23.log", log
    c.wait_until(lambda: "secret-of-alice" in c.read_file(log), what="alice's job to log")
    # bob cannot read it, nor list alice's logs
    for cmd in (["cat", log], ["ls", f"/var/log/cedana/{alice_uid}"]):
        assert c.run(cmd, user="bob", check=False).returncode != 0, cmd
    # alice keeps an fd on her old log
    c.run(["sh", "-c", f"exec 3<{log}; sleep 30 <&3 >/dev/null 2>&1 &"], user="alice")
    cedana(c, "job", "kill", "j23", "--signal", "KILL", user="alice", check=True)
    c.wait_until(lambda: json.loads(cedana(c, "job", "inspect", "j23", "--json", user="alice",
                                           check=True).stdout)["status"] != "running", what="j23 to end")
    cedana(c, "job", "delete", "j23", user="alice", check=True)
    assert not c.path_exists(log), "the deleted job's log is still there"
    # bob's j23 and alice's new j23 each start fresh
    rb = json.loads(cedana(c, "run", "process", "--name", "j23", "--json", "--", "sh", "-c", "echo bob; sleep 1000",
                           user="bob", check=True).stdout)
    assert rb["log"] == f"/var/log/cedana/{bob_uid}/j23.log", rb
    ra = json.loads(cedana(c, "run", "process", "--name", "j23", "--json", "--", "sh", "-c",
                           "echo second-of-alice; sleep 1000", user="alice", check=True).stdout)
    c.wait_until(lambda: "second-of-alice" in c.read_file(ra["log"]), what="alice's new job to log")
    assert "secret-of-alice" not in c.read_file(ra["log"])
    c.wait_until(lambda: "bob" in c.read_file(rb["log"]), what="bob's job to log")
    assert "alice" not in c.read_file(rb["log"])
    # the fd kept on the old log is on a deleted file, which never gets the new output
    old_fd = c.run(["sh", "-c", "for p in $(pgrep -u alice -x sleep); do ls -l /proc/$p/fd/0; done"],
                   user="alice").stdout
    assert f"{log} (deleted)" in old_fd, old_fd
    inode = c.run(["sh", "-c", "stat -L -c %i /proc/$(pgrep -u alice -x sleep | head -1)/fd/0"], user="alice").stdout
    assert inode.strip() != c.run(["stat", "-c", "%i", ra["log"]]).stdout.strip()
    # alice learns nothing about bob's names: his job and a job he does not have get one answer
    answers = set()
    for spec in ("bob/j23", "bob/no-such-job"):
        for verb in (["job", "kill"], ["job", "inspect"], ["job", "delete"], ["restore", "job"], ["dump", "job"]):
            r = cedana(c, "--no-ask-password", *verb, spec, user="alice")
            answers.add((tuple(verb), r.returncode, r.stderr.replace(spec, "SPEC")))
    assert len(answers) == 5, answers
    assert all(code == 4 for _, code, _ in answers), answers
    for user in ("alice", "bob"):
        cedana(c, "job", "kill", "j23", "--signal", "KILL", user=user, check=True)
    c.run(["pkill", "-u", "alice", "-x", "sleep"], check=False)


# 24: log fds that are not writable regular files

# Calls Run or Restore with a log_fd of the given kind (dbus-python passes fds; busctl cannot).
FD_CALL = r"""
import dbus, os, socket, sys
kind, method, source = sys.argv[1:4]
if kind == "read-only":
    fd = os.open(source + ".ro", os.O_RDONLY | os.O_CREAT, 0o644)
elif kind == "full-pipe":
    r, fd = os.pipe()
    os.set_blocking(fd, False)
    try:
        while True:
            os.write(fd, b"x" * 65536)
    except BlockingIOError:
        pass
elif kind == "socket":
    a, b = socket.socketpair()
    fd = a.fileno()
else:
    fd = os.open(source + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
m = dbus.Interface(dbus.SystemBus().get_object("org.cedana.Checkpoint1", "/org/cedana/Checkpoint1"),
                   "org.cedana.Checkpoint1.Manager")
opts = {"log_fd": dbus.types.UnixFd(fd), "name": "fd24-" + kind + "-" + method.lower()}
try:
    if method == "Run":
        print(m.Run("process", ["sleep", "1000"], opts))
    else:
        print(m.Restore("process", source, opts, timeout=120))
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message(), file=sys.stderr)
    sys.exit(1)
"""


def test_24_hostile_log_fds(c):
    c.write_file("/var/tmp/fd-call.py", FD_CALL, mode=0o644)
    c.run(["mkdir", "-p", f"{T}/alice24"], user="alice")
    pid = c.start_unit_process("src24", [os.path.join(c.build_dir, "tests/integration/workload"),
                                         f"{T}/src24.report", "counter"], user="alice")
    c.wait_until(lambda: c.path_exists(f"{T}/src24.report"), what="the workload")
    src = json.loads(cedana(c, "dump", "process", str(pid), "--dir", f"{T}/alice24", "--json", user="alice",
                            check=True).stdout)["path"]
    for kind in ("read-only", "full-pipe", "socket"):
        for method in ("Run", "Restore"):
            r = c.run(["/usr/bin/python3", "/var/tmp/fd-call.py", kind, method, src], user="alice", check=False,
                      timeout=60)
            assert r.returncode == 1 and "must be a regular file open for writing" in r.stderr, \
                (kind, method, r.stdout, r.stderr)
    listing = cedana(c, "job", "list", "--all", user="alice", check=True).stdout
    assert "fd24" not in listing, listing
    # a proper file works for both, and the restore's log lands in it
    for method in ("Run", "Restore"):
        c.run(["/usr/bin/python3", "/var/tmp/fd-call.py", "file", method, src], user="alice", timeout=120)
    assert "Restore finished successfully" in c.read_file(f"{src}.log") or "Restor" in c.read_file(f"{src}.log")
    for job in ("fd24-file-run", "fd24-file-restore"):
        cedana(c, "job", "kill", job, "--signal", "KILL", user="alice", check=True)


# 25: oversized requests and too many at once

HUGE_CALL = r"""
import dbus, sys
m = dbus.Interface(dbus.SystemBus().get_object("org.cedana.Checkpoint1", "/org/cedana/Checkpoint1"),
                   "org.cedana.Checkpoint1.Manager")
many = ["x"] * 70000
try:
    if sys.argv[1] == "argv":
        m.Run("process", many, {})
    else:
        m.Run("process", ["true"], {"env": dbus.Array(["A=b"] * 70000, signature="s")})
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message(), file=sys.stderr)
    sys.exit(1)
"""

def test_25_oversized_and_too_many_requests(c):
    # 70000 arguments, 70000 environment entries: refused while being read
    c.write_file("/var/tmp/huge-call.py", HUGE_CALL, mode=0o644)
    t0 = time.monotonic()
    for what in ("argv", "env"):
        r = c.run(["/usr/bin/python3", "/var/tmp/huge-call.py", what], user="alice", check=False)
        assert r.returncode == 1 and "InvalidArgs" in r.stderr and "Too many entries" in r.stderr, (what, r.stderr)
    # an option nested in variants is not what it must be
    r = busctl(c, "Dump", "ssa{sv}", "process", "1", "1", "name", "v", "v", "v", "s", "x", user="alice")
    assert r.returncode != 0 and "must be of type 's'" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 30
    # twelve dumps at once by one user: eight run, the rest are told to wait; root is served
    pids = []
    for i in range(12):
        pids.append(c.start_unit_process(f"busy25-{i}", [os.path.join(c.build_dir, "tests/integration/workload"),
                                                         f"{T}/busy25-{i}.report", "memory", "48", "1"],
                                         user="alice"))
    for i in range(12):
        c.wait_until(lambda i=i: c.path_exists(f"{T}/busy25-{i}.report"), what="the workloads")
    c.run(["mkdir", "-p", f"{T}/alice25"], user="alice")
    results = {}

    def dump(i):
        results[i] = cedana(c, "dump", "process", str(pids[i]), "--dir", f"{T}/alice25", "--compression", "gzip",
                            "--leave-running", user="alice")

    threads = [threading.Thread(target=dump, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t1 = time.monotonic()
    cedana(c, "job", "list", check=True)
    root_wait = time.monotonic() - t1
    for t in threads:
        t.join()
    codes = sorted(r.returncode for r in results.values())
    assert set(codes) <= {0, 12} and 12 in codes and codes.count(0) >= 8, \
        [(r.returncode, r.stderr.strip()) for r in results.values()]
    refused = [r for r in results.values() if r.returncode == 12][0]
    assert "operations in flight" in refused.stderr, refused.stderr
    print(f"12 concurrent dumps by one user: {codes.count(0)} ran, {codes.count(12)} refused; "
          f"root's job list took {root_wait:.2f} s meanwhile")
    for i in range(12):
        c.run(["systemctl", "stop", f"busy25-{i}"])


# 26: an archive whose content expands far beyond what its metadata declares

def test_26_decompression_bomb(c):
    pid = c.start_unit_process("bomb26", [os.path.join(c.build_dir, "tests/integration/workload"),
                                          f"{T}/bomb26.report", "counter"])
    c.wait_until(lambda: c.path_exists(f"{T}/bomb26.report"), what="the workload")
    cedana(c, "dump", "process", str(pid), "--dir", T, "--name", "bomb26", "--compression", "none", check=True)
    d = f"{T}/bomb26"
    pages = c.run(["sh", "-c", f"ls {d} | grep '^pages-' | head -1"]).stdout.strip()
    # 1 GiB of zeros where a few pages were: a few MiB compressed
    c.run(["sh", "-c", f"head -c 1G /dev/zero > {d}/{pages}"])
    c.run(["sh", "-c", f"tar -C {d} -cf - . | zstd -q -1 -c > {T}/bomb26.tar.zst"])
    size = int(c.run(["stat", "-c", "%s", f"{T}/bomb26.tar.zst"]).stdout)
    r = cedana(c, "restore", "process", "--path", f"{T}/bomb26.tar.zst", "--name", "bomb26")
    assert r.returncode == 7 and pages in r.stderr, (r.returncode, r.stderr)
    assert "larger than" in r.stderr or "more than" in r.stderr, r.stderr
    # nothing of it is left in the daemon's state directory
    assert not [f for f in c.run(["ls", "-A", "/var/lib/cedana"]).stdout.split() if f.startswith("staging")]
    print(f"a {size} byte archive expanding to 1 GiB: refused ({r.stderr.strip()})")


# 27: deleting a job with its checkpoints deletes only what the caller could delete itself

def test_27_delete_with_checkpoints_spares_others(c):
    pid, _, _ = marker_job(c, "j27", "alice")
    c.run(["mkdir", "-p", f"{T}/root27"])
    c.run(["mkdir", "-p", f"{T}/alice27"], user="alice")
    roots = json.loads(cedana(c, "dump", "job", "alice/j27", "--dir", f"{T}/root27", "--leave-running", "--json",
                              check=True).stdout)
    alices = json.loads(cedana(c, "dump", "job", "j27", "--dir", f"{T}/alice27", "--leave-running", "--json",
                               user="alice", check=True).stdout)
    cedana(c, "job", "kill", "j27", "--signal", "KILL", user="alice", check=True)
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="j27 to end")
    cedana(c, "job", "delete", "j27", "--with-checkpoints", user="alice", check=True)
    assert not c.path_exists(alices["path"]), "alice's own checkpoint was not deleted"
    assert c.path_exists(roots["path"]), "root's checkpoint of alice's job was deleted by alice"
    ids = [x["id"] for x in json.loads(cedana(c, "checkpoint", "list", "--json", check=True).stdout)]
    assert roots["checkpoint"] in ids, ids
    cedana(c, "checkpoint", "delete", roots["checkpoint"], check=True)
    assert not c.path_exists(roots["path"])
