//! E-mail addresses: an RFC 5322 mailbox, `ana@example.com` or
//! `Ana Lima <ana@example.com>`, parsed and checked once, then written
//! into headers with its display name encoded when it is not ASCII and its
//! domain in IDNA form (`to@éxample.com` is sent as
//! `to@xn--xample-9ua.com`), as Django's `sanitize_address` does.

use std::fmt;
use std::str::FromStr;

use super::mime;

/// An address that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {address:?}: {reason}")]
pub struct AddressError {
    address: String,
    reason: String,
}

impl AddressError {
    fn new(address: &str, reason: impl Into<String>) -> Self {
        Self {
            address: address.to_owned(),
            reason: reason.into(),
        }
    }

    /// The address as it was given.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What is wrong with it.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// One e-mail address, with an optional display name.
///
/// ```
/// use manouche::mail::Mailbox;
///
/// let ana: Mailbox = "Ana Lima <ana@example.com>".parse().unwrap();
/// assert_eq!(ana.name(), Some("Ana Lima"));
/// assert_eq!(ana.email(), "ana@example.com");
/// assert_eq!(ana.to_string(), "Ana Lima <ana@example.com>");
///
/// // Django's (name, address) pair, for a name that needs quoting.
/// let doe = Mailbox::new("Doe, John", "john@example.com").unwrap();
/// assert_eq!(doe.to_string(), "\"Doe, John\" <john@example.com>");
///
/// assert!(Mailbox::parse("to@").is_err());
/// assert!(Mailbox::parse("Name\nBcc: x@evil.example <to@example.com>").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    /// The local part's value (unquoted).
    local: String,
    /// ASCII: IDNA for an international name, or a `[literal]`.
    domain: String,
}

/// What may be given where an address is expected: a text to parse
/// (`"Ana <ana@example.com>"`), a `(name, address)` pair as in Django, or
/// a [`Mailbox`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an e-mail address",
    note = "give a `&str`/`String` such as \"Ana <ana@example.com>\", a `(name, address)` pair of strings, or a `manouche::mail::Mailbox`"
)]
pub trait IntoMailbox {
    /// The mailbox, or why this is not one.
    ///
    /// # Errors
    /// When the address is malformed.
    fn into_mailbox(self) -> Result<Mailbox, AddressError>;
}

impl IntoMailbox for Mailbox {
    fn into_mailbox(self) -> Result<Mailbox, AddressError> {
        Ok(self)
    }
}

impl IntoMailbox for &Mailbox {
    fn into_mailbox(self) -> Result<Mailbox, AddressError> {
        Ok(self.clone())
    }
}

impl IntoMailbox for &str {
    fn into_mailbox(self) -> Result<Mailbox, AddressError> {
        Mailbox::parse(self)
    }
}

impl IntoMailbox for String {
    fn into_mailbox(self) -> Result<Mailbox, AddressError> {
        Mailbox::parse(&self)
    }
}

impl IntoMailbox for &String {
    fn into_mailbox(self) -> Result<Mailbox, AddressError> {
        Mailbox::parse(self)
    }
}

impl<N: AsRef<str>, E: AsRef<str>> IntoMailbox for (N, E) {
    fn into_mailbox(self) -> Result<Mailbox, AddressError> {
        Mailbox::new(self.0.as_ref(), self.1.as_ref())
    }
}

/// RFC 5322 `atext`, with the non-ASCII letters RFC 6532 adds.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext))
}

