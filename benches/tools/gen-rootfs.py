#!/usr/bin/env python3
"""Generates the application tree of the large benchmark image, deterministically.

    gen-rootfs.py DEST SCALE
    gen-rootfs.py DEST --files N

DEST/opt/big gets, at SCALE 1.0: 196,000 small files (0-12 KiB, about 6 KiB on average) in
1,000 directories, 1% of them symlinks, plus 8 large files of 192 MiB: about 2.7 GB and
200,000 entries. File bytes are slices of a corpus made of this machine's /usr/bin and
/usr/lib files (real binaries and text, so they compress like a real layer); the same host
packages give the same bytes. mtimes are fixed.

With --files N: N small files (0-1 KiB, 1% symlinks) in directories of 200 and nothing
else, for the entry-count scaling rows (memory per merged-view entry).
"""
import os
import sys

dest = sys.argv[1]
n_files = int(sys.argv[3]) if sys.argv[2] == "--files" else None
scale = 0.0 if n_files is not None else float(sys.argv[2])
root = os.path.join(dest, "opt", "big")
MTIME = 1700000000

corpus = bytearray()
for top in ("/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/share/perl"):
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            try:
                with open(p, "rb") as fh:
                    corpus += fh.read(4 << 20)
            except OSError:
                continue
            if len(corpus) >= 96 << 20:
                break
        if len(corpus) >= 96 << 20:
            break
corpus = bytes(corpus)
if len(corpus) < 16 << 20:
    sys.exit("gen-rootfs.py: too little corpus in /usr")
C = len(corpus)


def lcg(i):
    return (i * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF


n_small = n_files if n_files is not None else int(196000 * scale)
n_dirs = max(1, n_small // (200 if n_files is not None else 196))
n_big = 0 if n_files is not None else max(1, int(8 * scale))
max_size = 1024 if n_files is not None else 12288
os.makedirs(root, exist_ok=True)
for d in range(n_dirs):
    os.makedirs(os.path.join(root, "d%03d" % (d // 40), "e%02d" % (d % 40)), exist_ok=True)
for i in range(n_small):
    d = i % n_dirs
    p = os.path.join(root, "d%03d" % (d // 40), "e%02d" % (d % 40), "f%06d" % i)
    x = lcg(i)
    if i % 100 == 99:
        os.symlink("f%06d" % (i - 1), p)
        continue
    size = (x >> 20) % max_size
    off = (x >> 8) % (C - size)
    with open(p, "wb") as fh:
        fh.write(corpus[off:off + size])
    os.utime(p, (MTIME, MTIME))
piece = 1 << 20
for j in range(n_big):
    p = os.path.join(root, "big%d.bin" % j)
    with open(p, "wb") as fh:
        for k in range(192):
            off = lcg(j * 1000 + k) % (C - piece)
            fh.write(corpus[off:off + piece])
    os.utime(p, (MTIME, MTIME))
print("gen-rootfs.py: %d small files, %d large, in %s" % (n_small, n_big, root))
