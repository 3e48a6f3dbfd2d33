#!/usr/bin/env bash
# Runs the fuzz targets for a bounded time each: fuzz/run.sh [SECONDS] [TARGET...]
# (default 60 s, every target). Seeds each corpus from the committed fixtures. Stable Rust
# only: cargo-fuzz's nightly flags are allowed with RUSTC_BOOTSTRAP=1, and `-s none` skips
# the sanitizer (which needs nightly's std). A crash fails the run and leaves its input in
# fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json layer_walk sniff elf ldcache ldcache_write ld_so_conf merged_view dpkg_status apk_db users pyvenv accept_rules zip deb apk registry_ref rpm_header rpmdb_sqlite rpmdb_ndb rpmdb_bdb report append_layer)
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi

seed() {
  local t=$1 dir=corpus/$1
  mkdir -p "$dir"
  [ -n "$(ls -A "$dir")" ] && return 0
  case $t in
    json)
      find ../fixtures -name '*.json' -size -64k -exec cp {} "$dir/" \;
      for f in ../fixtures/oci/blobs/sha256/* ../fixtures/multi.oci/blobs/sha256/*; do
        head -c 2 "$f" | grep -q '{' && cp "$f" "$dir/" || true
      done ;;
    layer_walk)
      # Uncompressed layer tars: the blobs of the docker archive fixtures.
      tmp=$(mktemp -d)
      tar -xf ../fixtures/vendor-docker25.tar -C "$tmp"
      for f in "$tmp"/blobs/sha256/*; do
        head -c 262 "$f" | tail -c 5 | grep -q ustar && cp "$f" "$dir/"
      done
      rm -rf "$tmp" ;;
    elf)
      # ELF files of the build host (a program, a library, the loader).
      for f in /bin/true /lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2; do
        [ -f "$f" ] && head -c 1048576 "$f" > "$dir/$(basename "$f")" || true
      done ;;
    ldcache)
      [ -f /etc/ld.so.cache ] && cp /etc/ld.so.cache "$dir/host" || true ;;
    ldcache_write)
      printf '\003libc.so.6\n/lib/x/libc.so.6\377\001libz.so.1\n/lib/libz.so.1\377\003libz.so.10\n/usr/lib/libz.so.10' > "$dir/three" ;;
    ld_so_conf)
      printf 'include /etc/ld.so.conf.d/*.conf\n/opt/a/lib\n' > "$dir/plain"
      { printf 'include ld.so.conf.d/*.conf\n\0\377/opt/x:/opt/y\ninclude /etc/ld.so.conf.d/0?.conf\n'
        printf '\0\377'; head -c 65536 /etc/ld.so.cache 2>/dev/null || true; } > "$dir/includes" ;;
    merged_view)
      printf 'd usr\nd usr/lib\ns lib usr/lib\nf lib/x.so\n-\nw usr/lib/x.so\no usr\nf usr/y\n' > "$dir/plain"
      printf 's a b/../b\ns b c/../c\nd c\nl h lib/x\nf a/x\n' > "$dir/chain" ;;
    sniff)
      cp ../fixtures/vendor.tar ../fixtures/vendor.tar.gz ../fixtures/vendor-oci.tar \
         ../fixtures/vendor-legacy.tar ../fixtures/vendor-docker25.tar \
         ../fixtures/vendor-docker29.tar "$dir/" ;;
    registry_ref)
      printf '127.0.0.1:5000/vend/app:1' > "$dir/tag"
      printf 'reg.example/a/b@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' > "$dir/digest"
      printf 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"' > "$dir/challenge" ;;
    dpkg_status)
      printf 'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n\nPackage: apt\nVersion: 1:2.6.1~rc1\n' >"$dir/status"
      printf '/.\n/usr\n/usr/lib/x86_64-linux-gnu/libc.so.6\nlibzstd1:amd64.list\n' >"$dir/list" ;;
    apk_db)
      printf 'P:musl\nV:1.2.4-r2\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:busybox\nV:1.36.1_p2-r0\n' >"$dir/installed" ;;
    users)
      printf 'root:x:0:0:root:/root:/bin/sh\nsvc:x:1001:1001::/opt/svc:/usr/sbin/nologin\n' >"$dir/passwd"
      printf 'svc:svc\n1000:nogroup\n' >"$dir/user" ;;
    pyvenv)
      printf 'home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n' >"$dir/cfg" ;;
    zip)
      # A jar as `jar` writes one: a manifest and class files, deflated and stored.
      python3 - "$dir/jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n", zipfile.ZIP_DEFLATED)
    z.writestr("a/A.class", bytes([0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61]) + bytes(64), zipfile.ZIP_DEFLATED)
    z.writestr("module-info.class", bytes([0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 65]), zipfile.ZIP_STORED)
PY
      ;;
    deb)
      # Small real packages: the demo packages of the patch tests, built by dpkg-deb.
      for p in ../fixtures/src/patch/regraft-demo-1.2 ../fixtures/src/patch/regraft-demo-data-1.1; do
        dpkg-deb --root-owner-group -Zgzip --build "$p" "$dir/$(basename "$p").deb" >/dev/null
      done ;;
    apk)
      # A small signed-looking .apk and an APKINDEX.tar.gz, made by fixtures/tools/mkapk.py.
      printf '{"out": "%s/demo-1.0-r0.apk", "info": [["pkgname", "demo"], ["pkgver", "1.0-r0"], ["depend", "so:libc.musl-x86_64.so.1 !other"], ["provides", "cmd:demo=1.0-r0"]], "files": [["usr", "dir", null, 493], ["usr/bin", "dir", null, 493], ["usr/bin/demo", "file", "#!/bin/sh\\n", 493], ["usr/bin/d", "symlink", "demo", 511]], "scripts": {"post-upgrade": "#!/bin/sh\\n"}, "signed": true}' "$dir" >"$dir/spec.json"
      python3 ../fixtures/tools/mkapk.py apk "$dir/spec.json"
      python3 ../fixtures/tools/mkapk.py index "$dir"
      rm -f "$dir"/*.json ;;
    rpm_header | rpmdb_sqlite | rpmdb_ndb | rpmdb_bdb)
      # The rpm fixture's database (fixtures/build-rpm.sh), and each of its header blobs.
      # No `| head -1` and no `grep -q` here: under pipefail a reader that stops early makes
      # the writer's SIGPIPE the pipeline's status, and set -e ends the run (exit 141).
      db=""
      for f in $(find ../fixtures/real/rpm/rpm-old.oci/blobs -type f -size +1k 2>/dev/null | sort); do
        if tar -tzf "$f" 2>/dev/null | grep 'var/lib/rpm/rpmdb.sqlite$' >/dev/null; then
          db=$f
          break
        fi
      done
      if [ -n "$db" ]; then
        tmp=$(mktemp -d)
        tar -xzf "$db" -C "$tmp" var/lib/rpm/rpmdb.sqlite
        if [ "$t" = rpmdb_sqlite ]; then
          cp "$tmp/var/lib/rpm/rpmdb.sqlite" "$dir/rpmdb.sqlite"
        elif [ "$t" = rpmdb_ndb ]; then
          python3 ../fixtures/tools/rpmdb_write.py ndb "$tmp/var/lib/rpm/rpmdb.sqlite" "$dir/Packages.db"
        elif [ "$t" = rpmdb_bdb ]; then
          # Berkeley DB's own db_load: small pages (overflow chains) and big-endian large ones.
          python3 ../fixtures/tools/rpmdb_write.py bdb-dump "$tmp/var/lib/rpm/rpmdb.sqlite" "$tmp/le" --pagesize 512
          python3 ../fixtures/tools/rpmdb_write.py bdb-dump "$tmp/var/lib/rpm/rpmdb.sqlite" "$tmp/be" --big-endian
          db5.3_load -t hash -f "$tmp/le" "$dir/Packages-le-512"
          db5.3_load -t hash -c db_lorder=4321 -f "$tmp/be" "$dir/Packages-be-4096"
        else
          python3 -c 'import sqlite3,sys
for h, b in sqlite3.connect(sys.argv[1]).execute("SELECT hnum, blob FROM Packages"):
    open(f"{sys.argv[2]}/h{h}", "wb").write(b)' "$tmp/var/lib/rpm/rpmdb.sqlite" "$dir"
        fi
        rm -rf "$tmp"
      fi
      case $t in
        rpmdb_ndb) printf 'RpmP' >"$dir/head" ;;
        rpmdb_bdb) printf '\0\0\0\0\0\0\0\0\0\0\0\0\x61\x15\x06\0' >"$dir/head" ;;
        *) printf 'SQLite format 3\0' >"$dir/head" ;;
      esac ;;
    report)
      cp ../fixtures/reports/*.json ../fixtures/reports/*.sarif "$dir/" 2>/dev/null || true ;;
    append_layer)
      # Layer tarballs as a user makes them with GNU tar: plain, gzip, zstd; and one whose
      # entry climbs out of the root (refused by the walk).
      tmp=$(mktemp -d)
      mkdir -p "$tmp/opt/extra/bin"
      printf 'x\n' >"$tmp/opt/extra/file"
      ln -s ../file "$tmp/opt/extra/bin/link"
      tar -C "$tmp" -cf "$dir/plain.tar" opt
      tar -C "$tmp" -czf "$dir/layer.tar.gz" opt
      tar -C "$tmp" --zstd -cf "$dir/layer.tar.zst" opt
      python3 -c 'import io,sys,tarfile
t = tarfile.open(sys.argv[1], "w")
i = tarfile.TarInfo("../escape"); d = b"out\n"; i.size = len(d)
t.addfile(i, io.BytesIO(d)); t.close()' "$dir/escape.tar"
      rm -rf "$tmp" ;;
    accept_rules)
      printf '/usr/lib/**/*.so\n/opt/?/bin/*\nconfig User # why\n**/' >"$dir/rules" ;;
  esac
}

for t in "${targets[@]}"; do
  seed "$t"
  echo "fuzz/run.sh: $t for ${secs}s" >&2
  # A run over 10 s or 512 MiB is a finding, as a crash is: hostile input must not make a
  # parser or a resolver slow or fat (issue 15).
  cargo fuzz run -s none --release "$t" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=512 -max_len=1048576 -timeout=10 -print_final_stats=1
done