/// Characters that make a display name need quotes (Python's `formataddr`).
fn needs_quotes(name: &str) -> bool {
    name.contains([
        '(', ')', '<', '>', '[', ']', '@', ',', ':', ';', '\\', '"', '.',
    ])
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn has_newline(s: &str) -> bool {
    s.contains(['\r', '\n'])
}

const NEWLINES: &str = "address parts cannot contain newlines";

impl Mailbox {
    /// Parses `Name <local@domain>` or `local@domain`. A display name with
    /// special characters (`,` `.` `@` ...) must be quoted:
    /// `"Doe, John" <john@example.com>`.
    ///
    /// # Errors
    /// An [`AddressError`] saying what is wrong: a newline (header
    /// injection), a missing local part or domain, a second `@`, text left
    /// after the address, a non-ASCII local part.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        if has_newline(text) {
            return Err(AddressError::new(text, NEWLINES));
        }
        if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\t') {
            return Err(AddressError::new(
                text,
                format!("control character {c:?} is not allowed"),
            ));
        }
        let trimmed = text.trim_matches([' ', '\t']);
        if trimmed.is_empty() {
            return Err(AddressError::new(text, "the address is empty"));
        }
        let mut parser = Parser {
            input: trimmed,
            pos: 0,
            original: text,
        };
        if !trimmed.ends_with('>') && trimmed.contains('<') && !trimmed.starts_with('"') {
            let reason = if trimmed.contains('>') {
                "unexpected text after the closing '>'"
            } else {
                "'<' without a closing '>'"
            };
            return Err(AddressError::new(text, reason));
        }
        let mailbox = if trimmed.ends_with('>') {
            let name = parser.phrase()?;
            parser.skip_spaces();
            parser.expect('<', "quote a display name that contains special characters, as in \"Doe, John\" <john@example.com>")?;
            let (local, domain) = parser.addr_spec()?;
            parser.expect('>', "")?;
            Self {
                name: (!name.is_empty()).then_some(name),
                local,
                domain,
            }
        } else {
            let (local, domain) = parser.addr_spec()?;
            Self {
                name: None,
                local,
                domain,
            }
        };
        if parser.pos < trimmed.len() {
            return Err(parser.unexpected(""));
        }
        Ok(mailbox)
    }

    /// A mailbox from a display name (empty for none) and an address, as
    /// Django's `(name, address)` pair: the name is taken as it is (quoted
    /// or encoded when written), the local part is everything before the
    /// last `@`.
    ///
    /// # Errors
    /// A newline in either part, an address without `@`, an empty or
    /// non-ASCII local part, or a malformed domain.
    pub fn new(name: &str, email: &str) -> Result<Self, AddressError> {
        let shown = if name.is_empty() {
            email.to_owned()
        } else {
            format!("{name} <{email}>")
        };
        if has_newline(name) || has_newline(email) {
            return Err(AddressError::new(&shown, NEWLINES));
        }
        if name.chars().any(|c| c.is_control() && c != '\t') {
            return Err(AddressError::new(
                &shown,
                "the display name has a control character",
            ));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(AddressError::new(&shown, "an address needs an '@'"));
        };
        if local.is_empty() {
            return Err(AddressError::new(
                &shown,
                "the local part before '@' is empty",
            ));
        }
        if !local.is_ascii() {
            return Err(AddressError::new(&shown, non_ascii_local()));
        }
        if local.chars().any(|c| c.is_ascii_control()) {
            return Err(AddressError::new(
                &shown,
                "the local part has a control character",
            ));
        }
        let domain = parse_domain(domain).map_err(|reason| AddressError::new(&shown, reason))?;
        Ok(Self {
            name: (!name.is_empty()).then(|| name.to_owned()),
            local: local.to_owned(),
            domain,
        })
    }

    /// The display name, if any.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The address alone (`local@domain`, the local part quoted when it
    /// must be), as given to the SMTP server.
    #[must_use]
    pub fn email(&self) -> String {
        let local = if is_dot_atom(&self.local) {
            self.local.clone()
        } else {
            quote(&self.local)
        };
        format!("{local}@{}", self.domain)
    }

    /// The domain, in ASCII (IDNA) form.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// This mailbox as header tokens for [`mime::fold`]: the display name
    /// quoted when needed, or as encoded words when it is not ASCII.
    pub(crate) fn header_tokens(&self, room: usize) -> Vec<String> {
        let address = format!("<{}>", self.email());
        match &self.name {
            None => vec![self.email()],
            Some(name) if name.is_ascii() => {
                let shown = if needs_quotes(name) {
                    quote(name)
                } else {
                    name.clone()
                };
                let mut tokens: Vec<String> = shown.split(' ').map(str::to_owned).collect();
                tokens.push(address);
                tokens
            }
            Some(name) => {
                let mut tokens = mime::encoded_words(name, room);
                tokens.push(address);
                tokens
            }
        }
    }
}

fn non_ascii_local() -> &'static str {
    "a non-ASCII local part needs SMTPUTF8, which is not supported; use an ASCII address"
}

