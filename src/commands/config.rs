//! `regraft config`: an image's runtime config edited, its layers untouched.

use super::edit::{self, Edit};
use crate::cli::{self, ConfigArgs, Globals};
use anyhow::Result;
use regraft::source::Source;

pub fn run(a: &ConfigArgs, g: &Globals) -> Result<u8> {
    let target = a.out.target(&a.image)?;
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let overrides = a.config.overrides();
    if overrides.is_empty() {
        return Err(regraft::Error::Usage(
            "config: nothing to change (give --env, --entrypoint, --cmd, --user, --workdir or --label)".into(),
        )
        .into());
    }
    let e = Edit {
        layer: None,
        created_by: "regraft config".into(),
        overrides,
        source_date_epoch: cli::source_date_epoch()?,
        gate: Some(a.gate.clone()),
        what: format!("edited the config of {}", img.name),
    };
    edit::write(&img, e, &target, &a.out, g)
}
