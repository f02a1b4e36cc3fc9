# SPDX-License-Identifier: Apache-2.0
# A real S3 server for the integration tests: a single-node Ceph RGW (one mon, one OSD on
# memstore, radosgw), run inside the throwaway systemd container (cedana_container.Container).
"""A real S3 endpoint (Ceph RGW) inside the test container.

    import rgw
    s3 = rgw.RGW().start(c)            # ~1-2 s; or: with rgw.RGW(c) as s3: ...
    s3.make_bucket("ck")
    s3.put_object("ck", "a/b", b"data")         # or path="/file/inside/the/container"
    assert s3.get_object("ck", "a/b") == b"data"
    [o["Key"] for o in s3.list_objects("ck", prefix="a/")]
    s3.call("list_objects_v2", Bucket="ck")     # any boto3 S3 client method
    s3.boto3("print(s3.list_buckets()['Buckets'])")  # any code; `s3` is the client
    s3.stop()

Why inside the test container: cedanad runs there, under the container's systemd, in the
container's own network namespace (nspawn --private-network). RGW on the container's
127.0.0.1 is reachable by cedanad and by anything a test runs with c.run, needs no veth pair,
bridge or host port, cannot collide with another container's, and everything it has (its
processes, its state directory on the container's tmpfs) goes away with the container even
if a test dies half-way. The host cannot reach it directly: the helpers below run boto3
(Debian's, /usr/bin/python3) inside the container with c.run.

The daemons run as transient units of the container's systemd (cedana-test-rgw-<name>-mon,
-osd, -gw: proper cgroups, ordered stop, a stop timeout). Settings and their reasons:
/work/shared/ENVIRONMENT.md, "A real S3 server for tests: Ceph RGW, single node". In short:
auth none plus crc messenger modes (radosgw never starts otherwise), fast paxos (the first
start would take ~13 s), msgr v2 on 127.0.0.1 only, pools of size 1, memstore (RAM: about
twice the bytes stored; deleted data stays until gc()). Admin sockets are AF_UNIX (a 108-byte
path limit), so the state directory is short: /run/rgw.XXXXXX inside the container.
Nothing reads /etc/ceph: every command gets -c <state>/ceph.conf.

Faults: faultproxy.py is an HTTP-aware TCP proxy to put in front of RGW (503 answers,
connections cut after K bytes of a request body, delays), controlled through a unix socket:

    p = faultproxy.FaultProxy(upstream=s3).start(c)   # p.endpoint: give this to cedana
    p.fail(2)            # the next 2 requests are answered 503 SlowDown
    p.cut(after=65536)   # the next request with a body > 64 KiB is cut after 64 KiB
"""

import base64
import json
import time
import uuid

import cedana_container as cc

PYTHON = "/usr/bin/python3"     # Debian's, with python3-boto3 (not whatever PATH finds first)
ACCESS_KEY = "CEDANATESTACCESSKEY0"
SECRET_KEY = "cedana-test-secret-key-0123456789abcdefgh"
REGION = "us-east-1"
UNIT_PREFIX = "cedana-test-rgw"

_CONF = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
# Every messenger (the OSD's cluster and heartbeat ones too) on 127.0.0.1 only.
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
# No cephx: radosgw loops on "get_initial_auth_request returned -13" unless the messenger
# modes are crc too.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms bind msgr1 = false
ms bind msgr2 = true
ms bind port min = {osd_port_min}
ms bind port max = {osd_port_max}
run dir = {dir}/run
admin socket = {dir}/run/$name.asok
log file = {dir}/log/$name.log
crash dir = {dir}/crash
mon data = {dir}/mon
osd data = {dir}/osd
# A client that cannot reach the mon gives up instead of waiting 300 s.
client mount timeout = 30
# One OSD: pools of size 1, placement across OSDs (not hosts).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# The mon must not shut itself down because the container's tmpfs looks full.
mon data avail crit = 0
mon data avail warn = 0
# Every osdmap change waits for these: defaults (1 s, 0.05 s) make the first start ~13 s.
paxos propose interval = 0.01
paxos min wait = 0.01
osd objectstore = {objectstore}
memstore device bytes = {memstore_bytes}
bluestore block create = true
bluestore block size = {memstore_bytes}
# A 2-core test machine: fewer OSD op threads.
osd op num shards = 2
osd op num threads per shard = 2