/// A domain as it is sent: a dot-atom (IDNA-encoded when not ASCII) or a
/// `[literal]`.
fn parse_domain(domain: &str) -> Result<String, String> {
    if domain.is_empty() {
        return Err("the domain after '@' is empty".to_owned());
    }
    if let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        if inner.is_empty()
            || !inner
                .chars()
                .all(|c| c.is_ascii_graphic() && !"[]\\".contains(c))
        {
            return Err(format!("the domain literal {domain:?} is malformed"));
        }
        return Ok(domain.to_owned());
    }
    if !is_dot_atom(domain) {
        return Err(format!("the domain {domain:?} is not a domain name"));
    }
    if domain.is_ascii() {
        return Ok(domain.to_owned());
    }
    idna::domain_to_ascii(domain)
        .map_err(|_| format!("the domain {domain:?} is not a valid international domain name"))
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    original: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn skip_spaces(&mut self) {
        while let Some(c @ (' ' | '\t')) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn unexpected(&self, hint: &str) -> AddressError {
        let reason = match self.peek() {
            Some(c) => format!(
                "unexpected {c:?} at character {}",
                self.input[..self.pos].chars().count() + 1
            ),
            None => "the address ends too early".to_owned(),
        };
        let reason = if hint.is_empty() {
            reason
        } else {
            format!("{reason}; {hint}")
        };
        AddressError::new(self.original, reason)
    }

    fn expect(&mut self, c: char, hint: &str) -> Result<(), AddressError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(hint))
        }
    }

    /// A run of atext (and dots, when `dots`).
    fn atom(&mut self, dots: bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_atext(c) || (dots && c == '.') {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        &self.input[start..self.pos]
    }

    /// A quoted string's value, its escapes removed.
    fn quoted(&mut self) -> Result<String, AddressError> {
        self.expect('"', "")?;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(AddressError::new(
                        self.original,
                        "a quoted string is not closed",
                    ));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(value);
                }
                Some('\\') => {
                    self.pos += 1;
                    let Some(c) = self.peek() else {
                        return Err(AddressError::new(
                            self.original,
                            "a quoted string ends with '\\'",
                        ));
                    };
                    value.push(c);
                    self.pos += c.len_utf8();
                }
                Some(c) => {
                    value.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// A display name: words and quoted strings (dots allowed, as the
    /// obsolete syntax that mailers still send), joined by single spaces.
    fn phrase(&mut self) -> Result<String, AddressError> {
        let mut words: Vec<String> = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                Some('"') => words.push(self.quoted()?),
                Some(c) if is_atext(c) || c == '.' => words.push(self.atom(true).to_owned()),
                _ => return Ok(words.join(" ")),
            }
        }
    }

    fn addr_spec(&mut self) -> Result<(String, String), AddressError> {
        let local = if self.peek() == Some('"') {
            let value = self.quoted()?;
            if !value.is_ascii() {
                return Err(AddressError::new(self.original, non_ascii_local()));
            }
            value
        } else {
            let local = self.atom(true).to_owned();
            if local.is_empty() {
                return Err(if self.peek() == Some('@') {
                    AddressError::new(self.original, "the local part before '@' is empty")
                } else {
                    self.unexpected("")
                });
            }
            if !is_dot_atom(&local) {
                return Err(AddressError::new(
                    self.original,
                    format!("the local part {local:?} has a misplaced '.'; quote it"),
                ));
            }
            if !local.is_ascii() {
                return Err(AddressError::new(self.original, non_ascii_local()));
            }
            local
        };
        if self.peek() != Some('@') {
            return Err(match self.peek() {
                None => AddressError::new(self.original, "an address needs an '@' and a domain"),
                Some(_) => self.unexpected(""),
            });
        }
        self.pos += 1;
        let start = self.pos;
        if self.peek() == Some('[') {
            while let Some(c) = self.peek() {
                self.pos += c.len_utf8();
                if c == ']' {
                    break;
                }
            }
        } else {
            self.atom(true);
        }
        let domain = &self.input[start..self.pos];
        if let Some('@') = self.peek() {
            return Err(
                self.unexpected("an address has one '@'; quote a local part that contains one")
            );
        }
        let domain =
            parse_domain(domain).map_err(|reason| AddressError::new(self.original, reason))?;
        Ok((local, domain))
    }
}

impl FromStr for Mailbox {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `Name <local@domain>` (the name quoted when needed, not encoded) or
/// `local@domain`.
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) if needs_quotes(name) => write!(f, "{} <{}>", quote(name), self.email()),
            Some(name) => write!(f, "{name} <{}>", self.email()),
            None => f.write_str(&self.email()),
        }
    }
}

