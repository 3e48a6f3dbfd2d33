#!/usr/bin/env bash
# Side-by-side benchmark: regraft against buildah, the umoci route and skopeo on the same graft
# jobs, with the floor of each job (benches/tools/floor.rs: read and sha256 every input blob the
# job needs once, inflate each compressed one once with zlib-rs/libzstd on a second thread and
# sha256 its tar, write the output's size once and fsync). Prints wall time, CPU time (user+sys)
# and peak RSS per tool, and the ratios to the floor.
#
#   bash benches/compare.sh            # real Debian images + mid + large generated images
#   bash benches/compare.sh --quick    # real images only (about a minute)
#   bash benches/compare.sh --no-peers # regraft and the floor only
#   bash benches/compare.sh --scaling  # only the scaling tables: entries (300k and 1M small
#                                      # files) and cores (1 core against all), no peers
#
# From a clean clone: installs missing Debian packages, builds fixtures/real/ (build-real.sh)
# and the generated images under fixtures/real/large/ (git-ignored, cached), the multi-platform
# fixtures (build-multi.sh: one two-platform graft against two single-platform runs), builds regraft in
# release mode, runs everything with warm page caches, and writes the table to stdout (and to
# $WORK/results.md). Needs root (buildah, umoci, apt-get). Peers use a fresh storage root each
# run, as on a new build host. Numbers from a shared machine are noisy: say so when quoting.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0 PEERS=1 SCALING=0
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    --no-peers) PEERS=0 ;;
    --scaling) SCALING=1 PEERS=0 ;;
    *) echo "usage: benches/compare.sh [--quick] [--no-peers] [--scaling]" >&2; exit 2 ;;
  esac
done

# --- tools -------------------------------------------------------------------------------------
bash tests/need-debs.sh skopeo umoci buildah time openssl python3 mmdebstrap pigz

bash fixtures/build-real.sh >&2
cargo build --release --bin regraft --example floor --example gz >&2
GZ=$ROOT/target/release/examples/gz
REGRAFT=$ROOT/target/release/regraft
FLOOR=$ROOT/target/release/examples/floor
R=$ROOT/fixtures/real
L=$R/large

# --- generated images: vendor-SIZE = debian-old + one layer with /opt/big -----------------------
gen_image() { # name scale | name --files N
  local name=$1 scale=${*:2}
  [ -f "$L/$name.done" ] && return 0
  echo "compare.sh: generating $name (scale $scale) in $L" >&2
  mkdir -p "$L"
  local t
  t=$(mktemp -d "$L/.gen.XXXXXX")
  python3 benches/tools/gen-rootfs.py "$t/rootfs" $scale >&2
  cp -a "$R/debian-old.oci" "$t/img"
  umoci insert --image "$t/img:bookworm" "$t/rootfs/opt/big" /opt/big >&2
  rm -rf "$L/$name.oci" "$L/$name.tar"
  skopeo copy -q "oci:$t/img:bookworm" "oci:$L/$name.oci:1.0" >&2
  skopeo copy -q "oci:$t/img:bookworm" "docker-archive:$L/$name.tar:$name:1.0" >&2
  rm -rf "$t"
  touch "$L/$name.done"
}
if [ $QUICK = 0 ]; then
  gen_image vendor-mid 0.25
  # The large image is used by the full run's rows only, not by --scaling's.
  [ $SCALING = 1 ] || gen_image vendor-large 1
  # Entry-count scaling: small files only (about 0.5 and 1.4 GB of tar).
  gen_image vendor-files300k --files 300000
  gen_image vendor-files1m --files 1000000
fi

WORK=$(mktemp -d /var/tmp/regraft-bench.XXXXXX)
trap 'cleanup_peers; rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.md

cleanup_peers() {
  if [ -d "$WORK/buildah" ]; then
    buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" rm -a >/dev/null 2>&1 || true
    buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" rmi -a -f >/dev/null 2>&1 || true
    umount -R "$WORK/buildah/root/overlay" 2>/dev/null || true
    rm -rf "$WORK/buildah"
  fi
  rm -rf "$WORK/umoci" "$WORK/out"*
}

warm() { for f in "$@"; do [ -e "$f" ] && find "$f" -type f -exec cat {} + >/dev/null; done; true; }
size_of() { du -sb --apparent-size "$1" | cut -f1; }

