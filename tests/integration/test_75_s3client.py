# SPDX-License-Identifier: Apache-2.0
# cedana's S3 client (src/core/s3.c), driven through tests/integration/s3tool against a real
# Ceph RGW inside the test container: single and multipart round trips checked byte for byte
# with boto3, metadata, awkward keys, every refusal with its exit code, and the faults a
# network and a busy store bring (503s, connections cut in a part or in a download, nothing
# listening), after which no multipart upload may be left behind. The secret never shows.

import json
import time

import faultproxy
import rgw

TIMEOUT = 180
BUCKET = "cedana-s3client"
DATA = "/var/tmp/s3client"       # in the test container's overlay
MIB = 1 << 20
DOWN = "http://127.0.0.1:7499"   # nothing listens there
MISBEHAVE_PORT = 7482

# Exit codes (src/shared/bus-error.h)
EXIT_FAILURE, EXIT_ACCESS_DENIED, EXIT_NOT_FOUND, EXIT_LIMITS, EXIT_REMOTE = 1, 4, 5, 12, 16

S3 = None      # the module's RGW
PROXY = None   # faultproxy in front of it


def setup(c):
    global S3, PROXY
    S3 = rgw.RGW().start(c)
    PROXY = faultproxy.FaultProxy(S3).start(c)
    c.run(["mkdir", "-p", DATA])
    S3.make_bucket(BUCKET)
    c.write_file(f"{DATA}/misbehave.py", MISBEHAVE)


def tool(c):
    return f"{c.build_dir}/tests/integration/s3tool"


def s3tool(c, verb, *args, endpoint=None, secret=None, access=None, env=None, timeout=120):
    """Runs s3tool inside the container; returns (exit code, stdout, stderr). Whatever it
    says, it never says a secret: neither the real one nor the one it was given."""
    secret = secret or S3.secret_key
    argv = [tool(c), endpoint or S3.endpoint, S3.region, access or S3.access_key, secret,
            verb, *args]
    r = c.run(argv, check=False, env=env, timeout=timeout)
    for s in {secret, S3.secret_key}:
        assert s not in r.stdout and s not in r.stderr, (r.stdout, r.stderr)
    return r.returncode, r.stdout, r.stderr


def ok(c, verb, *args, **kw):
    rc, out, err = s3tool(c, verb, *args, **kw)
    assert rc == 0, (verb, args, rc, out, err)
    return json.loads(out.splitlines()[-1]) if out.strip() else None


def make_file(c, name, size, seed):
    """A file of pseudo-random bytes inside the container; returns (path, sha256, md5)."""
    path = f"{DATA}/{name}"
    return (path, *rgw.make_random_file(c, path, size, seed))


def sha256(c, path):
    return S3.sha256_in_container(path)


def boto3_sha256(c, key):
    """The object as boto3 reads it, by its digest."""
    S3.get_object_to(BUCKET, key, f"{DATA}/boto3.out")
    return sha256(c, f"{DATA}/boto3.out")


def absent(key):
    try:
        S3.call("head_object", Bucket=BUCKET, Key=key)
    except rgw.S3Error as e:
        return e.status == 404
    return False


def uploads_left():
    return [(u["Key"], u["UploadId"]) for u in S3.list_multipart_uploads(BUCKET)]


def test_put_get_1mib_single_put(c):
    path, sha, md5 = make_file(c, "1m", MIB, seed=1)
    out = ok(c, "put", BUCKET, "small/one", path)
    assert out["size"] == MIB and out["progress"]["done"] == MIB, out
    # One PUT: the plain MD5 ETag, not a multipart one.
    head = S3.call("head_object", Bucket=BUCKET, Key="small/one")
    assert head["ETag"] == f'"{md5}"' and head["ContentLength"] == MIB, head
    assert boto3_sha256(c, "small/one") == sha
    out = ok(c, "get", BUCKET, "small/one", f"{DATA}/1m.got")
    assert out["size"] == MIB and out["progress"]["done"] == MIB, out
    assert sha256(c, f"{DATA}/1m.got") == sha
    # Into a pipe (not seekable), as a restore might stream it.
    r = c.run(["sh", "-c", f'"$1" "$2" "$3" "$4" "$5" get {BUCKET} small/one - | sha256sum', "sh",
               tool(c), S3.endpoint, S3.region, S3.access_key, S3.secret_key])
    assert r.stdout.split()[0] == sha, r
    assert ok(c, "head", BUCKET, "small/one") == {"size": MIB, "meta": None}


