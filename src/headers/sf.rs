//! A strict parser for Structured Field Lists and Items (RFC 9651, which
//! obsoletes RFC 8941), as much as the RateLimit fields need.
//!
//! Every bare item type is recognised (integers, decimals, strings, tokens,
//! byte sequences, booleans, dates, display strings); only the ones the
//! RateLimit fields use keep their value. Where RFC 9651 fails a whole List,
//! [`parse_list`] drops only the malformed member and goes on after the next
//! comma outside a string, because one odd policy should not hide the others.
//! An inner list `( ... )` is not used by the RateLimit fields and is dropped
//! like a malformed member.

use alloc::string::String;
use alloc::vec::Vec;

/// A bare item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bare<'a> {
    /// An Integer: at most 15 digits, so it fits an `i64` exactly.
    Integer(i64),
    /// A String, with its escapes resolved.
    String(String),
    /// A Token, as written.
    Token(&'a str),
    /// A Byte Sequence's base64 text between the colons (not decoded).
    Bytes(&'a str),
    /// A well-formed item whose value the RateLimit fields do not read
    /// (a Decimal, Boolean, Date or Display String).
    Other,
}

/// A list member: a bare item and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    pub(crate) bare: Bare<'a>,
    params: Vec<(&'a str, Bare<'a>)>,
}

impl<'a> Item<'a> {
    /// The parameter `key`; when a key repeats, its last value (RFC 9651 §4.2.3.2).
    pub(crate) fn param(&self, key: &str) -> Option<&Bare<'a>> {
        self.params.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The item as a name: a String or a Token.
    pub(crate) fn name(&self) -> Option<String> {
        match &self.bare {
            Bare::String(s) => Some(s.clone()),
            Bare::Token(t) => Some(String::from(*t)),
            _ => None,
        }
    }
}

/// The well-formed members of a List field value.
pub(crate) fn parse_list(input: &str) -> Vec<Item<'_>> {
    members(input, item)
}

/// The well-formed members of a Dictionary field value (RFC 9651 §3.2),
/// `key=item` or a bare `key` (Boolean true); malformed members are skipped
/// like [`parse_list`]'s. Express-rate-limit's `draft-7` mode sends
/// `RateLimit: limit=20, remaining=0, reset=7`.
pub(crate) fn parse_dictionary(input: &str) -> Vec<(&str, Item<'_>)> {
    members(input, dictionary_member)
}

/// The comma-separated members `member` parses, each up to a member's end; a
/// malformed one is skipped to the next comma rather than failing the field.
fn members<'a, T>(input: &'a str, member: fn(&mut Cursor<'a>) -> Option<T>) -> Vec<T> {
    let mut c = Cursor { s: input, pos: 0 };
    let mut out = Vec::new();
    c.skip_ows();
    while c.peek().is_some() {
        let start = c.pos;
        match member(&mut c) {
            Some(m) if c.at_member_end() => out.push(m),
            _ => {
                c.pos = start;
                c.skip_member();
            }
        }
        if c.eat(b',') {
            c.skip_ows();
        }
    }
    out
}

fn dictionary_member<'a>(c: &mut Cursor<'a>) -> Option<(&'a str, Item<'a>)> {
    let key = c.take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
    if !key.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '*') {
        return None;
    }
    if c.eat(b'=') {
        return Some((key, item(c)?));
    }
    // A key alone is Boolean true, with its parameters.
    Some((key, item_with(c, Bare::Other)?))
}

/// An Item field value: exactly one item, with optional surrounding spaces.
pub(crate) fn parse_item(input: &str) -> Option<Item<'_>> {
    let mut c = Cursor { s: input, pos: 0 };
    c.skip_ows();
    let parsed = item(&mut c)?;
    c.skip_ows();
    c.peek().is_none().then_some(parsed)
}

fn item<'a>(c: &mut Cursor<'a>) -> Option<Item<'a>> {
    let bare = bare_item(c)?;
    item_with(c, bare)
}

/// `bare` and the parameters that follow it.
fn item_with<'a>(c: &mut Cursor<'a>, bare: Bare<'a>) -> Option<Item<'a>> {
    let mut params = Vec::new();
    while c.eat(b';') {
        c.skip_sp();
        let key = c.take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
        if !key.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '*') {
            return None;
        }
        // A parameter without a value is Boolean true.
        let value = if c.eat(b'=') { bare_item(c)? } else { Bare::Other };
        params.push((key, value));
    }
    Some(Item { bare, params })
}

fn bare_item<'a>(c: &mut Cursor<'a>) -> Option<Bare<'a>> {
    match c.peek()? {
        b'-' | b'0'..=b'9' => number(c),
        b'"' => string(c).map(Bare::String),
        b'*' | b'A'..=b'Z' | b'a'..=b'z' => Some(Bare::Token(c.take_while(is_token_char))),
        b':' => byte_sequence(c),
        b'?' => {
            c.pos += 1;
            matches!(c.bump()?, b'0' | b'1').then_some(Bare::Other)
        }
        b'@' => {
            c.pos += 1;
            matches!(number(c)?, Bare::Integer(_)).then_some(Bare::Other)
        }
        b'%' => display_string(c),
        _ => None,
    }
}

