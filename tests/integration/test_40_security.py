# SPDX-License-Identifier: Apache-2.0
# SECURITY.md's bad inputs, as root and as ordinary users made with useradd: each gets its exact
# error, and nothing changes (targets keep running, unfrozen; files untouched; no privilege).

import json
import os
import re
import time

TIMEOUT = 300
BUS = ["org.cedana.Checkpoint1", "/org/cedana/Checkpoint1", "org.cedana.Checkpoint1.Manager"]
CK = "/var/tmp/sec"
# polkit rules for the test users: mallory is never allowed, bob must authenticate as admin.
RULES = """
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.cedana.checkpoint1.") != 0)
        return polkit.Result.NOT_HANDLED;
    if (subject.user == "mallory")
        return polkit.Result.NO;
    if (subject.user == "bob")
        return polkit.Result.AUTH_ADMIN;
    if (subject.user == "carol" && action.id == "org.cedana.checkpoint1.restore-foreign")
        return polkit.Result.YES;
    if (subject.user == "dave" && action.id == "org.cedana.checkpoint1.manage-any")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
"""


def cedana(c, *args, user=None, check=False):
    return c.run(["cedana", *args], user=user, check=check, timeout=240)


def busctl(c, *args, user=None):
    return c.run(["busctl", "call", "--timeout=60", *BUS, *args], user=user, check=False)


REPORTS = "/var/tmp/sec-reports"


def workload(c, name, user=None):
    report = f"{REPORTS}/{name}.report"
    pid = c.start_unit_process(f"sec-{name}", [os.path.join(c.build_dir, "tests/integration/workload"), report,
                                               "counter"], user=user)
    c.wait_until(lambda: c.path_exists(report), what=f"workload {name}")
    return pid, report


def count(c, report):
    return int(dict(l.split(" ", 1) for l in c.read_file(report).splitlines())["count"])


def untouched(c, pid, report):
    """The process runs on: not stopped, not traced, still counting."""
    status = c.read_file(f"/proc/{pid}/status")
    assert re.search(r"^State:\s+[RS]", status, re.M), status
    assert re.search(r"^TracerPid:\s+0$", status, re.M), status
    n = count(c, report)
    c.wait_until(lambda: count(c, report) > n + 2, what=f"process {pid} to keep running")


def no_checkpoints(c, user=None):
    listing = json.loads(cedana(c, "checkpoint", "list", "--json", user=user, check=True).stdout)
    return listing == []


def store_rows(c, query):
    """Rows of a read-only query on cedanad's store (SQLite in WAL mode: safe beside the daemon)."""
    script = ("import json, sqlite3, sys; "
              "db = sqlite3.connect('file:/var/lib/cedana/cedana.db?mode=ro', uri=True); "
              "print(json.dumps(db.execute(sys.argv[1]).fetchall()))")
    return json.loads(c.run(["python3", "-c", script, query]).stdout)


def setup(c):
    for u in ("alice", "mallory", "bob", "carol", "dave"):
        c.add_user(u)
    c.write_file("/etc/polkit-1/rules.d/50-cedana-test.rules", RULES)
    c.run(["mkdir", "-p", CK, REPORTS])
    c.run(["chmod", "1777", CK, REPORTS])
    c.run(["systemctl", "start", "cedanad.socket"])
    # polkitd reads rules at start; make sure it has ours
    c.run(["systemctl", "restart", "polkit.service"])


# 1: no authorization, with and without interactive authentication

def test_1_denied_user_leaves_target_untouched(c):
    pid, report = workload(c, "m1", user="mallory")
    r = cedana(c, "dump", "process", str(pid), "--dir", CK, user="mallory")
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert r.stderr.strip() == ("You are not allowed to checkpoint, restore or manage your processes "
                                "(polkit action org.cedana.checkpoint1.manage-own)."), r.stderr
    untouched(c, pid, report)
    assert c.run(["ls", "-A", CK]).stdout.strip() == ""


def test_1_interactive_authorization_required(c):
    pid, report = workload(c, "b1", user="bob")
    r = cedana(c, "--no-ask-password", "dump", "process", str(pid), "--dir", CK, user="bob")
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert r.stderr.startswith("Authentication is required to checkpoint, restore or manage your processes"), r.stderr
    # the same over the bus, without the interactive flag
    r = busctl(c, "--allow-interactive-authorization=no", "Dump", "ssa{sv}", "process", str(pid), "0", user="bob")
    assert "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired" in r.stderr or \
        "Interactive authentication required" in r.stderr or "Authentication is required" in r.stderr, r.stderr
    untouched(c, pid, report)


