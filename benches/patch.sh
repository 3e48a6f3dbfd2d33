#!/usr/bin/env bash
# `regraft patch` benchmark: the bookworm security updates of fixtures/build-patch.sh applied to
# debian-old (docker-archive in, docker-archive out), regraft against the route a user has
# without it and without a daemon: skopeo to an OCI layout, umoci unpack, `dpkg -i` of the same
# .debs in a chroot, umoci repack, skopeo back to a docker-archive. Timed with hyperfine
# (Debian's package); quote the ratio of the means.
#
#   bash benches/patch.sh [RUNS]
#
# Needs root (chroot, apt-get for missing packages), fixtures/real (build-real.sh, build-patch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-5}
bash tests/need-debs.sh skopeo umoci hyperfine dpkg-dev apt-utils jq
bash fixtures/build-real.sh >&2
bash fixtures/build-patch.sh >&2
cargo build --release --bin regraft >&2
REGRAFT=$ROOT/target/release/regraft
R=$ROOT/fixtures/real
WORK=$(mktemp -d /tmp/regraft-patch-bench.XXXXXX)
trap 'rm -rf --one-file-system "$WORK"' EXIT
cat >"$WORK/route.sh" <<EOF
#!/bin/sh
set -e
cd "$WORK"
rm -rf l b out.tar
skopeo copy -q docker-archive:$R/debian-old.tar oci:l:x
umoci unpack --image l:x b >/dev/null
cp $R/patch/debs/*.deb b/rootfs/tmp/
chroot b/rootfs sh -c 'dpkg -i /tmp/*.deb >/dev/null && rm /tmp/*.deb'
umoci repack --image l:x b >/dev/null
skopeo copy -q oci:l:x docker-archive:out.tar
EOF
echo "## patch: regraft patch --all vs skopeo + umoci + chroot dpkg -i + umoci + skopeo ($(wc -l <"$R/patch/packages.txt") packages)"
hyperfine -N -r "$RUNS" --warmup 1 \
  "$REGRAFT -q patch $R/debian-old.tar --repo $R/patch/flat --all -o $WORK/r.tar" \
  "sh $WORK/route.sh"
