//! Integration tests: the real binary on real images made by real tools, every output checked
//! by skopeo, umoci, podman or a chroot. One binary; modules per topic; helpers in `common`.
//! These tests run as root (chroot, umoci unpack) and need the Debian packages `.ci/run`
//! installs; the large images come from `fixtures/build-real.sh` (run by `tests/run.sh`).

mod common;

mod bad_input;
mod check;
mod convert_all;
mod docker;
mod edges;
mod exclude;
mod faults;
mod golden;
mod graft;
mod graft_docs;
mod hostile;
mod hostile_bounds;
mod multi;
mod one_pass;
mod patch;
mod patch_apk;
mod registry;
mod roundtrip;
mod rpmdb;
mod scanloop;
mod toolbox;
mod toolbox_parity;
mod triage;