def test_1_no_polkit_means_denied(c):
    pid, report = workload(c, "a1", user="alice")
    c.run(["systemctl", "mask", "--runtime", "polkit.service"])
    c.run(["systemctl", "stop", "polkit.service"])
    try:
        r = cedana(c, "dump", "process", str(pid), "--dir", CK, user="alice")
        assert r.returncode == 4, (r.returncode, r.stderr)
        assert "Authorization is unavailable" in r.stderr, r.stderr
    finally:
        c.run(["systemctl", "unmask", "--runtime", "polkit.service"])
        c.run(["systemctl", "start", "polkit.service"])
    untouched(c, pid, report)
    # root does not need polkit, alice is allowed again once it is back
    r = cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", "alice-ok", "--leave-running", user="alice")
    assert r.returncode == 0, r.stderr
    assert c.run(["stat", "-c", "%U", f"{CK}/alice-ok"]).stdout.strip() == "alice", "checkpoint not owned by the caller"


# 2: other users' processes, PID 1, the daemon

def test_2_user_cannot_dump_others_pid1_or_daemon(c):
    pid, report = workload(c, "root2")
    r = cedana(c, "--no-ask-password", "dump", "process", str(pid), "--dir", CK, user="alice")
    assert r.returncode == 4 and "other users" in r.stderr, (r.returncode, r.stderr)
    untouched(c, pid, report)
    for target, what in (("1", "the init process"),
                         (c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad"]).stdout.strip(),
                          "cedanad itself")):
        for user in ("alice", None):
            r = cedana(c, "dump", "process", target, "--dir", CK, user=user)
            assert r.returncode == 4, (target, user, r.returncode, r.stderr)
            assert f"cannot be dumped: it is {what}" in r.stderr, r.stderr
    assert c.run(["ls", "-A", CK]).stdout.split() == ["alice-ok"]


def test_2_restore_never_gains_privilege(c):
    # root's process, dumped by root, handed to carol (whom polkit lets restore foreign checkpoints)
    pid, report = workload(c, "rootproc")
    cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", "rootproc", "--leave-running", check=True)
    c.run(["chmod", "-R", "a+rX", f"{CK}/rootproc"])
    c.run(["systemctl", "stop", "sec-rootproc"])
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the root process to stop")
    r = cedana(c, "restore", "process", "--path", f"{CK}/rootproc", "--name", "stolen", user="carol")
    assert r.returncode != 0, r.stdout
    assert r.returncode in (4, 8), (r.returncode, r.stderr)
    assert not c.path_exists(f"/proc/{pid}"), "a root process came back for carol"
    assert c.run(["pgrep", "-u", "0", "-f", "sec-rootproc.report"], check=False).returncode == 1
    # without that polkit rule, alice may not even try
    r = cedana(c, "--no-ask-password", "restore", "process", "--path", f"{CK}/rootproc", user="alice")
    assert r.returncode == 4 and "did not make for you" in r.stderr, (r.returncode, r.stderr)


# 3: malformed calls

def test_3_invalid_arguments(c):
    pid, report = workload(c, "inv")
    cases = [
        (["Dump", "s", "process"], "Invalid"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "frobnicate", "b", "true"], "Unknown option 'frobnicate'"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "compression", "s", "bzip2"], "not supported"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "compression", "b", "true"], "must be of type 's'"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "name", "s", ""], "non-empty string"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "name", "s", "x" * 65536], "non-empty string of at most"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "name", "s", "a/b"], "not a valid checkpoint name"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "name", "s", ".."], "not a valid checkpoint name"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "name", "s", "a\nb"], "printable"),
        (["Dump", "ssa{sv}", "process", "12abc", "0"], "is not a process ID"),
        (["Dump", "ssa{sv}", "process", "", "0"], "is not a process ID"),
        (["Dump", "ssa{sv}", "container", str(pid), "0"], "Unknown type"),
        (["Dump", "ssa{sv}", "job", "../etc", "0"], "not a valid job name"),
        (["Dump", "ssa{sv}", "job", "cedana\\x2dx", "0"], "not a valid job name"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "dir", "s", "relative/dir"], "must be an absolute path"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "dir", "s", "/var/tmp/../etc"], "must be an absolute path"),
        (["Dump", "ssa{sv}", "process", str(pid), "1", "external", "as", "1", "mnt[/]:x"], "is not allowed"),
        (["Run", "sasa{sv}", "process", "1", "true", "1", "name", "s", "a b"], "not a valid job name"),
        (["Run", "sasa{sv}", "process", "0", "0"], "No command given"),
        (["Run", "sasa{sv}", "process", "1", "true", "1", "env", "as", "1", "NOEQUALS"], "is not KEY=VALUE"),
        (["Restore", "ssa{sv}", "process", "not/absolute", "0"], "must be absolute"),
        (["KillJob", "si", "nosuchjob", "9"], "There is no job nosuchjob"),
        (["KillJob", "si", "a\nb", "9"], "not a valid job name"),
        (["DeleteCheckpoint", "s", "../../x"], "not a valid checkpoint name"),
    ]
    for user in (None, "alice"):
        for args, want in cases:
            r = busctl(c, *args, user=user)
            assert r.returncode != 0 and want in r.stderr, (user, args[:3], r.stderr)
    untouched(c, pid, report)
    assert c.run(["ls", "-A", CK]).stdout.split() == ["alice-ok", "rootproc"]


