# SPDX-License-Identifier: Apache-2.0
# A job moves between two hosts through the object store: two throwaway systemd containers, each
# with its own cedanad and its own network namespace, joined by a veth pair the test makes
# (10.77.0.1 and 10.77.0.2; nothing else is on it), and a real RGW on the first that both reach.
# Each host's loopback is its own: the job's listener and connection move to the second's. The job (a counter, 256 MiB of
# memory with a checksum, a TCP listener and an established connection) is dumped on the first
# host to S3 and restored on the second, where it goes on. So is a containerd container, each
# host with its own containerd holding the same image.

import contextlib
import json
import os
import subprocess

import cedana_container as cc
import ctrd
import oci
import rgw
from workloads import cedana, workload
from workloads import read_report as report

TIMEOUT = 300
BUCKET = "migration"


def host(c, netns):
    h = cc.Container(binds_ro=[c.source_dir, c.build_dir, c.stage_dir], network_namespace=netns)
    h.start()
    h.source_dir, h.build_dir, h.stage_dir = c.source_dir, c.build_dir, c.stage_dir
    h.install(c.stage_dir)
    h.run(["systemctl", "start", "cedanad.socket"])
    return h


def configure(h, s3):
    h.write_file("/etc/cedana/cedana.conf.d/50-s3.conf", f"[S3]\nEndpoint={s3.endpoint}\nRegion={s3.region}\n")
    h.write_file("/etc/cedana/s3-credentials", f"AccessKeyId={s3.access_key}\nSecretAccessKey={s3.secret_key}\n",
                 mode=0o600)


def ping(h, port):
    code = ("import socket; s=socket.create_connection(('127.0.0.1', %d), timeout=5); s.sendall(b'ping\\n'); "
            "print(s.recv(100).decode().strip())" % port)
    return h.run(["python3", "-c", code]).stdout.strip()


