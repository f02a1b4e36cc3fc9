#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A fault-injecting HTTP/1.1 proxy for cedana's S3 integration tests: put it between cedanad
# and RGW (rgw.py), both inside the test container, and make chosen requests fail.
"""Fault-injecting HTTP/1.1 proxy on 127.0.0.1, controlled through a unix socket.

Inside the test container (a unit; see FaultProxy below for the harness side):

    faultproxy.py serve --listen PORT --upstream PORT --control SOCK
    faultproxy.py ctl SOCK '{"op": "fail", "count": 2}'

It reads each request's head and frames its body (Content-Length or chunked), so it counts
requests, not connections, and keep-alive connections work. Rules, applied in the order they
were added; a request takes the first rule whose `match` (a Python regex searched in
"METHOD TARGET", e.g. "PUT /bucket/key?partNumber=2&uploadId=...") fits and that has `count`
left, and uses one of it:

  {"op": "fail", "count": N, "status": 503, "match": RE}
      answer with that status and an S3 error body (503: SlowDown, 500: InternalError, ...)
      without asking upstream; the body is read first (not with Expect: 100-continue),
      then the connection is closed.
  {"op": "cut", "count": N, "after": K, "match": RE}
      pass the head and the first K bytes of the body upstream, then reset both connections
      (RST): the client sees its connection die mid-upload. Only requests with a body larger
      than K bytes (or chunked) are taken.
  {"op": "cutresp", "count": N, "after": K, "match": RE}
      pass the request on, then hand back the answer's head and the first K bytes of its body
      and reset both connections: the client sees a download die mid-body.
  {"op": "delay", "count": N, "seconds": S, "match": RE}
      wait S seconds, then pass the request on.
  {"op": "clear"}    drop all rules
  {"op": "stats"}    {"rules": [...left...], "log": [{"request", "action", "body"}...],
                      "counts": {"pass": n, "fail": n, "cut": n, "delay": n}}
  {"op": "reset"}    clear the rules, the log and the counts

Every control request is one JSON line; the answer is one JSON line with "ok".
"""

import argparse
import asyncio
import json
import os
import re
import socket
import struct
import sys

MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024
REASONS = {500: ("Internal Server Error", "InternalError"),
           502: ("Bad Gateway", "BadGateway"),
           503: ("Service Unavailable", "SlowDown"),
           504: ("Gateway Timeout", "GatewayTimeout"),
           429: ("Too Many Requests", "SlowDown"),
           403: ("Forbidden", "AccessDenied"),
           404: ("Not Found", "NoSuchKey")}


class Head:
    def __init__(self, raw):
        self.raw = raw
        lines = raw.decode("latin-1").split("\r\n")
        self.first = lines[0]
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()

    def get(self, name, default=""):
        return self.headers.get(name, default)

    def framing(self):
        """("chunked", None), ("length", n)."""
        if "chunked" in self.get("transfer-encoding").lower():
            return ("chunked", None)
        return ("length", int(self.get("content-length", "0") or 0))


async def read_head(reader):
    """The head up to and including the blank line, or None at a clean EOF."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise ConnectionError("connection closed in the middle of a message head")
    except asyncio.LimitOverrunError:
        raise ConnectionError("message head too long")


async def copy_body(reader, writer, framing, limit=None):
    """Copy a framed body; writer None discards it. Stops after `limit` bytes (returns
    False then); returns True when the whole body went through."""
    kind, n = framing
    sent = 0

    async def put(data):
        nonlocal sent
        if limit is not None and sent + len(data) > limit:
            data = data[:limit - sent]
        if writer is not None and data:
            writer.write(data)
            await writer.drain()
        sent += len(data)
        return limit is None or sent < limit

    if kind == "length":
        left = n
        while left > 0:
            data = await reader.read(min(CHUNK, left))
            if not data:
                raise ConnectionError("client closed in the middle of a body")
            left -= len(data)
            if not await put(data):
                return left == 0
        return True
    while True:  # chunked: size line, data, CRLF ... 0, trailers, blank line
        line = await reader.readuntil(b"\r\n")
        if not await put(line):
            return False
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while True:
                t = await reader.readuntil(b"\r\n")
                if not await put(t):
                    return False
                if t == b"\r\n":
                    return True
        left = size + 2
        while left > 0:
            data = await reader.readexactly(min(CHUNK, left))
            left -= len(data)
            if not await put(data):
                return False


class Cut(Exception):
    """A response was cut on purpose (cutresp)."""


async def copy_response(reader, writer, method, limit=None):
    """Forward one response (after any 1xx) from upstream; True if the connection may be
    reused. With limit, only that many bytes of its body (then Cut)."""
    while True:
        raw = await read_head(reader)
        if raw is None:
            raise ConnectionError("upstream closed before answering")
        head = Head(raw)
        writer.write(raw)
        await writer.drain()
        parts = head.first.split(" ", 2)
        status = int(parts[1])
        if 100 <= status < 200:
            continue
        keep = parts[0] == "HTTP/1.1" and "close" not in head.get("connection").lower()
        if method == "HEAD" or status in (204, 304):
            return keep
        if "chunked" in head.get("transfer-encoding").lower():
            if not await copy_body(reader, writer, ("chunked", None), limit):
                raise Cut()
            return keep
        if "content-length" in head.headers:
            if not await copy_body(reader, writer, ("length", int(head.get("content-length"))), limit):
                raise Cut()
            return keep
        while True:  # until EOF
            data = await reader.read(CHUNK)
            if not data:
                return False
            writer.write(data)
            await writer.drain()


def reset(writer):
    """Close with RST, not FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


