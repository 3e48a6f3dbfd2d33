#!/usr/bin/env bash
# Registry benchmark: regraft against skopeo on a Debian docker-registry on loopback (plain
# HTTP, storage in a temp dir), the real images pushed with skopeo (gzip layers), timed with
# hyperfine (Debian's package; A = regraft, B = skopeo; quote the ratio of the means).
#
#   bash benches/registry.sh [RUNS]
#
# Rows:
#   pull:  regraft convert docker://REG/vendor/real:1 oci-archive:X   vs   skopeo copy (same)
#          (both fetch every blob and write an archive; regraft also inflates each layer to
#          check its diff_id)
#   graft: the layer-mode graft registry to registry (vendor-real from bookworm onto trixie,
#          same registry: regraft mounts the base's layers and uploads the config)
#          vs the skopeo route a user has without registry support: skopeo copy the three
#          images to archives, regraft the files, skopeo copy the result back.
# Needs root (apt-get for missing packages) and fixtures/real (build-real.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-5}

bash tests/need-debs.sh skopeo docker-registry hyperfine
bash fixtures/build-real.sh >&2
cargo build --release --bin regraft >&2
REGRAFT=$ROOT/target/release/regraft
R=$ROOT/fixtures/real

WORK=$(mktemp -d /tmp/regraft-registry-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/data
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$WORK/config.yml" > "$WORK/registry.log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
REG=127.0.0.1:$PORT
push() { skopeo copy -q --dest-tls-verify=false "docker-archive:$1" "docker://$REG/$2"; }
push "$R/vendor-real.tar" vendor/real:1
push "$R/debian-old.tar" debian:bookworm
push "$R/debian-new.tar" debian:trixie

echo "## pull: regraft convert vs skopeo copy, registry -> oci-archive"
hyperfine -N -r "$RUNS" --warmup 1 \
  "$REGRAFT -q convert docker://$REG/vendor/real:1 oci-archive:$WORK/r.tar" \
  "skopeo copy -q --src-tls-verify=false docker://$REG/vendor/real:1 oci-archive:$WORK/s.tar"

cat > "$WORK/route.sh" <<EOF
#!/bin/sh
set -e
cd "$WORK"
rm -f v.tar o.tar n.tar g.tar
skopeo copy -q --src-tls-verify=false docker://$REG/vendor/real:1 oci-archive:v.tar
skopeo copy -q --src-tls-verify=false docker://$REG/debian:bookworm oci-archive:o.tar
skopeo copy -q --src-tls-verify=false docker://$REG/debian:trixie oci-archive:n.tar
$REGRAFT -q --from oci-archive:v.tar --old-base oci-archive:o.tar --onto oci-archive:n.tar -o oci-archive:g.tar
skopeo copy -q --dest-tls-verify=false oci-archive:g.tar docker://$REG/vendor/real:1-route
EOF
chmod +x "$WORK/route.sh"

echo "## graft: regraft registry to registry vs skopeo in, regraft on files, skopeo out"
hyperfine -N -r "$RUNS" --warmup 1 \
  "$REGRAFT -q --from docker://$REG/vendor/real:1 --old-base docker://$REG/debian:bookworm --onto docker://$REG/debian:trixie -o docker://$REG/vendor/real:1-fixed" \
  "sh $WORK/route.sh"
