# SPDX-License-Identifier: Apache-2.0
# Dump and restore of real processes through the daemon, in every format: each workload's
# state (memory, a pipe between two processes, threads, sockets) is checked after the restore.

import json
import os
import re
import time

from workloads import cedana, read_report, start

TIMEOUT = 300
FORMATS = {"none": "", "tar": ".tar", "gzip": ".tar.gz", "lz4": ".tar.lz4", "zlib": ".tar.zlib", "zstd": ".tar.zst"}
CKDIR = "/var/tmp/ck"


def dump(c, pid, name, fmt, *extra):
    r = cedana(c, "dump", "process", str(pid), "--name", name, "--compression", fmt, "--dir", CKDIR, "--json", *extra)
    out = json.loads(r.stdout)
    path = f"{CKDIR}/{name}{FORMATS[fmt]}"
    assert out["path"] == path, out
    assert out["size"] > 0, out
    return path


def gone(c, pid):
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=10, what=f"process {pid} to end after the dump")


def restore(c, path, job, *extra, streamed=True):
    r = cedana(c, "restore", "process", "--path", path, "--name", job, "--json", "--print-stats", *extra)
    out = json.loads(r.stdout)
    assert out["job"] == job, out
    # A checkpoint cedana wrote is restored in place: CRIU reads its page images from the stream,
    # all of them, straight from the archive or the directory, with no copy on disk. An archive
    # repacked by hand has no index of its entries: extracted first.
    stats = out["stats"]
    if streamed:
        assert stats["streamed_bytes"] >= stats["pages_restored"] * 4096 > 0, stats
    else:
        assert stats["streamed_bytes"] == 0, stats
    return out["pid"]


def finish(c, job):
    cedana(c, "job", "kill", job, "--signal", "KILL", check=False)
    c.wait_until(lambda: json.loads(cedana(c, "job", "inspect", job, "--json").stdout)["status"] != "running",
                 timeout=10, what=f"job {job} to stop")
    cedana(c, "job", "delete", job)


def setup(c):
    c.run(["mkdir", "-p", CKDIR])
    c.run(["systemctl", "start", "cedanad.socket"])


def check_counter(c, fmt):
    pid, report = start(c, f"counter-{fmt}", "counter")
    time.sleep(0.5)
    path = dump(c, pid, f"counter-{fmt}", fmt)
    gone(c, pid)
    at_dump = int(read_report(c, report)["count"])
    time.sleep(0.5)
    assert int(read_report(c, report)["count"]) == at_dump, "the counter moved after the dump"
    rpid = restore(c, path, f"counter-{fmt}")
    assert rpid == pid, f"restored as {rpid}, dumped as {pid}"
    c.wait_until(lambda: int(read_report(c, report)["count"]) > at_dump + 3, what="the counter to continue")
    now = int(read_report(c, report)["count"])
    assert now < at_dump + 60, f"counter jumped from {at_dump} to {now}: it did not continue, it restarted?"
    unit = c.run(["systemctl", "status", "--no-pager", f"cedana-0-counter-{fmt}.scope"]).stdout
    assert f"{pid} " in unit and "active (running)" in unit, unit
    finish(c, f"counter-{fmt}")


def check_pipe(c, fmt):
    pid, report = start(c, f"pipe-{fmt}", "pipe")
    time.sleep(0.5)
    path = dump(c, pid, f"pipe-{fmt}", fmt)
    gone(c, pid)
    before = read_report(c, report)
    restore(c, path, f"pipe-{fmt}")
    c.wait_until(lambda: int(read_report(c, report)["received"]) > int(before["received"]) + 10,
                 what="the pipe to keep streaming")
    after = read_report(c, report)
    assert after["errors"] == "0" and "eof" not in after, after
    assert after["child"] == before["child"], (before, after)
    finish(c, f"pipe-{fmt}")


