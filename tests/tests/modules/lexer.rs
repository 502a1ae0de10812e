//! Rust source reduced to the tokens module paths are made of: comments dropped, every literal
//! one token (a string keeps its text, for `#[path = "..."]`), `::` one token.

/// One token of Rust source, as far as module paths need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An identifier or keyword (a raw identifier without its `r#`).
    Ident(String),
    /// A string literal's text between its quotes, escapes as written.
    Str(String),
    /// `::`.
    PathSep,
    /// Any other punctuation character.
    Punct(char),
    /// A number, a character literal or a lifetime.
    Other,
}

/// The tokens of `source`.
pub(crate) fn tokens(source: &str) -> Vec<Token> {
    let s: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = block_comment_end(&s, i);
        } else if c == '"' {
            let (text, end) = quoted(&s, i + 1);
            out.push(Token::Str(text));
            i = end;
        } else if c == '\'' {
            out.push(Token::Other);
            i = char_or_lifetime_end(&s, i);
        } else if c.is_alphabetic() || c == '_' {
            i = word(&s, i, &mut out);
        } else if c.is_ascii_digit() {
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            out.push(Token::Other);
        } else if c == ':' && next == Some(':') {
            out.push(Token::PathSep);
            i += 2;
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// Where the (nested) block comment opening at `start` ends.
fn block_comment_end(s: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < s.len() {
        if s[i] == '/' && s.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// The text of a quoted literal whose text starts at `start`, and where the literal ends.
fn quoted(s: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    while i < s.len() && s[i] != '"' {
        i += if s[i] == '\\' { 2 } else { 1 };
    }
    let end = i.min(s.len());
    (s[start..end].iter().collect(), end + 1)
}

/// Where the character literal or lifetime (or label) at `start` ends.
fn char_or_lifetime_end(s: &[char], start: usize) -> usize {
    match (s.get(start + 1), s.get(start + 2)) {
        (Some('\\'), _) => {
            let mut i = start + 3;
            while i < s.len() && s[i] != '\'' {
                i += 1;
            }
            i + 1
        }
        (Some(_), Some('\'')) => start + 3,
        _ => {
            let mut i = start + 1;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            i
        }
    }
}

/// Reads the identifier, keyword-prefixed literal (`b"..."`, `r#"..."#`, `b'x'`) or raw
/// identifier at `start` into `out`, and returns where it ends.
fn word(s: &[char], start: usize, out: &mut Vec<Token>) -> usize {
    let mut i = start;
    while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
        i += 1;
    }
    let word: String = s[start..i].iter().collect();
    let next = s.get(i).copied();
    match (word.as_str(), next) {
        ("b" | "c", Some('"')) => {
            let (text, end) = quoted(s, i + 1);
            out.push(Token::Str(text));
            end
        }
        ("b", Some('\'')) => {
            out.push(Token::Other);
            char_or_lifetime_end(s, i)
        }
        ("r" | "br" | "cr", Some('"' | '#')) => {
            let hashes = s[i..].iter().take_while(|&&c| c == '#').count();
            if s.get(i + hashes) == Some(&'"') {
                let (text, end) = raw(s, i + hashes + 1, hashes);
                out.push(Token::Str(text));
                end
            } else if word == "r" && hashes == 1 {
                word_raw_ident(s, i + 1, out)
            } else {
                out.push(Token::Ident(word));
                i
            }
        }
        _ => {
            out.push(Token::Ident(word));
            i
        }
    }
}

/// Reads the raw identifier whose name starts at `start`.
fn word_raw_ident(s: &[char], start: usize, out: &mut Vec<Token>) -> usize {
    let mut i = start;
    while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
        i += 1;
    }
    out.push(Token::Ident(s[start..i].iter().collect()));
    i
}

/// The text of a raw string with `hashes` hashes whose text starts at `start`, and where the
/// literal ends.
fn raw(s: &[char], start: usize, hashes: usize) -> (String, usize) {
    let mut i = start;
    while i < s.len() {
        if s[i] == '"'
            && s[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return (s[start..i].iter().collect(), i + 1 + hashes);
        }
        i += 1;
    }
    (s[start..].iter().collect(), s.len())
}

#[cfg(test)]
mod tests {
    use super::{Token, tokens};

    fn idents(source: &str) -> Vec<String> {
        tokens(source)
            .into_iter()
            .filter_map(|t| match t {
                Token::Ident(name) => Some(name),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn comments_and_literals_hide_their_contents() {
        let source = r####"
            // crate::a
            /* crate::b /* crate::c */ crate::d */
            /// crate::e
            let x = "crate::f \" crate::g";
            let y = r#"crate::h " crate::i"#;
            let z = br##"crate::j"#"##;
            let q = '"'; let q1 = '\''; let q2 = b'"';
            fn lifetimes<'a>(v: &'a str) {}
            use crate::k;
        "####;
        let names = idents(source);
        for hidden in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
            assert!(
                !names.contains(&hidden.to_owned()),
                "{hidden} leaked: {names:?}"
            );
        }
        assert!(names.contains(&"k".to_owned()), "{names:?}");
    }

    #[test]
    fn paths_and_strings_keep_their_shape() {
        assert_eq!(
            tokens(r##"#[path = "x_tests.rs"] mod r#type;"##),
            vec![
                Token::Punct('#'),
                Token::Punct('['),
                Token::Ident("path".to_owned()),
                Token::Punct('='),
                Token::Str("x_tests.rs".to_owned()),
                Token::Punct(']'),
                Token::Ident("mod".to_owned()),
                Token::Ident("type".to_owned()),
                Token::Punct(';'),
            ]
        );
        assert_eq!(
            tokens("super::a"),
            vec![
                Token::Ident("super".to_owned()),
                Token::PathSep,
                Token::Ident("a".to_owned()),
            ]
        );
    }
}
