# SPDX-License-Identifier: Apache-2.0
# Checkpoints on a real S3 server (Ceph RGW in the test container) through the real cedanad:
# `--dir s3://...` dumps and `--path s3://...` restores, in every format, with the restored
# process's state checked; each user confined to their own prefix; failures (wrong credentials,
# a store that is down, a missing bucket) with one sentence, a distinct exit code, the process
# running and nothing left on the store; and the secret key never in the journal.

import contextlib
import json
import time

import faultproxy
import rgw
import workloads
from workloads import cedana, fails, read_report

TIMEOUT = 240
BUCKET = "checkpoints"
FORMATS = {"none": ".tar", "tar": ".tar", "gzip": ".tar.gz", "lz4": ".tar.lz4", "zlib": ".tar.zlib", "zstd": ".tar.zst"}
CONF = "/etc/cedana/cedana.conf.d/50-s3.conf"
CREDS = "/etc/cedana/s3-credentials"
S3 = None
PROXY = None


def configure(c, endpoint, secret=None):
    c.write_file(CONF, f"[S3]\nEndpoint={endpoint}\nRegion={S3.region}\n")
    c.write_file(CREDS, f"AccessKeyId={S3.access_key}\nSecretAccessKey={secret or S3.secret_key}\n", mode=0o600)
    # cedanad reads its configuration when it starts.
    c.run(["systemctl", "stop", "cedanad.service"])


def setup(c):
    global S3, PROXY
    S3 = rgw.RGW().start(c)
    PROXY = faultproxy.FaultProxy(S3).start(c)
    S3.make_bucket(BUCKET)
    c.add_user("alice")
    c.run(["systemctl", "start", "cedanad.socket"])
    configure(c, S3.endpoint)


def start(c, name, *args, user=None):
    # /tmp: alice's workload writes its report too.
    return workloads.start(c, name, *args, user=user, report_dir="/tmp")


def keys(prefix=""):
    return [o["Key"] for o in S3.list_objects(BUCKET, prefix=prefix)]


@contextlib.contextmanager
def through_proxy(c):
    """cedanad reaches the store through the fault proxy, whose rules are cleared afterwards."""
    configure(c, PROXY.endpoint)
    try:
        yield
    finally:
        PROXY.clear()
        configure(c, S3.endpoint)


def assert_memory_restored(c, pid, report, before):
    """The restored workload's memory has the checksum it had when it was dumped."""
    c.run(["kill", "-USR1", str(pid)])
    c.wait_until(lambda: read_report(c, report).get("rounds") == "1", what="a checksum of the restored memory")
    assert read_report(c, report)["current"] == before["initial"]


def check_round_trip(c, fmt):
    name = f"count-{fmt}"
    pid, report = start(c, name, "counter")
    time.sleep(0.3)
    out = json.loads(cedana(c, "dump", "process", str(pid), "--dir", f"s3://{BUCKET}/hosts/a", "--name", name,
                            "--compression", fmt, "--json").stdout)
    url = f"s3://{BUCKET}/hosts/a/{name}{FORMATS[fmt]}"
    assert out["path"] == url, out
    c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=10, what="the dumped process to end")
    at_dump = int(read_report(c, report)["count"])
    assert f"hosts/a/{name}{FORMATS[fmt]}" in keys("hosts/a/")
    assert not S3.list_multipart_uploads(BUCKET)
    listed = {x["id"]: x for x in json.loads(cedana(c, "checkpoint", "list", "--json").stdout)}
    assert listed[name]["path"] == url and listed[name]["status"] == "remote", listed[name]
    # Not on the local disk is not "missing": prune leaves it.
    cedana(c, "checkpoint", "prune")
    assert name in [x["id"] for x in json.loads(cedana(c, "checkpoint", "list", "--json").stdout)]
    # Nothing of it stayed on the local disk: cedanad's scratch directory is gone.
    assert not [d for d in c.run(["ls", "-A", "/var/lib/cedana"]).stdout.split() if d.startswith("staging-")]
    out = json.loads(cedana(c, "restore", "process", "--path", url, "--name", name, "--json", "--print-stats").stdout)
    assert out["pid"] == pid, out
    # Restored as it streamed from the store: every page image went into CRIU from the object.
    stats = out["stats"]
    assert stats["streamed_bytes"] >= stats["pages_restored"] * 4096 > 0, stats
    c.wait_until(lambda: int(read_report(c, report)["count"]) > at_dump + 3, what="the restored counter")
    assert int(read_report(c, report)["count"]) < at_dump + 40
    cedana(c, "job", "kill", name, "--signal", "KILL")
    c.wait_until(lambda: json.loads(cedana(c, "job", "inspect", name, "--json").stdout)["status"] != "running",
                 what="the job to end")
    cedana(c, "job", "delete", name)
    # Deleting the checkpoint removes the object.
    cedana(c, "checkpoint", "delete", name)
    assert f"hosts/a/{name}{FORMATS[fmt]}" not in keys("hosts/a/")


