# SPDX-License-Identifier: Apache-2.0
# Smoke tests of the S3 harness (rgw.py, faultproxy.py): a real Ceph RGW runs inside the test
# container, checks SigV4 and speaks multipart, and the fault proxy in front of it fails and
# cuts requests on demand, so that a failure in a later S3 test of cedana is cedana's.

import hashlib
import json

import faultproxy
import rgw

TIMEOUT = 120
BUCKET = "cedana-smoke"
DATA = "/var/tmp/s3-smoke"       # in the test container's overlay
MIB = 1 << 20

S3 = None      # the module's RGW, started by setup()
PROXY = None   # the fault proxy in front of it


def setup(c):
    global S3, PROXY
    S3 = rgw.RGW().start(c)
    PROXY = faultproxy.FaultProxy(S3).start(c)
    c.run(["mkdir", "-p", DATA])
    print(f"RGW started in {S3.start_seconds:.3f} s: {S3.timings}")


def make_file(c, name, mib, seed):
    """A file of pseudo-random bytes inside the container; returns (path, sha256, md5)."""
    path = f"{DATA}/{name}"
    return (path, *rgw.make_random_file(c, path, mib * MIB, seed))


def test_started_on_loopback_only(c):
    print(f"start: {S3.start_seconds:.3f} s, steps (s since start): {S3.timings}")
    assert S3.start_seconds < 30, S3.timings
    for key in ("mon", "osd", "gw"):
        unit = f"{S3.units[key]}.service"
        state = c.run(["systemctl", "is-active", unit], check=False).stdout.strip()
        assert state == "active", f"{unit} is {state}"
    # Every TCP socket the daemons and the proxy listen on is on 127.0.0.1.
    ours = [line.split() for line in c.run(["ss", "-Hltnp"]).stdout.splitlines()
            if any(f'"{p}"' in line for p in ("ceph-mon", "ceph-osd", "radosgw", "python3"))]
    local = [f[3] for f in ours]
    for port in (S3.port, S3.mon_port, PROXY.port):
        assert f"127.0.0.1:{port}" in local, local
    assert any('"ceph-osd"' in " ".join(f) for f in ours), ours
    exposed = [a for a in local if not a.startswith("127.0.0.1:")]
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"
    health = json.loads(S3.ceph("health", "-f", "json"))
    assert health["status"] == "HEALTH_OK", health


def test_bucket_create(c):
    S3.make_bucket(BUCKET)
    names = [b["Name"] for b in S3.call("list_buckets")["Buckets"]]
    assert BUCKET in names, names
    assert S3.list_objects(BUCKET) == []
    try:
        S3.make_bucket("no")  # S3 bucket names have 3 to 63 characters
        raise AssertionError("RGW accepted a 2-character bucket name")
    except rgw.S3Error as e:
        assert (e.status, e.code) == (400, "InvalidBucketName"), e


def test_put_get_20mib(c):
    path, sha, md5 = make_file(c, "20m", 20, seed=20)
    etag = S3.put_object(BUCKET, "dir/twenty", path=path)
    assert etag == f'"{md5}"', (etag, md5)
    # Back through a pipe to the host: the very same bytes.
    got = S3.get_object(BUCKET, "dir/twenty")
    assert len(got) == 20 * MIB, len(got)
    assert hashlib.sha256(got).hexdigest() == sha
    # A range, and the listing.
    assert S3.get_object(BUCKET, "dir/twenty", range="bytes=1048570-1048585") == \
        got[1048570:1048586]
    objs = S3.list_objects(BUCKET, prefix="dir/")
    assert [(o["Key"], o["Size"], o["ETag"]) for o in objs] == \
        [("dir/twenty", 20 * MIB, f'"{md5}"')], objs
    assert S3.list_objects(BUCKET, prefix="other/") == []
    S3.delete_object(BUCKET, "dir/twenty")
    try:
        S3.call("head_object", Bucket=BUCKET, Key="dir/twenty")
        raise AssertionError("the deleted object is still there")
    except rgw.S3Error as e:
        assert e.status == 404, e


