//! The command line: clap definitions, and their translation into validated plans for the
//! library. No image I/O happens here.

use clap::{Args, Parser, Subcommand};
use regraft::check::accept::Accepts;
use regraft::codec::compress::Codec;
use regraft::error::{Error, Result};
use regraft::graft::multi::PlatformChoice;
use regraft::graft::{GraftPlan, WriteMode};
use regraft::model::glob::Excludes;
use regraft::model::path;
use regraft::model::reference::ImageRef;
use regraft::model::spec::Platform;
use regraft::mutate::config::Overrides;
use regraft::oldbase::OldBase;
use regraft::toolbox::{self, add, add::AddOptions};
use regraft::triage::{Severity, TriagePlan};
use std::path::PathBuf;

const ABOUT: &str = "Move a vendor's application onto a new base image: daemonless, on image files on disk or in a registry.";

const EXAMPLES: &str = "\
Examples:
  # Graft the vendor's /opt/vendor onto a new base, writing a docker archive
  regraft --from vendor.tar --onto debian-bookworm.tar --path /opt/vendor -o fixed.tar

  # Rebase the vendor's application layers onto a new base (layer mode)
  regraft --from vendor.tar --old-base oldbase.tar --onto base.tar -o oci:out:fixed

  # A multi-platform vendor (an index): every platform onto the base's same platform, one index
  regraft --from vendor-multi.oci.tar --onto debian-multi.oci.tar -o oci-archive:fixed.tar

  # Annotate the result, Docker media types (a manifest list for an index), a history comment
  regraft --from vendor.tar --onto base.tar --path /opt/vendor --annotation k=v --format docker --history-comment 'rebuilt' -o v2.tar

  # Look inside an image, check every digest, convert between formats
  regraft inspect vendor.tar
  regraft verify oci-archive:vendor-oci.tar
  regraft convert vendor.tar oci:layout:vendor

  # Edit, append, squash; raw documents for pipelines
  regraft config vendor.tar --env-rm LANG --expose 9090 --annotation k=v -o edited.tar
  regraft append base.tar extra.tar.gz -o with-extra.tar
  regraft flatten vendor.tar --from-layer 1 -o squashed.tar
  regraft manifest oci:layout:vendor | jq .; regraft digest vendor.tar --config

Image references:
  docker-archive:FILE[:NAME:TAG|:@N]   docker save output (every generation), also gzipped
  oci-archive:FILE[:REF]               OCI archive
  oci:DIR[:REF]                        OCI layout directory (also oci-dir:DIR[:REF])
  docker://HOST[:PORT]/REPO[:TAG|@DIGEST]
                                       a registry (read and write); plain HTTP only to
                                       loopback hosts unless --tls-verify=false; credentials
                                       from --creds, --authfile, containers auth.json or
                                       Docker's config.json (credHelpers, credsStore)
  PATH                                 identified by content; as an output, *.tar is a
                                       docker archive and DIR/ an OCI layout

Exit codes: 0 ok, 1 error, 2 usage, 3 failed check, 4 findings at or above --fail-on.";

#[derive(Parser, Debug)]
#[command(name = "regraft", version, about = ABOUT, after_help = EXAMPLES)]
// Not `args_conflicts_with_subcommands`: it would refuse global flags before the subcommand
// (`regraft -q verify X`). main.rs refuses the graft's own flags there instead.
#[command(subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub graft: GraftArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Platform to pick from multi-platform inputs (os/arch[/variant]); default: the vendor's
    /// (or the only) platform, else linux/amd64. The graft of a multi-platform vendor grafts
    /// every platform into one index unless this narrows it: P[,P...] grafts these, `all`
    /// every one.
    #[arg(long, global = true, value_name = "OS/ARCH[/VARIANT]|all")]
    pub platform: Option<String>,

    /// Largest decompressed layer regraft will read, in bytes (suffixes K, M, G, T).
    #[arg(long, global = true, default_value = "64G", value_name = "BYTES")]
    pub max_layer_size: String,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more: each layer as it is read, copied or linked, and at the end the bytes the
    /// process read and wrote (/proc/self/io) against the input's layer blobs.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Show progress on stderr even when it is not a terminal (default: only on a terminal).
    #[arg(long, global = true)]
    pub progress: bool,

    /// Registry credentials (docker:// references), USER:PASS; USER alone reads the password
    /// from the first line of stdin. Default: --authfile, else $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, Docker's
    /// config.json ($DOCKER_CONFIG or ~/.docker; credHelpers, auths, credsStore).
    #[arg(long, global = true, value_name = "USER[:PASS]")]
    pub creds: Option<String>,

    /// Registry credentials from this auth file only (containers auth.json or Docker's
    /// config.json format).
    #[arg(long, global = true, value_name = "FILE")]
    pub authfile: Option<PathBuf>,

    /// Verify registries' TLS certificates (default true). false also allows plain HTTP to
    /// any registry; plain HTTP to a loopback host (localhost, 127.0.0.1, ::1) is allowed
    /// either way.
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tls_verify: Option<bool>,

    /// Trust the CA certificates (*.crt) in DIR for registries, besides the system's and
    /// /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST.
    #[arg(long, global = true, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GraftArgs {
    /// The vendor image: the application to move.
    #[arg(long, value_name = "IMAGE")]
    pub from: Option<String>,

    /// The new base image.
    #[arg(long, value_name = "IMAGE", alias = "new_base", alias = "new-base")]
    pub onto: Option<String>,

    /// Where to write the result: a file or layout, or docker://HOST[:PORT]/REPO:TAG (blobs
    /// the registry has are not sent; the tag moves last).
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<String>,

    /// Graft only these paths of the vendor's merged filesystem (repeatable). Without --path,
    /// the vendor's application layers move as they are (layer mode).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,

    /// The image the vendor was built on.
    #[arg(long, value_name = "IMAGE", alias = "old_base")]
    pub old_base: Option<String>,

    /// The number of the vendor's layers that belong to its old base.
    #[arg(long, value_name = "N", conflicts_with = "old_base")]
    pub old_base_layers: Option<usize>,

    /// Name of the result (NAME:TAG); default: the vendor's first tag + "-regraft" (vend/app:1 ->
    /// vend/app:1-regraft), so loading the result never moves the vendor's own tag
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,

    /// Compression of the new layer: none, gzip[:LEVEL], zstd[:LEVEL]; default: that of the
    /// base's top layer.
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,

    #[command(flatten)]
    pub config: OverrideArgs,

    #[command(flatten)]
    pub annotate: AnnotateArgs,

    #[command(flatten)]
    pub history: HistoryArgs,

    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Leave out entries whose absolute path (or a parent's) matches GLOB (repeatable; `*` and
    /// `?` stop at `/`, `**` crosses it; a whiteout matches the path it deletes). In layer
    /// mode, layers that lose entries are rewritten.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Write the digest of the written manifest to FILE.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<String>,

    #[command(flatten)]
    pub accept: AcceptArgs,

    /// Write the result even when its checks find errors (exit 0 instead of 3); --accept
    /// passes one finding at a time.
    #[arg(long)]
    pub force: bool,
}