def check_memory(c, fmt):
    pid, report = start(c, f"mem-{fmt}", "memory", "256", "4")
    before = read_report(c, report)
    path = dump(c, pid, f"mem-{fmt}", fmt)
    gone(c, pid)
    restore(c, path, f"mem-{fmt}")
    c.run(["kill", "-USR1", str(pid)])
    c.wait_until(lambda: read_report(c, report).get("rounds") == "1", what="a checksum of the restored memory")
    after = read_report(c, report)
    assert after["current"] == before["initial"], f"256 MiB checksum changed: {before['initial']} -> {after['current']}"
    assert after["threads"] == "4"
    ticks = int(after["ticks"])
    c.wait_until(lambda: int(read_report(c, report)["ticks"]) > ticks + 20, what="the 4 threads to run")
    finish(c, f"mem-{fmt}")


def tcp_ping(c, port):
    code = ("import socket; s=socket.create_connection(('127.0.0.1', %d), timeout=5); s.sendall(b'ping\\n'); "
            "print(s.recv(100).decode().strip())" % port)
    return c.run(["python3", "-c", code]).stdout.strip()


def check_tcp(c, fmt, port):
    pid, report = start(c, f"tcp-{fmt}", "tcp", str(port))
    assert tcp_ping(c, port) == "pong 1"
    time.sleep(0.5)
    path = dump(c, pid, f"tcp-{fmt}", fmt, "--tcp-established")
    gone(c, pid)
    before = read_report(c, report)
    restore(c, path, f"tcp-{fmt}", "--tcp-established")
    # the listening socket takes new connections ...
    assert tcp_ping(c, port) == "pong 1"
    # ... and the established connection carries on, in order, without a reset
    c.wait_until(lambda: int(read_report(c, report)["pongs"]) > int(before["pongs"]) + 5,
                 what="the established connection to keep answering")
    after = read_report(c, report)
    assert after["errors"] == "0" and "broken" not in after, after
    finish(c, f"tcp-{fmt}")


def _define(fmt, port):
    def t_counter(c):
        check_counter(c, fmt)

    def t_pipe(c):
        check_pipe(c, fmt)

    def t_memory(c):
        check_memory(c, fmt)

    def t_tcp(c):
        check_tcp(c, fmt, port)

    for kind, f in (("counter", t_counter), ("pipe", t_pipe), ("memory_256mib_4_threads", t_memory),
                    ("tcp_listen_and_established", t_tcp)):
        f.__name__ = f"test_{kind}_{fmt}"
        globals()[f.__name__] = f


for _i, _fmt in enumerate(FORMATS):
    _define(_fmt, 7100 + _i)


def test_restore_refuses_corrupt_and_truncated_archives(c):
    pid, report = start(c, "victim", "counter")
    path = dump(c, pid, "victim", "zstd", "--leave-running")
    assert c.path_exists(f"/proc/{pid}"), "--leave-running stopped the process"
    size = int(c.run(["stat", "-c", "%s", path]).stdout)
    # a truncated copy
    c.run(["sh", "-c", f"head -c {size // 2} {path} > {CKDIR}/trunc.tar.zst"])
    r = cedana(c, "restore", "process", "--path", f"{CKDIR}/trunc.tar.zst", check=False)
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert "truncated" in r.stderr, r.stderr
    # one flipped byte in the middle
    c.run(["cp", path, f"{CKDIR}/flip.tar.zst"])
    c.run(["python3", "-c", f"f=open('{CKDIR}/flip.tar.zst','r+b'); f.seek({size // 2}); b=f.read(1); f.seek({size // 2}); "
           "f.write(bytes([b[0]^0x40])); f.close()"])
    r = cedana(c, "restore", "process", "--path", f"{CKDIR}/flip.tar.zst", check=False)
    assert r.returncode == 7, (r.returncode, r.stderr)
    # not a checkpoint at all
    c.run(["sh", "-c", f"echo hello > {CKDIR}/text.tar.zst"])
    r = cedana(c, "restore", "process", "--path", f"{CKDIR}/text.tar.zst", check=False)
    assert r.returncode == 7 and "not a cedana checkpoint" in r.stderr, (r.returncode, r.stderr)
    # the running process was never touched
    assert c.path_exists(f"/proc/{pid}")
    c.run(["systemctl", "stop", "wl-victim"])


