//! What an apk patch updates: the packages asked for, then what the new versions' `depend`s
//! need (names, versions, `so:`/`cmd:`/`pc:` provides) that the image with the updates does not
//! meet, and the installed packages whose own `depend`s the updates would leave unmet, each
//! taken at the lowest version that serves, until nothing more is needed. A conflict (`!name`)
//! with an installed package, or a dependency nothing serves, is an error naming both: apk
//! would remove or refuse a package, which a patch never does.

use super::apkrepo::letter;
use super::plan::{Installed, Plan, Update, Want, take_needed};
use super::repo::Available;
use crate::error::{Error, Result};
use crate::packages::version::compare_apk;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One dependency token: `name`, `name>=1.2`, `so:libz.so.1`, `!name` (a conflict).
#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    pub name: String,
    pub op: Option<(String, String)>,
    pub conflict: bool,
}

pub fn parse_dep(tok: &str) -> Option<Dep> {
    let (conflict, t) = match tok.strip_prefix('!') {
        Some(t) => (true, t),
        None => (false, tok),
    };
    let (name, op) = match t.find(['<', '>', '=', '~']) {
        Some(i) => {
            let rest = &t[i..];
            let j = rest
                .find(|c: char| !"<>=~".contains(c))
                .unwrap_or(rest.len());
            (
                &t[..i],
                Some((rest[..j].to_string(), rest[j..].to_string())),
            )
        }
        None => (t, None),
    };
    // `name@tag` pins a repository tag; the name is what is matched.
    let name = name.split('@').next().unwrap_or(name);
    (!name.is_empty()).then(|| Dep {
        name: name.to_string(),
        op,
        conflict,
    })
}

/// The dependency tokens of a field (`D:`, `p:`), space-separated.
pub fn deps(field: Option<String>) -> Vec<Dep> {
    field
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(parse_dep)
        .collect()
}

/// Whether `version` meets `op` (apk-tools' operators; `~` is a prefix match on components).
pub fn satisfies(version: &str, op: &Option<(String, String)>) -> bool {
    let Some((op, want)) = op else { return true };
    let c = compare_apk(version, want);
    match op.as_str() {
        "=" | "==" => c == Ordering::Equal,
        "<" => c == Ordering::Less,
        "<=" | "=<" => c != Ordering::Greater,
        ">" => c == Ordering::Greater,
        ">=" | "=>" => c != Ordering::Less,
        "~" | "~=" => {
            version == want
                || version.strip_prefix(want.as_str()).is_some_and(|r| {
                    r.starts_with(['.', '_', '-'])
                        || r.starts_with(|c: char| c.is_ascii_lowercase())
                })
        }
        // `><`: a checksum pin, any version of the name.
        "><" => true,
        _ => false,
    }
}

fn show(d: &Dep) -> String {
    match &d.op {
        Some((o, v)) => format!("{}{}{o}{v}", if d.conflict { "!" } else { "" }, d.name),
        None => format!("{}{}", if d.conflict { "!" } else { "" }, d.name),
    }
}

/// Whether a package (name, version, fields) serves `d`: by its name, or by a provide.
fn serves(name: &str, version: &str, fields: &[(String, String)], d: &Dep) -> bool {
    (name == d.name && satisfies(version, &d.op))
        || deps(letter(fields, "p")).iter().any(|p| {
            p.name == d.name
                && match (&d.op, &p.op) {
                    (None, _) => true,
                    (Some(_), Some((_, pv))) => satisfies(pv, &d.op),
                    (Some(_), None) => false,
                }
        })
}

/// The installed packages of apk's `installed` database.
pub fn installed(db: &str) -> Vec<Installed> {
    db.split("\n\n")
        .filter_map(|block| {
            let fields = super::apkrepo::parse_block(block);
            let get = |l| letter(&fields, l);
            Some(Installed {
                name: get("P")?,
                version: get("V")?,
                arch: get("A").unwrap_or_default(),
                fields,
            })
        })
        .collect()
}