/// Runtime config edits shared by the graft, `add` and `config`.
#[derive(Args, Debug, Clone, Default)]
pub struct OverrideArgs {
    /// Set an environment variable (K=V; replaces in place or appends).
    #[arg(long, value_name = "K=V")]
    pub env: Vec<String>,
    /// Entrypoint: a JSON array or one word ('' clears it); clears Cmd unless --cmd is given.
    #[arg(long, value_name = "ENTRYPOINT")]
    pub entrypoint: Option<String>,
    /// Cmd: a JSON array or one word ('' clears it).
    #[arg(long, value_name = "CMD")]
    pub cmd: Option<String>,
    /// User to run as.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Working directory.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Set a label (K=V).
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
}

/// Where an image-writing command writes.
#[derive(Args, Debug, Clone)]
pub struct OutArgs {
    /// Where to write the result (`-`: a docker archive on stdout, not atomic;
    /// docker://HOST[:PORT]/REPO:TAG: a registry, the tag moved last).
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: String,
    /// Name of the result (NAME:TAG); default: the input's first tag + "-regraft", so loading the
    /// result never moves the input's own tag
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,
    /// Write the digest of the written manifest to FILE.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<String>,
    #[command(flatten)]
    pub annotate: AnnotateArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show an image's format, tags, platform, digests, layers and runtime config.
    Inspect(ImageArgs),
    /// Check every digest, size and diff_id of an image; exit 1 on the first mismatch.
    #[command(visible_alias = "validate")]
    Verify(ImageArgs),
    /// Copy an image from any readable format to any writable one.
    #[command(visible_alias = "copy")]
    Convert(ConvertArgs),
    /// Copy a path out of an image's merged filesystem (docker cp semantics; DEST `-` writes a tar).
    #[command(
        after_help = "Example:\n  regraft cp fixtures/vendor.tar:/opt/vendor ./vendor-files\n  regraft cp fixtures/vendor.tar:/opt/vendor - | tar -t"
    )]
    Cp(CpArgs),
    /// Append local files or directories to an image as one new layer.
    #[command(
        after_help = "Example:\n  SOURCE_DATE_EPOCH=0 regraft add fixtures/base.tar ./app:/opt/app -o with-app.tar"
    )]
    Add(Box<AddArgs>),
    /// Append layer tarballs (tar, tar.gz, tar.zst) to an image as they are: each file's bytes
    /// become a layer, its digest the file's sha256; every entry is checked as any layer's.
    #[command(
        after_help = "Example:\n  tar -C rootfs-extra -czf extra.tar.gz .\n  regraft append fixtures/base.tar extra.tar.gz -o with-extra.tar"
    )]
    Append(AppendArgs),
    /// Squash an image's layers (all, or N and up) into one, whiteouts applied, history
    /// entries kept as empty_layer as `docker build --squash` leaves them; deterministic.
    #[command(
        after_help = "Example:\n  regraft flatten fixtures/vendor.tar -o flat.tar\n  regraft flatten fixtures/vendor.tar --from-layer 1 -o app-squashed.tar"
    )]
    Flatten(FlattenArgs),
    /// Delete paths from an image with a whiteout layer.
    #[command(
        after_help = "Example:\n  regraft rm fixtures/vendor.tar /opt/vendor/share/data.txt -o trimmed.tar"
    )]
    Rm(RmArgs),
    /// List an image's merged filesystem (or one layer's entries).
    #[command(
        after_help = "Example:\n  regraft ls fixtures/vendor.tar /opt/vendor --long\n  regraft ls fixtures/vendor.tar --layer 2"
    )]
    Ls(LsArgs),
    /// Edit an image's runtime config (its layers too with --layer-rm, --strip, --time-max);
    /// untouched layers stay byte for byte.
    #[command(
        after_help = "Example:\n  regraft config fixtures/vendor.tar --env LOG_LEVEL=debug --user 1000 -o edited.tar"
    )]
    Config(Box<ConfigArgs>),
    /// Check that an image's application will run: ELF loaders, libraries and symbol versions,
    /// script interpreters, Entrypoint/Cmd, User, type conflicts, shadowed OS packages. Exit 3
    /// on any error.
    #[command(
        after_help = "Example:\n  regraft check grafted.tar --old-base debian.tar\n  regraft check grafted.tar --path /opt/vendor --json"
    )]
    Check(CheckArgs),
    /// Split a scanner report's findings (Trivy or Grype; JSON, CycloneDX or SARIF) into the
    /// image's old base and its application, per severity, package and layer, and print the route
    /// for each group.
    #[command(
        after_help = "Example:\n  regraft triage --report trivy.json vendor.tar --old-base oldbase.tar --fail-on HIGH\n\nExit codes: 0 ok, 1 error (also: the report is not about IMAGE), 2 usage, 4 findings at or above --fail-on remain."
    )]
    Triage(TriageArgs),
    /// List the OS packages of an image's package database (dpkg, distroless status.d, apk,
    /// rpm's sqlite database) with the layer that last wrote each, and each one's package URL
    /// (whose `distro` qualifier comes from /etc/os-release).
    Packages(ImageArgs),
    /// Write an SBOM of an image's OS packages (CycloneDX 1.6 or SPDX 2.3 JSON): purls, source
    /// packages, licenses, the layer that last wrote each; the image as the described component.
    /// The same image gives the same bytes (the timestamp is SOURCE_DATE_EPOCH, else the image's
    /// `created`).
    #[command(
        after_help = "Example:\n  regraft sbom vendor.tar --format cyclonedx -o vendor.cdx.json\n  trivy sbom vendor.cdx.json -f json -o report.json   # on the other side of the airgap\n  regraft triage --report report.json vendor.tar"
    )]
    Sbom(SbomArgs),
    /// Compare two images: packages, files of the merged filesystems, config; with --report
    /// (made from OLD), which findings NEW no longer carries.
    Diff(DiffArgs),
    /// Print an image's manifest as stored, byte for byte (a docker archive stores none: the
    /// OCI manifest regraft writes for it).
    #[command(after_help = "Example:\n  regraft manifest oci:layout:app | jq .layers")]
    Manifest(RawArgs),
    /// Print an image's config JSON as stored, byte for byte.
    #[command(
        name = "config-blob",
        after_help = "Example:\n  regraft config-blob app.tar | sha256sum   # the image ID"
    )]
    ConfigBlob(RawArgs),
    /// Print the digest of an image's manifest (what `regraft manifest` prints), or with
    /// --config the config's (the image ID Docker shows).
    #[command(
        after_help = "Example:\n  regraft digest oci-archive:app.tar\n  regraft digest app.tar --config"
    )]
    Digest(DigestArgs),
    /// Write one blob of an image (config, manifest or a layer, as stored) to stdout, its
    /// digest checked.
    #[command(after_help = "Example:\n  regraft blob app.tar sha256:4f1c... | tar -tz")]
    Blob(BlobArgs),
    /// Update an image's Debian or Alpine packages in place from local repositories (a
    /// directory of .deb or .apk files, an apt repository or an APKINDEX.tar.gz on disk),
    /// offline and without running the image: one new layer with the new versions' files and
    /// dpkg's or apk's database updated, and /etc/ld.so.cache rewritten as the image's ldconfig
    /// would when a Debian update adds or removes libraries. An index of several platforms
    /// (without --platform) is patched platform by platform into one new index.
    #[command(
        after_help = "Examples:\n  regraft patch debian.tar --repo ./debs --package zlib1g -o patched.tar\n  regraft patch vendor.tar --repo /srv/mirror --report trivy.json -o patched.tar\n  regraft patch vendor.tar --repo ./debs --all --dry-run\n  regraft patch vendor.tar --repo /srv/debian-security --keyring debian-security.gpg --report trivy.json --only-security -o patched.tar\n  regraft patch alpine.tar --repo ./alpine-mirror/main/x86_64 --package busybox -o patched.tar\n\nExit codes: 0 ok (also: nothing to update), 1 error (a dependency that cannot be met, a checksum mismatch, a signature that does not verify, a maintainer script not accepted), 2 usage, 3 the check of the patched image found an error."
    )]
    Patch(PatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) on stdout.
    Man,
}