# 4, 5: where checkpoints may go

def test_4_refused_directories(c):
    pid, report = workload(c, "dirs")
    apid, areport = workload(c, "adirs", user="alice")
    c.run(["mkdir", "-p", "/var/tmp/readonly"])
    for d, want in (("/etc", "cannot be written to /etc"), ("/etc/cron.d", "cannot be written to /etc/cron.d"),
                    ("/sys/fs/cgroup", "cannot be written to /sys/fs/cgroup"), ("/proc/1", "cannot be written to /proc/1"),
                    ("/var/lib/cedana", "cannot be written to /var/lib/cedana"), ("/dev", "/dev")):
        r = busctl(c, "Dump", "ssa{sv}", "process", str(pid), "1", "dir", "s", d)
        assert r.returncode != 0 and want in r.stderr, (d, r.stderr)
        r = cedana(c, "dump", "process", str(apid), "--dir", d, user="alice")
        assert r.returncode in (4, 5), (d, r.returncode, r.stderr)
    for d in ("/root", "/var/tmp/readonly", "/usr/lib"):
        r = cedana(c, "dump", "process", str(apid), "--dir", d, user="alice")
        assert r.returncode == 4, (d, r.returncode, r.stderr)
        assert ("cannot" in r.stderr or "may not" in r.stderr) and d in r.stderr, r.stderr
        r = busctl(c, "Dump", "ssa{sv}", "process", str(apid), "1", "dir", "s", d, user="alice")
        assert r.returncode != 0 and "cannot" in r.stderr, (d, r.stderr)
    # /proc/self is a symlink
    r = cedana(c, "dump", "process", str(pid), "--dir", "/proc/self")
    assert r.returncode != 0 and "symbolic link" in r.stderr, r.stderr
    # without an object store configured, s3:// is refused at either end, saying so
    r = cedana(c, "dump", "process", str(pid), "--dir", "s3://bucket/prefix")
    assert r.returncode == 10 and "no object store" in r.stderr, (r.returncode, r.stderr)
    r = cedana(c, "restore", "process", "--path", "s3://bucket/prefix/x.tar.zst", user="alice")
    assert r.returncode == 10 and "no object store" in r.stderr, (r.returncode, r.stderr)
    # other URLs are nowhere taken
    r = cedana(c, "dump", "process", str(pid), "--dir", "https://example.com/x")
    assert r.returncode == 10 and "only s3:// ones" in r.stderr, (r.returncode, r.stderr)
    untouched(c, pid, report)
    untouched(c, apid, areport)
    assert not c.run(["sh", "-c", "ls -A /var/tmp/readonly /etc/cron.d /var/lib/cedana /root | grep -i -e dump -e staging -e partial"],
                     check=False).stdout, "a refused dump left something behind"


