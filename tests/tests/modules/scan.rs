//! One source file's module declarations (`mod x;`, with its `#[path]`) and the paths it writes
//! out of `crate`, `super` or `self` (in `use` trees, grouped ones expanded, and in code).

use super::lexer::Token;

/// An out-of-line module declaration, `mod name;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModDecl {
    /// The module's name.
    pub(crate) name: String,
    /// Its `#[path = "..."]`, if any.
    pub(crate) path: Option<String>,
    /// The inline modules (`mod x { ... }`) the declaration sits in.
    pub(crate) inline: Vec<String>,
}

/// A path that starts at `crate`, `super` or `self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// The inline modules the path is written in (what its `self` and `super` start from).
    pub(crate) inline: Vec<String>,
    /// Its segments as written, the leading keyword(s) included; a group's `self` kept.
    pub(crate) segments: Vec<String>,
}

/// What one file declares and refers to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Its out-of-line module declarations.
    pub(crate) mods: Vec<ModDecl>,
    /// Its paths out of `crate`, `super` or `self`.
    pub(crate) references: Vec<Reference>,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token::Ident(name)) => Some(name),
        _ => None,
    }
}

/// Scans a file's tokens.
pub(crate) fn scan(t: &[Token]) -> Scan {
    let mut result = Scan::default();
    // One entry per open brace: the inline module it opens, if it opens one.
    let mut braces: Vec<Option<String>> = Vec::new();
    let mut path_attr: Option<String> = None;
    let inline = |braces: &[Option<String>]| braces.iter().flatten().cloned().collect::<Vec<_>>();
    let mut i = 0;
    while i < t.len() {
        let word = ident(t.get(i));
        if word == Some("mod")
            && let Some(name) = ident(t.get(i + 1))
        {
            match t.get(i + 2) {
                Some(Token::Punct(';')) => result.mods.push(ModDecl {
                    name: name.to_owned(),
                    path: path_attr.take(),
                    inline: inline(&braces),
                }),
                Some(Token::Punct('{')) => braces.push(Some(name.to_owned())),
                _ => {}
            }
            path_attr = None;
            i += 3;
            continue;
        }
        if let [
            Token::Punct('#'),
            Token::Punct('['),
            Token::Ident(attr),
            Token::Punct('='),
            Token::Str(value),
            Token::Punct(']'),
            ..,
        ] = &t[i..]
            && attr == "path"
        {
            path_attr = Some(value.clone());
            i += 6;
            continue;
        }
        let starts_path = matches!(word, Some("crate" | "super" | "self"))
            && t.get(i + 1) == Some(&Token::PathSep)
            && (i == 0 || t[i - 1] != Token::PathSep);
        if starts_path {
            let mut paths = Vec::new();
            i = tree(t, i, &[], &mut paths);
            let inline = inline(&braces);
            result
                .references
                .extend(paths.into_iter().map(|segments| Reference {
                    inline: inline.clone(),
                    segments,
                }));
            continue;
        }
        match t[i] {
            Token::Punct('{') => {
                braces.push(None);
                path_attr = None;
            }
            Token::Punct('}') => {
                braces.pop();
                path_attr = None;
            }
            Token::Punct(';') => path_attr = None,
            _ => {}
        }
        i += 1;
    }
    result
}

/// Reads the path (or `use` tree) at `i` below `prefix` into `out`; returns where it ends.
fn tree(t: &[Token], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match t.get(i) {
            Some(Token::Ident(name)) if name != "as" => {
                path.push(name.clone());
                i += 1;
            }
            Some(Token::Punct('{')) => return group(t, i + 1, &path, out),
            Some(Token::Punct('*')) => {
                out.push(path);
                return i + 1;
            }
            _ => break,
        }
        if t.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            break;
        }
    }
    if ident(t.get(i)) == Some("as") {
        i += 2;
    }
    if path.len() > prefix.len() {
        out.push(path);
    }
    i
}

/// Reads the `use` group whose first item is at `i` (just past its `{`).
fn group(t: &[Token], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    while i < t.len() {
        match t[i] {
            Token::Punct('}') => return i + 1,
            Token::Punct(',') => i += 1,
            _ => {
                let end = tree(t, i, prefix, out);
                i = if end == i { i + 1 } else { end };
            }
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokens;
    use super::{ModDecl, scan};

    fn paths(source: &str) -> Vec<String> {
        scan(&tokens(source))
            .references
            .into_iter()
            .map(|r| format!("{}@{}", r.segments.join("::"), r.inline.join("::")))
            .collect()
    }

    #[test]
    fn use_trees_expand_and_code_paths_count() {
        let source = "
            use crate::{a::{self, B as C}, b::*};
            use super::d::E;
            fn f() { let x = crate::g::h::<u8>(); self::i::j(); }
            mod tests { use super::*; use super::super::k; }
            use std::io;
        ";
        assert_eq!(
            paths(source),
            [
                "crate::a::self@",
                "crate::a::B@",
                "crate::b@",
                "super::d::E@",
                "crate::g::h@",
                "self::i::j@",
                "super@tests",
                "super::super::k@tests",
            ]
        );
    }

    #[test]
    fn out_of_line_modules_keep_their_path_attribute() {
        let source = r#"
            pub mod a;
            #[cfg(test)]
            #[path = "b_tests.rs"]
            mod b;
            mod c { fn f() {} }
            pub(crate) mod d;
        "#;
        let decl = |name: &str, path: Option<&str>| ModDecl {
            name: name.to_owned(),
            path: path.map(str::to_owned),
            inline: Vec::new(),
        };
        assert_eq!(
            scan(&tokens(source)).mods,
            [
                decl("a", None),
                decl("b", Some("b_tests.rs")),
                decl("d", None)
            ]
        );
    }
}
