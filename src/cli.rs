//! The command line: clap definitions, and their translation into validated plans for the
//! library. No image I/O happens here.

use clap::{Args, Parser, Subcommand};
use regraft::error::{Error, Result};
use regraft::model::reference::ImageRef;
use regraft::model::spec::Platform;

const ABOUT: &str = "Move a vendor's application onto a new base image: daemonless, offline, on image files on disk.";

const EXAMPLES: &str = "\
Examples:
  # Graft the vendor's /opt/vendor onto a new base, writing a docker archive
  regraft --from vendor.tar --onto debian-bookworm.tar --path /opt/vendor -o fixed.tar

  # Rebase the vendor's application layers onto a new base (layer mode)
  regraft --from vendor.tar --old-base oldbase.tar --onto base.tar -o oci:out:fixed

  # Look inside an image, check every digest, convert between formats
  regraft inspect vendor.tar
  regraft verify oci-archive:vendor-oci.tar
  regraft convert vendor.tar oci:layout:vendor

Image references:
  docker-archive:FILE[:NAME:TAG|:@N]   docker save output (every generation), also gzipped
  oci-archive:FILE[:REF]               OCI archive
  oci:DIR[:REF]                        OCI layout directory
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
    /// (or the only) platform, else linux/amd64.
    #[arg(long, global = true, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    /// Largest decompressed layer regraft will read, in bytes (suffixes K, M, G, T).
    #[arg(long, global = true, default_value = "64G", value_name = "BYTES")]
    pub max_layer_size: String,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more: each layer as it is read or copied.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Show progress on stderr even when it is not a terminal (default: only on a terminal).
    #[arg(long, global = true)]
    pub progress: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GraftArgs {
    /// The vendor image: the application to move.
    #[arg(long, value_name = "IMAGE")]
    pub from: Option<String>,

    /// The new base image.
    #[arg(long, value_name = "IMAGE", alias = "new_base", alias = "new-base")]
    pub onto: Option<String>,

    /// Where to write the result.
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

    /// Name of the result (NAME:TAG); default: the vendor's first tag.
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,

    /// Compression of the new layer: none, gzip[:LEVEL], zstd[:LEVEL]; default: that of the
    /// base's top layer.
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,

    #[command(flatten)]
    pub config: ConfigArgs,

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

    /// Write the result even when its checks find errors (exit 0 instead of 3).
    #[arg(long)]
    pub force: bool,
}