def test_5_symlinked_directories(c):
    c.run(["mkdir", "-p", "/var/tmp/real/sub"])
    c.run(["chmod", "-R", "1777", "/var/tmp/real"])
    c.run(["ln", "-sfn", "/var/tmp/real", "/var/tmp/link"])
    c.run(["ln", "-sfn", "/etc", "/var/tmp/etclink"])
    for user in (None, "alice"):
        pid, report = workload(c, f"links-{user or 'root'}", user=user)
        for d in ("/var/tmp/link", "/var/tmp/link/sub", "/var/tmp/etclink"):
            for via in ("cli", "bus"):
                if via == "cli":
                    r = cedana(c, "dump", "process", str(pid), "--dir", d, user=user)
                else:
                    r = busctl(c, "Dump", "ssa{sv}", "process", str(pid), "1", "dir", "s", d, user=user)
                assert r.returncode != 0 and "symbolic link" in r.stderr, (d, via, user, r.stderr)
                # the CLI, which opens the path itself, and cedanad agree on the outcome
                assert via == "bus" or r.returncode == 4, (d, user, r.returncode, r.stderr)
        untouched(c, pid, report)
    assert c.run(["ls", "-A", "/var/tmp/real/sub"]).stdout.strip() == ""
    # refused dumps leave no record behind to be reconciled again at every start
    c.wait_until(lambda: not store_rows(c, "SELECT path FROM checkpoints WHERE state = 'intent'"),
                 what="no dump intent left in the store")


# 6: paths the caller cannot read

def test_6_directory_files_are_read_as_their_owner(c):
    # A checkpoint directory's page images stream from where they are: opened as the owner, as
    # every other file of theirs, so nothing root alone may read ever reaches a restore of theirs.
    pid, report = workload(c, "ownfiles", user="alice")
    out = json.loads(cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", "ownfiles", "--json",
                            user="alice", check=True).stdout)
    pages = c.run(["sh", "-c", f"ls {out['path']}/pages-*.img"]).stdout.split()
    c.run(["chmod", "000", *pages])
    r = cedana(c, "restore", "process", "--path", out["path"], "--name", "ownfiles", user="alice")
    assert r.returncode != 0 and "Permission denied" in r.stderr and "pages-" in r.stderr, (r.returncode, r.stderr)
    c.run(["chmod", "600", *pages])
    r = cedana(c, "restore", "process", "--path", out["path"], "--name", "ownfiles", user="alice", check=True)
    cedana(c, "job", "kill", "ownfiles", "--signal", "KILL", user="alice", check=True)
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the restored workload to end")


def test_6_unreadable_restore_paths(c):
    c.run(["sh", "-c", "echo secret-root-data > /root/x.tar"])
    for path in ("/root/x.tar", "/etc/shadow"):
        r = cedana(c, "restore", "process", "--path", path, user="alice")
        assert r.returncode == 4 and "may not read it" in r.stderr, (path, r.returncode, r.stderr)
        assert "secret" not in r.stderr and "root:" not in r.stderr, r.stderr
        # a path string over the bus is opened with the caller's rights (carol may restore
        # foreign checkpoints, so polkit lets her get that far)
        r = busctl(c, "Restore", "ssa{sv}", "process", path, "0", user="carol")
        assert r.returncode != 0 and f"You cannot access the checkpoint {path}." in r.stderr, (path, r.stderr)
        assert "secret" not in r.stderr and "root:" not in r.stderr, r.stderr
    # root may read them, and is told they are not checkpoints, without their content
    r = cedana(c, "restore", "process", "--path", "/etc/shadow")
    assert r.returncode == 7 and "root:" not in r.stderr, (r.returncode, r.stderr)


# 7, 8, 9: hostile and broken archives

MAKE_ARCHIVES = r"""
import io, os, subprocess, tarfile
d = "/var/tmp/evil"
os.makedirs(d, exist_ok=True)
def tar(name, entries, compress="zstd"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            t.addfile(*e)
    raw = buf.getvalue()
    path = os.path.join(d, name)
    if compress == "zstd":
        raw = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    open(path, "wb").write(raw)
def f(name, data=b"x"):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, io.BytesIO(data))
def link(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; return (i,)
# A real cedana.json first, as cedana writes it, so that the archive gets past the metadata to
# the hostile entry; and one archive without it, whose first entry is the hostile one.
meta = open(os.path.join(d, "src-dir", "cedana.json"), "rb").read()
tar("dotdot.tar.zst", [f("cedana.json", meta), f("../../etc/cron.d/evil", b"* * * * * root touch /pwned\n")])
tar("absolute.tar.zst", [f("/etc/passwd-evil", b"evil")])
tar("middle.tar.zst", [f("cedana.json", meta), f("a/../../b-evil", b"evil")])
tar("symlink.tar.zst", [f("cedana.json", meta), link("a", "/etc"), f("a/passwd-evil", b"evil")])
raw = open(os.path.join(d, "good.tar.zst"), "rb").read() if os.path.exists(os.path.join(d, "good.tar.zst")) else None
"""