def _define(fmt):
    def t(c):
        check_round_trip(c, fmt)
    t.__name__ = f"test_round_trip_{fmt}"
    globals()[t.__name__] = t


for _fmt in FORMATS:
    _define(_fmt)


def test_memory_of_a_job_through_the_store(c):
    pid, report = start(c, "mem", "memory", "128", "2")
    cedana(c, "manage", "process", str(pid), "--name", "mem")
    before = read_report(c, report)
    cedana(c, "dump", "job", "mem", "--dir", f"s3://{BUCKET}/jobs", "--compression", "lz4")
    assert json.loads(cedana(c, "job", "inspect", "mem", "--json").stdout)["status"] == "halted"
    # restore job finds its latest checkpoint on the store.
    rpid = json.loads(cedana(c, "restore", "job", "mem", "--json").stdout)["pid"]
    assert_memory_restored(c, rpid, report, before)
    cedana(c, "job", "kill", "mem", "--signal", "KILL")
    c.wait_until(lambda: json.loads(cedana(c, "job", "inspect", "mem", "--json").stdout)["status"] != "running",
                 what="the job to end")
    cedana(c, "job", "delete", "mem", "--with-checkpoints")
    assert not keys("jobs/")


def test_a_schedule_on_the_store_keeps_its_newest_object(c):
    uid = c.user_info("alice")[1]
    cedana(c, "run", "process", "--name", "tick", "--", "sh", "-c", "while :; do sleep 0.1; done", user="alice")
    # Checked when set: hers below her prefix only.
    fails(c, ["job", "schedule", "tick", "--every", "1h", "--dir", f"s3://{BUCKET}/hosts/a"], 4,
          f"go below s3://{BUCKET}/users/{uid}/", user="alice")
    cedana(c, "job", "schedule", "tick", "--every", "1h", "--keep", "1", "--compression", "zstd",
           "--dir", f"s3://{BUCKET}/users/{uid}/sched", user="alice")
    paths = [json.loads(cedana(c, "job", "schedule", "tick", "--now", "--json", user="alice").stdout)["path"]
             for _ in range(3)]
    assert all(p.startswith(f"s3://{BUCKET}/users/{uid}/sched/dump-job-tick-") for p in paths), paths
    # The older objects are deleted once a newer one is complete.
    c.wait_until(lambda: keys(f"users/{uid}/sched/") == [paths[-1][len(f"s3://{BUCKET}/"):]],
                 what="the schedule to keep only its newest object")
    listed = json.loads(cedana(c, "job", "list", "--json", user="alice").stdout)
    tick = next(j for j in listed if j["job"] == "tick")
    assert tick["status"] == "running" and tick["schedule"]["last_result"] == "success", tick
    cedana(c, "job", "kill", "tick", "--signal", "KILL", user="alice")
    c.wait_until(lambda: json.loads(cedana(c, "job", "inspect", "tick", "--json", user="alice").stdout)["status"]
                 != "running", what="the job to end")
    cedana(c, "job", "delete", "tick", "--with-checkpoints", user="alice")
    assert not keys(f"users/{uid}/sched/")


