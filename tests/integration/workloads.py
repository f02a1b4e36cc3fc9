# SPDX-License-Identifier: Apache-2.0
# What several test modules share: running the cedana command in the test container, and the
# workload processes (workload.c) they dump and restore, which report their state to a file.
"""Shared helpers of the integration tests.

    pid, report = workloads.start(c, "counter-zstd", "counter")
    workloads.read_report(c, report)["count"]
    workloads.fails(c, ["dump", "process", "1"], 4, "cannot be dumped")
"""

import os


def cedana(c, *args, check=True, user=None):
    return c.run(["cedana", *args], check=check, user=user, timeout=240)


def fails(c, args, code, words, user=None):
    """cedana ARGS exits with code and says words on stderr; returns the result."""
    r = cedana(c, *args, check=False, user=user)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert words in r.stderr, r.stderr
    return r


def workload(c):
    return os.path.join(c.build_dir, "tests/integration/workload")


def parse_report(text):
    """A workload's report: "key value" lines."""
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def read_report(c, path):
    """The report at path in the container, {} while there is none."""
    try:
        text = c.read_file(path)
    except Exception:
        return {}
    return parse_report(text)


def start(c, name, *args, user=None, report_dir="/run"):
    """workload REPORT ARGS... in a unit of its own (as user); (pid, report path) once it reports.
    report_dir must be writable by user."""
    report = f"{report_dir}/wl-{name}.report"
    c.run(["rm", "-f", report])
    pid = c.start_unit_process(f"wl-{name}", [workload(c), report, *args], user=user)
    c.wait_until(lambda: read_report(c, report), what=f"workload {name} to report")
    return pid, report
