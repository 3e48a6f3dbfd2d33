#!/usr/bin/env python3
"""Lists an image's layer blobs as the floor tool takes them: PATH, or TAR@OFFSET+LEN for a
member of a tar (docker archive, OCI archive).

    blobs.py IMAGE [SKIP]      # SKIP: leave out the first SKIP layers (the vendor's old base)
"""
import json
import os
import sys
import tarfile

image, skip = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0


def layers_of(read):
    """read(name) -> bytes. Returns blob names of the first image's layers."""
    try:
        m = json.loads(read("manifest.json"))
        return m[0]["Layers"]
    except KeyError:
        pass
    idx = json.loads(read("index.json"))
    d = idx["manifests"][0]["digest"].split(":")[1]
    man = json.loads(read("blobs/sha256/" + d))
    if "manifests" in man:  # an index: its first manifest
        d = man["manifests"][0]["digest"].split(":")[1]
        man = json.loads(read("blobs/sha256/" + d))
    return ["blobs/sha256/" + l["digest"].split(":")[1] for l in man["layers"]]


if os.path.isdir(image):
    def read(n):
        p = os.path.join(image, n)
        if not os.path.exists(p):
            raise KeyError(n)
        with open(p, "rb") as f:
            return f.read()
    for n in layers_of(read)[skip:]:
        print(os.path.join(image, n))
else:
    with tarfile.open(image) as t:
        members = {m.name.lstrip("./"): m for m in t.getmembers()}

        def member(n):
            m = members.get(n.lstrip("./"))
            if m is None:
                raise KeyError(n)
            while m.issym() or m.islnk():
                target = m.linkname if m.islnk() else os.path.normpath(
                    os.path.join(os.path.dirname(m.name), m.linkname))
                m = members[target.lstrip("./")]
            return m

        def read(n):
            return t.extractfile(member(n)).read()
        for n in layers_of(read)[skip:]:
            m = member(n)
            print("%s@%d+%d" % (image, m.offset_data, m.size))