[client.{gw}]
rgw frontends = beast endpoint={http_addr}:{port}
rgw data = {dir}/rgw
rgw thread pool size = 32
rgw dynamic resharding = false
"""

# Runs inside the container: one boto3 S3 client call, or a piece of code, with the
# request as JSON on stdin (argv is limited to 128 KiB an argument). A ClientError becomes
# {"error": {...}} and status 3.
_RUNNER = r"""
import base64, json, sys
import boto3, botocore.config
from botocore.exceptions import ClientError
req = json.loads(sys.stdin.buffer.read())
s3 = boto3.client(
    "s3", endpoint_url=req["endpoint"], region_name=req["region"],
    aws_access_key_id=req["access_key"], aws_secret_access_key=req["secret_key"],
    config=botocore.config.Config(
        signature_version="s3v4", s3={"addressing_style": "path"},
        retries={"total_max_attempts": req["attempts"], "mode": "standard"},
        connect_timeout=10, read_timeout=req["read_timeout"]))

def fail(e):
    r = e.response
    print(json.dumps({"error": {"Code": r.get("Error", {}).get("Code"),
                                "Message": r.get("Error", {}).get("Message"),
                                "HTTPStatusCode": r.get("ResponseMetadata", {}).get("HTTPStatusCode")}}))
    sys.exit(3)

try:
    if "code" in req:
        exec(compile(req["code"], "<rgw.boto3>", "exec"), {"s3": s3, "req": req, "json": json,
                                                         "sys": sys, "ClientError": ClientError})
    else:
        params = req["params"]
        for k in list(params):
            if k.endswith("@file"):
                params[k[:-5]] = open(params.pop(k), "rb")
            elif k.endswith("@b64"):
                params[k[:-4]] = base64.b64decode(params.pop(k))
        r = getattr(s3, req["op"])(**params)
        body = r.pop("Body", None) if isinstance(r, dict) else None
        if req.get("raw"):
            sys.stdout.buffer.write(body.read())
        else:
            if body is not None:
                r["Body@b64"] = base64.b64encode(body.read()).decode()
            print(json.dumps(r, default=str))
except ClientError as e:
    fail(e)