/// Runtime config edits shared by `add` and `config`.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Set an environment variable (K=V; replaces in place or appends).
    #[arg(long, value_name = "K=V")]
    pub env: Vec<String>,
    /// Entrypoint: a JSON array or one word; clears Cmd unless --cmd is given.
    #[arg(long, value_name = "ENTRYPOINT")]
    pub entrypoint: Option<String>,
    /// Cmd: a JSON array or one word.
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
    /// Where to write the result (`-`: a docker archive on stdout, not atomic).
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: String,
    /// Name of the result (NAME:TAG); default: the input's first tag.
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,
    /// Write the digest of the written manifest to FILE.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show an image's format, tags, platform, digests, layers and runtime config.
    Inspect {
        image: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every digest, size and diff_id of an image; exit 1 on the first mismatch.
    Verify {
        image: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy an image from any readable format to any writable one.
    Convert {
        source: String,
        dest: String,
        /// Copy every image of the source (one image at a time into a layout; a docker archive
        /// takes only one).
        #[arg(long)]
        all: bool,
        /// Write the digest of the written manifest to FILE.
        #[arg(long, value_name = "FILE")]
        digestfile: Option<String>,
    },
    /// Copy a path out of an image's merged filesystem (docker cp semantics; DEST `-` writes a tar).
    #[command(
        after_help = "Example:\n  regraft cp fixtures/vendor.tar:/opt/vendor ./vendor-files\n  regraft cp fixtures/vendor.tar:/opt/vendor - | tar -t"
    )]
    Cp {
        /// IMAGE:PATH (split at the last ':' followed by '/').
        source: String,
        /// A host path, or `-` for a tar on stdout.
        dest: String,
        /// Keep setuid/setgid bits on the host.
        #[arg(long)]
        preserve_special: bool,
    },
    /// Append local files or directories to an image as one new layer.
    #[command(
        after_help = "Example:\n  SOURCE_DATE_EPOCH=0 regraft add fixtures/base.tar ./app:/opt/app -o with-app.tar"
    )]
    Add {
        image: String,
        /// SRC:DEST pairs (DEST absolute, in the image).
        #[arg(required = true, value_name = "SRC:DEST")]
        specs: Vec<String>,
        #[command(flatten)]
        out: OutArgs,
        /// Owner of the added files (numeric UID[:GID]; default 0:0).
        #[arg(long, value_name = "UID:GID")]
        chown: Option<String>,
        /// Mode of every added file and directory (octal).
        #[arg(long, value_name = "MODE")]
        chmod: Option<String>,
        /// Compression of the new layer (default: that of the image's top layer).
        #[arg(long, value_name = "CODEC")]
        compression: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Delete paths from an image with a whiteout layer.
    #[command(
        after_help = "Example:\n  regraft rm fixtures/vendor.tar /opt/vendor/share/data.txt -o trimmed.tar"
    )]
    Rm {
        image: String,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
        #[command(flatten)]
        out: OutArgs,
        /// Compression of the new layer (default: that of the image's top layer).
        #[arg(long, value_name = "CODEC")]
        compression: Option<String>,
    },
    /// List an image's merged filesystem (or one layer's entries).
    #[command(
        after_help = "Example:\n  regraft ls fixtures/vendor.tar /opt/vendor --long\n  regraft ls fixtures/vendor.tar --layer 2"
    )]
    Ls {
        image: String,
        path: Option<String>,
        /// Mode, owner, size, mtime, and the layer and history entry each entry comes from.
        #[arg(short, long)]
        long: bool,
        /// List the entries of this one layer (index as `inspect` shows it), whiteouts as such.
        #[arg(long, value_name = "N")]
        layer: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Edit an image's runtime config without touching its layers.
    #[command(
        after_help = "Example:\n  regraft config fixtures/vendor.tar --env LOG_LEVEL=debug --user 1000 -o edited.tar"
    )]
    Config {
        image: String,
        #[command(flatten)]
        out: OutArgs,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Check that an image's application will run: ELF loaders, libraries and symbol versions,
    /// script interpreters, Entrypoint/Cmd, User, type conflicts, shadowed OS packages. Exit 3
    /// on any error.
    #[command(
        after_help = "Example:\n  regraft check grafted.tar --old-base debian.tar\n  regraft check grafted.tar --path /opt/vendor --json"
    )]
    Check {
        image: String,
        /// The image IMAGE was built on (its layers are the base; the rest is checked).
        #[arg(long, value_name = "IMAGE", alias = "old_base")]
        old_base: Option<String>,
        /// The number of IMAGE's layers that belong to its base.
        #[arg(long, value_name = "N", conflicts_with = "old_base")]
        old_base_layers: Option<usize>,
        /// Check only these subtrees (repeatable).
        #[arg(long = "path", value_name = "PATH")]
        paths: Vec<String>,
        /// Print the findings as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Split a scanner report's findings (Trivy or Grype JSON) into the image's old base and its
    /// application, per severity, package and layer, and print the route for each group.
    #[command(
        after_help = "Example:\n  regraft triage --report trivy.json vendor.tar --old-base oldbase.tar --fail-on HIGH\n\nExit codes: 0 ok, 1 error (also: the report is not about IMAGE), 2 usage, 4 findings at or above --fail-on remain."
    )]
    Triage {
        image: String,
        /// `trivy image -f json` or `grype -o json` output for IMAGE.
        #[arg(long, value_name = "REPORT")]
        report: String,
        /// The image IMAGE was built on (as for a graft).
        #[arg(long, value_name = "IMAGE", alias = "old_base")]
        old_base: Option<String>,
        /// The number of IMAGE's layers that belong to its old base.
        #[arg(long, value_name = "N", conflicts_with = "old_base")]
        old_base_layers: Option<usize>,
        /// Exit 4 when a finding at or above this severity remains (UNKNOWN, NEGLIGIBLE, LOW,
        /// MEDIUM, HIGH, CRITICAL).
        #[arg(long, value_name = "SEVERITY")]
        fail_on: Option<String>,
        /// Leave out findings with no fixed version.
        #[arg(long)]
        ignore_unfixed: bool,
        /// Vulnerability IDs to ignore, one per line, each followed by its reason.
        #[arg(long, value_name = "FILE")]
        ignore: Option<String>,
        /// Print the whole triage as JSON on stdout (on every exit).
        #[arg(long)]
        json: bool,
    },
    /// List the OS packages of an image's package database (dpkg, distroless status.d, apk)
    /// with the layer that last wrote each.
    Packages {
        image: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare two images: packages, files of the merged filesystems, config; with --report
    /// (made from OLD), which findings NEW no longer carries.
    Diff {
        old: String,
        new: String,
        /// A Trivy or Grype JSON report of OLD.
        #[arg(long, value_name = "REPORT")]
        report: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) on stdout.
    Man,
}

impl GlobalArgs {
    pub fn platform(&self) -> Result<Option<Platform>> {
        self.platform.as_deref().map(Platform::parse).transpose()
    }
    pub fn max_layer_size(&self) -> Result<u64> {
        parse_size(&self.max_layer_size)
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

pub fn output(s: &str) -> Result<ImageRef> {
    ImageRef::parse_output(s)
}