def test_put_get_40mib_multipart(c):
    path, sha, _ = make_file(c, "40m", 40 * MIB, seed=40)
    out = ok(c, "put", BUCKET, "big/forty", path)
    # 8 MiB parts: five, reported one by one, in order.
    p = out["progress"]
    assert (p["calls"], p["done"], p["total"], p["monotonic"]) == (5, 40 * MIB, 40 * MIB, True), p
    head = S3.call("head_object", Bucket=BUCKET, Key="big/forty")
    assert head["ETag"].endswith('-5"') and head["ContentLength"] == 40 * MIB, head
    assert boto3_sha256(c, "big/forty") == sha
    assert uploads_left() == []
    out = ok(c, "get", BUCKET, "big/forty", f"{DATA}/40m.got")
    assert out["size"] == 40 * MIB and out["progress"]["monotonic"], out
    assert sha256(c, f"{DATA}/40m.got") == sha
    # Exactly 16 MiB is multipart too (two parts); one byte less is a single PUT.
    path16, sha16, md5_16 = make_file(c, "16m", 16 * MIB, seed=16)
    ok(c, "put", BUCKET, "big/sixteen", path16)
    assert S3.call("head_object", Bucket=BUCKET, Key="big/sixteen")["ETag"].endswith('-2"')
    c.run(["truncate", "-s", str(16 * MIB - 1), path16])
    ok(c, "put", BUCKET, "big/almost", path16)
    assert "-" not in S3.call("head_object", Bucket=BUCKET, Key="big/almost")["ETag"]
    assert uploads_left() == []


def test_streamed_put_and_ranged_get(c):
    # Parts go up while the file is written, its first part (rewritten last) at the end.
    path, sha, _ = make_file(c, "30m", 30 * MIB + 12345, seed=30)
    out = ok(c, "stream-put", BUCKET, "stream/thirty", path)
    assert out["size"] == 30 * MIB + 12345 and out["streamed"] >= 8 * MIB, out
    head = S3.call("head_object", Bucket=BUCKET, Key="stream/thirty")
    assert head["ETag"].endswith('-4"') and head["ContentLength"] == 30 * MIB + 12345, head
    assert boto3_sha256(c, "stream/thirty") == sha
    assert uploads_left() == []
    # Too small to stream: one PUT at the end.
    small, small_sha, _ = make_file(c, "3m", 3 * MIB, seed=3)
    out = ok(c, "stream-put", BUCKET, "stream/three", small)
    assert out["streamed"] == 0, out
    assert "-" not in S3.call("head_object", Bucket=BUCKET, Key="stream/three")["ETag"]
    assert boto3_sha256(c, "stream/three") == small_sha
    # Ranges, bound to the object's ETag: an ETag that is not its is refused.
    r = c.run(["sh", "-c", f'"$1" "$2" "$3" "$4" "$5" get-range {BUCKET} stream/thirty {9 * MIB + 7} 1000 | sha256sum',
               "sh", tool(c), S3.endpoint, S3.region, S3.access_key, S3.secret_key])
    want = c.run([rgw.PYTHON, "-c", f"import hashlib; f=open({path!r},'rb'); f.seek({9 * MIB + 7}); "
                  "print(hashlib.sha256(f.read(1000)).hexdigest())"]).stdout.strip()
    assert r.stdout.split()[0] == want, r
    rc, out, err = s3tool(c, "get-range", BUCKET, "stream/thirty", "5", "0", env={"S3TOOL_IF_MATCH": '"not-it"'})
    assert rc == 16 and "changed while it was being downloaded" in err, (rc, err)


def test_download_limit(c):
    rc, out, err = s3tool(c, "get", BUCKET, "small/one", f"{DATA}/limited",
                          env={"S3TOOL_MAX_BYTES": str(MIB - 1)})
    assert rc == EXIT_LIMITS, (rc, out, err)
    assert f"s3://{BUCKET}/small/one is {MIB} bytes, more than the {MIB - 1} allowed" in err, err
    # Refused on the size the store announced: nothing was written.
    assert c.run(["stat", "-c", "%s", f"{DATA}/limited"]).stdout.strip() == "0"
    ok(c, "get", BUCKET, "small/one", f"{DATA}/limited", env={"S3TOOL_MAX_BYTES": str(MIB)})