MULTIPART = """
import hashlib
data = open(req["path"], "rb").read()
sizes = req["sizes"]
up = s3.create_multipart_upload(Bucket=req["bucket"], Key=req["key"])["UploadId"]
parts, off = [], 0
for n, size in enumerate(sizes, 1):
    r = s3.upload_part(Bucket=req["bucket"], Key=req["key"], UploadId=up, PartNumber=n,
                       Body=data[off:off + size])
    parts.append({"PartNumber": n, "ETag": r["ETag"]})
    off += size
if req.get("complete", True):
    r = s3.complete_multipart_upload(Bucket=req["bucket"], Key=req["key"], UploadId=up,
                                     MultipartUpload={"Parts": parts})
    print(json.dumps({"upload": up, "etag": r["ETag"], "parts": parts}))
else:
    print(json.dumps({"upload": up, "parts": parts}))
"""


def multipart(key, path, sizes, complete=True, **client):
    code = ("req.update(" + repr({"bucket": BUCKET, "key": key, "path": path, "sizes": sizes,
                                  "complete": complete}) + ")\n" + MULTIPART)
    return json.loads(S3.boto3(code, **client))


def test_multipart_3_parts(c):
    path, sha, _ = make_file(c, "11m", 11, seed=11)
    sizes = [5 * MIB, 5 * MIB, 1 * MIB]
    r = multipart("mp/three", path, sizes)
    # S3's multipart ETag: md5 of the parts' binary md5s, then "-<number of parts>".
    data = open_in_container(c, path)
    md5s = b"".join(hashlib.md5(data[o:o + s]).digest()
                    for o, s in zip((0, sizes[0], sizes[0] + sizes[1]), sizes))
    etag = f'"{hashlib.md5(md5s).hexdigest()}-3"'
    # RGW 16 answers CompleteMultipartUpload with an empty <ETag></ETag> (S3 fills it in): a
    # client must not depend on it. The object has the right one.
    assert r["etag"] in ("", etag), r
    assert S3.call("head_object", Bucket=BUCKET, Key="mp/three")["ETag"] == etag
    assert [o["ETag"] for o in S3.list_objects(BUCKET, prefix="mp/")] == [etag]
    got = S3.get_object(BUCKET, "mp/three")
    assert hashlib.sha256(got).hexdigest() == sha
    assert S3.list_multipart_uploads(BUCKET) == []
    # A part under 5 MiB that is not the last one is refused at completion.
    try:
        multipart("mp/small", path, [1 * MIB, 10 * MIB])
        raise AssertionError("RGW completed an upload with a 1 MiB first part")
    except rgw.S3Error as e:
        assert (e.status, e.code) == (400, "EntityTooSmall"), e
    left = S3.list_multipart_uploads(BUCKET)
    assert [u["Key"] for u in left] == ["mp/small"], left
    S3.call("abort_multipart_upload", Bucket=BUCKET, Key="mp/small",
            UploadId=left[0]["UploadId"])


def open_in_container(c, path):
    return c.run(["cat", "--", path], text=False).stdout


def test_wrong_secret_is_refused(c):
    S3.put_object(BUCKET, "small", b"small object")
    for op, params in (("list_objects_v2", {"Bucket": BUCKET}),
                       ("get_object", {"Bucket": BUCKET, "Key": "small"}),
                       ("put_object", {"Bucket": BUCKET, "Key": "forged", "Body@b64": "eA=="})):
        try:
            S3.call(op, _client={"secret_key": S3.secret_key[:-1] + "X"}, **params)
            raise AssertionError(f"{op} with a wrong secret succeeded")
        except rgw.S3Error as e:
            assert (e.status, e.code) == (403, "SignatureDoesNotMatch"), e
    try:
        S3.call("list_objects_v2", _client={"access_key": "NOSUCHACCESSKEY00000"}, Bucket=BUCKET)
        raise AssertionError("an unknown access key was accepted")
    except rgw.S3Error as e:
        assert (e.status, e.code) == (403, "InvalidAccessKeyId"), e
    assert [o["Key"] for o in S3.list_objects(BUCKET)] == ["mp/three", "small"]