def test_7_8_hostile_archives_write_nothing_outside(c):
    pid, _ = workload(c, "src78")
    c.run(["mkdir", "-p", "/var/tmp/evil"])
    cedana(c, "dump", "process", str(pid), "--dir", "/var/tmp/evil", "--name", "src-dir", "--compression", "none",
           "--leave-running", check=True)
    c.run(["systemctl", "stop", "sec-src78"])
    c.write_file("/run/make-archives.py", MAKE_ARCHIVES)
    c.run(["python3", "/run/make-archives.py"])
    before = c.run(["sh", "-c", "ls -A /etc /etc/cron.d /var/lib/cedana | md5sum"]).stdout
    for name, want in (("dotdot.tar.zst", "'../../etc/cron.d/evil' is not a plain file name"),
                       ("absolute.tar.zst", "'/etc/passwd-evil' is not a plain file name"),
                       ("middle.tar.zst", "'a/../../b-evil' is not a plain file name"),
                       ("symlink.tar.zst", "'a' is a symbolic link")):
        for user in (None, "alice"):
            c.run(["chmod", "a+r", f"/var/tmp/evil/{name}"])
            r = cedana(c, "restore", "process", "--path", f"/var/tmp/evil/{name}", user=user)
            if user == "alice" and r.returncode == 4:
                # polkit: alice may not restore foreign archives without an administrator
                assert "did not make for you" in r.stderr, r.stderr
                continue
            assert r.returncode == 7, (name, user, r.returncode, r.stderr)
            assert want in r.stderr, (name, r.stderr)
    for path in ("/etc/cron.d/evil", "/etc/passwd-evil", "/b-evil", "/var/tmp/b-evil", "/pwned"):
        assert not c.path_exists(path), f"{path} was written"
    assert c.run(["sh", "-c", "ls -A /etc /etc/cron.d /var/lib/cedana | md5sum"]).stdout == before
    # carol may restore foreign archives: the archive check still stops her
    r = cedana(c, "restore", "process", "--path", "/var/tmp/evil/dotdot.tar.zst", user="carol")
    assert r.returncode == 7 and "not a plain file name" in r.stderr, (r.returncode, r.stderr)
    assert c.run(["ls", "-A", "/var/lib/cedana"]).stdout.split() == ["cedana.db", "cedana.db-shm", "cedana.db-wal"]


def test_9_broken_archives(c):
    pid, report = workload(c, "src9")
    cedana(c, "dump", "process", str(pid), "--dir", "/var/tmp/evil", "--name", "good", "--compression", "zstd",
           "--leave-running", check=True)
    good = "/var/tmp/evil/good.tar.zst"
    size = int(c.run(["stat", "-c", "%s", good]).stdout)
    # cut inside the data, not in the last small frame (a few stray bytes after the end are "after the end")
    c.run(["sh", "-c", f"head -c {size // 2} {good} > /var/tmp/evil/trunc.tar.zst"])
    c.run(["sh", "-c", f"cp {good} /var/tmp/evil/garbage.tar.zst; echo trailing-garbage >> /var/tmp/evil/garbage.tar.zst"])
    c.run(["sh", "-c", ": > /var/tmp/evil/empty.tar.zst; mkdir -p /var/tmp/evil/noimages; echo x > /var/tmp/evil/noimages/f"])
    c.run(["sh", "-c", f"cp {good} /var/tmp/evil/really-zstd.tar.lz4"])
    c.run(["chmod", "-R", "a+rX", "/var/tmp/evil"])
    for name, want in (("trunc.tar.zst", "truncated"), ("garbage.tar.zst", "after the end"),
                       ("empty.tar.zst", "The file is empty"), ("noimages", "cedana.json is missing")):
        for user in (None, "carol"):
            r = cedana(c, "restore", "process", "--path", f"/var/tmp/evil/{name}", user=user)
            assert r.returncode == 7 and want in r.stderr, (name, user, r.returncode, r.stderr)
    # the format comes from the content: a .tar.lz4 that is really zstd is zstd, and it restores
    c.run(["systemctl", "stop", "sec-src9"])
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), what="the source to stop")
    r = cedana(c, "restore", "process", "--path", "/var/tmp/evil/really-zstd.tar.lz4", "--name", "zstd-named-lz4")
    assert r.returncode == 0, r.stderr
    n = count(c, report)
    c.wait_until(lambda: count(c, report) > n, what="the restored process to run")
    cedana(c, "job", "kill", "zstd-named-lz4", "--signal", "KILL")


# 10: one flipped byte in the metadata