def close(writer):
    if writer is not None:
        writer.transport.close()


class Proxy:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.rules = []
        self.log = []
        self.counts = {"pass": 0, "fail": 0, "cut": 0, "cutresp": 0, "delay": 0}

    def pick(self, line, framing):
        for r in self.rules:
            if r["count"] <= 0 or not re.search(r.get("match") or "", line):
                continue
            if r["op"] == "cut" and framing[0] == "length" and framing[1] <= r["after"]:
                continue
            r["count"] -= 1
            return r
        return None

    async def handle(self, creader, cwriter):
        ureader = uwriter = None
        try:
            while True:
                raw = await read_head(creader)
                if raw is None:
                    return
                head = Head(raw)
                method = head.first.split(" ", 1)[0]
                line = " ".join(head.first.split(" ")[:2])
                framing = head.framing()
                rule = self.pick(line, framing)
                action = rule["op"] if rule else "pass"
                self.counts[action] += 1
                self.log.append({"request": line, "action": action,
                                 "body": framing[1] if framing[0] == "length" else "chunked"})
                if action == "fail":
                    if "100-continue" not in head.get("expect").lower():
                        await copy_body(creader, None, framing)
                    status = int(rule.get("status", 503))
                    reason, code = REASONS.get(status, ("Error", "InternalError"))
                    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                            f"<Message>injected by faultproxy</Message>"
                            f"<RequestId>faultproxy</RequestId></Error>").encode()
                    cwriter.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml"
                                  f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
                                  f"x-amz-request-id: faultproxy\r\n\r\n".encode() + body)
                    await cwriter.drain()
                    return
                if action == "delay":
                    await asyncio.sleep(float(rule.get("seconds", 1)))
                if uwriter is None:
                    ureader, uwriter = await asyncio.open_connection(
                        "127.0.0.1", self.upstream_port, limit=MAX_HEAD)
                uwriter.write(raw)
                await uwriter.drain()
                limit = rule["after"] if action == "cut" else None
                body = asyncio.ensure_future(copy_body(creader, uwriter, framing, limit))
                resp = asyncio.ensure_future(copy_response(ureader, cwriter, method,
                                                           rule["after"] if action == "cutresp" else None))
                try:
                    await asyncio.wait({body, resp}, return_when=asyncio.FIRST_COMPLETED)
                    if action == "cutresp":
                        await asyncio.wait({resp})
                    if action in ("cut", "cutresp"):
                        if body.done() and action == "cut":
                            body.result()
                        reset(cwriter)
                        reset(uwriter)
                        cwriter = uwriter = None
                        return
                    if not body.done():
                        # The answer came first: normally the last bytes of the body are
                        # still being handed on; otherwise upstream answered without
                        # reading it all, and the connection cannot be reused.
                        await asyncio.wait({body}, timeout=0.5)
                    if not body.done():
                        return
                    body.result()
                    keep = await resp
                    if not keep or "close" in head.get("connection").lower():
                        return
                finally:
                    for t in (body, resp):
                        if not t.done():
                            t.cancel()
        except (ConnectionError, OSError, Cut, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError, IndexError):
            reset(cwriter)
            cwriter = None
        finally:
            close(cwriter)
            close(uwriter)

    async def control(self, reader, writer):
        try:
            line = await reader.readline()
            try:
                req = json.loads(line)
                op = req["op"]
                if op in ("fail", "cut", "cutresp", "delay"):
                    rule = {"op": op, "count": int(req.get("count", 1)),
                            "match": req.get("match") or ""}
                    re.compile(rule["match"])
                    if op == "fail":
                        rule["status"] = int(req.get("status", 503))
                    elif op in ("cut", "cutresp"):
                        rule["after"] = int(req.get("after", 0))
                    else:
                        rule["seconds"] = float(req.get("seconds", 1))
                    self.rules.append(rule)
                    answer = {"ok": True, "rule": rule}
                elif op == "clear":
                    self.rules = []
                    answer = {"ok": True}
                elif op == "reset":
                    self.rules, self.log = [], []
                    self.counts = dict.fromkeys(self.counts, 0)
                    answer = {"ok": True}
                elif op == "stats":
                    answer = {"ok": True, "rules": [r for r in self.rules if r["count"] > 0],
                              "log": self.log, "counts": self.counts}
                else:
                    answer = {"ok": False, "error": f"unknown op {op!r}"}
            except (ValueError, KeyError, TypeError, re.error) as e:
                answer = {"ok": False, "error": f"bad request: {e}"}
            writer.write((json.dumps(answer) + "\n").encode())
            await writer.drain()
        finally:
            writer.close()


