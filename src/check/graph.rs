//! The application's load graph, as ld.so walks it: a program loads its `DT_NEEDED`
//! libraries, theirs in turn, and an object already loaded answers a later `DT_NEEDED` of its
//! soname without a search. So a library's need is judged in the context of the programs of
//! the application that reach it; a library no program reaches (a plugin a program
//! `dlopen`s, such as the JDK's `lib/*.so`, which need the `lib/server/libjvm.so` the `java`
//! launcher loads first) is checked alone, and said so.

use std::collections::BTreeSet;

/// One ELF file of the application, as the graph sees it.
pub struct Obj<'a> {
    /// Its path in the result, absolute.
    pub path: &'a str,
    pub soname: Option<&'a str>,
    /// A program (it has a `PT_INTERP` loader): the root of a load.
    pub program: bool,
}

/// What to make of a `DT_NEEDED` name the search did not find.
#[derive(Debug, PartialEq, Eq)]
pub enum Context {
    /// Every program that reaches the library has already loaded an object of that soname.
    LoadedByEveryProgram,
    /// No program of the application reaches the library, and this application file has that
    /// soname (whoever loads the library must load it first).
    Alone { provider: String },
    /// Missing for real.
    Missing,
}

/// The objects each object loads (itself included), over `edges` (`(from, to)`: `from`
/// needs `to`, found).
fn closure(n: usize, edges: &[(usize, usize)], root: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::from([root]);
    let mut todo = vec![root];
    while let Some(x) = todo.pop() {
        for &(a, b) in edges {
            if a == x && b < n && seen.insert(b) {
                todo.push(b);
            }
        }
    }
    seen
}

/// Judges `name`, needed by object `i` and not found by the search.
pub fn context(objs: &[Obj<'_>], edges: &[(usize, usize)], i: usize, name: &str) -> Context {
    let provides = |j: usize| j != i && objs[j].soname == Some(name);
    let loads: Vec<BTreeSet<usize>> = (0..objs.len())
        .filter(|&p| objs[p].program)
        .map(|p| closure(objs.len(), edges, p))
        .filter(|set| set.contains(&i))
        .collect();
    if !loads.is_empty() {
        return if loads.iter().all(|set| set.iter().any(|&j| provides(j))) {
            Context::LoadedByEveryProgram
        } else {
            Context::Missing
        };
    }
    match (0..objs.len()).find(|&j| provides(j)) {
        Some(j) => Context::Alone {
            provider: objs[j].path.to_string(),
        },
        None => Context::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o<'a>(path: &'a str, soname: Option<&'a str>, program: bool) -> Obj<'a> {
        Obj {
            path,
            soname,
            program,
        }
    }

    #[test]
    fn a_need_is_judged_by_the_programs_that_reach_it() {
        let objs = [
            o("/jdk/bin/java", None, true),                           // 0
            o("/jdk/lib/libjli.so", Some("libjli.so"), false),        // 1
            o("/jdk/lib/libjava.so", Some("libjava.so"), false),      // 2
            o("/jdk/lib/server/libjvm.so", Some("libjvm.so"), false), // 3
            o("/app/bin/tool", None, true),                           // 4
            o("/app/lib/libplug.so", Some("libplug.so"), false),      // 5
            o("/app/lib/libcore.so", Some("libcore.so"), false),      // 6
            o("/app/bin/other", None, true),                          // 7
        ];
        // java -> libjli; tool -> libcore, libplug; other -> libplug alone.
        let edges = [(0, 1), (4, 6), (4, 5), (7, 5)];
        // libjava.so: dlopened, reached by no program; libjvm.so is in the application.
        assert_eq!(
            context(&objs, &edges, 2, "libjvm.so"),
            Context::Alone {
                provider: "/jdk/lib/server/libjvm.so".into()
            }
        );
        assert_eq!(context(&objs, &edges, 2, "libatm.so.1"), Context::Missing);
        // libplug needs libcore: tool loads it first, other does not.
        assert_eq!(context(&objs, &edges, 5, "libcore.so"), Context::Missing);
        let edges = [(0, 1), (4, 6), (4, 5)];
        assert_eq!(
            context(&objs, &edges, 5, "libcore.so"),
            Context::LoadedByEveryProgram
        );
        // A program's own need is never answered by itself.
        assert_eq!(context(&objs, &edges, 4, "libx.so"), Context::Missing);
    }
}