def network(names):
    """Two network namespaces and a veth pair between them: host a 10.77.0.1, host b 10.77.0.2."""
    a, b = names
    for n in names:
        subprocess.run(["ip", "netns", "add", n], check=True)
        subprocess.run(["ip", "-n", n, "link", "set", "lo", "up"], check=True)
    # Named in our namespace only for a moment: short, and unique per run.
    va, vb = f"cva{os.getpid() % 10**7}", f"cvb{os.getpid() % 10**7}"
    subprocess.run(["ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b], check=True)
    for n, v, addr in ((a, va, "10.77.0.1/24"), (b, vb, "10.77.0.2/24")):
        subprocess.run(["ip", "-n", n, "addr", "add", addr, "dev", v], check=True)
        subprocess.run(["ip", "-n", n, "link", "set", v, "up"], check=True)


@contextlib.contextmanager
def two_hosts(c):
    """Hosts a and b on their veth pair, and the store on a, which both reach at 10.77.0.1."""
    names = (f"cedana-mig-a-{os.getpid()}", f"cedana-mig-b-{os.getpid()}")
    hosts = []
    s3 = None
    try:
        network(names)
        a = host(c, f"/run/netns/{names[0]}")
        hosts.append(a)
        b = host(c, f"/run/netns/{names[1]}")
        hosts.append(b)
        # The second host reaches the store over the pair, not over its own loopback.
        s3 = rgw.RGW(http_addr="10.77.0.1").start(a)
        s3.make_bucket(BUCKET)
        for h in (a, b):
            configure(h, s3)
        yield a, b
    finally:
        if s3 is not None:
            s3.stop()
        for h in hosts:
            h.shutdown()
        for n in names:
            # The pair goes with the namespaces.
            subprocess.run(["ip", "netns", "delete", n], check=False)


def test_a_job_moves_to_another_host_through_the_store(c):
    with two_hosts(c) as (a, b):

        wl = workload(c)
        cedana(a, "run", "process", "--name", "mig", "--", "sh", "-c",
               f"{wl} /tmp/mem.report memory 256 2 & exec {wl} /tmp/tcp.report tcp 7400")
        a.wait_until(lambda: report(a, "/tmp/mem.report").get("initial") and "pongs" in report(a, "/tmp/tcp.report"),
                     timeout=60, what="the job to start")
        before = report(a, "/tmp/mem.report")
        assert ping(a, 7400) == "pong 1"
        out = json.loads(cedana(a, "dump", "job", "mig", "--dir", f"s3://{BUCKET}/host-a", "--compression", "zstd",
                                "--tcp-established", "--json").stdout)
        url = out["path"]
        assert url.startswith(f"s3://{BUCKET}/host-a/dump-job-mig-"), out
        assert json.loads(cedana(a, "job", "inspect", "mig", "--json").stdout)["status"] == "halted"
        pongs = int(report(a, "/tmp/tcp.report")["pongs"])

        # The second host knows nothing of the job: the object is all it gets.
        out = json.loads(cedana(b, "restore", "process", "--path", url, "--name", "mig", "--tcp-established",
                                "--json").stdout)
        jobs = {j["job"]: j for j in json.loads(cedana(b, "job", "list", "--json").stdout)}
        assert jobs["mig"]["status"] == "running" and jobs["mig"]["pid"] == out["pid"], jobs
        procs = b.run(["pgrep", "-f", "/tmp/mem.report memory"]).stdout.split()
        assert procs, "the memory workload is not on the second host"
        b.run(["kill", "-USR1", procs[0]])
        b.wait_until(lambda: report(b, "/tmp/mem.report").get("rounds") == "1", what="a checksum on the second host")
        after = report(b, "/tmp/mem.report")
        assert after["current"] == before["initial"], (before, after)
        ticks = int(after["ticks"])
        b.wait_until(lambda: int(report(b, "/tmp/mem.report")["ticks"]) > ticks + 20, what="the threads to run")
        # The established connection carries on where it was, and the listener answers.
        b.wait_until(lambda: int(report(b, "/tmp/tcp.report").get("pongs", 0)) > pongs + 5,
                     what="the established connection to go on")
        assert report(b, "/tmp/tcp.report")["errors"] == "0"
        assert ping(b, 7400) == "pong 1"
        cedana(b, "job", "kill", "mig", "--signal", "KILL")


def test_a_containerd_container_moves_to_another_host_through_the_store(c):
    with two_hosts(c) as (a, b):
        # The same image on both hosts: exported from the first, imported on the second.
        for h in (a, b):
            ctrd.start(h)
        ctrd.image(a)
        ctrd.ctr(a, "image", "export", "/var/tmp/image.tar", ctrd.IMAGE)
        b.write_file("/var/tmp/image.tar", a.read_file("/var/tmp/image.tar", binary=True))
        ctrd.ctr(b, "image", "import", "/var/tmp/image.tar")
        ctrd.run(a, "web", "echo moved > /data/kept; " + oci.COUNTER_SH)
        a.wait_until(lambda: ctrd.count(a, "web") >= 5, what="the container to count")
        out = json.loads(cedana(a, "dump", "containerd", "web", "--dir", f"s3://{BUCKET}/host-a", "--compression",
                                "zstd", "--json").stdout)
        url = out["path"]
        assert url.startswith(f"s3://{BUCKET}/host-a/dump-containerd-web-"), out
        assert "web" not in ctrd.containers(a)

        out = json.loads(cedana(b, "restore", "containerd", "--path", url, "--json").stdout)
        assert ctrd.tasks(b)["web"] == {"pid": out["pid"], "status": "RUNNING"}, ctrd.tasks(b)
        assert ctrd.read_file(b, "web", "data/kept").strip() == "moved"
        at = ctrd.count(b, "web")
        assert at >= 5, at
        b.wait_until(lambda: ctrd.count(b, "web") > at + 3, what="the container to count on the second host")
        ctrd.kill(b, "web")