struct World<'a> {
    installed: &'a [Installed],
    updates: &'a BTreeMap<String, Update>,
}

impl World<'_> {
    fn each(&self) -> impl Iterator<Item = (&str, &str, &[(String, String)])> {
        self.installed
            .iter()
            .map(|i| match self.updates.get(&i.name) {
                Some(u) => (
                    u.to.name.as_str(),
                    u.to.version.as_str(),
                    u.to.fields.as_slice(),
                ),
                None => (i.name.as_str(), i.version.as_str(), i.fields.as_slice()),
            })
            .chain(self.updates.values().filter(|u| u.from.is_none()).map(|u| {
                (
                    u.to.name.as_str(),
                    u.to.version.as_str(),
                    u.to.fields.as_slice(),
                )
            }))
    }
    /// The package that serves `d`, other than `but`.
    fn who(&self, d: &Dep, but: &str) -> Option<(String, String)> {
        self.each()
            .filter(|(n, _, _)| *n != but)
            .find(|(n, v, f)| serves(n, v, f, d))
            .map(|(n, v, _)| (n.to_string(), v.to_string()))
    }
}

/// Plans the updates of an apk image.
pub fn plan(installed: &[Installed], repos: &[Available], want: &Want) -> Result<Plan> {
    let arch = installed
        .iter()
        .map(|i| i.arch.as_str())
        .find(|a| !a.is_empty() && *a != "noarch")
        .unwrap_or("x86_64")
        .to_string();
    let fits = |a: &Available| a.arch == arch || a.arch == "noarch" || a.arch.is_empty();
    let by_name: BTreeMap<&str, &Installed> =
        installed.iter().map(|i| (i.name.as_str(), i)).collect();
    let candidates = |i: &Installed| -> Vec<&Available> {
        let mut v: Vec<&Available> = repos
            .iter()
            .filter(|a| a.name == i.name && fits(a))
            .filter(|a| compare_apk(&a.version, &i.version) == Ordering::Greater)
            .collect();
        v.sort_by(|a, b| compare_apk(&a.version, &b.version));
        v
    };
    let have = |name: &str| -> String {
        let mut v: Vec<&str> = repos
            .iter()
            .filter(|a| a.name == name)
            .map(|a| a.version.as_str())
            .collect();
        v.sort_by(|a, b| compare_apk(a, b));
        v.dedup();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    };
    let mut updates: BTreeMap<String, Update> = BTreeMap::new();
    let mut unfixed = Vec::new();
    let add = |u: &mut BTreeMap<String, Update>, i: &Installed, a: &Available, why: String| {
        u.insert(
            i.name.clone(),
            Update {
                from: Some(i.clone()),
                to: a.clone(),
                why,
            },
        );
    };
    match want {
        Want::Packages(names) => {
            for n in names {
                let i = by_name.get(n.as_str()).ok_or_else(|| {
                    Error::Usage(format!(
                        "--package {n}: the image has no package {n} installed"
                    ))
                })?;
                let a = candidates(i).last().copied().ok_or_else(|| {
                    Error::Invalid(format!(
                        "{n}: the repositories have no version newer than the installed {} (they have: {})",
                        i.version,
                        have(n)
                    ))
                })?;
                add(&mut updates, i, a, "asked for (--package)".into());
            }
        }
        Want::All => {
            for i in installed {
                if let Some(a) = candidates(i).last() {
                    add(
                        &mut updates,
                        i,
                        a,
                        "newer in the repositories (--all)".into(),
                    );
                }
            }
        }
        Want::Fixes(fixes, _) => {
            for (n, fixed, ids) in fixes {
                let Some(i) = by_name.get(n.as_str()) else {
                    continue;
                };
                if compare_apk(&i.version, fixed) != Ordering::Less {
                    continue;
                }
                let Some(a) = candidates(i)
                    .into_iter()
                    .find(|a| compare_apk(&a.version, fixed) != Ordering::Less)
                else {
                    unfixed.push(format!(
                        "{n} {}: {} fixed in {fixed}; the repositories have {}",
                        i.version,
                        ids.join(", "),
                        have(n)
                    ));
                    continue;
                };
                let keep = updates
                    .get(n)
                    .is_some_and(|u| compare_apk(&u.to.version, &a.version) != Ordering::Less);
                if !keep {
                    add(&mut updates, i, a, format!("fixes {}", ids.join(", ")));
                }
            }
        }
    }
    for _round in 0..1000 {
        let mut more: Vec<(Option<Installed>, Available, String)> = Vec::new();
        {
            let world = World {
                installed,
                updates: &updates,
            };
            for u in updates.values() {
                for d in deps(letter(&u.to.fields, "D")) {
                    if d.conflict {
                        let hit = Dep {
                            conflict: false,
                            ..d.clone()
                        };
                        if let Some((n, v)) = world.who(&hit, &u.to.name) {
                            return Err(Error::Invalid(format!(
                                "{} {} conflicts with {} ({}): the image has {n} {v}; apk would remove it, which a patch never does",
                                u.to.name,
                                u.to.version,
                                hit.name,
                                show(&d)
                            )));
                        }
                        continue;
                    }
                    if world.who(&d, "").is_some() {
                        continue;
                    }
                    // An installed package that serves it in a newer version, else a package
                    // new to the image, the lowest version that serves.
                    let upgrade = installed.iter().find_map(|i| {
                        let a = candidates(i)
                            .into_iter()
                            .find(|a| serves(&a.name, &a.version, &a.fields, &d))?;
                        Some((Some(i.clone()), a.clone()))
                    });
                    let fresh = || {
                        let mut v: Vec<&Available> = repos
                            .iter()
                            .filter(|a| fits(a) && !by_name.contains_key(a.name.as_str()))
                            .filter(|a| serves(&a.name, &a.version, &a.fields, &d))
                            .collect();
                        // The package named so first, then by name; the lowest version.
                        v.sort_by(|a, b| {
                            (a.name != d.name)
                                .cmp(&(b.name != d.name))
                                .then(a.name.cmp(&b.name))
                                .then(compare_apk(&a.version, &b.version))
                        });
                        v.first().map(|a| (None, (*a).clone()))
                    };
                    let Some((i, a)) = upgrade.or_else(fresh) else {
                        return Err(Error::Invalid(format!(
                            "{} {} depends on {}: nothing installed serves it, and no package of the repositories does (versions of {} there: {})",
                            u.to.name,
                            u.to.version,
                            show(&d),
                            d.name,
                            have(&d.name)
                        )));
                    };
                    let why = format!("{} {} depends on {}", u.to.name, u.to.version, show(&d));
                    more.push((i, a, why));
                }
            }
            let before = World {
                installed,
                updates: &BTreeMap::new(),
            };
            for i in installed.iter().filter(|i| !updates.contains_key(&i.name)) {
                for d in deps(letter(&i.fields, "D")) {
                    if d.conflict {
                        let hit = Dep {
                            conflict: false,
                            ..d.clone()
                        };
                        if let Some(u) = updates
                            .values()
                            .find(|u| serves(&u.to.name, &u.to.version, &u.to.fields, &hit))
                        {
                            return Err(Error::Invalid(format!(
                                "the installed {} {} conflicts with {}: {} {} would meet it; apk would remove {}, which a patch never does",
                                i.name,
                                i.version,
                                show(&d),
                                u.to.name,
                                u.to.version,
                                i.name
                            )));
                        }
                        continue;
                    }
                    // What the image met before and the updates take away.
                    if world.who(&d, "").is_some() || before.who(&d, "").is_none() {
                        continue;
                    }
                    let a = candidates(i).into_iter().find(|a| {
                        deps(letter(&a.fields, "D"))
                            .iter()
                            .all(|x| x.conflict || world.who(x, "").is_some())
                    });
                    let Some(a) = a else {
                        return Err(Error::Invalid(format!(
                            "the update would break the installed {} {}: it depends on {}, which the new versions no longer serve, and the repositories have no {} that fits (they have: {})",
                            i.name,
                            i.version,
                            show(&d),
                            i.name,
                            have(&i.name)
                        )));
                    };
                    more.push((
                        Some(i.clone()),
                        a.clone(),
                        format!("its depend {} needs it with the updates", show(&d)),
                    ));
                }
            }
        }
        if more.is_empty() {
            return Ok(Plan {
                updates: updates.into_values().collect(),
                unfixed,
            });
        }
        take_needed(&mut updates, more, compare_apk)?;
    }
    Err(Error::Invalid(
        "the dependency resolution did not settle in 1000 rounds".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avail(name: &str, version: &str, d: &str, p: &str) -> Available {
        let fields = vec![
            ("P".to_string(), name.to_string()),
            ("V".to_string(), version.to_string()),
            ("A".to_string(), "x86_64".to_string()),
            ("D".to_string(), d.to_string()),
            ("p".to_string(), p.to_string()),
        ];
        Available {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            fields,
            path: Default::default(),
            size: None,
            sha256: None,
            security: false,
        }
    }

    fn inst(name: &str, version: &str, d: &str, p: &str) -> Installed {
        let a = avail(name, version, d, p);
        Installed {
            name: a.name,
            version: a.version,
            arch: a.arch,
            fields: a.fields,
        }
    }

    #[test]
    fn tokens_and_operators() {
        let d = parse_dep("so:libc.musl-x86_64.so.1").unwrap();
        assert_eq!(
            (d.name.as_str(), d.op, d.conflict),
            ("so:libc.musl-x86_64.so.1", None, false)
        );
        let d = parse_dep("!foo<2.0-r1").unwrap();
        assert!(d.conflict);
        assert_eq!(d.op, Some(("<".into(), "2.0-r1".into())));
        let d = parse_dep("musl@edge>=1.2").unwrap();
        assert_eq!(d.name, "musl");
        let table = [
            ("1.2.4-r2", ">=", "1.2.4", true),
            ("1.2.4-r2", "<", "1.2.4-r2", false),
            ("1.2.4-r2", "~", "1.2", true),
            ("1.20", "~", "1.2", false),
            ("2.0", "=", "2.0", true),
        ];
        for (v, op, w, want) in table {
            assert_eq!(
                satisfies(v, &Some((op.into(), w.into()))),
                want,
                "{v} {op} {w}"
            );
        }
    }

    #[test]
    fn so_provides_pull_in_a_new_package_and_conflicts_refuse() {
        let installed = [
            inst("musl", "1.2.4-r0", "", "so:libc.musl-x86_64.so.1=1"),
            inst("demo", "1.0-r0", "so:libdemo.so.1", ""),
            inst("libdemo", "1.0-r0", "", "so:libdemo.so.1=1.0"),
        ];
        let repos = [
            avail(
                "demo",
                "1.1-r0",
                "so:libdemo.so.2 so:libc.musl-x86_64.so.1",
                "",
            ),
            avail("libdemo2", "2.1-r0", "", "so:libdemo.so.2=2.1"),
            avail("libdemo2", "2.0-r0", "", "so:libdemo.so.2=2.0"),
        ];
        let p = plan(&installed, &repos, &Want::Packages(vec!["demo".into()])).unwrap();
        let got: Vec<(String, String, bool)> = p
            .updates
            .iter()
            .map(|u| (u.to.name.clone(), u.to.version.clone(), u.from.is_none()))
            .collect();
        assert_eq!(
            got,
            [
                ("demo".into(), "1.1-r0".into(), false),
                ("libdemo2".into(), "2.0-r0".into(), true)
            ]
        );
        let bad = [avail("demo", "1.1-r0", "so:libdemo.so.3", "")];
        let e = plan(&installed, &bad, &Want::Packages(vec!["demo".into()]))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("depends on so:libdemo.so.3"), "{e}");
        let conflict = [avail("demo", "1.1-r0", "!libdemo", "")];
        let e = plan(&installed, &conflict, &Want::Packages(vec!["demo".into()]))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("conflicts with libdemo"), "{e}");
    }
}