def test_10_flipped_byte_in_metadata(c):
    for user in (None, "alice"):
        name = f"meta-{user or 'root'}"
        pid, report = workload(c, name, user=user)
        cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", name, "--leave-running", user=user, check=True)
        meta = f"{CK}/{name}/cedana.json"
        text = c.read_file(meta)
        flipped = re.sub(r'"pid": (\d)', lambda m: f'"pid": {(int(m.group(1)) + 1) % 10}', text, count=1)
        assert flipped != text
        c.write_file(meta, flipped, user=user)
        r = cedana(c, "restore", "process", "--path", f"{CK}/{name}", user=user)
        assert r.returncode == 7 and "metadata (cedana.json) is corrupt" in r.stderr, (user, r.returncode, r.stderr)
        untouched(c, pid, report)


# 12: a process that exits in the middle of its dump

def test_12_process_exits_during_dump(c):
    for user in (None, "alice"):
        name = f"dying-{user or 'root'}"
        # big and slow to compress, so that the kill lands while cedana holds it
        report = f"{REPORTS}/{name}.report"
        pid = c.start_unit_process(f"sec-{name}", [os.path.join(c.build_dir, "bench/bigmem"), "768", report], user=user)
        c.wait_until(lambda: c.path_exists(report), timeout=60, what="the big process")
        c.run(["sh", "-c", f"(sleep 0.6; kill -KILL {pid}) >/dev/null 2>&1 &"])
        r = cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", name, "--compression", "gzip", user=user)
        assert r.returncode == 5, (user, r.returncode, r.stderr)
        assert f"Process {pid} exited while it was being dumped; no checkpoint was written." in r.stderr, r.stderr
        listing = json.loads(cedana(c, "checkpoint", "list", "--json", check=True).stdout)
        assert name not in [x["id"] for x in listing], listing
        assert not [f for f in c.run(["ls", "-A", CK]).stdout.split() if name in f]


# 13: restore of a running job (also in test_30), 14: disk full on a job with an older checkpoint

def test_14_disk_full_keeps_job_and_older_checkpoints(c):
    c.run(["mkdir", "-p", "/var/tmp/small"])
    c.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=1777", "tmpfs", "/var/tmp/small"])
    try:
        for user in (None, "alice"):
            job = f"full-{user or 'root'}"
            report = f"{REPORTS}/{job}.report"
            r = json.loads(cedana(c, "run", "process", "--name", job, "--json", "--",
                                  os.path.join(c.build_dir, "tests/integration/workload"), report, "memory", "32", "1",
                                  user=user, check=True).stdout)
            pid = r["pid"]
            c.wait_until(lambda: c.path_exists(report), what="the job")
            cedana(c, "dump", "job", job, "--dir", CK, "--name", f"{job}-1", "--leave-running", user=user, check=True)
            for comp in ("none", "zstd"):
                log = f"/tmp/{job}-{comp}.log"
                r = cedana(c, "dump", "job", job, "--dir", "/var/tmp/small", "--compression", comp, "--log", log,
                           user=user)
                assert r.returncode == 9 and "No space left in /var/tmp/small" in r.stderr, \
                    (user, comp, r.returncode, r.stderr)
                if comp == "none":
                    # known before CRIU ran: no log to speak of
                    assert "it needs about 3" in r.stderr and c.read_file(log) == "", r.stderr
                else:
                    # found out while writing: --log has CRIU's side of it
                    assert c.read_file(log).startswith("("), c.read_file(log)[:200]
                assert c.run(["ls", "-A", "/var/tmp/small"]).stdout.strip() == "", "staging left behind"
            listing = {j["job"]: j for j in json.loads(cedana(c, "job", "list", "--json", user=user, check=True).stdout)}
            assert listing[job]["status"] == "running" and listing[job]["pid"] == pid, listing[job]
            status = c.read_file(f"/proc/{pid}/status")
            assert re.search(r"^State:\s+[RS]", status, re.M) and re.search(r"^TracerPid:\s+0$", status, re.M), status
            cps = json.loads(cedana(c, "job", "checkpoints", job, "--json", user=user, check=True).stdout)
            assert [x["id"] for x in cps] == [f"{job}-1"], cps
            assert c.path_exists(f"{CK}/{job}-1/cedana.json")
            cedana(c, "job", "kill", job, "--signal", "KILL", user=user)
    finally:
        c.run(["umount", "/var/tmp/small"])


# 17: the caller goes away before the reply