// The subcommands' own arguments. Their help comes from the `Command` variant; no `///` here,
// which clap would take for the subcommand's about.

// `inspect`, `verify` and `packages`: an image, and whether to print JSON.
#[derive(Args, Debug)]
pub struct ImageArgs {
    pub image: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    pub source: String,
    pub dest: String,
    /// Copy every image of the source (one image at a time into a layout; a docker archive
    /// takes only one).
    #[arg(long)]
    pub all: bool,
    /// Write the digest of the written manifest to FILE.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<String>,
    #[command(flatten)]
    pub annotate: AnnotateArgs,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// IMAGE:PATH (split at the last ':' followed by '/').
    pub source: String,
    /// A host path, or `-` for a tar on stdout.
    pub dest: String,
    /// Keep setuid/setgid bits on the host.
    #[arg(long)]
    pub preserve_special: bool,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    pub image: String,
    /// SRC:DEST pairs (DEST absolute, in the image).
    #[arg(required = true, value_name = "SRC:DEST")]
    pub specs: Vec<String>,
    #[command(flatten)]
    pub out: OutArgs,
    /// Owner of the added files (numeric UID[:GID]; default 0:0).
    #[arg(long, value_name = "UID:GID")]
    pub chown: Option<String>,
    /// Mode of every added file and directory (octal).
    #[arg(long, value_name = "MODE")]
    pub chmod: Option<String>,
    /// Compression of the new layer (default: that of the image's top layer).
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,
    #[command(flatten)]
    pub config: OverrideArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Args, Debug)]