def test_abort_multipart_leaves_nothing(c):
    path, _, _ = make_file(c, "6m", 6, seed=6)
    r = multipart("mp/aborted", path, [5 * MIB, 1 * MIB], complete=False)
    up = r["upload"]
    assert [(u["Key"], u["UploadId"]) for u in S3.list_multipart_uploads(BUCKET)] == \
        [("mp/aborted", up)]
    assert len(S3.call("list_parts", Bucket=BUCKET, Key="mp/aborted",
                       UploadId=up)["Parts"]) == 2
    S3.call("abort_multipart_upload", Bucket=BUCKET, Key="mp/aborted", UploadId=up)
    assert S3.list_multipart_uploads(BUCKET) == []
    try:
        S3.call("list_parts", Bucket=BUCKET, Key="mp/aborted", UploadId=up)
        raise AssertionError("the aborted upload still has parts")
    except rgw.S3Error as e:
        # S3 says NoSuchUpload; RGW 16 says NoSuchKey.
        assert e.status == 404 and e.code in ("NoSuchUpload", "NoSuchKey"), e
    assert "mp/aborted" not in [o["Key"] for o in S3.list_objects(BUCKET)]


# libcurl's SigV4 (what cedana uses), through the curl tool: the request shape that RGW
# accepts (ENVIRONMENT.md, "S3 from C: libcurl 7.88").
def curl(c, method, url, upload=None, check_status=True):
    argv = ["curl", "-sS", "-o", f"{DATA}/curl.out", "-w", "%{http_code}", "-X", method,
            "--aws-sigv4", f"aws:amz:{S3.region}:s3", "--user",
            f"{S3.access_key}:{S3.secret_key}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    if upload:
        argv += ["-T", upload]
    r = c.run(argv + [url], check=False)
    return r.returncode, r.stdout.strip(), r.stderr


def test_proxy_passes_keepalive_and_curl(c):
    PROXY.reset()
    # Several requests over one boto3 connection pool, through the proxy.
    out = S3.boto3("for i in range(3):\n"
                   f"    s3.put_object(Bucket={BUCKET!r}, Key=f'via-proxy/{{i}}', Body=b'x' * i)\n"
                   f"print(len(s3.list_objects_v2(Bucket={BUCKET!r}, Prefix='via-proxy/')"
                   "['Contents']))", endpoint=PROXY.endpoint)
    assert out.strip() == "3", out
    st = PROXY.stats()
    assert st["counts"]["pass"] == 4 and [e["action"] for e in st["log"]] == ["pass"] * 4, st
    # curl: a 2 MiB upload (curl sends Expect: 100-continue for it) and a GET.
    path, sha, _ = make_file(c, "2m", 2, seed=2)
    rc, status, err = curl(c, "PUT", f"{PROXY.endpoint}/{BUCKET}/curl/two", upload=path)
    assert (rc, status) == (0, "200"), (rc, status, err)
    rc, status, err = curl(c, "GET", f"{PROXY.endpoint}/{BUCKET}/curl/two")
    assert (rc, status) == (0, "200"), (rc, status, err)
    assert hashlib.sha256(open_in_container(c, f"{DATA}/curl.out")).hexdigest() == sha


def test_proxy_answers_503(c):
    PROXY.reset()
    PROXY.fail(2)
    for _ in range(2):
        try:
            S3.call("list_objects_v2", _client={"endpoint": PROXY.endpoint}, Bucket=BUCKET)
            raise AssertionError("the proxy did not fail the request")
        except rgw.S3Error as e:
            assert (e.status, e.code) == (503, "SlowDown"), e
    # The third one passes; a rule matching only part uploads leaves the rest alone.
    S3.call("list_objects_v2", _client={"endpoint": PROXY.endpoint}, Bucket=BUCKET)
    PROXY.fail(1, match=r"^PUT .*[?&]partNumber=2(&|$)")
    path, sha, _ = make_file(c, "11m", 11, seed=11)
    try:
        multipart("mp/fails", path, [5 * MIB, 5 * MIB, 1 * MIB], endpoint=PROXY.endpoint)
        raise AssertionError("part 2 was not failed")
    except rgw.S3Error as e:
        assert (e.status, e.code) == (503, "SlowDown"), e
    st = PROXY.stats()
    assert st["counts"]["fail"] == 3 and not st["rules"], st
    failed = [e["request"] for e in st["log"] if e["action"] == "fail"]
    assert "partNumber=2" in failed[-1], failed
    # boto3 retries a 503 by itself when allowed to: one more rule, and the upload completes.
    PROXY.fail(1, match=r"^PUT .*[?&]partNumber=2(&|$)")
    multipart("mp/retried", path, [5 * MIB, 5 * MIB, 1 * MIB], endpoint=PROXY.endpoint,
              attempts=3)
    assert S3.call("head_object", Bucket=BUCKET, Key="mp/retried")["ETag"].endswith('-3"')
    assert hashlib.sha256(S3.get_object(BUCKET, "mp/retried")).hexdigest() == sha
    # With curl (an Expect: 100-continue upload): answered 503 before the body is sent.
    PROXY.fail(1)
    rc, status, err = curl(c, "PUT", f"{PROXY.endpoint}/{BUCKET}/curl/503", upload=path)
    assert (rc, status) == (0, "503"), (rc, status, err)
    for u in S3.list_multipart_uploads(BUCKET):
        S3.call("abort_multipart_upload", Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])