def test_17_caller_disconnects(c):
    report = "/run/sec-gone.report"
    pid = c.start_unit_process("sec-gone", [os.path.join(c.build_dir, "bench/bigmem"), "256", report])
    c.wait_until(lambda: c.path_exists(report), timeout=60, what="the process")
    c.run(["sh", "-c", f"cedana dump process {pid} --dir {CK} --name gone --compression gzip >/dev/null 2>&1 & "
                       "sleep 0.3; kill -KILL $!"])
    c.wait_until(lambda: "gone" in [x["id"] for x in json.loads(cedana(c, "checkpoint", "list", "--json",
                                                                       check=True).stdout)],
                 timeout=60, what="the dump to complete without its caller")
    assert c.path_exists(f"{CK}/gone.tar.gz")
    assert cedana(c, "daemon", "status").returncode == 0


# The default checkpoint directory: persistent, one per user, private, made on first use

def test_default_directory_is_private_and_per_user(c):
    base = "/var/lib/cedana-checkpoints"
    status = json.loads(cedana(c, "daemon", "status", "--json", check=True).stdout)
    assert status["checkpoint_directory"] == f"{base}/%u", status
    assert f"Checkpoints: {base}/alice\n" in cedana(c, "daemon", "status", user="alice", check=True).stdout
    for user in (None, "alice"):
        name = user or "root"
        pid, report = workload(c, f"defdir-{name}", user=user)
        out = json.loads(cedana(c, "dump", "process", str(pid), "--leave-running", "--json", user=user,
                                check=True).stdout)
        assert os.path.dirname(out["path"]) == f"{base}/{name}", out
        assert c.run(["stat", "-c", "%U %a", f"{base}/{name}"]).stdout.split() == [name, "700"]
        assert c.run(["stat", "-c", "%U %a", base]).stdout.split() == ["root", "755"]
        untouched(c, pid, report)
        c.run(["systemctl", "stop", f"sec-defdir-{name}"])
    # bob cannot look into alice's
    r = c.run(["ls", f"{base}/alice"], user="bob", check=False)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
    # a parent others could change is not built upon: refused, nothing made
    c.run(["rm", "-rf", f"{base}/alice"])
    c.run(["chmod", "1777", base])
    try:
        pid, report = workload(c, "defdir-open", user="alice")
        r = cedana(c, "dump", "process", str(pid), user="alice")
        assert r.returncode == 4 and "is not root's alone" in r.stderr, (r.returncode, r.stderr)
        assert not c.path_exists(f"{base}/alice")
        untouched(c, pid, report)
        c.run(["systemctl", "stop", "sec-defdir-open"])
    finally:
        c.run(["chmod", "755", base])


# Ctrl-C: a dump or restore cancelled leaves everything as it was before it began

INTERRUPT = ("import json, signal, subprocess, sys, time; "
             "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True); "
             "time.sleep(float(sys.argv[1])); p.send_signal(signal.SIGINT); "
             "out, err = p.communicate(); print(json.dumps([p.returncode, out, err]))")


def interrupted(c, after, *argv, user=None):
    """Runs cedana with argv and sends it SIGINT after `after` seconds, as Ctrl-C does."""
    return json.loads(c.run(["python3", "-c", INTERRUPT, str(after), "cedana", *argv], user=user,
                            timeout=240).stdout)


def big_process(c, name, user=None):
    report = f"{REPORTS}/{name}.report"
    pid = c.start_unit_process(f"sec-{name}", [os.path.join(c.build_dir, "bench/bigmem"), "768", report], user=user)
    c.wait_until(lambda: c.path_exists(report), timeout=120, what="the big process")
    return pid, report


def big_untouched(c, pid, report):
    """Not stopped, not traced, and it answers: bigmem writes its checksum on SIGUSR1."""
    status = c.read_file(f"/proc/{pid}/status")
    assert re.search(r"^State:\s+[RS]", status, re.M), status
    assert re.search(r"^TracerPid:\s+0$", status, re.M), status
    c.run(["kill", "-USR1", str(pid)])
    c.wait_until(lambda: "checksum" in c.read_file(report), timeout=60, what=f"process {pid} to answer")