# time_cmd LABEL CMD...: runs CMD under /usr/bin/time; sets WALL CPU RSS (s, s, MiB).
time_cmd() {
  local label=$1; shift
  sync
  if ! /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" >"$WORK/log" 2>&1; then
    echo "compare.sh: $label failed:" >&2; tail -5 "$WORK/log" >&2
    WALL=nan CPU=nan RSS=nan; return 0
  fi
  read -r WALL U S K < <(tail -1 "$WORK/time")
  CPU=$(python3 -c "print(f'{$U+$S:.2f}')")
  RSS=$(python3 -c "print(f'{$K/1024:.0f}')")
}

row() { # job tool wall cpu rss floor_wall floor_cpu note
  python3 - "$@" >>"$RESULTS" <<'EOF'
import sys
job, tool, w, c, r, fw, fc, note = sys.argv[1:9]
def ratio(a, b):
    try:
        return f"{float(a)/float(b):.2f}x"
    except (ValueError, ZeroDivisionError):
        return "-"
print(f"| {job} | {tool} | {w} | {c} | {r} | {ratio(w, fw)} | {ratio(c, fc)} | {note} |")
EOF
}

# job NAME MODE(layer|path) VENDOR BASE OUT_REF [FMT: docker|oci]
# The vendor's old base is its first layer in every job (debian-old).
job() {
  local name=$1 mode=$2 vendor=$3 base=$4 out=$5 fmt=$6
  local args=(--from "$vendor" --onto "$base" --old-base-layers 1 -o "$out")
  local vpath=/opt/vendor
  case $vendor in *large*|*mid*|*files*) vpath=/opt/big ;; esac
  [ "$mode" = path ] && args+=(--path "$vpath")
  local skip=1; [ "$mode" = path ] && skip=0
  warm "$vendor" "$base"
  cleanup_peers
  time_cmd "regraft $name" "$REGRAFT" "${args[@]}"
  local rw=$WALL rc=$CPU rr=$RSS
  local outpath=${out#*:}
  local outsize
  outsize=$(size_of "$outpath")
  "$REGRAFT" verify "$out" >/dev/null || echo "compare.sh: regraft output of $name does not verify" >&2
  # The floor: the blobs this job must read, and the output's size written once.
  mapfile -t blobs < <(python3 benches/tools/blobs.py "$vendor" "$skip"; python3 benches/tools/blobs.py "$base")
  time_cmd "floor $name" "$FLOOR" --write "$WORK/floor.out" "$outsize" "${blobs[@]}"
  local fw=$WALL fc=$CPU fr=$RSS
  row "$name" floor "$fw" "$fc" "$fr" "$fw" "$fc" "$(( outsize / 1000000 )) MB out"
  row "$name" "**regraft**" "$rw" "$rc" "$rr" "$fw" "$fc" ""
  cleanup_peers
  [ $PEERS = 1 ] || return 0
  local tr=docker-archive outref
  [ "$fmt" = oci ] && tr=oci-archive
  if [ "$mode" = path ]; then
    # buildah from a fresh storage root, as on a new build host.
    local b="buildah --root $WORK/buildah/root --runroot $WORK/buildah/run --storage-driver overlay"
    local src=docker-archive
    [ "$fmt" = oci ] && src=oci
    local vref="$src:$vendor" bref="$src:$base"
    [ "$fmt" = oci ] && vref="oci:$vendor:1.0" && bref="oci:$base:$(basename "$base" .oci | sed 's/debian-new/trixie/;s/debian-old/bookworm/')"
    outref="$tr:$WORK/out-buildah.tar:graft:1"
    time_cmd "buildah $name" bash -c "set -e; v=\$($b from -q $vref); c=\$($b from -q $bref);
      $b copy --from \$v \$c $vpath $vpath >/dev/null; $b commit -q \$c graft:1 >/dev/null;
      $b push -q graft:1 $outref"
    row "$name" buildah "$WALL" "$CPU" "$RSS" "$fw" "$fc" "regraft $(python3 -c "print(f'{$WALL/$rw:.1f}' if '$WALL'!='nan' else '-')")x faster"
    cleanup_peers
    # The umoci route: unpack the vendor, insert the path into (a copy of) the base, copy out.
    mkdir -p "$WORK/umoci"
    local pre=""
    if [ "$fmt" = docker ]; then
      pre="skopeo copy -q docker-archive:$vendor oci:$WORK/umoci/v:1.0; skopeo copy -q docker-archive:$base oci:$WORK/umoci/b:latest;"
    else
      cp -a "$vendor" "$WORK/umoci/v"; cp -a "$base" "$WORK/umoci/b"
      local bt; bt=$(python3 -c "import json;print(json.load(open('$base/index.json'))['manifests'][0]['annotations']['org.opencontainers.image.ref.name'])")
      skopeo copy -q "oci:$WORK/umoci/b:$bt" "oci:$WORK/umoci/b:latest"
    fi
    time_cmd "umoci $name" bash -c "set -e; $pre
      umoci raw unpack --image $WORK/umoci/v:1.0 $WORK/umoci/root;
      umoci insert --image $WORK/umoci/b:latest $WORK/umoci/root$vpath $vpath;
      skopeo copy -q oci:$WORK/umoci/b:latest $tr:$WORK/out-umoci.tar:graft:1"
    local note="regraft $(python3 -c "print(f'{$WALL/$rw:.1f}' if '$WALL'!='nan' else '-')")x faster"
    [ "$fmt" = oci ] && note="$note (layout copies untimed)"
    row "$name" "umoci route" "$WALL" "$CPU" "$RSS" "$fw" "$fc" "$note"
    cleanup_peers
  else
    # No peer rebases offline; skopeo copying the vendor image is the reference for moving it.
    local vref="docker-archive:$vendor"
    [ "$fmt" = oci ] && vref="oci:$vendor:1.0"
    time_cmd "skopeo $name" skopeo copy -q "$vref" "$tr:$WORK/out-skopeo.tar:v:1"
    row "$name" "skopeo copy (vendor only)" "$WALL" "$CPU" "$RSS" "$fw" "$fc" "reference, not a graft"
    cleanup_peers
  fi
}

