# SPDX-License-Identifier: Apache-2.0
# The daemon as a system service: socket and bus activation, the published interface, idle
# exit, what ordinary users may see, and how a bad configuration is reported.

import json
import os
import re
import time
import xml.etree.ElementTree as ET

TIMEOUT = 120
BUS = ["org.cedana.Checkpoint1", "/org/cedana/Checkpoint1"]
MANAGER = "org.cedana.Checkpoint1.Manager"
NO_SYSTEM_BUS = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"}


def service_state(c):
    return c.run(["systemctl", "is-active", "cedanad.service"], check=False).stdout.strip()


def restart_service(c):
    # These tests restart cedanad more often than systemd's start limit allows by default.
    c.run(["systemctl", "reset-failed", "cedanad.service", "cedanad.socket"], check=False)
    c.run(["systemctl", "restart", "cedanad.service"])


def stop_service(c):
    c.run(["systemctl", "reset-failed", "cedanad.service", "cedanad.socket"], check=False)
    c.run(["systemctl", "start", "cedanad.socket"])
    c.run(["systemctl", "stop", "cedanad.service"])
    c.wait_until(lambda: service_state(c) == "inactive", what="cedanad.service to stop")


def setup(c):
    c.add_user("alice")
    c.run(["systemctl", "start", "cedanad.socket"])


def test_socket_activation_through_private_socket(c):
    stop_service(c)
    assert c.run(["stat", "-c", "%a %U %F", "/run/cedana/cedanad.sock"]).stdout.split() == \
        ["600", "root", "socket"]
    # Without a system bus the CLI falls back to the private socket; connecting starts the service.
    r = c.run(["cedana", "daemon", "status"], env=NO_SYSTEM_BUS)
    assert "private socket" in r.stdout, r.stdout
    assert "0.1.0" in r.stdout, r.stdout
    assert service_state(c) == "active"


def test_first_cli_call_starts_service(c):
    stop_service(c)
    r = c.run(["cedana", "daemon", "status"])
    assert "system bus" in r.stdout, r.stdout
    assert service_state(c) == "active"


def test_bus_activation(c):
    stop_service(c)
    r = c.run(["busctl", "call", *BUS, MANAGER, "ListJobs"])
    assert r.stdout.strip() == "a(ssusbttsuois) 0", r.stdout
    assert service_state(c) == "active"
    show = c.run(["systemctl", "show", "cedanad.service", "-p", "Type,WatchdogUSec,StatusText,NRestarts"]).stdout
    assert "Type=notify" in show and "WatchdogUSec=30s" in show, show
    assert "StatusText=Serving checkpoint requests." in show, show


def _members(iface):
    """{(kind, name): signature} of an <interface> element."""
    out = {}
    for el in iface:
        if el.tag == "method":
            ins = "".join(a.get("type") for a in el.findall("arg") if a.get("direction", "in") == "in")
            outs = "".join(a.get("type") for a in el.findall("arg") if a.get("direction") == "out")
            out[("method", el.get("name"))] = f"{ins}->{outs}"
        elif el.tag == "property":
            out[("property", el.get("name"))] = f"{el.get('type')} {el.get('access')}"
        elif el.tag == "signal":
            out[("signal", el.get("name"))] = "".join(a.get("type") for a in el.findall("arg"))
    return out


def test_introspection_matches_published_xml(c):
    published = ET.parse(os.path.join(c.stage_dir, "usr/share/dbus-1/interfaces/org.cedana.Checkpoint1.xml"))
    want = {i.get("name"): _members(i) for i in published.getroot().findall("interface")}
    # The installed copy is the one in the source tree.
    assert c.read_file("/usr/share/dbus-1/interfaces/org.cedana.Checkpoint1.xml") == \
        open(os.path.join(c.source_dir, "dbus/org.cedana.Checkpoint1.xml")).read()

    live = ET.fromstring(c.run(["busctl", "introspect", "--xml-interface", *BUS]).stdout)
    got = {i.get("name"): _members(i) for i in live.findall("interface")}
    assert got.get(MANAGER) == want[MANAGER], f"Manager differs:\nlive {got.get(MANAGER)}\nxml  {want[MANAGER]}"
    for std in ("org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Introspectable",
                "org.freedesktop.DBus.ObjectManager"):
        assert std in got, f"{std} missing from the live object"
    # The job interface is served below .../job; checked against a live job object in the job tests.
    assert "org.cedana.Checkpoint1.Job" in want


def test_bus_policy_lists_every_method(c):
    conf = ET.parse(os.path.join(c.source_dir, "dbus/org.cedana.Checkpoint1.conf")).getroot()
    allowed = {(a.get("send_interface"), a.get("send_member"))
               for a in conf.iter("allow") if a.get("send_destination") == "org.cedana.Checkpoint1"}
    xml = ET.parse(os.path.join(c.source_dir, "dbus/org.cedana.Checkpoint1.xml")).getroot()
    for iface in xml.findall("interface"):
        for m in iface.findall("method"):
            assert (iface.get("name"), m.get("name")) in allowed, f"{m.get('name')} not allowed by the bus policy"
    # and nothing beyond them
    names = {(i.get("name"), m.get("name")) for i in xml.findall("interface") for m in i.findall("method")}
    extra = {a for a in allowed if a[0] and a[0].startswith("org.cedana") and a not in names}
    assert not extra, f"policy allows unknown methods: {extra}"


