#!/usr/bin/env bash
# Runs every test of regraft on a fresh Debian machine: installs the Debian packages the tests
# need when any is missing, builds the large real fixtures when missing (fixtures/build-real.sh,
# build-check.sh, build-patch.sh, build-multi.sh, build-rpm.sh, build-rpmdb.sh, and build-docker.sh with a
# private Docker daemon), then runs the unit, property and integration tests and builds the
# benchmarks, and fuzzes each target for FUZZ_SECONDS (default 60). Needs root (chroot, umoci
# unpack, apt-get, dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/need-debs.sh skopeo umoci podman buildah mmdebstrap gcc libc6-dev musl-tools python3 python3-venv rpm db5.3-util tar gzip zstd util-linux time docker.io dpkg-dev apt-utils jq qemu-user-static docker-registry apache2-utils openssl gpg gpgv

bash fixtures/build-real.sh
bash fixtures/build-check.sh
bash fixtures/build-patch.sh
bash fixtures/build-multi.sh
bash fixtures/build-rpm.sh
bash fixtures/build-rpmdb.sh
# The SBOM validators (cyclonedx-python-lib, spdx-tools, packageurl-python, sarif-tools, pinned,
# from PyPI).
bash tests/sbom/venv.sh

log=$(mktemp)
# A private Docker daemon (tests/dockerd.sh) for the tests that use Docker as the oracle and for
# the images fixtures/build-docker.sh builds with it; stopped however this script ends. Where it
# cannot start, or cannot build the images, the Docker tests are skipped, and the run says so
# loudly, at the start and as its very last line, pass or fail.
dockerd_dir=$(mktemp -d /tmp/regraft-dockerd.XXXXXX)
docker_note=""
finish() {
  rm -f "$log"
  bash tests/dockerd.sh stop "$dockerd_dir"
  rm -rf --one-file-system "$dockerd_dir" || true
  if [ -n "$docker_note" ]; then
    printf '*** %s ***\n' "$docker_note"
  fi
}
trap finish EXIT
if ! host=$(bash tests/dockerd.sh start "$dockerd_dir" 2>"$dockerd_dir/why"); then
  docker_note="DOCKER COULD NOT START: the Docker tests were SKIPPED ($(tr '\n' ' ' <"$dockerd_dir/why"))"
elif ! DOCKER_HOST=$host bash fixtures/build-docker.sh; then
  docker_note="DOCKER COULD NOT BUILD THE TEST IMAGES (fixtures/build-docker.sh failed, above): the Docker tests were SKIPPED"
else
  export REGRAFT_TEST_DOCKER_HOST=$host
  # The daemon runs: a Docker test that finds none is a failure, not a skip.
  export REGRAFT_REQUIRE_DOCKER=1
fi
if [ -n "$docker_note" ]; then
  printf '\n*** %s ***\n\n' "$docker_note" >&2
fi
cargo test --all-targets 2>&1 | tee "$log"
# The benchmarks must keep building (they run with benches/compare.sh, never as timed tests).
cargo bench --no-run

# Each fuzz target for a bounded time (FUZZ_SECONDS, default 60; 0 skips): a crash fails.
if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
  bash fuzz/run.sh "${FUZZ_SECONDS:-60}"
fi

# One closing line for the whole run (cargo prints one per test binary).
passed=$(grep -o '^test result: [a-z]*\. [0-9]* passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -o '; [0-9]* failed' "$log" | awk '{s+=$2} END {print s+0}')
echo "tests: $passed passed, $failed failed"