# Flips one byte in the middle of the archive's first page image, where cedana.json says that
# entry starts (its tar header; for "tar" the data follows the 512-byte header as is).
FLIP_PAGES = """
import json, subprocess, sys
path, fmt = sys.argv[1], sys.argv[2]
if fmt == "none":
    meta = json.load(open(path + "/cedana.json"))
else:
    meta = json.loads(subprocess.run(["tar", "-xOf", path, "cedana.json"], check=True, capture_output=True).stdout)
pages = sorted((f for f in meta["files"] if f["name"].startswith("pages-")), key=lambda f: -f["size"])[0]
if fmt == "none":
    path, off = path + "/" + pages["name"], pages["size"] // 2
else:
    off = pages["at"] + 512 + pages["size"] // 2 if fmt == "tar" else pages["at"] + 2048
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x10]))
print(pages["name"])
"""


def test_tampered_page_image_stops_a_streamed_restore_before_it_runs(c):
    # Page images reach CRIU before their digest is known: the tree CRIU built from a tampered
    # one is killed at pre-resume, before one instruction of it runs.
    for fmt in ("none", "tar", "zstd"):
        pid, report = start(c, f"tamper-{fmt}", "memory", "64", "2")
        path = dump(c, pid, f"tamper-{fmt}", fmt)
        gone(c, pid)
        ticks = read_report(c, report)["ticks"]
        name = c.run(["python3", "-c", FLIP_PAGES, path, fmt]).stdout.strip()
        r = cedana(c, "restore", "process", "--path", path, "--name", f"tamper-{fmt}", check=False)
        assert r.returncode == 7 and "corrupt" in r.stderr, (fmt, r.returncode, r.stderr)
        assert name in r.stderr or "archive" in r.stderr, (fmt, r.stderr)
        if fmt in ("none", "tar"):
            # read in full by CRIU, the mismatch known only then
            assert f"{name} does not match its SHA-256" in r.stderr and "killed before they ran" in r.stderr, r.stderr
        assert not c.path_exists(f"/proc/{pid}"), f"the tampered {fmt} restore left process {pid}"
        time.sleep(0.3)
        assert read_report(c, report)["ticks"] == ticks, "the tampered checkpoint ran"
        jobs = json.loads(cedana(c, "job", "list", "--json").stdout)
        assert not any(j["name"] == f"tamper-{fmt}" for j in jobs), jobs


def test_archives_repacked_with_standard_tools_restore(c):
    pid, report = start(c, "repack", "counter")
    path = dump(c, pid, "repack", "none")
    gone(c, pid)
    # what people type: the directory's content with tar's "./" names, cedana.json anywhere
    repacks = {"tar.gz": f"tar -C {path} -czf {CKDIR}/repack.tar.gz .",
               "tar.zst": f"tar -C {path} --zstd -cf {CKDIR}/repack.tar.zst .",
               "tar.lz4": f"tar -C {path} -cf - . | lz4 -q > {CKDIR}/repack.tar.lz4",
               "tar": f"tar -C {path} -cf {CKDIR}/repack.tar $(ls {path} | sort -r)"}
    for ext, cmd in repacks.items():
        c.run(["sh", "-c", cmd])
        job = f"repack-{ext.replace('.', '-')}"
        at = int(read_report(c, report)["count"])
        assert restore(c, f"{CKDIR}/repack.{ext}", job, streamed=False) == pid
        c.wait_until(lambda: int(read_report(c, report)["count"]) > at + 3, what=f"the counter of {job} to continue")
        finish(c, job)
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=10, what=f"{job} to end")
    # a checkpoint given as PATH is named so when it is missing
    r = cedana(c, "restore", "process", f"{CKDIR}/no-such.tar.gz", check=False)
    assert r.returncode == 5 and f"The checkpoint {CKDIR}/no-such.tar.gz does not exist." in r.stderr, r.stderr
    # the directory itself archived: refused with the way to do it right
    c.run(["tar", "-C", CKDIR, "-czf", f"{CKDIR}/wrapped.tar.gz", "repack"])
    r = cedana(c, "restore", "process", f"{CKDIR}/wrapped.tar.gz", check=False)
    assert r.returncode == 7 and "tar -C DIR -czf FILE ." in r.stderr, (r.returncode, r.stderr)