def test_each_user_only_below_their_prefix(c):
    uid = c.user_info("alice")[1]
    pid, report = start(c, "alice", "counter", user="alice")
    fails(c, ["dump", "process", str(pid), "--dir", f"s3://{BUCKET}/hosts/a"], 4,
          f"Your checkpoints on the object store go below s3://{BUCKET}/users/{uid}/", user="alice")
    fails(c, ["restore", "process", "--path", f"s3://{BUCKET}/hosts/a/x.tar"], 4,
          f"go below s3://{BUCKET}/users/{uid}/", user="alice")
    assert c.path_exists(f"/proc/{pid}")
    out = json.loads(cedana(c, "dump", "process", str(pid), "--dir", f"s3://{BUCKET}/users/{uid}", "--name", "mine",
                            "--compression", "zstd", "--leave-running", "--json", user="alice").stdout)
    assert out["path"] == f"s3://{BUCKET}/users/{uid}/mine.tar.zst"
    assert S3.call("head_object", Bucket=BUCKET, Key=f"users/{uid}/mine.tar.zst")["Metadata"]["cedana-uid"] == str(uid)
    cedana(c, "checkpoint", "delete", "mine", user="alice")
    c.run(["kill", "-KILL", str(pid)])


def test_failures_leave_the_process_running_and_nothing_behind(c):
    pid, report = start(c, "victim", "memory", "64", "1")

    def untouched():
        assert c.path_exists(f"/proc/{pid}")
        status = c.read_file(f"/proc/{pid}/status")
        assert "TracerPid:\t0" in status, status
        assert not keys("fail/") and not S3.list_multipart_uploads(BUCKET)

    fails(c, ["dump", "process", str(pid), "--dir", "s3://nosuchbucket/x"], 5, "nosuchbucket")
    untouched()
    # Wrong credentials: refused before anything is frozen.
    configure(c, S3.endpoint, secret="not-the-secret-key-at-all")
    fails(c, ["dump", "process", str(pid), "--dir", f"s3://{BUCKET}/fail"], 4, "refused cedana's credentials")
    untouched()
    # A store that stops answering 503 within the upload: retried, then given up on, aborted.
    configure(c, PROXY.endpoint)
    PROXY.fail(1000, match="PUT ")
    r = fails(c, ["dump", "process", str(pid), "--dir", f"s3://{BUCKET}/fail", "--compression", "zstd"], 16, "")
    PROXY.clear()
    untouched()
    # Down altogether.
    configure(c, "http://127.0.0.1:9")
    fails(c, ["dump", "process", str(pid), "--dir", f"s3://{BUCKET}/fail"], 16, "Cannot reach the object store")
    untouched()
    configure(c, S3.endpoint)
    # Not configured: said so.
    c.run(["rm", "-f", CONF])
    c.run(["systemctl", "stop", "cedanad.service"])
    fails(c, ["dump", "process", str(pid), "--dir", f"s3://{BUCKET}/fail"], 10, "no object store")
    configure(c, S3.endpoint)
    # The secret never reached the journal.
    journal = c.run(["journalctl", "-o", "cat", "--no-pager"]).stdout
    assert S3.secret_key not in journal and "not-the-secret-key-at-all" not in journal
    assert r.stderr.count(S3.secret_key) == 0
    c.run(["kill", "-KILL", str(pid)])