pub struct AppendArgs {
    pub image: String,
    /// Layer tarballs, bottom first.
    #[arg(required = true, value_name = "LAYER.tar[.gz|.zst]")]
    pub layers: Vec<String>,
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Args, Debug)]
pub struct FlattenArgs {
    pub image: String,
    /// Squash layers N and up (index as `inspect` shows it), keeping those below as they are
    /// so the base stays shared; default 0, every layer.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub from_layer: usize,
    /// Compression of the new layer (default: that of the image's top layer).
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    pub image: String,
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub out: OutArgs,
    /// Compression of the new layer (default: that of the image's top layer).
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,
    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    pub image: String,
    pub path: Option<String>,
    /// Mode, owner, size, mtime, and the layer and history entry each entry comes from.
    #[arg(short, long)]
    pub long: bool,
    /// List the entries of this one layer (index as `inspect` shows it), whiteouts as such.
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    pub image: String,
    #[command(flatten)]
    pub out: OutArgs,
    #[command(flatten)]
    pub config: OverrideArgs,
    #[command(flatten)]
    pub edits: ConfigEditArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Args, Debug)]
pub struct PatchArgs {
    pub image: String,
    /// A repository: a directory of .deb files, an apt repository (dists/*/Release), a flat one
    /// (Packages[.gz|.xz] at its top), or one .deb file; for an apk image, a directory with
    /// APKINDEX.tar.gz, a directory of .apk files, or one .apk file (repeatable).
    #[arg(long, required = true, value_name = "DIR|FILE")]
    pub repo: Vec<std::path::PathBuf>,
    /// Require signed apt repositories (InRelease, or Release + Release.gpg) and verify each
    /// with gpgv against this keyring (a binary keyring, as `gpg --export` writes; repeatable)
    /// before any checksum in it is trusted. Without it the summary says "signatures not
    /// verified". For an apk image: apk's public keys (*.rsa.pub, PEM; files or a directory
    /// such as /etc/apk/keys); every index, and every package no index vouches for, must then be
    /// signed by one of them (checked with openssl).
    #[arg(long, value_name = "FILE")]
    pub keyring: Vec<std::path::PathBuf>,
    /// Update this package to the newest version the repositories have (repeatable).
    #[arg(long, value_name = "NAME")]
    pub package: Vec<String>,
    /// Update the packages a scanner report (Trivy or Grype JSON) names with a fixed version,
    /// each to the lowest version the repositories have that fixes it.
    #[arg(long, value_name = "REPORT", conflicts_with = "all")]
    pub report: Option<String>,
    /// With --report: patch only findings whose fixing version comes from a security suite
    /// (a Release whose Suite or Codename ends in -security, or whose Label has the word
    /// Security, as Debian-Security's does); the rest are listed as not fixed. Dependencies the
    /// fixes need may come from any repository.
    #[arg(long)]
    pub only_security: bool,
    /// Update every installed package the repositories have newer.
    #[arg(long, conflicts_with = "package")]
    pub all: bool,
    /// Print the plan (packages, versions, why) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write the result (not needed with --dry-run).
    #[arg(
        short,
        long,
        value_name = "OUTPUT",
        required_unless_present = "dry_run"
    )]
    pub output: Option<String>,
    /// Name of the result (NAME:TAG); default: the input's first tag + "-regraft".
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,
    /// Write the digest of the written manifest to FILE.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<String>,
    /// Compression of the new layer (default: that of the image's top layer).
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,
    #[command(flatten)]
    pub annotate: AnnotateArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
    /// `--accept maintainer-script:PACKAGE` lets an update whose maintainer scripts (or
    /// triggers other than ldconfig, which regraft does itself) regraft does not run go ahead; the other checks' names
    /// pass the will-it-run check's findings on the patched image, as for a graft.
    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Write the result even when the will-it-run check of the patched image finds errors
    /// (exit 0, not 3).
    #[arg(long)]
    pub force: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// What passes a check's findings one by one: shared by the graft, `check`, `config` and `add`.
#[derive(Args, Debug, Clone, Default)]
pub struct AcceptArgs {
    /// Accept the findings of CHECK (on paths matching PATH-GLOB, the whole path: `*` and `?`
    /// stop at `/`, `**` crosses it; `config` and `add` check the paths `config User`,
    /// `config Entrypoint`, `config Cmd`): listed as accepted, they block nothing (repeatable).
    #[arg(long, value_name = "CHECK[:PATH-GLOB]")]
    pub accept: Vec<String>,
    /// Accept the findings FILE lists, one CHECK[:PATH-GLOB] a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub accept_file: Option<String>,
}

impl AcceptArgs {
    /// The rules of `--accept` and `--accept-file`, read and checked.
    pub fn rules(&self) -> Result<Accepts> {
        let file = self.accept_file.as_deref();
        let text = file
            .map(|f| {
                std::fs::read_to_string(f)
                    .map_err(|e| Error::Usage(format!("--accept-file {f}: {e}")))
            })
            .transpose()?;
        Accepts::new(&self.accept, file.zip(text.as_deref()))
    }
}