def test_only_root_owns_the_name(c):
    r = c.run(["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
               "org.freedesktop.DBus.RequestName", "string:org.cedana.Checkpoint1", "uint32:4"],
              user="alice", check=False)
    assert r.returncode != 0 and "AccessDenied" in r.stderr, r.stderr


def test_ordinary_user_reads_features(c):
    r = c.run(["busctl", "get-property", *BUS, MANAGER, "Features"], user="alice")
    assert "criu=4.2.1" in r.stdout and "compression=zstd" in r.stdout, r.stdout
    r = c.run(["cedana", "features"], user="alice")
    assert "4.2.1" in r.stdout and "zstd" in r.stdout, r.stdout
    f = json.loads(c.run(["cedana", "features", "--json"], user="alice").stdout)
    assert f["criu"] == "4.2.1" and "zstd" in f["compression"] and f["polkit"] is True, f
    r = c.run(["busctl", "get-property", *BUS, MANAGER, "Version"], user="alice")
    assert r.stdout.strip() == 's "0.1.0"', r.stdout


def test_user_cannot_use_private_socket(c):
    r = c.run(["cedana", "daemon", "status"], user="alice", env=NO_SYSTEM_BUS, check=False)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "root" in r.stderr, r.stderr


def test_idle_exit_and_return(c):
    c.write_file("/etc/cedana/cedana.conf.d/50-idle.conf", "[Daemon]\nIdleExitSec=2\n")
    try:
        restart_service(c)
        c.run(["cedana", "daemon", "status"])
        t0 = time.monotonic()
        c.wait_until(lambda: service_state(c) == "inactive", timeout=20, what="cedanad to exit when idle")
        waited = time.monotonic() - t0
        assert waited >= 1.5, f"exited after {waited:.1f}s, before its idle period"
        assert "NRestarts=0" in c.run(["systemctl", "show", "cedanad.service", "-p", "NRestarts"]).stdout
        log = c.journal(["-u", "cedanad.service", "--no-pager", "-o", "cat"])
        assert "Nothing to do for 2s, exiting; the next call starts cedanad again." in log, log[-2000:]
        # and it comes back on the next call
        r = c.run(["cedana", "job", "list", "--no-legend"])
        assert r.returncode == 0
        assert service_state(c) == "active"
    finally:
        c.run(["rm", "-f", "/etc/cedana/cedana.conf.d/50-idle.conf"])
        restart_service(c)


def test_bad_config_is_reported_with_file_and_line(c):
    c.write_file("/etc/cedana/cedana.conf.d/90-bad.conf", "[Checkpoint]\n# a comment\nCompression=bzip2\n")
    try:
        stop_service(c)
        r = c.run(["cedana", "daemon", "status"], check=False)
        assert r.returncode != 0, r.stdout
        c.wait_until(lambda: "Compression=bzip2" in c.journal(["-u", "cedanad.service", "--no-pager", "-o", "cat"]),
                     what="the configuration error in the journal")
        log = c.journal(["-u", "cedanad.service", "--no-pager", "-o", "cat"])
        assert re.search(r"/etc/cedana/cedana.conf.d/90-bad.conf:3: Compression=bzip2 is not a supported format", log), \
            log[-2000:]
        assert "refusing to start" in log, log[-2000:]
    finally:
        c.run(["rm", "-f", "/etc/cedana/cedana.conf.d/90-bad.conf"])
        c.run(["systemctl", "reset-failed", "cedanad.service"], check=False)
    assert c.run(["cedana", "daemon", "status"]).returncode == 0


def test_no_daemon_exit_code(c):
    c.run(["systemctl", "stop", "cedanad.socket", "cedanad.service"])
    c.run(["systemctl", "mask", "--runtime", "cedanad.service"])
    try:
        r = c.run(["cedana", "job", "list"], check=False)
        assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
        assert "systemctl start cedanad.socket" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    finally:
        c.run(["systemctl", "unmask", "--runtime", "cedanad.service"])
        c.run(["systemctl", "start", "cedanad.socket"])


def test_manual_pages(c):
    # installed where man finds them, rendered without warnings
    for page, want in (("cedana", "cedana dump process"), ("cedanad", "org.cedana.Checkpoint1"),
                       ("cedana.conf", "CollectAfterSec=")):
        r = c.run(["man", "--warnings", "-P", "cat", page], env={"MANWIDTH": "100"})
        assert want in r.stdout, (page, r.stdout[:400])
        assert not r.stderr.strip(), (page, r.stderr)
    # cedana(1) lists every command --help lists, and cedana.conf(5) every key of cedana.conf
    cedana_1 = c.run(["man", "-P", "cat", "cedana"], env={"MANWIDTH": "200"}).stdout
    verbs = c.run(["cedana", "--help"]).stdout.split("\nOptions:")[0]
    commands = [m.group(1) for m in re.finditer(r"^  ([a-z]+(?: [a-z]+)?)(?: |$)", verbs, re.M)]
    assert len(commands) > 15, commands
    for cmd in commands:
        assert f"cedana {cmd}" in cedana_1, cmd
    conf_5 = c.run(["man", "-P", "cat", "cedana.conf"], env={"MANWIDTH": "200"}).stdout
    keys = re.findall(r"^#?([A-Z]\w+)=", c.read_file("/etc/cedana/cedana.conf"), re.M)
    assert len(keys) >= 8, keys
    for key in keys:
        assert f"{key}=" in conf_5, key