def test_no_server_restore_prints_stats(c):
    pid, report = start(c, "nsstats", "counter")
    path = dump(c, pid, "nsstats", "zstd")
    gone(c, pid)
    # it waits for what it restored, as a shell waits for its job: run it as a unit
    c.run(["rm", "-f", "/run/ns-stats.json"])
    c.run(["systemd-run", "--unit=ns-stats", "-p", "StandardOutput=file:/run/ns-stats.json", "--", "cedana", "restore",
           "process", path, "--no-server", "--print-stats", "--json"])
    try:
        c.wait_until(lambda: c.read_file("/run/ns-stats.json").strip().endswith("}"), what="the restore's JSON")
        text = c.read_file("/run/ns-stats.json")
        assert text.lstrip().startswith("{"), text
        out = json.loads(text)
        stats = out["stats"]
        assert out["pid"] == pid and stats["pages_restored"] > 0 and stats["read_bytes"] > 0, out
        assert 0 < stats["criu_usec"] <= stats["total_usec"], stats
        at = int(read_report(c, report)["count"])
        c.wait_until(lambda: int(read_report(c, report)["count"]) > at + 3, what="the restored counter to go on")
    finally:
        c.run(["systemctl", "stop", "ns-stats"], check=False)


def test_flipped_byte_in_directory_checkpoint_names_the_file(c):
    pid, report = start(c, "victim2", "counter")
    path = dump(c, pid, "victim2", "none", "--leave-running")
    pages = c.run(["sh", "-c", f"ls {path}/pages-*.img | head -1"]).stdout.strip()
    c.run(["python3", "-c", f"f=open('{pages}','r+b'); b=f.read(1); f.seek(0); f.write(bytes([b[0]^1])); f.close()"])
    r = cedana(c, "restore", "process", "--path", path, check=False)
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert os.path.basename(pages) in r.stderr and "corrupt" in r.stderr, r.stderr
    c.run(["systemctl", "stop", "wl-victim2"])


def test_failed_dump_leaves_process_running_and_nothing_behind(c):
    pid, report = start(c, "keep", "counter")
    c.run(["mkdir", "-p", "/var/tmp/full"])
    c.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", "/var/tmp/full"])
    try:
        r = cedana(c, "dump", "process", str(pid), "--dir", "/var/tmp/full", "--name", "nospace", check=False)
        assert r.returncode == 9, (r.returncode, r.stderr)
        # known before anything is written, with what it would take
        assert "No space left in /var/tmp/full for a checkpoint" in r.stderr and "it needs about" in r.stderr, r.stderr
        assert c.run(["ls", "-A", "/var/tmp/full"]).stdout.strip() == "", "the failed dump left files behind"
        # still running, not frozen: it keeps counting
        n = int(read_report(c, report)["count"])
        c.wait_until(lambda: int(read_report(c, report)["count"]) > n + 3, what="the process to keep running")
        state = c.run(["sh", "-c", f"grep State /proc/{pid}/status"]).stdout
        assert "T (stopped)" not in state and "t (tracing stop)" not in state, state
    finally:
        c.run(["umount", "/var/tmp/full"])
        c.run(["systemctl", "stop", "wl-keep"])


def test_dump_of_missing_process(c):
    r = cedana(c, "dump", "process", "999999", check=False)
    assert r.returncode == 5 and "999999" in r.stderr, (r.returncode, r.stderr)


def test_journal_has_structured_entries(c):
    log = c.journal(["CEDANA_CHECKPOINT=counter-zstd", "--no-pager", "-o", "cat"])
    assert "counter-zstd" in log, log