/// The check gate of `config` and `add`: what passes a finding of the user and entrypoint
/// checks.
#[derive(Args, Debug, Clone, Default)]
pub struct GateArgs {
    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Write the result even when the user or entrypoint check finds errors (exit 0, not 3).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    pub image: String,
    /// The image IMAGE was built on (its layers are the base; the rest is checked).
    #[arg(long, value_name = "IMAGE", alias = "old_base")]
    pub old_base: Option<String>,
    /// The number of IMAGE's layers that belong to its base.
    #[arg(long, value_name = "N", conflicts_with = "old_base")]
    pub old_base_layers: Option<usize>,
    /// Check only these subtrees (repeatable).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// The vendor's own image: findings it has too are pre-existing (warnings, never errors).
    /// Its application is the --path subtrees, else its layers from the first of IMAGE's
    /// application layers on (a rebase keeps them).
    #[arg(long, value_name = "IMAGE")]
    pub baseline: Option<String>,

    #[command(flatten)]
    pub accept: AcceptArgs,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TriageArgs {
    pub image: String,
    /// The scanner's report of IMAGE: Trivy or Grype JSON, CycloneDX with vulnerabilities, or
    /// SARIF (`trivy image -f json|cyclonedx|sarif`, `grype -o json|cyclonedx-json|sarif`).
    #[arg(long, value_name = "REPORT")]
    pub report: String,
    /// The image IMAGE was built on (as for a graft).
    #[arg(long, value_name = "IMAGE", alias = "old_base")]
    pub old_base: Option<String>,
    /// The number of IMAGE's layers that belong to its old base.
    #[arg(long, value_name = "N", conflicts_with = "old_base")]
    pub old_base_layers: Option<usize>,
    /// Exit 4 when a finding at or above this severity remains (UNKNOWN, NEGLIGIBLE, LOW,
    /// MEDIUM, HIGH, CRITICAL).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Leave out findings with no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Vulnerability IDs to ignore, one per line, each followed by its reason.
    #[arg(long, value_name = "FILE")]
    pub ignore: Option<String>,
    /// OpenVEX or CycloneDX VEX: `not_affected` and `fixed` statements about IMAGE (its
    /// manifest or config digest) or its packages (purls) take findings out, each listed as
    /// ignored with the statement's justification (repeatable). A file about another product is
    /// an error.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<String>,
    /// Also write the triage as SARIF 2.1.0 to FILE (atomically): one result per finding with
    /// its package, layer, part and route.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<String>,
    /// Print the whole triage as JSON on stdout (on every exit).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SbomArgs {
    pub image: String,
    /// cyclonedx (CycloneDX 1.6 JSON) or spdx (SPDX 2.3 JSON).
    #[arg(long, value_name = "FORMAT", value_parser = ["cyclonedx", "spdx"])]
    pub format: String,
    /// Write the SBOM to FILE (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub old: String,
    pub new: String,
    /// A Trivy or Grype report of OLD (JSON, CycloneDX or SARIF).
    #[arg(long, value_name = "REPORT")]
    pub report: Option<String>,
    /// Compare only the files at or below PATH (repeatable); packages and config as always.
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Only the layers, one line each with its size change (from the manifests: no layer is
    /// read).
    #[arg(long, conflicts_with_all = ["report", "paths"])]
    pub stat: bool,
    /// Write OpenVEX for NEW to FILE (atomically): `fixed` for the report's findings whose
    /// package NEW's database has at or past every fixed version, `not_affected`
    /// (component_not_present) for packages NEW no longer has; nothing the package databases
    /// cannot prove. The timestamp is SOURCE_DATE_EPOCH, else NEW's `created`.
    #[arg(long, value_name = "FILE", requires = "report")]
    pub vex_out: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// What goes into the written manifest (the index, when the output is one, and the child
/// manifests written with it): annotations and media types; shared by every command that
/// writes an image.
#[derive(Args, Debug, Clone, Default)]
pub struct AnnotateArgs {
    /// Set an annotation on the written manifest (K=V; repeatable). An index output gets it
    /// too, and so do the child manifests written anew with it (a multi-platform graft's;
    /// a copied index's only under --format docker).
    #[arg(long, value_name = "K=V")]
    pub annotation: Vec<String>,
    /// Remove an annotation from every written document that has it (K; at least one must).
    #[arg(long, value_name = "K")]
    pub annotation_rm: Vec<String>,
    /// Copy every config label to a manifest annotation of the same key (OCI tools read
    /// annotations, Docker reads labels); --annotation wins over a label. An index gets the
    /// labels all its platforms share.
    #[arg(long)]
    pub label_to_annotation: bool,
    /// Media types of the written documents: oci (the default) or docker (schema 2 manifests,
    /// and a manifest list for an index, for registries and Docker versions that want them;
    /// the documents' digests change, the config and layer blobs do not; zstd layers are
    /// refused).
    #[arg(long, value_name = "oci|docker")]
    pub format: Option<String>,
}

impl AnnotateArgs {
    pub fn annotations(&self) -> Result<regraft::mutate::Annotations> {
        let a = regraft::mutate::Annotations {
            set: self.annotation.clone(),
            rm: self.annotation_rm.clone(),
            from_labels: self.label_to_annotation,
        };
        a.pairs()?;
        Ok(a)
    }

    pub fn media_format(&self) -> Result<regraft::mutate::retype::MediaFormat> {
        self.format.as_deref().map_or(
            Ok(Default::default()),
            regraft::mutate::retype::MediaFormat::parse,
        )
    }

    /// The annotations and the media types, checked.
    pub fn doc_edits(&self) -> Result<regraft::mutate::DocEdits> {
        Ok(regraft::mutate::DocEdits {
            annotations: self.annotations()?,
            format: self.media_format()?,
        })
    }

    /// The annotations, then the media types, applied to a planned image whose child
    /// manifests (if it is an index) are copied.
    pub fn apply(
        &self,
        plan: regraft::model::out::OutImage,
        what: &str,
    ) -> Result<regraft::model::out::OutImage> {
        regraft::mutate::finish(
            plan,
            &self.doc_edits()?,
            regraft::mutate::Children::Copied,
            what,
        )
    }
}

/// `--history-comment`: shared by every command that writes a history entry (the graft,
/// `add`, `rm`, `append`, `flatten`, `patch`, `config`).
#[derive(Args, Debug, Clone, Default)]
pub struct HistoryArgs {
    /// The comment of the history entry regraft writes (as docker commit --message); `config`
    /// writes an entry only when this asks for one, and a layer-mode graft, which moves the
    /// vendor's entries as they are, adds an empty_layer entry carrying it.
    #[arg(long, value_name = "TEXT")]
    pub history_comment: Option<String>,
}

#[derive(Args, Debug)]
pub struct RawArgs {
    pub image: String,
}

#[derive(Args, Debug)]
pub struct DigestArgs {
    pub image: String,
    /// The config's digest (the image ID) instead of the manifest's.
    #[arg(long)]
    pub config: bool,
}

#[derive(Args, Debug)]
pub struct BlobArgs {
    pub image: String,
    /// The blob's digest (sha256:...).
    pub digest: String,
}

/// `config`'s edits that remove, clear or date (beside `OverrideArgs`, which set).
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigEditArgs {
    /// Remove an environment variable (K; it must be set).
    #[arg(long, value_name = "K")]
    pub env_rm: Vec<String>,
    /// Remove a label (K; it must be set).
    #[arg(long, value_name = "K")]
    pub label_rm: Vec<String>,
    /// Expose a port (PORT[/tcp|udp|sctp], tcp by default).
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose: Vec<String>,
    /// Stop exposing a port (it must be exposed).
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose_rm: Vec<String>,
    /// Declare a volume (an absolute path).
    #[arg(long, value_name = "PATH")]
    pub volume: Vec<String>,
    /// Remove a declared volume (it must be declared).
    #[arg(long, value_name = "PATH")]
    pub volume_rm: Vec<String>,
    /// Healthcheck: Docker's JSON ({"Test":["CMD","curl","-f","http://localhost/"],
    /// "Interval":30000000000}), NONE to disable the base's, or '' to remove the field.
    #[arg(long, value_name = "JSON|NONE")]
    pub healthcheck: Option<String>,
    /// Signal that stops the container (SIGTERM, 15, ...; '' removes it).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// The config's os.version ('' removes it).
    #[arg(long, value_name = "VERSION")]
    pub os_version: Option<String>,
    /// The config's author ('' removes it).
    #[arg(long, value_name = "AUTHOR")]
    pub author: Option<String>,
    /// The image's creation time: RFC 3339, or `now` (SOURCE_DATE_EPOCH when set, else the
    /// clock); default: SOURCE_DATE_EPOCH when set, else the image's own.
    #[arg(long, value_name = "RFC3339|now")]
    pub created: Option<String>,
    /// Remove layer N (index as `inspect` shows it) with its history entry (repeatable).
    #[arg(long, value_name = "N")]
    pub layer_rm: Vec<usize>,
    /// Drop entries whose absolute path (or a parent's) matches GLOB from every layer (as
    /// --exclude: `*` and `?` stop at `/`, `**` crosses it); only layers that change are
    /// rewritten (same compression).
    #[arg(long, value_name = "GLOB")]
    pub strip: Vec<String>,
    /// Clamp every timestamp later than T (RFC 3339 or seconds since the epoch): file mtimes
    /// in the layers (only layers that change are rewritten), the config's and history's
    /// created.
    #[arg(long, value_name = "T")]
    pub time_max: Option<String>,
}

impl ConfigEditArgs {
    pub fn edits(&self) -> Result<regraft::mutate::edits::ConfigEdits> {
        let e = regraft::mutate::edits::ConfigEdits {
            env_rm: self.env_rm.clone(),
            label_rm: self.label_rm.clone(),
            expose: self.expose.clone(),
            expose_rm: self.expose_rm.clone(),
            volume: self.volume.clone(),
            volume_rm: self.volume_rm.clone(),
            healthcheck: self.healthcheck.clone(),
            stop_signal: self.stop_signal.clone(),
            os_version: self.os_version.clone(),
            author: self.author.clone(),
        };
        e.validate()?;
        Ok(e)
    }

    /// `--layer-rm`, `--strip` and `--time-max`, checked.
    pub fn layer_edits(&self) -> Result<regraft::mutate::rewrite::LayerEdits> {
        Ok(regraft::mutate::rewrite::LayerEdits {
            rm: self.layer_rm.clone(),
            strip: Excludes::new(&self.strip)?,
            time_max: self
                .time_max
                .as_deref()
                .map(regraft::mutate::rewrite::parse_time)
                .transpose()?,
        })
    }

    /// `--created`, resolved: `now` reads SOURCE_DATE_EPOCH, else the clock (asked for by
    /// name, the one clock an edit reads); a timestamp is kept as written once it parses.
    pub fn created(&self) -> Result<Option<String>> {
        let Some(c) = self.created.as_deref() else {
            return Ok(None);
        };
        if c == "now" {
            let t = match source_date_epoch()? {
                Some(t) => t,
                None => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64),
            };
            return Ok(Some(regraft::mutate::config::rfc3339(t)));
        }
        match regraft::mutate::config::parse_rfc3339(c) {
            Some(_) => Ok(Some(c.to_string())),
            None => Err(Error::Usage(format!(
                "--created {c:?}: expected an RFC 3339 time (2024-01-02T03:04:05Z) or now"
            ))),
        }
    }
}

/// The global flags, validated.
pub struct Globals {
    /// The one platform asked for (`--platform P`).
    pub platform: Option<Platform>,
    /// What `--platform` asks of a multi-platform graft.
    pub platforms: PlatformChoice,
    pub max_layer_size: u64,
    pub quiet: bool,
}

impl GlobalArgs {
    /// The registry flags, for `store::registry::configure`.
    pub fn registry_options(&self) -> Result<regraft::store::registry::Options> {
        use regraft::store::registry::creds::Credential;
        let creds = match self.creds.as_deref() {
            None => None,
            Some(c) => {
                let (user, pass) = match c.split_once(':') {
                    Some((u, p)) => (u.to_string(), p.to_string()),
                    None => {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line).map_err(|e| {
                            Error::io_while("--creds: reading the password from stdin", e)
                        })?;
                        (
                            c.to_string(),
                            line.trim_end_matches(['\r', '\n']).to_string(),
                        )
                    }
                };
                if user.is_empty() {
                    return Err(Error::Usage("--creds: no user name".into()));
                }
                Some(Credential::new(user, pass, "--creds".into()))
            }
        };
        Ok(regraft::store::registry::Options {
            creds,
            authfile: self.authfile.clone(),
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
        })
    }

    pub fn validate(&self) -> Result<Globals> {
        let platforms = PlatformChoice::parse(self.platform.as_deref())?;
        Ok(Globals {
            platform: platforms.one().cloned(),
            platforms,
            max_layer_size: parse_size(&self.max_layer_size)?,
            quiet: self.quiet,
        })
    }
}

impl OutArgs {
    /// Where an edit of `image` writes, checked before anything is read: neither the output nor
    /// `--digestfile` may be the image's own file.
    pub fn target(&self, image: &str) -> Result<ImageRef> {
        let inputs = [("IMAGE", image)];
        let out = output(&self.output, &inputs)?;
        digestfile_apart(self.digestfile.as_deref(), &inputs)?;
        self.annotate.annotations()?;
        self.annotate.media_format()?;
        Ok(out)
    }
}

impl GraftArgs {
    /// The graft these flags ask for, every flag checked (in the order the user reads them:
    /// the images, then the paths, compression, time and name).
    pub fn plan(&self, g: &Globals) -> Result<GraftPlan> {
        if self.from.is_none() && self.onto.is_none() && self.output.is_none() {
            return Err(Error::Usage("nothing to do: give --from VENDOR --onto BASE -o OUT, or a command (see regraft --help)".into()));
        }
        let vendor = input(required(&self.from, "--from")?)?;
        let base = input(required(&self.onto, "--onto")?)?;
        let inputs = [
            ("--from", self.from.as_deref()),
            ("--onto", self.onto.as_deref()),
        ];
        let inputs: Vec<(&str, &str)> = inputs
            .into_iter()
            .chain([("--old-base", self.old_base.as_deref())])
            .filter_map(|(f, v)| Some((f, v?)))
            .collect();
        let output = output(required(&self.output, "-o/--output")?, &inputs)?;
        digestfile_apart(self.digestfile.as_deref(), &inputs)?;
        let old_base = self.old_base.as_deref().map(input).transpose()?;
        let paths = selections(&self.paths)?;
        let compression = self.compression.as_deref().map(Codec::parse).transpose()?;
        let source_date_epoch = source_date_epoch()?;
        if let Some(t) = &self.tag
            && (!t.contains(':') || t.ends_with(':'))
        {
            return Err(Error::Usage(format!("--tag {t:?}: expected NAME:TAG")));
        }
        Ok(GraftPlan {
            vendor,
            base,
            old_base: OldBase::from_flags(old_base, self.old_base_layers),
            output,
            paths,
            tag: self.tag.clone(),
            compression,
            overrides: self.config.overrides(),
            platform: g.platform.clone(),
            max_layer_size: g.max_layer_size,
            source_date_epoch,
            exclude: Excludes::new(&self.exclude)?,
            accepts: self.accept.rules()?,
            docs: self.annotate.doc_edits()?,
            history_comment: self.history.history_comment.clone(),
        })
    }