def test_proxy_cuts_uploads(c):
    PROXY.reset()
    path, sha, _ = make_file(c, "4m", 4, seed=4)
    PROXY.cut(after=MIB, match="^PUT ")
    out = S3.boto3("try:\n"
                   f"    s3.put_object(Bucket={BUCKET!r}, Key='cut/one', Body=open({path!r}, 'rb'))\n"
                   "    print('stored')\n"
                   "except ClientError:\n"
                   "    raise\n"
                   "except Exception as e:\n"
                   "    print(type(e).__name__)\n", endpoint=PROXY.endpoint)
    assert out.strip() not in ("stored", ""), out
    st = PROXY.stats()
    assert st["counts"]["cut"] == 1 and st["log"][-1]["body"] == 4 * MIB, st
    print(f"boto3 saw the cut as {out.strip()}")
    # Nothing of the cut upload was stored ...
    try:
        S3.call("head_object", Bucket=BUCKET, Key="cut/one")
        raise AssertionError("a cut upload was stored")
    except rgw.S3Error as e:
        assert e.status == 404, e
    # ... and curl sees the connection die.
    PROXY.cut(after=100 * 1024)
    rc, status, err = curl(c, "PUT", f"{PROXY.endpoint}/{BUCKET}/cut/two", upload=path)
    assert rc != 0, (rc, status, err)
    print(f"curl saw the cut as status {rc}: {err.strip()}")
    # A body that is not larger than the limit is not taken by the rule.
    PROXY.cut(after=4 * MIB)
    S3.call("put_object", _client={"endpoint": PROXY.endpoint}, Bucket=BUCKET, Key="cut/three",
            **{"Body@file": path})
    assert hashlib.sha256(S3.get_object(BUCKET, "cut/three")).hexdigest() == sha
    assert PROXY.stats()["rules"] == [{"op": "cut", "count": 1, "match": "", "after": 4 * MIB}]
    PROXY.clear()


def test_stop_and_start_again(c):
    PROXY.stop()
    S3.stop()
    print(f"first stop: {S3.stop_seconds:.3f} s")
    assert S3.stop_seconds < 15
    left = c.run(["pgrep", "-af", "ceph-mon|ceph-osd|radosgw|faultproxy"], check=False).stdout
    assert not left.strip(), f"still running: {left}"
    assert c.run("ls -d /run/rgw.* 2>/dev/null", check=False).stdout == ""
    assert S3.leftovers() == []
    # A second instance in the same container, on the same ports: a fresh, empty store.
    again = rgw.RGW().start(c)
    try:
        print(f"second start: {again.start_seconds:.3f} s: {again.timings}")
        assert again.call("list_buckets")["Buckets"] == []
    finally:
        again.stop()
    print(f"second stop: {again.stop_seconds:.3f} s")
    assert again.leftovers() == []
