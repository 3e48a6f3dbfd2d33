//! `regraft config`: an image's runtime config edited, its layers untouched.

use super::edit::{self, Edit};
use crate::cli::{self, ConfigArgs, Globals};
use anyhow::Result;
use regraft::source::Source;

pub fn run(a: &ConfigArgs, g: &Globals) -> Result<u8> {
    let target = a.out.target(&a.image)?;
    let overrides = a.config.overrides();
    let edits = a.edits.edits()?;
    let created = a.edits.created()?;
    let layer_edits = a.edits.layer_edits()?;
    if overrides.is_empty() && edits.is_empty() && created.is_none() && layer_edits.is_empty() {
        return Err(regraft::Error::Usage(
            "config: nothing to change (give --env, --env-rm, --entrypoint, --cmd, --user, \
             --workdir, --label, --label-rm, --expose, --volume, --healthcheck, --stop-signal, \
             --os-version, --author, --created, --layer-rm, --strip or --time-max; see \
             regraft config --help)"
                .into(),
        )
        .into());
    }
    let img = Source::open(&cli::input(&a.image)?)?.image(g.platform.as_ref())?;
    let e = Edit {
        layer: None,
        created_by: "regraft config".into(),
        overrides,
        edits,
        layer_edits,
        created,
        history_comment: a.history.history_comment.clone(),
        source_date_epoch: cli::source_date_epoch()?,
        gate: Some(a.gate.clone()),
        what: format!("edited the config of {}", img.name),
    };
    edit::write(&img, e, &target, &a.out, g)
}