def test_shell_job_no_server_in_tmux(c):
    # In every format (archives stream into CRIU, which gets the terminal):
    c.run(["systemd-run", "--unit=tmux-srv", "-p", "Type=forking", "--", "tmux", "-L", "t", "new-session", "-d",
           "-s", "idle", "sleep 600"])
    try:
        for fmt in FORMATS:
            # a shell in a tmux pane, with state in a variable ...
            c.run(["tmux", "-L", "t", "new-session", "-d", "-s", f"one-{fmt}", "-x", "120", "-y", "20",
                   "bash --norc --noprofile"])
            c.run(["tmux", "-L", "t", "send-keys", "-t", f"one-{fmt}", "x=41; PS1='sh$ '", "Enter"])
            shell = c.run(["tmux", "-L", "t", "display-message", "-p", "-t", f"one-{fmt}", "#{pane_pid}"]).stdout.strip()
            time.sleep(0.5)
            path = dump(c, shell, f"shell-{fmt}", fmt, "--shell-job")
            # ... restored without the daemon into another pane, answers what we type.
            c.run(["tmux", "-L", "t", "new-session", "-d", "-s", f"two-{fmt}", "-x", "120", "-y", "20",
                   f"cedana restore process --no-server --shell-job --path {path}; sleep 30"])
            time.sleep(1)
            c.run(["tmux", "-L", "t", "send-keys", "-t", f"two-{fmt}", "echo answer=$((x+1))", "Enter"])
            c.wait_until(lambda: "answer=42" in c.run(["tmux", "-L", "t", "capture-pane", "-p", "-t", f"two-{fmt}"]).stdout,
                         timeout=15, what=f"the shell restored from {fmt} to answer")
            c.run(["tmux", "-L", "t", "kill-session", "-t", f"two-{fmt}"], check=False)
    finally:
        c.run(["tmux", "-L", "t", "kill-server"], check=False)


def check_inspect(out, pid, path, fmt, mib):
    assert out["path"] == path and out["pid"] == pid and out["type"] == "process", out
    assert out["uid"] == 0 and out["user"] == "root" and out["job"] is None, out
    assert out["compression"] == fmt and out["format"] == 3, out
    assert out["digest"].startswith("sha256:"), out["digest"]
    assert out["images"] and all(i["sha256"].startswith("sha256:") for i in out["images"]), out["images"]
    assert out["size"] == sum(i["size"] for i in out["images"]), out
    # the CRIU that wrote it, asked by cedanad before its first dump
    assert re.fullmatch(r"\d+\.\d+(\.\d+)*", out["criu_version"]) and out["options"]["leave_running"] is True, out
    procs = {p["pid"]: p for p in out["processes"]}
    assert list(procs) == [pid], procs.keys()
    root = procs[pid]
    assert root["threads"] == 3 and len(root["tids"]) == 3 and root["tids"][0] == pid, root
    assert root["command"] == "workload", root
    fds = root["fds"]
    assert {"fd": 3, "type": "file", "name": "/var/tmp/inspect-data.txt", "state": None} in fds, fds
    assert {"fd": 4, "type": "unix", "name": "/run/wl-inspect.sock", "state": "listening"} in fds, fds
    assert {"fd": 5, "type": "tcp", "name": "127.0.0.1:7190", "state": "listening"} in fds, fds
    assert out["memory"]["mapped"] >= mib << 20 and out["memory"]["dumped"] >= mib << 20, out["memory"]
    assert out["memory"]["dumped"] <= out["memory"]["mapped"], out["memory"]


def test_checkpoint_inspect_by_id_and_path(c):
    c.add_user("alice")
    pid, report = start(c, "inspect", "inspect", "/var/tmp/inspect-data.txt", "/run/wl-inspect.sock", "24", "3")
    fds = read_report(c, report)
    assert (fds["fd"], fds["socket"], fds["tcp"]) == ("3", "4", "5"), fds
    paths = {fmt: dump(c, pid, f"inspect-{fmt}", fmt, "--leave-running") for fmt in ("none", "zstd")}
    for fmt, path in paths.items():
        for arg in (f"inspect-{fmt}", path):
            out = json.loads(cedana(c, "checkpoint", "inspect", arg, "--json").stdout)
            assert out["id"] == f"inspect-{fmt}", out["id"]
            check_inspect(out, pid, path, fmt, 24)
    human = cedana(c, "checkpoint", "inspect", "inspect-zstd").stdout
    assert f"{pid} workload (3 threads," in human and "/run/wl-inspect.sock" in human, human
    assert "a zstd archive" in human and "Processes:" in human and "Open files:" in human, human
    pretty = cedana(c, "checkpoint", "inspect", paths["none"], "--json=pretty").stdout
    assert json.loads(pretty)["id"] == "inspect-none" and pretty.count("\n") > 20, pretty

    # Read with the caller's rights: root's checkpoints are not alice's to read, by path or ID.
    for path in paths.values():
        c.run(["chmod", "go-rwx", path])
        r = cedana(c, "checkpoint", "inspect", path, "--json", user="alice", check=False)
        assert r.returncode == 4 and "may not read" in r.stderr and r.stdout == "", (r.returncode, r.stderr)
    r = cedana(c, "checkpoint", "inspect", "inspect-zstd", user="alice", check=False)
    assert r.returncode == 5 and "no checkpoint" in r.stderr, (r.returncode, r.stderr)
    # Not a checkpoint; and the process was never stopped by any of this.
    r = cedana(c, "checkpoint", "inspect", "/etc/hostname", check=False)
    assert r.returncode == 7 and "not a cedana checkpoint" in r.stderr, (r.returncode, r.stderr)
    assert c.path_exists(f"/proc/{pid}")
    c.run(["systemctl", "stop", "wl-inspect"])