    pub fn write_mode(&self) -> WriteMode {
        if self.dry_run {
            WriteMode::DryRun
        } else {
            WriteMode::Write
        }
    }
}

/// A flag a graft cannot do without.
fn required<'a>(v: &'a Option<String>, flag: &str) -> Result<&'a str> {
    v.as_deref()
        .ok_or_else(|| Error::Usage(format!("a graft needs {flag} (see regraft --help)")))
}

impl OverrideArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            env: self.env.clone(),
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            user: self.user.clone(),
            workdir: self.workdir.clone(),
            labels: self.label.clone(),
        }
    }
}

impl AddArgs {
    pub fn specs(&self) -> Result<Vec<(PathBuf, String)>> {
        self.specs.iter().map(|s| add::parse_spec(s)).collect()
    }

    /// How the added files are written; `source_date_epoch` clamps their mtimes.
    pub fn options(&self, source_date_epoch: Option<i64>) -> Result<AddOptions> {
        Ok(AddOptions {
            chown: self
                .chown
                .as_deref()
                .map(toolbox::parse_chown)
                .transpose()?,
            chmod: self
                .chmod
                .as_deref()
                .map(toolbox::parse_chmod)
                .transpose()?,
            clamp: source_date_epoch.map(|t| t.max(0) as u64),
        })
    }
}

