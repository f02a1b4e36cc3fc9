#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Edits a checkpoint directory's CRIU images as their owner could, with CRIU's own pycriu, and
# reseals cedana.json by its documented rule (sha256 per file; the "checksum" member covers
# every byte before it), so that only cedana's recorded digest or its checks of the images and
# of the restored tree can tell. For the security tests; never part of cedana.
"""forge_images.py DIR EDIT...

EDIT: caps:SET:THREAD   grant every capability in SET (eff, prm, inh, amb or bnd) to thread
                        THREAD (0 is the main thread, "all" every thread)
      uid=N | gid=N     make every thread's real, effective, saved and fs ids N
      groups=N          add N to every thread's supplementary groups
"""

import glob
import hashlib
import json
import os
import sys

import pycriu

ALL_CAPS = [0xffffffff, 0x1ff]


def cores(d):
    return sorted(glob.glob(os.path.join(d, "core-*.img")), key=lambda p: int(p.split("-")[-1][:-4]))


def edit_creds(path, fn):
    img = pycriu.images.load(open(path, "rb"))
    for e in img["entries"]:
        fn(e["thread_core"]["creds"])
    pycriu.images.dump(img, open(path, "wb"))


def forge(d, edit):
    if edit.startswith("caps:"):
        _, which, thread = edit.split(":")
        paths = cores(d) if thread == "all" else [cores(d)[int(thread)]]
        for p in paths:
            edit_creds(p, lambda c: c.__setitem__(f"cap_{which}", list(ALL_CAPS)))
    elif edit.startswith(("uid=", "gid=")):
        kind, n = edit.split("=")
        keys = ("uid", "euid", "suid", "fsuid") if kind == "uid" else ("gid", "egid", "sgid", "fsgid")
        for p in cores(d):
            edit_creds(p, lambda c: c.update({k: int(n) for k in keys}))
    elif edit.startswith("groups="):
        n = int(edit.split("=")[1])
        for p in cores(d):
            edit_creds(p, lambda c: c.__setitem__("groups", list(c.get("groups", [])) + [n]))
    else:
        sys.exit(f"forge_images: unknown edit {edit}")


def reseal(d):
    meta = json.load(open(os.path.join(d, "cedana.json")))
    meta.pop("checksum", None)
    total = 0
    for f in meta["files"]:
        data = open(os.path.join(d, f["name"]), "rb").read()
        f["size"] = len(data)
        f["sha256"] = hashlib.sha256(data).hexdigest()
        total += len(data)
    meta["size"] = total
    body = json.dumps(meta, indent=2, ensure_ascii=False)
    prefix = body[:-2] + ",\n  "
    text = prefix + '"checksum": "sha256:' + hashlib.sha256(prefix.encode()).hexdigest() + '"\n}\n'
    open(os.path.join(d, "cedana.json"), "w").write(text)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    for e in sys.argv[2:]:
        forge(sys.argv[1], e)
    reseal(sys.argv[1])