# Progress with bytes, and --print-stats, on a big process

def progress_signals(monitor_output, operation):
    """The (phase, done, total) of every Progress signal busctl monitor saw for operation."""
    seen = []
    for line in monitor_output.splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("member") == "Progress" and m["payload"]["data"][0] == operation:
            seen.append(tuple(m["payload"]["data"][1:]))
    return seen


def test_big_dump_progress_and_statistics(c):
    report = "/run/wl-big.report"
    c.run(["rm", "-f", report])
    pid = c.start_unit_process("wl-big", [os.path.join(c.build_dir, "bench/bigmem"), "768", report])
    c.wait_until(lambda: read_report(c, report).get("ready"), timeout=120, what="the big process")
    # Progress is unicast to the caller; a monitor sees it all the same.
    c.run("busctl monitor --json=short org.cedana.Checkpoint1 >/run/progress.mon 2>/dev/null & "
          "echo $! >/run/progress.pid")
    time.sleep(1)
    r = cedana(c, "dump", "process", str(pid), "--name", "big-zstd", "--compression", "zstd", "--dir", CKDIR,
               "--json", "--print-stats")
    time.sleep(1)
    c.run("kill $(cat /run/progress.pid)")
    gone(c, pid)

    out = json.loads(r.stdout)
    st = out["stats"]
    assert st["written_bytes"] == out["size"] > 0, st
    assert st["image_bytes"] >= 768 << 20, st
    assert 0 < st["compression_ratio"] < 1, st
    assert st["pages_written"] >= (768 << 20) // 4096 and st["pages_scanned"] >= st["pages_written"], st
    for key in ("total_usec", "freezing_usec", "frozen_usec", "memdump_usec", "memwrite_usec", "criu_usec",
                "commit_usec"):
        assert st[key] > 0, (key, st)
    assert st["total_usec"] >= st["criu_usec"] >= st["frozen_usec"] >= st["memdump_usec"], st

    seen = progress_signals(c.read_file("/run/progress.mon"), "big-zstd")
    counted = [(phase, done, total) for phase, done, total in seen if done > 0]
    assert len(counted) >= 3, seen
    assert [d for _, d, _ in counted] == sorted(d for _, d, _ in counted), seen
    assert counted[-1][1] > counted[0][1], seen
    assert all(total >= done > 0 for _, done, total in counted), seen
    assert max(total for _, _, total in counted) >= 700 << 20, seen
    # at most ten a second, and one per phase beyond that
    assert len(seen) <= st["total_usec"] / 100000 + 8, (len(seen), st["total_usec"])

    lines = [json.loads(l) for l in c.journal(["CEDANA_CHECKPOINT=big-zstd", "-o", "json"]).splitlines()]
    written = [l for l in lines if "CEDANA_FROZEN_USEC" in l]
    assert written, lines
    assert int(written[-1]["CEDANA_FROZEN_USEC"]) == st["frozen_usec"], written[-1]
    assert int(written[-1]["CEDANA_WRITTEN_BYTES"]) == out["size"], written[-1]

    # and back, with the table for people
    r = cedana(c, "restore", "process", "--path", out["path"], "--name", "big", "--print-stats")
    assert "Restored" in r.stdout and "Statistics:" in r.stdout, r.stdout
    fields = dict(l.strip().split(": ", 1) for l in r.stdout.splitlines()[2:] if ": " in l)
    for label in ("Total time", "Restoring", "Preparing", "CRIU", "Images", "Read"):
        assert label in fields, (label, r.stdout)
    finish(c, "big")