def test_metadata_round_trip(c):
    path, _, _ = make_file(c, "meta", 4096, seed=3)
    ok(c, "put", BUCKET, "meta/small", path, "format=zstd tar v1", "job=famous_hopper7",
       "sha256=" + "ab" * 32)
    assert ok(c, "head", BUCKET, "meta/small", "format") == {"size": 4096, "meta": "zstd tar v1"}
    assert ok(c, "head", BUCKET, "meta/small", "job")["meta"] == "famous_hopper7"
    assert ok(c, "head", BUCKET, "meta/small", "nothing") == {"size": 4096, "meta": None}
    md = S3.call("head_object", Bucket=BUCKET, Key="meta/small")["Metadata"]
    assert md == {"format": "zstd tar v1", "job": "famous_hopper7", "sha256": "ab" * 32}, md
    # Metadata on a multipart upload goes with its first request.
    path20, _, _ = make_file(c, "20m", 20 * MIB, seed=20)
    ok(c, "put", BUCKET, "meta/big", path20, "format=raw")
    assert ok(c, "head", BUCKET, "meta/big", "format") == {"size": 20 * MIB, "meta": "raw"}
    # What cannot be a header, or would be signed in the wrong order, is refused up front.
    # '_' too: RGW gives "job_id" back as "job-id".
    S3.call("put_object", Bucket=BUCKET, Key="meta/boto3", Metadata={"job_id": "x"}, **{"Body@b64": ""})
    assert S3.call("head_object", Bucket=BUCKET, Key="meta/boto3")["Metadata"] == {"job-id": "x"}
    for bad in (["a=1", "a-b=2"], ["a=1", "a=2"], ["x=two  spaces"], ["Upper=1"], ["x= lead"],
                ["noequals"], ["x=tab\there"], ["x=é"], ["job_id=1"]):
        rc, out, err = s3tool(c, "put", BUCKET, "meta/refused", path, *bad)
        assert rc == EXIT_FAILURE and "metadata" in err, (bad, rc, out, err)
    assert absent("meta/refused")


def test_awkward_keys(c):
    path, sha, _ = make_file(c, "keys", 1000, seed=4)
    keys = ["with space/a b.c", "unicode/ünïcødé ☃ 日本", "plus/a+b=c&d;e,f", "odd/~(x)!*'@$:%20",
            "deep/a/b/c/d/e/f/g/h", "trailing-dots/a..b/...", "q/?x=1#frag"]
    for k in keys:
        ok(c, "put", BUCKET, k, path)
        assert ok(c, "head", BUCKET, k)["size"] == 1000, k
        ok(c, "get", BUCKET, k, f"{DATA}/key.got")
        assert sha256(c, f"{DATA}/key.got") == sha, k
    listed = {o["Key"] for o in S3.list_objects(BUCKET)}
    assert set(keys) <= listed, sorted(set(keys) - listed)
    for k in keys:
        ok(c, "delete", BUCKET, k)
        assert absent(k), k
    # Deleting what is not there is no failure.
    ok(c, "delete", BUCKET, keys[0])
    # Keys that would be resolved into another key, and bad buckets, never leave the client.
    for b, k in ((BUCKET, "a/../b"), (BUCKET, "./a"), (BUCKET, "a//b"), (BUCKET, "/a"),
                 (BUCKET, "x\x01y"), ("No_Such", "a"), ("ab", "a")):
        rc, out, err = s3tool(c, "head", b, k)
        assert rc == EXIT_FAILURE and "not a valid" in err, (b, k, rc, out, err)