impl TriageArgs {
    /// The triage these flags ask for, every flag checked.
    pub fn plan(&self, g: &Globals) -> Result<TriagePlan> {
        let fail_on = self
            .fail_on
            .as_deref()
            .map(|s| {
                Severity::parse(s).ok_or_else(|| {
                    Error::Usage(format!(
                        "--fail-on {s:?}: expected UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH or CRITICAL"
                    ))
                })
            })
            .transpose()?;
        Ok(TriagePlan {
            report: (&self.report).into(),
            image: input(&self.image)?,
            image_arg: self.image.clone(),
            old_base: self.old_base.as_deref().map(input).transpose()?,
            old_base_arg: self.old_base.clone(),
            old_base_layers: self.old_base_layers,
            platform: g.platform.clone(),
            max_layer_size: g.max_layer_size,
            ignore_unfixed: self.ignore_unfixed,
            ignore_file: self.ignore.as_ref().map(Into::into),
            vex: self.vex.iter().map(Into::into).collect(),
            fail_on,
        })
    }
}

/// `--path` selections: cleaned, relative, deduplicated.
pub fn selections(paths: &[String]) -> Result<Vec<Vec<u8>>> {
    let cleaned = paths
        .iter()
        .map(|p| path::clean_selection(p))
        .collect::<Result<Vec<_>>>()?;
    Ok(path::dedupe_selections(cleaned))
}