"""



def make_random_file(c, path, size, seed):
    """A file of size pseudo-random bytes (the same for the same seed) inside container c;
    returns its (sha256, md5) in hex."""
    code = ("import hashlib, random\n"
            f"data = random.Random({seed}).randbytes({size})\n"
            f"open({path!r}, 'wb').write(data)\n"
            "print(hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest())\n")
    sha, md5 = c.run([PYTHON, "-c", code]).stdout.split()
    return sha, md5

class RGWError(cc.ContainerError):
    """RGW did not start, or did not stop cleanly."""


class S3Error(cc.ContainerError):
    """An S3 request got an error answer (code: e.g. NoSuchKey; status: the HTTP status)."""

    def __init__(self, code, status, message, op):
        self.code, self.status, self.message, self.op = code, status, message, op
        super().__init__(f"{op}: {status} {code}: {message}")


class RGW:
    """A single-node Ceph RGW inside the test container c (see the module's docstring).

    port: RGW's HTTP port, on the container's 127.0.0.1 or on http_addr (an address of a
    network the test made, for clients in other containers); mon_port and osd_ports: the
    messenger's (all inside the container's own network namespace: the defaults cannot
    collide with another container's). objectstore: "memstore" (RAM) or "bluestore" (a
    sparse file of store_bytes in the state directory). name: several instances in one
    container need different names and ports."""

    def __init__(self, c=None, port=7480, mon_port=3300, osd_ports=(6800, 6899),
                 objectstore="memstore", store_bytes=8 << 30, access_key=ACCESS_KEY,
                 secret_key=SECRET_KEY, region=REGION, name="rgw", base_dir="/run",
                 timeout=60, http_addr="127.0.0.1"):
        if objectstore not in ("memstore", "bluestore"):
            raise ValueError(f"objectstore must be memstore or bluestore, not {objectstore!r}")
        self.c = c
        self.port, self.mon_port, self.osd_ports = port, mon_port, tuple(osd_ports)
        self.http_addr = http_addr
        self.objectstore, self.store_bytes = objectstore, store_bytes
        self._access_key, self._secret_key, self._region = access_key, secret_key, region
        self.name, self.base_dir, self.timeout = name, base_dir, timeout
        self.dir = None           # the state directory inside the container
        self.timings = {}         # seconds since start() began, per step; "stop" after stop()
        self.start_seconds = None
        self.stop_seconds = None
        self.units = {k: f"{UNIT_PREFIX}-{name}-{k}" for k in ("mon", "osd", "gw")}
        self._started_units = []

    # ---- what a client needs ----------------------------------------------------------

    @property
    def endpoint(self):
        return f"http://{self.http_addr}:{self.port}"

    @property
    def access_key(self):
        return self._access_key

    @property
    def secret_key(self):
        return self._secret_key

    @property
    def region(self):
        return self._region

    @property
    def conf(self):
        return f"{self.dir}/ceph.conf"

    # ---- lifecycle --------------------------------------------------------------------

    def __enter__(self):
        if self.dir is None:
            self.start(self.c)
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, c=None):
        """Start mon, OSD and radosgw and create the test user; returns self. On failure
        everything started is stopped and removed, and RGWError carries the daemons' logs."""
        c = c or self.c
        if c is None:
            raise ValueError("RGW.start needs the test container")
        if self.dir is not None:
            raise RGWError(f"RGW {self.name} was started already")
        self.c = c
        self.timings = {}
        t0 = time.monotonic()

        def mark(step):
            self.timings[step] = round(time.monotonic() - t0, 3)

        try:
            # Another listener on our ports would answer in our daemons' place.
            busy = c.run(["ss", "-Hltn", f"( sport = :{self.port} or sport = :{self.mon_port} )"
                          ]).stdout.strip()
            if busy:
                raise RGWError(f"port {self.port} or {self.mon_port} is in use already:\n{busy}")
            self.dir = c.run(["mktemp", "-d", f"{self.base_dir}/rgw.XXXXXX"]).stdout.strip()
            if len(f"{self.dir}/run/client.{self.name}.asok") >= 100:
                raise RGWError(f"state directory {self.dir} is too long for admin sockets")
            fsid = str(uuid.uuid4())
            c.run(["mkdir", "-p", *(f"{self.dir}/{d}" for d in
                                    ("mon", "osd", "log", "run", "rgw", "crash"))])
            c.write_file(self.conf, _CONF.format(
                fsid=fsid, dir=self.dir, mon_port=self.mon_port, port=self.port, http_addr=self.http_addr,
                osd_port_min=self.osd_ports[0], osd_port_max=self.osd_ports[1],
                objectstore=self.objectstore, memstore_bytes=self.store_bytes, gw=self.name))
            mark("config")
            c.run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                   f"[v2:127.0.0.1:{self.mon_port}]", f"{self.dir}/monmap"])
            c.run(["ceph-mon", "-c", self.conf, "--mkfs", "-i", "a",
                   "--monmap", f"{self.dir}/monmap"], timeout=self.timeout)
            self._unit("mon", ["ceph-mon", "-c", self.conf, "-f", "-i", "a"])
            mark("mon")
            osd_uuid = str(uuid.uuid4())
            osd_id = self._ceph(["osd", "new", osd_uuid]).strip()
            if not osd_id.isdigit():
                raise RGWError(f"`ceph osd new` answered {osd_id!r}, not an OSD id")
            c.run(["ceph-osd", "-c", self.conf, "-i", osd_id, "--mkfs",
                   "--osd-uuid", osd_uuid], timeout=self.timeout)
            self._unit("osd", ["ceph-osd", "-c", self.conf, "-f", "-i", osd_id])
            self._poll(f"ceph -c {self.conf} --connect-timeout 10 osd dump 2>/dev/null"
                       f" | grep -q '^osd.{osd_id} up'", f"osd.{osd_id} to be up")
            mark("osd_up")
            self._unit("gw", ["radosgw", "-c", self.conf, "-f", "-n", f"client.{self.name}"])
            self._poll(f"{PYTHON} -c 'import urllib.request as u; "
                       f"u.urlopen(\"{self.endpoint}/\", timeout=2).read()' 2>/dev/null",
                       "RGW to answer HTTP")
            mark("http")
            # Something else may have answered on that port: ours must all still run.
            for u in self._started_units:
                state = c.run(["systemctl", "is-active", u], check=False).stdout.strip()
                if state != "active":
                    raise RGWError(f"{u} is {state}")
            self._admin(["user", "create", "--uid", "cedana-test",
                         "--display-name", "cedana tests", "--access-key", self._access_key,
                         "--secret-key", self._secret_key])
            mark("user")
        except BaseException as e:
            try:
                diag = self._diagnostics() if self.dir else ""
            except (Exception, cc.Interrupted) as diag_error:  # noqa: BLE001
                diag = f"(no diagnostics: {diag_error})"
            try:
                self.stop()
            except Exception as stop_error:  # noqa: BLE001 - report both
                diag += f"\n--- stopping after the failure failed too: {stop_error}"
            if not isinstance(e, Exception):  # interrupted, or the test's timeout
                raise
            raise RGWError(f"RGW {self.name} did not start: {e}\n{diag}") from e
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self):
        """Stop radosgw, the OSD and the mon, in that order (a mon stopped first leaves the
        OSD hanging), and remove the state directory. Idempotent. Raises RGWError if a
        daemon is left (the container's teardown still takes it away)."""
        if self.c is None or (self.dir is None and not self._started_units):
            return
        t0 = time.monotonic()
        c, errors = self.c, []
        for k in ("gw", "osd", "mon"):
            unit = f"{self.units[k]}.service"
            if unit not in self._started_units:
                continue
            r = c.run(["systemctl", "stop", unit], check=False, timeout=60)
            if r.returncode != 0 and "not loaded" not in r.stderr:
                errors.append(f"systemctl stop {unit}: {r.stderr.strip()}")
            c.run(["systemctl", "reset-failed", unit], check=False)
            self._started_units.remove(unit)
        if self.dir is not None:
            r = c.run(["rm", "-rf", "--one-file-system", "--", self.dir], check=False, timeout=60)
            if r.returncode != 0:
                errors.append(f"rm -rf {self.dir}: {r.stderr.strip()}")
            self.dir = None
        left = self.leftovers()
        if left:
            errors.append(f"left running: {left}")
        self.stop_seconds = time.monotonic() - t0
        self.timings["stop"] = round(self.stop_seconds, 3)
        if errors:
            raise RGWError(f"RGW {self.name} did not stop cleanly: " + "; ".join(errors))

    def leftovers(self):
        """Units of this instance still loaded, as "unit: state" strings."""
        r = self.c.run(["systemctl", "list-units", "--all", "--plain", "--no-legend",
                        f"{UNIT_PREFIX}-{self.name}-*"], check=False)
        return [" ".join(line.split()[:4]) for line in r.stdout.splitlines() if line.strip()]

    def _unit(self, key, argv):
        unit = f"{self.units[key]}.service"
        self._started_units.append(unit)
        self.c.start_unit_process(unit, argv, output=f"{self.dir}/log/{key}.out", properties=(
            "TimeoutStopSec=10", "LimitNOFILE=65536"))

    def _poll(self, shell_test, what, interval=0.05):
        """Until shell_test succeeds; fails at once if one of our daemons is gone (a failed
        unit stays loaded, with its status, until stop() resets it)."""
        t = self.timeout
        alive = " && ".join(f"systemctl is-active -q {u}" for u in self._started_units)
        r = self.c.run(["timeout", str(t), "sh", "-c",
                        f"until {shell_test}; do {alive} || exit 2; sleep {interval}; done"],
                       check=False, timeout=t + 10)
        if r.returncode == 2:
            raise RGWError(f"a daemon exited while waiting for {what}")
        if r.returncode != 0:
            raise RGWError(f"timed out after {t} s waiting for {what}")

    def _ceph(self, args, timeout=None):
        return self.c.run(["ceph", "-c", self.conf, "--connect-timeout", "30", *args],
                          timeout=timeout or self.timeout).stdout

    def _admin(self, args, timeout=None):
        return self.c.run(["radosgw-admin", "-c", self.conf, "-n", "client.admin", *args],
                          timeout=timeout or self.timeout).stdout

    def _diagnostics(self):
        out = []
        for u in self._started_units:
            r = self.c.run(["systemctl", "status", "--no-pager", "-n", "0", u], check=False)
            out.append(f"--- systemctl status {u}:\n{r.stdout.strip()}")
        r = self.c.run(["sh", "-c", 'for f in "$1"/log/*; do [ -f "$f" ] || continue; '
                        'echo "--- $f (last lines):"; tail -n 15 "$f"; done', "sh", self.dir],
                       check=False)
        out.append(r.stdout.strip())
        return "\n".join(out)

    # ---- administration ---------------------------------------------------------------

    def admin(self, *args):
        """radosgw-admin's output (JSON for most commands, parsed if it is)."""
        out = self._admin([str(a) for a in args])
        try:
            return json.loads(out)
        except ValueError:
            return out

    def gc(self):
        """Run RGW's garbage collection now (memstore keeps deleted data until then)."""
        self._admin(["gc", "process", "--include-all"], timeout=120)

    def ceph(self, *args):
        return self._ceph([str(a) for a in args])

    # ---- S3 through boto3 inside the container ------------------------------------------

    def _request(self, extra, secret_key=None, access_key=None, endpoint=None, attempts=1,
                 read_timeout=60):
        return dict(extra, endpoint=endpoint or self.endpoint, region=self._region,
                    access_key=access_key or self._access_key,
                    secret_key=secret_key or self._secret_key, attempts=attempts,
                    read_timeout=read_timeout)

    def _run_runner(self, req, what, raw=False, timeout=120):
        r = self.c.run([PYTHON, "-c", _RUNNER], input=json.dumps(req), check=False,
                       text=False, timeout=timeout)
        if r.returncode == 3:
            e = json.loads(r.stdout.decode())["error"]
            raise S3Error(e["Code"], e["HTTPStatusCode"], e["Message"], what)
        if r.returncode != 0:
            raise cc.CommandFailed([PYTHON, "-c", f"<{what}>"], r.returncode,
                                   r.stdout.decode(errors="replace"),
                                   r.stderr.decode(errors="replace"))
        return r.stdout if raw else r.stdout.decode()

    def call(self, op, _raw=False, _timeout=120, _client=None, **params):
        """One boto3 S3 client call inside the container, e.g. call("head_object",
        Bucket=b, Key=k); returns the response as a dict (datetimes as str; a Body as
        bytes). Parameters named X@file are opened from that path inside the container,
        X@b64 decoded from base64. _client: dict of endpoint, secret_key, access_key,
        attempts (boto3's total, 1 by default: no retries), read_timeout. Raises S3Error
        on an error answer."""
        req = self._request({"op": op, "params": params, "raw": _raw}, **(_client or {}))
        out = self._run_runner(req, op, raw=_raw, timeout=_timeout)
        if _raw:
            return out
        r = json.loads(out)
        if isinstance(r, dict) and "Body@b64" in r:
            r["Body"] = base64.b64decode(r.pop("Body@b64"))
        return r

    def boto3(self, code, timeout=120, **client):
        """Run Python code inside the container with `s3`, a boto3 S3 client for this RGW
        (client: endpoint, secret_key, access_key, attempts, read_timeout override it);
        returns its stdout. A ClientError it does not catch raises S3Error."""
        return self._run_runner(self._request({"code": code}, **client), "boto3 code",
                                timeout=timeout)

    def make_bucket(self, name):
        self.call("create_bucket", Bucket=name)

    def put_object(self, bucket, key, data=None, path=None, **params):
        """PUT data (bytes) or the file at path inside the container; returns the ETag."""
        if (data is None) == (path is None):
            raise ValueError("put_object needs data or path")
        if path is not None:
            params["Body@file"] = path
        else:
            params["Body@b64"] = base64.b64encode(data).decode()
        return self.call("put_object", Bucket=bucket, Key=key, **params)["ETag"]

    def list_objects(self, bucket, prefix=""):
        """Every object under prefix (all pages): [{"Key", "Size", "ETag", ...}]."""
        out = self.boto3(
            "objs = []\n"
            "for page in s3.get_paginator('list_objects_v2').paginate("
            f"Bucket={bucket!r}, Prefix={prefix!r}):\n"
            "    objs += page.get('Contents', [])\n"
            "print(json.dumps(objs, default=str))\n")
        return json.loads(out)

    def get_object(self, bucket, key, range=None):
        """The object's bytes (range: an HTTP Range such as "bytes=0-99")."""
        params = {"Range": range} if range else {}
        return self.call("get_object", _raw=True, Bucket=bucket, Key=key, **params)

    def get_object_to(self, bucket, key, path):
        """Download into a file inside the container (for objects too big for a pipe)."""
        self.call("download_file", Bucket=bucket, Key=key, Filename=path)

    def delete_object(self, bucket, key):
        self.call("delete_object", Bucket=bucket, Key=key)

    def list_multipart_uploads(self, bucket, prefix=""):
        """Uploads begun and neither completed nor aborted: [{"Key", "UploadId", ...}]."""
        return self.call("list_multipart_uploads", Bucket=bucket,
                         Prefix=prefix).get("Uploads", [])

    def sha256_in_container(self, path):
        return self.c.run(["sha256sum", "--", path]).stdout.split()[0]
