//! What a patch updates: the packages asked for (by name, by a scanner report's fixed
//! versions, or every one the repositories have newer), then the dependencies the new versions
//! need that the image does not meet, and the installed packages whose own dependencies or
//! `Breaks` the new versions would break, each pulled in at the lowest version that serves,
//! until nothing more is needed. What cannot be met is an error naming the package, the
//! relation and what the image and the repositories have. Nothing is ever removed.

use super::deb;
use super::repo::{Available, Repos};
use crate::error::{Error, Result};
use crate::packages::version::compare_dpkg;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// An installed package, from dpkg's `status`.
#[derive(Debug, Clone)]
pub struct Installed {
    pub name: String,
    pub arch: String,
    pub version: String,
    pub fields: Vec<(String, String)>,
}

impl Installed {
    pub fn field(&self, name: &str) -> Option<&str> {
        deb::field(&self.fields, name)
    }
}

/// The installed packages of a dpkg `status` (those dpkg-query calls installed).
pub fn installed(status: &str) -> Vec<Installed> {
    let mut out = Vec::new();
    for stanza in status.split("\n\n") {
        let fields = deb::fields(stanza);
        let get = |k| deb::field(&fields, k).map(str::to_string);
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        let state = get("Status").unwrap_or_default();
        if !state.ends_with(" installed") {
            continue;
        }
        out.push(Installed {
            name,
            arch: get("Architecture").unwrap_or_default(),
            version,
            fields,
        });
    }
    out
}

/// One update: the package, the version it leaves (None: a package the image did not have,
/// which a new version needs), the one it gets, and why.
#[derive(Debug, Clone)]
pub struct Update {
    pub from: Option<Installed>,
    pub to: Available,
    pub why: String,
}

impl Update {
    /// The version left, for people: `(new)` for a package the image did not have.
    pub fn from_version(&self) -> &str {
        self.from.as_ref().map_or("(new)", |i| i.version.as_str())
    }
}

/// What to update, as the user asked.
pub enum Want {
    Packages(Vec<String>),
    /// (package, the lowest version that fixes it, the finding IDs), and whether only
    /// versions from security suites count (`--only-security`).
    Fixes(Vec<(String, String, Vec<String>)>, bool),
    All,
}

/// One relation of a `Depends`-style field: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq)]
struct Rel {
    name: String,
    op: Option<(String, String)>,
}

fn parse_rel(s: &str) -> Option<Rel> {
    let s = s.trim();
    let (name, rest) = match s.find([' ', '(']) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let name = name.split(':').next()?.to_string();
    if name.is_empty() {
        return None;
    }
    let op = rest
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .and_then(|(inner, _)| {
            let inner = inner.trim();
            let split = inner.find(|c: char| !"<>=".contains(c))?;
            Some((
                inner[..split].to_string(),
                inner[split..].trim().to_string(),
            ))
        });
    Some(Rel { name, op })
}

/// A field's clauses (`,`-separated), each a list of alternatives (`|`).
fn clauses(field: Option<&str>) -> Vec<Vec<Rel>> {
    field
        .unwrap_or("")
        .split(',')
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.split('|').filter_map(parse_rel).collect())
        .filter(|c: &Vec<Rel>| !c.is_empty())
        .collect()
}

fn satisfies(version: &str, op: &Option<(String, String)>) -> bool {
    let Some((op, want)) = op else { return true };
    let c = compare_dpkg(version, want);
    // The obsolete `<` and `>` mean `<=` and `>=` (deb-control(5)).
    match op.as_str() {
        "<<" => c == Ordering::Less,
        "<=" | "<" => c != Ordering::Greater,
        "=" => c == Ordering::Equal,
        ">=" | ">" => c != Ordering::Less,
        ">>" => c == Ordering::Greater,
        _ => false,
    }
}

fn show(r: &Rel) -> String {
    match &r.op {
        Some((o, v)) => format!("{} ({o} {v})", r.name),
        None => r.name.clone(),
    }
}

/// The image's packages with the planned updates applied: (name, version, provides, arch).
struct World<'a> {
    installed: &'a [Installed],
    updates: &'a BTreeMap<String, Update>,
}