async def serve(args):
    proxy = Proxy(args.upstream)
    srv = await asyncio.start_server(proxy.handle, "127.0.0.1", args.listen, limit=MAX_HEAD,
                                     reuse_address=True)
    if os.path.exists(args.control):
        os.unlink(args.control)
    ctl = await asyncio.start_unix_server(proxy.control, args.control)
    os.chmod(args.control, 0o600)
    print(f"faultproxy: 127.0.0.1:{args.listen} -> 127.0.0.1:{args.upstream}, "
          f"control {args.control}", flush=True)
    async with srv, ctl:
        await asyncio.gather(srv.serve_forever(), ctl.serve_forever())


def ctl(path, request, timeout=10):
    """Send one control request (a dict or JSON text); return the answer (a dict)."""
    if isinstance(request, dict):
        request = json.dumps(request)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(request.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            more = s.recv(65536)
            if not more:
                break
            data += more
    return json.loads(data)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    s.add_argument("--upstream", type=int, required=True, help="upstream port on 127.0.0.1")
    s.add_argument("--control", required=True, help="unix socket for control requests")
    c = sub.add_parser("ctl")
    c.add_argument("socket")
    c.add_argument("request", help="one JSON object")
    args = p.parse_args()
    if args.cmd == "serve":
        asyncio.run(serve(args))
        return 0
    answer = ctl(args.socket, args.request)
    print(json.dumps(answer))
    return 0 if answer.get("ok") else 1


# ---- the harness's side: imported by test modules, runs on the host ------------------------

class FaultProxy:
    """faultproxy as a unit inside the test container c, in front of an rgw.RGW (upstream)
    or any port. endpoint: what the client under test should use instead of RGW's."""

    def __init__(self, upstream, port=7481, name="proxy"):
        self.upstream_port = upstream if isinstance(upstream, int) else upstream.port
        self.port = port
        self.name = name
        self.unit = f"cedana-test-faultproxy-{name}.service"
        self.control = f"/run/cedana-test-faultproxy-{name}.sock"
        self.c = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, c):
        self.c = c
        script = os.path.realpath(__file__)  # the source tree is bound at the same path
        c.start_unit_process(self.unit, ["/usr/bin/python3", "-u", script, "serve",
                                         "--listen", self.port, "--upstream", self.upstream_port,
                                         "--control", self.control],
                             output="journal", properties=("CollectMode=inactive-or-failed",))
        c.run(["timeout", "10", "sh", "-c", f'until [ -S "{self.control}" ]; do sleep 0.02; done'])
        return self

    def stop(self):
        if self.c is None:
            return
        self.c.run(["systemctl", "stop", self.unit], check=False)
        self.c.run(["systemctl", "reset-failed", self.unit], check=False)
        self.c.run(["rm", "-f", self.control], check=False)
        self.c = None

    def request(self, req):
        r = self.c.run(["/usr/bin/python3", os.path.realpath(__file__), "ctl", self.control,
                        json.dumps(req)], check=False)
        try:
            answer = json.loads(r.stdout)
        except ValueError:
            answer = {"ok": False, "error": f"no answer: {r.stdout}{r.stderr}"}
        if not answer.get("ok"):
            raise RuntimeError(f"faultproxy {req}: {answer.get('error')}")
        return answer

    def fail(self, count=1, status=503, match=None):
        return self.request({"op": "fail", "count": count, "status": status, "match": match})

    def cut(self, after, count=1, match=None):
        return self.request({"op": "cut", "count": count, "after": after, "match": match})

    def cut_response(self, after, count=1, match=None):
        return self.request({"op": "cutresp", "count": count, "after": after, "match": match})

    def delay(self, seconds, count=1, match=None):
        return self.request({"op": "delay", "count": count, "seconds": seconds, "match": match})

    def clear(self):
        return self.request({"op": "clear"})

    def reset(self):
        return self.request({"op": "reset"})

    def stats(self):
        return self.request({"op": "stats"})


if __name__ == "__main__":
    sys.exit(main())