def test_url_parse(c):
    def parse(url):
        r = c.run([tool(c), "parse", url], check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None
    assert parse("s3://bucket/a/b c") == {"is": True, "bucket": "bucket", "key": "a/b c"}
    assert parse("s3://my.bucket-1") == {"is": True, "bucket": "my.bucket-1", "key": ""}
    assert parse("s3://my.bucket-1/") == {"is": True, "bucket": "my.bucket-1", "key": ""}
    assert parse("s3://b0b/dir/") == {"is": True, "bucket": "b0b", "key": "dir/"}
    assert parse("s3://bucket/" + "k" * 1024)["key"] == "k" * 1024
    for bad in ("s3://bucket/" + "k" * 1025, "s3://ab/x", "s3://" + "b" * 64 + "/x", "s3://Bucket/x",
                "s3://bu_cket/x", "s3://-bucket/x", "s3://bucket-/x", "s3://bu..cket/x",
                "s3://bucket//x", "s3://bucket/a//b", "s3://bucket/./x", "s3://bucket/x/.",
                "s3://bucket/x/../y", "s3://bucket/..", "s3://bucket/a\x7fb", "s3://bucket/a\nb",
                "S3://bucket/x", "http://bucket/x", "s3:/bucket/x", "s3://", ""):
        assert parse(bad) is None, bad


def test_credentials_file(c):
    f = f"{DATA}/credentials"
    c.write_file(f, f"# cedana's\n\nAccessKeyId = {S3.access_key}\r\n"
                    f"SecretAccessKey={S3.secret_key}\n", mode=0o600)
    r = c.run([tool(c), "credentials", f])
    assert json.loads(r.stdout) == {"access_key": S3.access_key,
                                    "secret_length": len(S3.secret_key)}, r.stdout
    assert S3.secret_key not in r.stdout + r.stderr
    for mode in (0o640, 0o604, 0o620, 0o602):
        c.run(["chmod", f"{mode:o}", f])
        r = c.run([tool(c), "credentials", f], check=False)
        assert r.returncode == 1 and "Operation not permitted" in r.stderr, (mode, r)
    c.run(["chmod", "600", f])
    c.run(["ln", "-sf", f, f"{DATA}/credentials.link"])
    r = c.run([tool(c), "credentials", f"{DATA}/credentials.link"], check=False)
    assert r.returncode == 1 and "Operation not permitted" in r.stderr, r
    c.add_user("s3owner")
    c.run(["chown", "s3owner", f])
    r = c.run([tool(c), "credentials", f], check=False)
    assert r.returncode == 1 and "Operation not permitted" in r.stderr, r
    c.run(["chown", "root", f])
    for text in ("AccessKeyId=a\n", "AccessKeyId=a\nSecretAccessKey=b\nRegion=x\n",
                 "AccessKeyId=a\nAccessKeyId=b\nSecretAccessKey=c\n", "AccessKeyId=a\nSecretAccessKey=\n",
                 "AccessKeyId=a\nSecretAccessKey=b c\n", "just a line\n", ""):
        c.write_file(f, text, mode=0o600)
        r = c.run([tool(c), "credentials", f], check=False)
        assert r.returncode == 1 and "Bad message" in r.stderr, (text, r)


def test_wrong_secret(c):
    wrong = S3.secret_key[:-4] + "XXXX"
    path, _, _ = make_file(c, "1m", MIB, seed=1)
    rc, out, err = s3tool(c, "put", BUCKET, "forged/small", path, secret=wrong)
    assert rc == EXIT_ACCESS_DENIED and "refused cedana's credentials (SignatureDoesNotMatch)" in err, \
        (rc, out, err)
    assert absent("forged/small")
    path20, _, _ = make_file(c, "20m", 20 * MIB, seed=20)
    rc, out, err = s3tool(c, "put", BUCKET, "forged/big", path20, secret=wrong)
    assert rc == EXIT_ACCESS_DENIED, (rc, out, err)
    assert absent("forged/big") and uploads_left() == []
    for verb, args in (("get", ("small/one", f"{DATA}/forged.got")), ("head", ("small/one",)),
                       ("delete", ("small/one",))):
        rc, out, err = s3tool(c, verb, BUCKET, *args, secret=wrong)
        assert rc == EXIT_ACCESS_DENIED, (verb, rc, out, err)
    rc, out, err = s3tool(c, "get", BUCKET, "small/one", f"{DATA}/forged.got",
                          access="NOSUCHACCESSKEY00000")
    assert rc == EXIT_ACCESS_DENIED and "(InvalidAccessKeyId)" in err, (rc, out, err)
    assert not absent("small/one")


def test_missing_bucket_and_key(c):
    path, _, _ = make_file(c, "1m", MIB, seed=1)
    rc, out, err = s3tool(c, "put", "no-such-bucket", "x", path)
    assert rc == EXIT_NOT_FOUND, (rc, out, err)
    assert err.strip() == f"The bucket no-such-bucket does not exist at {S3.endpoint}.", err
    rc, out, err = s3tool(c, "get", "no-such-bucket", "x", f"{DATA}/nb.got")
    assert rc == EXIT_NOT_FOUND and "does not exist" in err, (rc, out, err)
    for verb, args in (("get", (f"{DATA}/nk.got",)), ("head", ()), ("head", ("format",))):
        rc, out, err = s3tool(c, verb, BUCKET, "no/such key", *args)
        assert rc == EXIT_NOT_FOUND, (verb, rc, out, err)
        assert err.strip() == f"There is no object s3://{BUCKET}/no/such key.", err


def test_endpoint_down(c):
    path, _, _ = make_file(c, "1m", MIB, seed=1)
    for verb, args in (("put", ("down", path)), ("get", ("down", f"{DATA}/down.got")),
                       ("head", ("down",))):
        t0 = time.monotonic()
        rc, out, err = s3tool(c, verb, BUCKET, *args, endpoint=DOWN)
        took = time.monotonic() - t0
        assert rc == EXIT_REMOTE, (verb, rc, out, err)
        assert err.startswith(f"Cannot reach the object store at {DOWN}: ") and "tried 4 times" in err, err
        # three retries after 0.5, 1 and 2 s
        assert 3.4 < took < 10, took


def test_503s_are_retried(c):
    path, sha, _ = make_file(c, "1m", MIB, seed=1)
    PROXY.reset()
    PROXY.fail(2)
    rc, out, err = s3tool(c, "put", BUCKET, "retried/put", path, endpoint=PROXY.endpoint,
                          env={"S3TOOL_DEBUG": "1"})
    assert rc == 0, (rc, out, err)
    st = PROXY.stats()
    assert st["counts"]["fail"] == 2 and st["counts"]["pass"] == 1, st
    assert err.count("retrying in") == 2 and "retrying in 500 ms" in err and "retrying in 1000 ms" in err, err
    assert boto3_sha256(c, "retried/put") == sha
    PROXY.reset()
    PROXY.fail(3, match="^GET ")
    ok(c, "get", BUCKET, "retried/put", f"{DATA}/retried.got", endpoint=PROXY.endpoint)
    assert sha256(c, f"{DATA}/retried.got") == sha
    assert PROXY.stats()["counts"]["fail"] == 3
    # A part is retried on its own, not the whole upload; 429 counts as passing too.
    path20, sha20, _ = make_file(c, "20m", 20 * MIB, seed=20)
    PROXY.reset()
    PROXY.fail(2, match=r"^PUT .*[?&]partNumber=2(&|$)")
    PROXY.fail(1, status=429, match=r"^POST .*[?&]uploadId=")
    ok(c, "put", BUCKET, "retried/big", path20, endpoint=PROXY.endpoint)
    # The query strings: parameter names and part numbers. Parts go up to three at once, in any
    # order, between the start and the completion.
    log = [e["request"].split("?", 1)[1].split("&")[0] for e in PROXY.stats()["log"]]
    assert log[0] == "uploads=", log
    assert sorted(log[1:6]) == ["partNumber=1", "partNumber=2", "partNumber=2", "partNumber=2",
                                "partNumber=3"], log
    assert len(log) == 8 and log[6] == log[7] and log[6].startswith("uploadId="), log
    assert boto3_sha256(c, "retried/big") == sha20 and uploads_left() == []


def test_persistent_503_aborts(c):
    path20, _, _ = make_file(c, "20m", 20 * MIB, seed=20)
    PROXY.reset()
    PROXY.fail(100, match=r"^PUT .*[?&]partNumber=2(&|$)")
    t0 = time.monotonic()
    rc, out, err = s3tool(c, "put", BUCKET, "failed/big", path20, endpoint=PROXY.endpoint)
    took = time.monotonic() - t0
    PROXY.clear()
    assert rc == EXIT_REMOTE, (rc, out, err)
    assert err.strip() == (f"The object store at {PROXY.endpoint} kept failing the upload of "
                           f"s3://{BUCKET}/failed/big: HTTP 503 (SlowDown), 4 times; try again later."), err
    assert 3.4 < took < 15, took
    log = [e["request"] for e in PROXY.stats()["log"]]
    assert sum("partNumber=2" in r for r in log) == 4 and log[-1].startswith("DELETE "), log
    assert uploads_left() == [] and absent("failed/big")
    # Every request failing: a single PUT gives up the same way, and nothing is stored.
    path, _, _ = make_file(c, "1m", MIB, seed=1)
    PROXY.reset()
    PROXY.fail(100)
    rc, out, err = s3tool(c, "put", BUCKET, "failed/small", path, endpoint=PROXY.endpoint)
    PROXY.clear()
    assert rc == EXIT_REMOTE and "HTTP 503 (SlowDown), 4 times" in err, (rc, out, err)
    assert absent("failed/small")


def test_cancel_aborts(c):
    path, _, _ = make_file(c, "40m", 40 * MIB, seed=40)
    rc, out, err = s3tool(c, "put", BUCKET, "cancelled/big", path, env={"S3TOOL_CANCEL_AFTER": "2"})
    assert rc == EXIT_FAILURE and err.strip() == f"The upload of s3://{BUCKET}/cancelled/big was cancelled.", \
        (rc, out, err)
    assert uploads_left() == [] and absent("cancelled/big")


def test_cut_mid_part_is_retried(c):
    path, sha, _ = make_file(c, "20m", 20 * MIB, seed=21)
    PROXY.reset()
    PROXY.cut(after=MIB, match=r"^PUT .*[?&]partNumber=2(&|$)")
    rc, out, err = s3tool(c, "put", BUCKET, "cut/big", path, endpoint=PROXY.endpoint,
                          env={"S3TOOL_DEBUG": "1"})
    assert rc == 0, (rc, out, err)
    st = PROXY.stats()
    assert st["counts"]["cut"] == 1, st
    assert sum("partNumber=2" in e["request"] for e in st["log"]) == 2, st["log"]
    assert "retrying in 500 ms" in err, err
    assert boto3_sha256(c, "cut/big") == sha and uploads_left() == []
    # A single PUT cut half-way: retried whole.
    path4, sha4, _ = make_file(c, "4m", 4 * MIB, seed=4)
    PROXY.reset()
    PROXY.cut(after=MIB, match="^PUT ")
    ok(c, "put", BUCKET, "cut/small", path4, endpoint=PROXY.endpoint)
    assert PROXY.stats()["counts"]["cut"] == 1
    assert boto3_sha256(c, "cut/small") == sha4


# What faultproxy cannot do (it cuts request bodies and answers errors of its own), this little
# proxy does, one connection at a time, every answer with "Connection: close":
#   get-honor CUT   the first answer ends after CUT bytes of its body; the rest is forwarded
#   get-ignore CUT  the same, then it answers every later request with the whole first answer
#                   (a store that ignores Range)
#   complete-error N  the first N CompleteMultipartUpload requests are answered 200 with an
#                   <Error> in the body, as S3 does when it fails after it began answering
# It logs each request's line, Range and If-Match.
MISBEHAVE = r"""
import json, socket, sys
listen, upstream, mode, arg, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]

def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        more = s.recv(65536)
        if not more:
            raise ConnectionError("closed")
        data += more
    head, rest = data.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", rest

def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip().decode()
    return None

def without(head, name):
    lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith(name + b":")]
    return b"\r\n".join(lines) + b"\r\n\r\n"

def closing(head):
    lines = without(head, b"connection").split(b"\r\n")
    return b"\r\n".join(lines[:1] + [b"Connection: close"] + lines[1:])

def read_body(s, rest, length):
    while len(rest) < length:
        more = s.recv(1 << 20)
        if not more:
            break
        rest += more
    return rest

def forward(head, body):
    u = socket.create_connection(("127.0.0.1", upstream))
    u.sendall(head + body)
    rhead, rest = read_head(u)
    rbody = read_body(u, rest, int(header(rhead, b"content-length") or 0))
    u.close()
    return closing(rhead), rbody

ERROR = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
         b'<Message>injected after 200</Message></Error>')
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen))
srv.listen(8)
first, n, completes = None, 0, 0
while True:
    c, _ = srv.accept()
    try:
        head, rest = read_head(c)
        line = head.split(b"\r\n")[0].decode()
        with open(log, "a") as f:
            f.write(json.dumps({"line": line, "range": header(head, b"range"),
                                "if_match": header(head, b"if-match")}) + "\n")
        if (header(head, b"expect") or "").lower() == "100-continue":
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            head = without(head, b"expect")   # curl adds it unsigned: RGW need not see it
        body = read_body(c, rest, int(header(head, b"content-length") or 0))
        if mode == "complete-error" and line.startswith("POST ") and "uploadId=" in line and completes < arg:
            completes += 1
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(ERROR) + ERROR)
        elif mode == "get-ignore" and first is not None:
            c.sendall(first)
        else:
            rhead, rbody = forward(head, body)
            if mode.startswith("get-") and n == 0:
                first = rhead + rbody
                rbody = rbody[:arg]   # then an orderly close: exactly arg bytes arrive
            c.sendall(rhead + rbody)
        n += 1
        c.close()
    except (OSError, ConnectionError, ValueError):
        c.close()
"""


def misbehave(c, mode, arg):
    """Starts the misbehaving proxy in front of RGW; returns (endpoint, log path, unit)."""
    unit = f"cedana-test-misbehave-{mode}.service"
    log = f"{DATA}/misbehave-{mode}.log"
    c.run(["rm", "-f", log])
    c.start_unit_process(unit, [rgw.PYTHON, f"{DATA}/misbehave.py", MISBEHAVE_PORT, S3.port, mode, arg, log],
                         output="journal", properties=("CollectMode=inactive-or-failed",))
    c.run(["timeout", "10", "sh", "-c",
           f"until ss -Hltn 'sport = :{MISBEHAVE_PORT}' | grep -q .; do sleep 0.05; done"])
    return f"http://127.0.0.1:{MISBEHAVE_PORT}", log, unit


def requests_seen(c, log):
    return [json.loads(line) for line in c.read_file(log).splitlines()]


def test_cut_download_resumes(c):
    # A download cut half-way asks for the rest with a Range request bound to the first
    # answer's ETag, and copes with a store that sends it all again, into a file or a pipe.
    path, sha, _ = make_file(c, "12m", 12 * MIB, seed=12)
    ok(c, "put", BUCKET, "resume/twelve", path)
    etag = S3.call("head_object", Bucket=BUCKET, Key="resume/twelve")["ETag"]
    for mode in ("get-honor", "get-ignore"):
        for dest in (f"{DATA}/resumed.got", "-"):
            endpoint, log, unit = misbehave(c, mode, 3 * MIB)
            try:
                if dest == "-":
                    r = c.run(["sh", "-c", f'"$1" "$2" "$3" "$4" "$5" get {BUCKET} resume/twelve - | sha256sum',
                               "sh", tool(c), endpoint, S3.region, S3.access_key, S3.secret_key])
                    got = r.stdout.split()[0]
                    assert S3.secret_key not in r.stdout + r.stderr
                else:
                    out = ok(c, "get", BUCKET, "resume/twelve", dest, endpoint=endpoint)
                    assert out["size"] == 12 * MIB and out["progress"]["monotonic"], out
                    got = sha256(c, dest)
                requests = requests_seen(c, log)
            finally:
                c.run(["systemctl", "stop", unit], check=False)
            assert got == sha, (mode, dest)
            assert len(requests) == 2, requests
            assert requests[0]["range"] is None and requests[0]["if_match"] is None, requests
            assert requests[1]["range"] == f"bytes={3 * MIB}-" and requests[1]["if_match"] == etag, requests


def test_complete_error_in_200(c):
    path, sha, _ = make_file(c, "20m", 20 * MIB, seed=22)
    # Once: the completion is asked again, and the object is whole.
    endpoint, log, unit = misbehave(c, "complete-error", 1)
    try:
        ok(c, "put", BUCKET, "complete/retried", path, endpoint=endpoint)
        lines = [r["line"] for r in requests_seen(c, log)]
    finally:
        c.run(["systemctl", "stop", unit], check=False)
    assert [x.split(" ")[0] for x in lines] == ["POST", "PUT", "PUT", "PUT", "POST", "POST"], lines
    assert boto3_sha256(c, "complete/retried") == sha and uploads_left() == []
    # Always: a failure, not a success, and the upload is aborted.
    endpoint, log, unit = misbehave(c, "complete-error", 100)
    try:
        rc, out, err = s3tool(c, "put", BUCKET, "complete/failed", path, endpoint=endpoint)
        lines = [r["line"] for r in requests_seen(c, log)]
    finally:
        c.run(["systemctl", "stop", unit], check=False)
    assert rc == EXIT_REMOTE and "HTTP 200 (InternalError), 4 times" in err, (rc, out, err)
    assert lines[-1].startswith("DELETE ") and uploads_left() == [] and absent("complete/failed"), lines