impl World<'_> {
    /// (name, version, fields) of every package of the world.
    fn each(&self) -> impl Iterator<Item = (&str, &str, &[(String, String)])> {
        let installed = self
            .installed
            .iter()
            .map(|i| match self.updates.get(&i.name) {
                Some(u) => (
                    u.to.name.as_str(),
                    u.to.version.as_str(),
                    u.to.fields.as_slice(),
                ),
                None => (i.name.as_str(), i.version.as_str(), i.fields.as_slice()),
            });
        // Packages new to the image that an update needs.
        let new = self.updates.values().filter(|u| u.from.is_none()).map(|u| {
            (
                u.to.name.as_str(),
                u.to.version.as_str(),
                u.to.fields.as_slice(),
            )
        });
        installed.chain(new)
    }
    fn meets(&self, r: &Rel) -> bool {
        self.each().any(|(name, version, fields)| {
            (name == r.name && satisfies(version, &r.op))
                || clauses(deb::field(fields, "Provides"))
                    .iter()
                    .flatten()
                    .any(|p| {
                        p.name == r.name
                            && match (&r.op, &p.op) {
                                (None, _) => true,
                                (Some(_), Some((_, pv))) => satisfies(pv, &r.op),
                                (Some(_), None) => false,
                            }
                    })
        })
    }
}

/// The planned updates, and what a report asked for that the repositories cannot fix.
pub struct Plan {
    pub updates: Vec<Update>,
    pub unfixed: Vec<String>,
}

/// The image's dpkg architecture: dpkg's own package's, else the first that is not `all`.
pub fn image_arch(installed: &[Installed]) -> String {
    installed
        .iter()
        .find(|i| i.name == "dpkg")
        .or_else(|| installed.iter().find(|i| i.arch != "all"))
        .map_or_else(|| "amd64".to_string(), |i| i.arch.clone())
}