def test_a_connection_cut_mid_upload_is_retried(c):
    with through_proxy(c):
        pid, report = start(c, "cut", "memory", "48", "1")
        before = read_report(c, report)
        # The first request with a body over 1 MiB (a part of the upload) is cut after 1 MiB.
        PROXY.reset()
        PROXY.cut(after=1 << 20, match="^PUT ")
        out = json.loads(cedana(c, "dump", "process", str(pid), "--dir", f"s3://{BUCKET}/cut", "--name", "cut",
                                "--compression", "tar", "--json").stdout)
        assert PROXY.stats()["counts"]["cut"] == 1, PROXY.stats()
        assert not S3.list_multipart_uploads(BUCKET)
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=10, what="the dumped process to end")
        cedana(c, "restore", "process", "--path", out["path"], "--name", "cut")
        assert_memory_restored(c, pid, report, before)
        cedana(c, "job", "kill", "cut", "--signal", "KILL")


def test_a_download_cut_mid_restore_resumes(c):
    with through_proxy(c):
        pid, report = start(c, "dlcut", "memory", "48", "1")
        before = read_report(c, report)
        # zstd: the page image's frames come in one GET and are decoded side by side.
        out = json.loads(cedana(c, "dump", "process", str(pid), "--dir", f"s3://{BUCKET}/dlcut", "--name", "dlcut",
                                "--compression", "zstd", "--json").stdout)
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=10, what="the dumped process to end")
        # The page image's GET (the one big answer) dies after 4 MiB: asked again from there, of
        # the same object (If-Match), and the restore goes on.
        PROXY.reset()
        PROXY.cut_response(after=4 << 20, match="^GET ")
        cedana(c, "restore", "process", "--path", out["path"], "--name", "dlcut")
        assert PROXY.stats()["counts"]["cutresp"] == 1, PROXY.stats()
        assert_memory_restored(c, pid, report, before)
        cedana(c, "job", "kill", "dlcut", "--signal", "KILL")
        c.wait_until(lambda: not c.path_exists(f"/proc/{pid}"), timeout=10, what="the restored process to end")
        cedana(c, "job", "delete", "dlcut")
        # A store that keeps failing the page image: one sentence, exit 16, nothing runs.
        PROXY.fail(1000, match="^GET ")
        r = fails(c, ["restore", "process", "--path", out["path"], "--name", "dlcut2"], 16, "")
        assert "object store" in r.stderr, r.stderr
        assert not c.path_exists(f"/proc/{pid}")


def test_a_dump_killed_mid_upload_leaves_no_parts(c):
    with through_proxy(c):
        pid, report = start(c, "orphan", "memory", "96", "1")
        # Parts sent while CRIU writes wait in the proxy: the upload is under way when cedanad
        # (and with it its worker and CRIU) is killed.
        PROXY.reset()
        PROXY.delay(30, count=1000, match="partNumber=")
        main = c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad.service"]).stdout.strip()
        if main == "0":
            cedana(c, "daemon", "status")
            main = c.run(["systemctl", "show", "-p", "MainPID", "--value", "cedanad.service"]).stdout.strip()
        c.run(["sh", "-c", f"cedana dump process {pid} --dir s3://{BUCKET}/orphan --compression tar "
                           "> /run/orphan.txt 2>&1 & echo $! > /run/orphan.pid"])
        c.wait_until(lambda: S3.list_multipart_uploads(BUCKET), timeout=60, what="an upload to begin while CRIU writes")
        c.run(["kill", "-KILL", main])
        PROXY.clear()
        c.wait_until(lambda: c.run(["sh", "-c", "kill -0 $(cat /run/orphan.pid)"], check=False).returncode != 0,
                     timeout=60, what="the interrupted dump command to end")
        # The next start finds the dump's intent and aborts what it had begun on the store.
        c.run(["systemctl", "reset-failed", "cedanad.service", "cedanad.socket"], check=False)
        cedana(c, "daemon", "status")
        c.wait_until(lambda: not S3.list_multipart_uploads(BUCKET), timeout=30, what="the unfinished upload to go")
        assert not keys("orphan/")
        # The process was never stopped by the dump that died.
        status = c.read_file(f"/proc/{pid}/status")
        assert "TracerPid:\t0" in status, status
        c.run(["kill", "-KILL", str(pid)])