{
  echo "regraft $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty'), $(nproc) cores, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "SHA-256: $("$FLOOR" --hash 2048) | openssl speed -evp sha256 (64 KiB, CPU time): $(openssl speed -evp sha256 -bytes 65536 -seconds 3 2>/dev/null | awk '/^sha256/ {printf "%.0f MB/s", $2/1000}')"
  echo
  echo "| job | tool | wall s | CPU s | peak RSS MiB | wall / floor | CPU / floor | note |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$RESULTS"

# --- scaling: entries and cores -----------------------------------------------------------------
# Entries: the same jobs on images of 300k and 1M small files and nothing else, where memory
# is all merged-view entries. Cores: a job pinned to one core (taskset -c 0) against the same
# job on every core; the two outputs must be byte-identical.
scaling() {
  for n in files300k files1m; do
    job "$n layer, docker-save" layer "$L/vendor-$n.tar" "$R/debian-new.tar" "docker-archive:$WORK/out.tar" docker
    job "$n path, docker-save" path "$L/vendor-$n.tar" "$R/debian-new.tar" "docker-archive:$WORK/out.tar" docker
  done
  cores_job "mid path, docker-save" "$L/vendor-mid.tar" "$R/debian-new.tar" "docker-archive"
  cores_job "mid path, OCI gzip -> oci-archive" "$L/vendor-mid.oci" "$R/debian-new.oci" "oci-archive"
}
cores_job() { # name vendor base out-transport
  local name=$1 vendor=$2 base=$3 tr=$4
  local args=(--from "$vendor" --onto "$base" --old-base-layers 1 --path /opt/big)
  warm "$vendor" "$base"
  time_cmd "regraft $name, all cores" "$REGRAFT" "${args[@]}" -o "$tr:$WORK/out-all.tar"
  local w=$WALL c=$CPU r=$RSS
  time_cmd "regraft $name, 1 core" taskset -c 0 "$REGRAFT" "${args[@]}" -o "$tr:$WORK/out-one.tar"
  cmp -s "$WORK/out-all.tar" "$WORK/out-one.tar" || echo "compare.sh: $name differs between 1 core and $(nproc)" >&2
  row "$name" "regraft, 1 core (taskset -c 0)" "$WALL" "$CPU" "$RSS" "$w" "$c" "ratios: to all cores"
  row "$name" "**regraft, $(nproc) cores**" "$w" "$c" "$r" "$w" "$c" "output identical: $(cmp -s "$WORK/out-all.tar" "$WORK/out-one.tar" && echo yes || echo NO)"
  rm -f "$WORK"/out-*.tar
}
if [ $SCALING = 1 ]; then
  scaling
  cat "$RESULTS"
  exit 0
fi

sets=(real)
[ $QUICK = 0 ] && sets+=(mid large)
for s in "${sets[@]}"; do
  if [ "$s" = real ]; then
    vd=$R/vendor-real.tar vo=$R/vendor-real.oci
  else
    vd=$L/vendor-$s.tar vo=$L/vendor-$s.oci
  fi
  job "$s layer, docker-save" layer "$vd" "$R/debian-new.tar" "docker-archive:$WORK/out.tar" docker
  job "$s layer, OCI gzip -> layout" layer "$vo" "$R/debian-new.oci" "oci:$WORK/out.oci" oci
  job "$s path, docker-save" path "$vd" "$R/debian-new.tar" "docker-archive:$WORK/out.tar" docker
  job "$s path, OCI gzip" path "$vo" "$R/debian-new.oci" "oci-archive:$WORK/out.tar" oci
done

# --- the new gzip layer: regraft's encoder against pigz -6 on every core, same input ---------
# The input is a real layer tar: the top layer of each set's docker-save vendor (debian-old's
# base layer for "real"). Both write the file and fsync it; sizes are compared to pigz's.
gz_job() { # name docker-save layer-index(-1: last)
  local name=$1 image=$2 idx=$3
  local member
  member=$(tar -xOf "$image" manifest.json | python3 -c "import json,sys;print(json.load(sys.stdin)[0]['Layers'][$idx])")
  tar -xOf "$image" "$member" >"$WORK/layer.tar"
  warm "$WORK/layer.tar"
  local in; in=$(size_of "$WORK/layer.tar")
  time_cmd "pigz $name" sh -c "pigz -6 -p$(nproc) -c $WORK/layer.tar >$WORK/layer.pigz && sync $WORK/layer.pigz"
  local pw=$WALL pc=$CPU pr=$RSS ps; ps=$(size_of "$WORK/layer.pigz")
  time_cmd "regraft gz $name" "$GZ" 6 "$WORK/layer.tar" "$WORK/layer.gz"
  local gs; gs=$(size_of "$WORK/layer.gz")
  cmp <(gzip -dc "$WORK/layer.gz") "$WORK/layer.tar" || echo "compare.sh: regraft's gzip of $name does not round-trip" >&2
  row "$name ($(( in / 1000000 )) MB tar)" "pigz -6 -p$(nproc)" "$pw" "$pc" "$pr" "$pw" "$pc" "$(( ps / 1000 )) kB"
  row "$name ($(( in / 1000000 )) MB tar)" "**regraft gzip:6**" "$WALL" "$CPU" "$RSS" "$pw" "$pc" "$(( gs / 1000 )) kB, $(python3 -c "print(f'{$gs/$ps:.3f}')")x pigz's size; ratios: to pigz"
  rm -f "$WORK"/layer.*
}
gz_job "new gzip layer, real base" "$R/debian-old.tar" 0
[ $QUICK = 0 ] && gz_job "new gzip layer, mid /opt/big" "$L/vendor-mid.tar" -1

# --- multi-platform: one two-platform graft against two single-platform runs -------------------
# fixtures/real/multi (build-multi.sh): amd64 + arm64 indexes, small (a 5 MB base layer per
# platform); the row says what one index costs against grafting each platform on its own.
bash fixtures/build-multi.sh >&2
M=$R/multi
multi_job() { # name mode(layer|path)
  local name=$1 mode=$2
  local args=(--from "$M/vendor-oci.tar" --onto "$M/base-new-oci.tar" --old-base-layers 1)
  [ "$mode" = path ] && args+=(--path /opt/vendor)
  warm "$M/vendor-oci.tar" "$M/base-new-oci.tar"
  rm -f "$WORK"/out-*.tar
  time_cmd "regraft $name, index" "$REGRAFT" "${args[@]}" -o "oci-archive:$WORK/out-multi.tar"
  local w=$WALL c=$CPU r=$RSS
  time_cmd "regraft $name, amd64" "$REGRAFT" "${args[@]}" --platform linux/amd64 -o "oci-archive:$WORK/out-amd64.tar"
  local w1=$WALL c1=$CPU r1=$RSS
  time_cmd "regraft $name, arm64" "$REGRAFT" "${args[@]}" --platform linux/arm64 -o "oci-archive:$WORK/out-arm64.tar"
  local sw sc sr
  sw=$(python3 -c "print(f'{$w1+$WALL:.2f}')")
  sc=$(python3 -c "print(f'{$c1+$CPU:.2f}')")
  sr=$(( r1 > RSS ? r1 : RSS ))
  row "$name" "**regraft**, one index of 2 platforms" "$w" "$c" "$r" "$sw" "$sc" "ratios: to the two runs below"
  row "$name" "regraft, 2 single-platform runs" "$sw" "$sc" "$sr" "$sw" "$sc" "sum of both runs (RSS: the larger)"
  rm -f "$WORK"/out-*.tar
}
multi_job "multi layer, OCI archive" layer
multi_job "multi path, OCI archive" path

[ $QUICK = 0 ] && scaling
cat "$RESULTS"