/// Plans the updates.
pub fn plan(installed: &[Installed], repos: &Repos, want: &Want) -> Result<Plan> {
    let arch = image_arch(installed);
    let mut unfixed = Vec::new();
    // A package installed for several architectures (Multi-Arch: same) is not updated yet.
    let mut seen = std::collections::BTreeSet::new();
    let multi: Vec<&str> = installed
        .iter()
        .filter(|i| !seen.insert(i.name.as_str()))
        .map(|i| i.name.as_str())
        .collect();
    let by_name: BTreeMap<&str, &Installed> =
        installed.iter().map(|i| (i.name.as_str(), i)).collect();
    // A package's candidates in the repositories for the installed arch (or `all`), oldest first.
    let candidates = |i: &Installed| -> Vec<&Available> {
        let mut v: Vec<&Available> = repos
            .packages
            .iter()
            .filter(|a| a.name == i.name && (a.arch == i.arch || a.arch == "all"))
            .filter(|a| compare_dpkg(&a.version, &i.version) == Ordering::Greater)
            .collect();
        v.sort_by(|a, b| compare_dpkg(&a.version, &b.version));
        v
    };
    let have = |name: &str| -> String {
        let mut v: Vec<&str> = repos
            .packages
            .iter()
            .filter(|a| a.name == name)
            .map(|a| a.version.as_str())
            .collect();
        v.sort_by(|a, b| compare_dpkg(a, b));
        v.dedup();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    };
    let mut updates: BTreeMap<String, Update> = BTreeMap::new();
    // A package the image does not have: its versions for the image's arch, oldest first.
    let fresh = |name: &str| -> Vec<&Available> {
        let mut v: Vec<&Available> = repos
            .packages
            .iter()
            .filter(|a| a.name == name && (a.arch == arch || a.arch == "all"))
            .collect();
        v.sort_by(|a, b| compare_dpkg(&a.version, &b.version));
        v
    };
    let add =
        |updates: &mut BTreeMap<String, Update>, i: &Installed, a: &Available, why: String| {
            updates.insert(
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
                let c = candidates(i);
                let a = c.last().ok_or_else(|| {
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
            // A held package stays as it is (apt's upgrades skip it too).
            let held = |i: &Installed| i.field("Status").is_some_and(|s| s.starts_with("hold "));
            for i in installed.iter().filter(|i| !held(i)) {
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
        Want::Fixes(fixes, only_security) => {
            for (n, fixed, ids) in fixes {
                let Some(i) = by_name.get(n.as_str()) else {
                    continue;
                };
                if compare_dpkg(&i.version, fixed) != Ordering::Less {
                    continue;
                }
                let fixing = |a: &&Available| compare_dpkg(&a.version, fixed) != Ordering::Less;
                let any = candidates(i).into_iter().find(fixing);
                let secure = candidates(i)
                    .into_iter()
                    .filter(|a| a.security)
                    .find(fixing);
                if *only_security
                    && secure.is_none()
                    && let Some(a) = any
                {
                    {
                        unfixed.push(format!(
                            "{n} {}: {} fixed in {fixed}; {} has it, but from no security suite (--only-security)",
                            i.version,
                            ids.join(", "),
                            a.version
                        ));
                        continue;
                    }
                }
                let Some(a) = (if *only_security { secure } else { any }) else {
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
                    .is_some_and(|u| compare_dpkg(&u.to.version, &a.version) != Ordering::Less);
                if !keep {
                    add(&mut updates, i, a, format!("fixes {}", ids.join(", ")));
                }
            }
        }
    }
    // Close over dependencies, reverse dependencies and Breaks until nothing changes.
    for _round in 0..1000 {
        let mut more: Vec<(Option<Installed>, Available, String)> = Vec::new();
        {
            let world = World {
                installed,
                updates: &updates,
            };
            // What the new versions need.
            for u in updates.values() {
                for field in ["Pre-Depends", "Depends"] {
                    for clause in clauses(u.to.field(field)) {
                        if clause.iter().any(|r| world.meets(r)) {
                            continue;
                        }
                        let pick = clause
                            .iter()
                            .find_map(|r| match by_name.get(r.name.as_str()) {
                                Some(i) => {
                                    let a = candidates(i)
                                        .into_iter()
                                        .find(|a| satisfies(&a.version, &r.op))?;
                                    Some((Some((*i).clone()), a.clone()))
                                }
                                None => {
                                    let a = fresh(&r.name)
                                        .into_iter()
                                        .find(|a| satisfies(&a.version, &r.op))?;
                                    Some((None, a.clone()))
                                }
                            });
                        let Some((i, a)) = pick else {
                            let alts: Vec<String> = clause.iter().map(show).collect();
                            return Err(Error::Invalid(format!(
                                "{} {} {field}: {}: the image has {}, and the repositories have no version that serves",
                                u.to.name,
                                u.to.version,
                                alts.join(" | "),
                                clause
                                    .iter()
                                    .map(|r| format!(
                                        "{} {}",
                                        r.name,
                                        by_name
                                            .get(r.name.as_str())
                                            .map_or("(not installed)", |i| i.version.as_str())
                                    ))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )));
                        };
                        let why = format!(
                            "{} {} {field} {}",
                            u.to.name,
                            u.to.version,
                            clause.iter().map(show).collect::<Vec<_>>().join(" | ")
                        );
                        more.push((i, a, why));
                    }
                }
                // What the new versions break.
                for r in clauses(u.to.field("Breaks")).into_iter().flatten() {
                    if let Some(i) = by_name.get(r.name.as_str())
                        && !updates.contains_key(&r.name)
                        && satisfies(&i.version, &r.op)
                    {
                        let a = candidates(i).into_iter().find(|a| !satisfies(&a.version, &r.op)).ok_or_else(|| {
                            Error::Invalid(format!(
                                "{} {} Breaks {}: the image has {} {}, and the repositories have no version past it (they have: {})",
                                u.to.name, u.to.version, show(&r), i.name, i.version, have(&i.name)
                            ))
                        })?;
                        more.push((
                            Some((*i).clone()),
                            a.clone(),
                            format!("{} {} Breaks {}", u.to.name, u.to.version, show(&r)),
                        ));
                    }
                }
                for r in clauses(u.to.field("Conflicts")).into_iter().flatten() {
                    if r.name != u.to.name
                        && let Some(i) = by_name.get(r.name.as_str())
                        && !updates.contains_key(&r.name)
                        && satisfies(&i.version, &r.op)
                    {
                        return Err(Error::Invalid(format!(
                            "{} {} Conflicts with the installed {} {}: the update would remove a package, which a patch never does",
                            u.to.name, u.to.version, i.name, i.version
                        )));
                    }
                }
            }
            // What the installed packages break or conflict with among the new versions.
            for i in installed.iter().filter(|i| !updates.contains_key(&i.name)) {
                for field in ["Breaks", "Conflicts"] {
                    for r in clauses(i.field(field)).into_iter().flatten() {
                        if let Some(u) = updates.get(&r.name)
                            && satisfies(&u.to.version, &r.op)
                        {
                            return Err(Error::Invalid(format!(
                                "the installed {} {} {field} {}: updating {} to {} would break it, and the repositories have no {} without that (they have: {})",
                                i.name,
                                i.version,
                                show(&r),
                                r.name,
                                u.to.version,
                                i.name,
                                have(&i.name)
                            )));
                        }
                    }
                }
            }
            // What the installed packages need of the updated ones.
            for i in installed.iter().filter(|i| !updates.contains_key(&i.name)) {
                for field in ["Pre-Depends", "Depends"] {
                    for clause in clauses(i.field(field)) {
                        let touches = clause.iter().any(|r| updates.contains_key(&r.name));
                        if !touches || clause.iter().any(|r| world.meets(r)) {
                            continue;
                        }
                        let a = candidates(i).into_iter().find(|a| {
                            clauses(a.field(field))
                                .iter()
                                .all(|c| c.iter().any(|r| world.meets(r)))
                        });
                        let Some(a) = a else {
                            return Err(Error::Invalid(format!(
                                "updating {} breaks {} {}: its {field} {} is no longer met, and the repositories have no {} that fits (they have: {})",
                                clause
                                    .iter()
                                    .map(|r| r.name.as_str())
                                    .filter(|n| updates.contains_key(*n))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                i.name,
                                i.version,
                                clause.iter().map(show).collect::<Vec<_>>().join(" | "),
                                i.name,
                                have(&i.name)
                            )));
                        };
                        more.push((
                            Some(i.clone()),
                            a.clone(),
                            format!(
                                "its {field} {} needs it with the updated packages",
                                clause.iter().map(show).collect::<Vec<_>>().join(" | ")
                            ),
                        ));
                    }
                }
            }
        }
        if more.is_empty() {
            if let Some(n) = multi.iter().find(|n| updates.contains_key(**n)) {
                return Err(Error::Invalid(format!(
                    "{n} is installed for several architectures: regraft patch does not update such packages yet"
                )));
            }
            return Ok(Plan {
                updates: updates.into_values().collect(),
                unfixed,
            });
        }
        take_needed(&mut updates, more, compare_dpkg)?;
    }
    Err(Error::Invalid(
        "the dependency resolution did not settle in 1000 rounds".into(),
    ))
}

/// One round of the dependency resolution, shared by the dpkg and apk plans: each package
/// still needed (`more`) becomes an update where it is newer (by `cmp`) than the one already
/// planned; an error when none is, since the next round would find the same needs.
pub fn take_needed(
    updates: &mut BTreeMap<String, Update>,
    more: Vec<(Option<Installed>, Available, String)>,
    cmp: fn(&str, &str) -> Ordering,
) -> Result<()> {
    let mut changed = false;
    let mut stuck = Vec::new();
    for (i, a, why) in more {
        let newer = updates
            .get(&a.name)
            .is_none_or(|u| cmp(&a.version, &u.to.version) == Ordering::Greater);
        if newer {
            updates.insert(
                a.name.clone(),
                Update {
                    from: i,
                    to: a,
                    why,
                },
            );
            changed = true;
        } else {
            stuck.push(format!("{} {} ({why})", a.name, a.version));
        }
    }
    if !changed {
        return Err(Error::Invalid(format!(
            "the updates cannot be made consistent: still needed, with no newer version to take: {}",
            stuck.join("; ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_and_their_versions() {
        let c = clauses(Some(
            "libc6 (>= 2.14), libzstd1 | zlib1g:any (<< 1:2), ,foo",
        ));
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0][0],
            Rel {
                name: "libc6".into(),
                op: Some((">=".into(), "2.14".into()))
            }
        );
        assert_eq!(c[1][1].name, "zlib1g");
        assert!(satisfies("2.36-9", &c[0][0].op));
        assert!(!satisfies("2.13", &c[0][0].op));
        assert!(satisfies("1:1.2.13", &c[1][1].op));
        assert!(!satisfies("1:2.0", &c[1][1].op));
    }
}