/// A comma-separated list of addresses (an address header given as
/// text), split outside quotes and angle brackets.
pub(crate) fn parse_list(text: &str) -> Result<Vec<Mailbox>, AddressError> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    let mut angle = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(Mailbox::parse(&text[start..i])?);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(Mailbox::parse(&text[start..])?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(m: &Mailbox) -> String {
        m.header_tokens(70).join(" ")
    }

    #[test]
    fn addresses_are_formatted_as_django_sanitizes_them() {
        // Django's test_sanitize_address cases (the ones it does not
        // itself call wrong).
        for (input, expected) in [
            ("to@example.com", "to@example.com"),
            ("A name <to@example.com>", "A name <to@example.com>"),
            ("\"A name\" <to@example.com>", "A name <to@example.com>"),
            ("to@éxample.com", "to@xn--xample-9ua.com"),
            (
                "To Example <to@éxample.com>",
                "To Example <to@xn--xample-9ua.com>",
            ),
            (
                "\"to@other.com\"@example.com",
                "\"to@other.com\"@example.com",
            ),
            (
                "\"to@other.com\" <to@example.com>",
                "\"to@other.com\" <to@example.com>",
            ),
            (
                "Firstname Sürname <to@example.com>",
                "=?utf-8?q?Firstname_S=C3=BCrname?= <to@example.com>",
            ),
            ("  spaced@example.com ", "spaced@example.com"),
            ("webmaster@localhost", "webmaster@localhost"),
            ("J. Smith <j@example.com>", "\"J. Smith\" <j@example.com>"),
            ("x@[127.0.0.1]", "x@[127.0.0.1]"),
        ] {
            let mailbox = Mailbox::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(header(&mailbox), expected, "{input}");
        }
        for ((name, email), expected) in [
            (("A name", "to@example.com"), "A name <to@example.com>"),
            (
                ("To Example", "to@other.com@example.com"),
                "To Example <\"to@other.com\"@example.com>",
            ),
            (
                ("Tó Example", "to@example.com"),
                "=?utf-8?q?T=C3=B3_Example?= <to@example.com>",
            ),
            (("", "to@example.com"), "to@example.com"),
            (
                ("Doe, John", "j@example.com"),
                "\"Doe, John\" <j@example.com>",
            ),
            (
                ("Say \"hi\"", "j@example.com"),
                "\"Say \\\"hi\\\"\" <j@example.com>",
            ),
        ] {
            let mailbox = Mailbox::new(name, email).unwrap();
            assert_eq!(header(&mailbox), expected, "{name} {email}");
        }
        let long = Mailbox::new(&"Tó Example very long".repeat(4), "to@example.com").unwrap();
        let tokens = long.header_tokens(60);
        assert!(
            tokens.len() > 2 && tokens.iter().all(|t| t.len() <= 75),
            "{tokens:?}"
        );
        assert_eq!(tokens.last().unwrap(), "<to@example.com>");
    }

    #[test]
    fn invalid_addresses_say_why() {
        // Django's test_sanitize_address_invalid, and more.
        for (input, reason) in [
            ("to@other.com@example.com", "one '@'"),
            ("to@other.com <to@example.com>", "quote a display name"),
            ("@", "local part"),
            ("to@", "domain"),
            ("@example.com", "local part"),
            ("", "empty"),
            ("localpartonly", "'@'"),
            ("tó@example.com", "SMTPUTF8"),
            ("Name <to@example.com> trailing", "after the closing '>'"),
            ("to..x@example.com", "misplaced '.'"),
            ("to@exa mple.com", "unexpected ' '"),
            ("\"unclosed@example.com", "not closed"),
            ("Name <to@example.com", "closing '>'"),
            ("x@[bad literal]", "malformed"),
        ] {
            let err = Mailbox::parse(input).expect_err(input);
            assert!(err.reason().contains(reason), "{input}: {err}");
            assert_eq!(err.address(), input);
        }
        for (name, email) in [
            ("", ""),
            ("Name", "no-at-sign"),
            ("Name", "@example.com"),
            ("Name", "to@"),
            ("Tó", "tó@example.com"),
        ] {
            assert!(Mailbox::new(name, email).is_err(), "{name} {email}");
        }
    }

    #[test]
    fn newlines_in_any_part_are_refused() {
        // Django's test_sanitize_address_header_injection.
        for input in [
            "Name\nInjection <to@example.com>",
            "Name <to\ninjection@example.com>",
            "to@example.com\r\nBcc: x@y.z",
        ] {
            let err = Mailbox::parse(input).unwrap_err();
            assert_eq!(err.reason(), NEWLINES, "{input}");
        }
        for (name, email) in [
            ("Name\nInjection", "to@example.com"),
            ("Name", "to\ninjection@example.com"),
        ] {
            assert_eq!(Mailbox::new(name, email).unwrap_err().reason(), NEWLINES);
        }
    }

    #[test]
    fn lists_split_outside_quotes_and_brackets() {
        let list =
            parse_list("\"Doe, John\" <j@example.com>, b@example.com,C <c@example.com>").unwrap();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "\"Doe, John\" <j@example.com>",
                "b@example.com",
                "C <c@example.com>"
            ]
        );
        assert!(parse_list("a@example.com,").is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "Ana Lima <ana@example.com>",
            "\"Doe, John\" <j@example.com>",
            "a@example.com",
            "\"a b\"@example.com",
        ] {
            let m = Mailbox::parse(text).unwrap();
            assert_eq!(m.to_string(), text);
            assert_eq!(Mailbox::parse(&m.to_string()).unwrap(), m);
        }
    }
}