/// `SOURCE_DATE_EPOCH`, when set: the one clock a command that makes an image may read.
pub fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v.trim().parse::<i64>().map(Some).map_err(|_| {
            Error::Usage(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds"
            ))
        }),
        _ => Ok(None),
    }
}

pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (t, 1u64),
        Some((i, _)) => {
            let m = match t[i..]
                .to_ascii_uppercase()
                .trim_end_matches("IB")
                .trim_end_matches('B')
            {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => {
                    return Err(Error::Usage(format!(
                        "size {s:?}: expected a number with K, M, G or T"
                    )));
                }
            };
            (&t[..i], m)
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Error::Usage(format!("size {s:?}: expected a number with K, M, G or T")))
}

pub fn input(s: &str) -> Result<ImageRef> {
    ImageRef::parse_input(s)
}

/// The output reference `s`, refused when it names the same file as one of `inputs` (flag,
/// reference): the result would replace an image while it is read. A layout directory may hold
/// many images, so only files are compared.
pub fn output(s: &str, inputs: &[(&str, &str)]) -> Result<ImageRef> {
    let out = ImageRef::parse_output(s)?;
    not_an_input(&format!("-o {s}"), &out.path, inputs)?;
    Ok(out)
}

/// `--digestfile FILE`, refused when FILE is one of `inputs`' files (it would be overwritten
/// with a digest).
pub fn digestfile_apart(file: Option<&str>, inputs: &[(&str, &str)]) -> Result<()> {
    match file {
        Some(f) => not_an_input(
            &format!("--digestfile {f}"),
            std::path::Path::new(f),
            inputs,
        ),
        None => Ok(()),
    }
}

/// Refuses a path that is the same existing file as one of `inputs`.
fn not_an_input(what: &str, path: &std::path::Path, inputs: &[(&str, &str)]) -> Result<()> {
    let Some(o) = file_id(path) else {
        return Ok(());
    };
    for (flag, i) in inputs {
        if file_id(&input(i)?.path) == Some(o) {
            return Err(Error::Usage(format!(
                "{}: the same file as {flag} {}: it would replace an image it is read from; \
                 write to another path",
                regraft::text::sanitize(what),
                regraft::text::sanitize(i),
            )));
        }
    }
    Ok(())
}

/// (device, inode) of an existing regular file.
fn file_id(p: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    m.is_file().then(|| (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks over the whole definition (ids, groups, conflicts).
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        for (s, want) in [
            ("0", Some(0)),
            ("512", Some(512)),
            ("4k", Some(4 << 10)),
            ("4KiB", Some(4 << 10)),
            ("64G", Some(64 << 30)),
            (" 2MB ", Some(2 << 20)),
            ("1T", Some(1 << 40)),
            ("", None),
            ("G", None),
            ("12Q", None),
            ("99999999999T", None),
        ] {
            assert_eq!(parse_size(s).ok(), want, "{s:?}");
        }
    }

    #[test]
    fn selections_are_cleaned_and_deduplicated() {
        let got = selections(&["/opt/vendor/".into(), "opt/vendor".into(), "/opt".into()]);
        assert_eq!(got.unwrap(), vec![b"opt".to_vec()]);
        assert!(selections(&["../..".into()]).is_err());
    }
}