/// Integer (`-`? 1-15 digits) or Decimal (`-`? 1-12 digits `.` 1-3 digits).
fn number<'a>(c: &mut Cursor<'a>) -> Option<Bare<'a>> {
    let negative = c.eat(b'-');
    let int = c.take_while(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 15 {
        return None;
    }
    if c.eat(b'.') {
        let frac = c.take_while(|b| b.is_ascii_digit());
        return (int.len() <= 12 && (1..=3).contains(&frac.len())).then_some(Bare::Other);
    }
    let magnitude = int.bytes().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Some(Bare::Integer(if negative { -magnitude } else { magnitude }))
}

/// `"..."`: printable ASCII, with `\"` and `\\` as the only escapes.
fn string(c: &mut Cursor<'_>) -> Option<String> {
    c.pos += 1;
    let mut out = String::new();
    loop {
        match c.bump()? {
            b'\\' => match c.bump()? {
                escaped @ (b'"' | b'\\') => out.push(char::from(escaped)),
                _ => return None,
            },
            b'"' => return Some(out),
            printable @ 0x20..=0x7e => out.push(char::from(printable)),
            _ => return None,
        }
    }
}

/// `:base64:`, checked for the base64 alphabet only (RFC 9651 lets a parser
/// accept any padding).
fn byte_sequence<'a>(c: &mut Cursor<'a>) -> Option<Bare<'a>> {
    c.pos += 1;
    let text = c.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    c.eat(b':').then_some(Bare::Bytes(text))
}

/// `%"..."`: printable ASCII with `%xx` (lower-case hex) escapes, UTF-8 once decoded.
fn display_string<'a>(c: &mut Cursor<'a>) -> Option<Bare<'a>> {
    c.pos += 1;
    if !c.eat(b'"') {
        return None;
    }
    let mut bytes = Vec::new();
    loop {
        match c.bump()? {
            b'%' => {
                let hi = lower_hex(c.bump()?)?;
                bytes.push(hi * 16 + lower_hex(c.bump()?)?);
            }
            b'"' => return core::str::from_utf8(&bytes).ok().map(|_| Bare::Other),
            printable @ 0x20..=0x7e => bytes.push(printable),
            _ => return None,
        }
    }
}

fn lower_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// tchar (RFC 9110 §5.6.2), `:` and `/`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b)
}

/// A read position in a field value. Reads use `get`, so no position panics.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Advances over ASCII bytes matching `keep` (so the slice is on char boundaries).
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii() && keep(b)) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or("")
    }

    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }

    fn skip_ows(&mut self) {
        while self.eat(b' ') || self.eat(b'\t') {}
    }

    /// After a member: optional whitespace, then a comma or the end.
    fn at_member_end(&mut self) -> bool {
        self.skip_ows();
        matches!(self.peek(), None | Some(b','))
    }

    /// Skips a malformed member: up to the next comma that is not inside a string.
    fn skip_member(&mut self) {
        let mut in_string = false;
        while let Some(b) = self.peek() {
            match (in_string, b) {
                (false, b',') => return,
                (_, b'"') => in_string = !in_string,
                (true, b'\\') => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(input: &str) -> Vec<Option<String>> {
        parse_list(input).iter().map(Item::name).collect()
    }

    #[test]
    fn strings_tokens_integers_and_parameters_are_read() {
        let list = parse_list(r#""burst";q=100;w=60, daily;q=1000;w=86400;pk=:cHsdsRa894==:"#);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].bare, Bare::String("burst".into()));
        assert_eq!(list[0].param("q"), Some(&Bare::Integer(100)));
        assert_eq!(list[1].bare, Bare::Token("daily"));
        assert_eq!(list[1].param("pk"), Some(&Bare::Bytes("cHsdsRa894==")));
        assert_eq!(list[1].param("r"), None);
    }

    #[test]
    fn escapes_resolve_and_a_repeated_parameter_keeps_its_last_value() {
        let list = parse_list(r#""a\"b\\c";q=1;q=2"#);
        assert_eq!(list[0].bare, Bare::String(r#"a"b\c"#.into()));
        assert_eq!(list[0].param("q"), Some(&Bare::Integer(2)));
    }

    #[test]
    fn other_item_types_are_well_formed_but_unread() {
        let list = parse_list(r#"a;x=1.5;y=?1;z=@1659578233;n=%"caf%c3%a9";flag, b;v=-7"#);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].param("flag"), Some(&Bare::Other));
        assert_eq!(list[1].param("v"), Some(&Bare::Integer(-7)));
    }

    #[test]
    fn a_malformed_member_is_skipped_and_the_next_one_read() {
        let some = |s: &str| Some(String::from(s));
        assert_eq!(names(r#""a";q=1x, "b""#), [some("b")]);
        assert_eq!(names(r#""a, \q", b , (c d), "e";Q=1, 1234567890123456, "f""#), [some("b"), some("f")]);
        assert_eq!(names("a;x=1.2345, b;x=%\"%ff\", c;x=:a-b:, d"), [some("d")]);
        assert_eq!(names(" ,, a ,\t b, "), [some("a"), some("b")]);
        assert_eq!(names("\"unterminated, a"), Vec::<Option<String>>::new());
        assert_eq!(names("é, a"), [some("a")]);
    }

    #[test]
    fn an_item_field_holds_exactly_one_item() {
        assert_eq!(parse_item(" 50 ").map(|i| i.bare), Some(Bare::Integer(50)));
        assert_eq!(parse_item("50, 40"), None);
        assert_eq!(parse_item("5 0"), None);
        assert_eq!(parse_item(""), None);
    }
}