def test_18_ctrl_c_cancels_a_dump(c):
    for user in (None, "alice"):
        name = f"cancel-{user or 'root'}"
        pid, report = big_process(c, name, user=user)
        rc, out, err = interrupted(c, 0.8, "dump", "process", str(pid), "--dir", CK, "--name", name,
                                   "--compression", "gzip", user=user)
        assert rc == 130, (user, rc, out, err)
        assert f"Cancelled; process {pid} keeps running, nothing was written." in err, err
        big_untouched(c, pid, report)
        assert not [f for f in c.run(["ls", "-A", CK]).stdout.split() if name in f]
        listing = json.loads(cedana(c, "checkpoint", "list", "--json", check=True).stdout)
        assert name not in [x["id"] for x in listing], listing
        c.wait_until(lambda: store_rows(c, f"select count(*) from checkpoints where id = '{name}'") == [[0]],
                     timeout=30, what="the dump's intent record to go")
        c.run(["kill", "-KILL", str(pid)])


def test_18_ctrl_c_cancels_a_restore(c):
    name = "cancel-restore"
    pid, report = big_process(c, name)
    cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", name, "--compression", "gzip",
           check=True)
    path = f"{CK}/{name}.tar.gz"
    before = c.run(["sha256sum", path]).stdout
    rc, out, err = interrupted(c, 0.5, "restore", "process", "--path", path, "--name", name)
    assert rc == 130, (rc, out, err)
    assert "Cancelled; nothing was restored and the checkpoint is unchanged." in err, err
    assert c.run(["sha256sum", path]).stdout == before
    jobs = json.loads(cedana(c, "job", "list", "--all", "--json", check=True).stdout)
    assert name not in [j["job"] for j in jobs], jobs
    # bigmem answers SIGUSR1 by rewriting its report: no restored copy of it runs
    assert c.run(["pgrep", "-f", f"bigmem 768 {report}"], check=False).stdout.strip() == ""
    c.wait_until(lambda: store_rows(c, "select count(*) from restores") == [[0]], timeout=30,
                 what="the restore's intent record to go")


def test_18_ctrl_c_cancels_a_restore_without_the_daemon(c):
    name = "cancel-noserver"
    pid, report = big_process(c, name)
    cedana(c, "dump", "process", str(pid), "--dir", CK, "--name", name, "--compression", "gzip", check=True)
    path = f"{CK}/{name}.tar.gz"
    before = c.run(["sha256sum", path]).stdout
    rc, out, err = interrupted(c, 0.5, "restore", "process", path, "--no-server")
    assert rc == 130, (rc, out, err)
    assert "Cancelled; nothing was restored and the checkpoint is unchanged." in err, err
    assert c.run(["sha256sum", path]).stdout == before
    assert c.run(["pgrep", "-f", f"bigmem 768 {report}"], check=False).stdout.strip() == ""


def test_18_cancel_of_another_users_dump_is_refused(c):
    pid, report = big_process(c, "long-alice", user="alice")
    c.start_unit_process("sec-long-dump", ["cedana", "dump", "process", str(pid), "--dir", CK, "--name",
                                           "long-alice", "--compression", "gzip"], user="alice")
    time.sleep(0.3)
    for user in ("mallory", "carol"):
        r = busctl(c, "Cancel", "s", "long-alice", user=user)
        assert r.returncode != 0 and "no dump or restore named long-alice" in r.stderr, (user, r.stderr)
        # named as hers: polkit says no
        r = busctl(c, "Cancel", "s", "alice/long-alice", user=user)
        assert r.returncode != 0 and "Access denied" in r.stderr, (user, r.stderr)
    c.wait_until(lambda: "long-alice" in [x["id"] for x in json.loads(
        cedana(c, "checkpoint", "list", "--json", user="alice", check=True).stdout)],
        timeout=120, what="alice's dump to complete")
    assert c.path_exists(f"{CK}/long-alice.tar.gz")
    # an administrator polkit lets manage any user's jobs may stop it, named USER/NAME
    pid, report = big_process(c, "long-alice2", user="alice")
    c.start_unit_process("sec-long-dump2", ["cedana", "dump", "process", str(pid), "--dir", CK, "--name",
                                            "long-alice2", "--compression", "gzip"], user="alice")
    c.wait_until(lambda: busctl(c, "Cancel", "s", "alice/long-alice2", user="dave").returncode == 0, timeout=30,
                 interval=0.05, what="dave to cancel alice's dump")
    c.wait_until(lambda: c.run(["systemctl", "is-active", "sec-long-dump2"], check=False).stdout.strip() != "active",
                 what="alice's cancelled dump to end")
    big_untouched(c, pid, report)
    assert not c.path_exists(f"{CK}/long-alice2.tar.gz")
    assert "long-alice2" not in [x["id"] for x in json.loads(
        cedana(c, "checkpoint", "list", "--json", user="alice", check=True).stdout)]
    c.run(["kill", "-KILL", str(pid)])
