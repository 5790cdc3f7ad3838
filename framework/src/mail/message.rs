//! [`EmailMessage`] (Django's `EmailMessage` and `EmailMultiAlternatives`):
//! built with [`EmailMessage::builder`], checked once when built, then
//! rendered as RFC 5322 text by the backends.

use std::fmt;

use super::MailError;
use super::address::{IntoMailbox, Mailbox, parse_list};
use super::mime::{self, TransferEncoding};

/// Header names that carry addresses (checked as addresses when given as
/// extra headers).
const ADDRESS_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "resent-from",
    "resent-sender",
    "resent-to",
    "resent-cc",
    "resent-bcc",
];

/// Headers the message writes itself, from its parts: an extra header
/// cannot set them.
const STRUCTURE_HEADERS: &[&str] = &["content-type", "content-transfer-encoding", "mime-version"];

/// Another representation of the body (`text/html`, usually), sent as a
/// `multipart/alternative` part after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    content: String,
    mimetype: String,
}

impl Alternative {
    /// The content.
    #[must_use]
    pub fn content(&self) -> &str {
        &self.content
    }

    /// Its MIME type, e.g. `text/html`.
    #[must_use]
    pub fn mimetype(&self) -> &str {
        &self.mimetype
    }
}

/// One e-mail, to any number of recipients. Built with
/// [`EmailMessage::builder`], which checks every address and header, so a
/// built message can always be rendered.
///
/// ```
/// use manouche::mail::EmailMessage;
///
/// let message = EmailMessage::builder()
///     .subject("Your order")
///     .body("It ships tomorrow.")
///     .from("Shop <shop@example.com>")
///     .to("ana@example.com")
///     .cc(("Bob Martin", "bob@example.com"))
///     .bcc("archive@example.com")
///     .reply_to("help@example.com")
///     .header("X-Order", "1234")
///     .html("<p>It ships <b>tomorrow</b>.</p>")
///     .build()
///     .unwrap();
/// assert_eq!(message.recipients().len(), 3);
/// let text = message.as_string();
/// assert!(text.contains("Subject: Your order\n"));
/// assert!(text.contains("Cc: Bob Martin <bob@example.com>\n"));
/// assert!(!text.contains("archive@"), "Bcc is not a header");
/// assert!(text.contains("Content-Type: multipart/alternative;"));
///
/// // A newline in a header would let a user add headers of their own.
/// let err = EmailMessage::builder()
///     .subject("Hi\nBcc: victim@example.com")
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("can't contain newlines"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    subject: String,
    body: String,
    from: Option<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    reply_to: Vec<Mailbox>,
    headers: Vec<(String, String)>,
    alternatives: Vec<Alternative>,
}

/// Builds an [`EmailMessage`]; [`build`](Self::build) reports the first
/// mistake.
#[derive(Debug, Default)]
#[must_use]
pub struct EmailMessageBuilder {
    subject: String,
    body: String,
    from: Option<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    reply_to: Vec<Mailbox>,
    headers: Vec<(String, String)>,
    alternatives: Vec<Alternative>,
    error: Option<MailError>,
}

impl EmailMessageBuilder {
    fn address(&mut self, field: &'static str, address: impl IntoMailbox) -> Option<Mailbox> {
        match address.into_mailbox() {
            Ok(mailbox) => Some(mailbox),
            Err(source) => {
                self.error
                    .get_or_insert(MailError::InvalidAddress { field, source });
                None
            }
        }
    }

    /// The subject (one line).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// The plain-text body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// The sender; without one, the [`Mailer`](super::Mailer)'s
    /// `default_from` (Django's `DEFAULT_FROM_EMAIL`).
    pub fn from(mut self, address: impl IntoMailbox) -> Self {
        self.from = self.address("from", address);
        self
    }

    /// Adds a recipient.
    pub fn to(mut self, address: impl IntoMailbox) -> Self {
        if let Some(m) = self.address("to", address) {
            self.to.push(m);
        }
        self
    }

    /// Adds a copied recipient (in the `Cc` header).
    pub fn cc(mut self, address: impl IntoMailbox) -> Self {
        if let Some(m) = self.address("cc", address) {
            self.cc.push(m);
        }
        self
    }

    /// Adds a blind-copied recipient (in no header).
    pub fn bcc(mut self, address: impl IntoMailbox) -> Self {
        if let Some(m) = self.address("bcc", address) {
            self.bcc.push(m);
        }
        self
    }

    /// Adds an address for replies (the `Reply-To` header).
    pub fn reply_to(mut self, address: impl IntoMailbox) -> Self {
        if let Some(m) = self.address("reply_to", address) {
            self.reply_to.push(m);
        }
        self
    }

    /// Adds recipients.
    pub fn to_all<A: IntoMailbox>(self, addresses: impl IntoIterator<Item = A>) -> Self {
        addresses.into_iter().fold(self, Self::to)
    }

    /// Adds an extra header. `Date` and `Message-ID` replace the generated
    /// ones; `Subject`, `From`, `To`, `Cc` and `Reply-To` replace the
    /// headers built from the fields (not the recipients), as in Django.
    /// `Content-Type`, `Content-Transfer-Encoding` and `MIME-Version` come
    /// from the message's parts and cannot be set.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds an HTML version of the body (Django's
    /// `attach_alternative(html, "text/html")`).
    pub fn html(self, html: impl Into<String>) -> Self {
        self.alternative(html, "text/html")
    }

    /// Adds another representation of the body with its MIME type.
    pub fn alternative(mut self, content: impl Into<String>, mimetype: impl Into<String>) -> Self {
        self.alternatives.push(Alternative {
            content: content.into(),
            mimetype: mimetype.into(),
        });
        self
    }

    /// The message.
    ///
    /// # Errors
    /// [`MailError::InvalidAddress`] for an address that does not parse,
    /// [`MailError::BadHeader`] for a newline in the subject or a header
    /// value (header injection), [`MailError::InvalidHeader`] for a header
    /// name that is not one or may not be set, and
    /// [`MailError::InvalidMimeType`] for an alternative's type.
    pub fn build(self) -> Result<EmailMessage, MailError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        check_value("Subject", &self.subject)?;
        for (name, value) in &self.headers {
            check_name(name)?;
            check_value(name, value)?;
            let lower = name.to_ascii_lowercase();
            if STRUCTURE_HEADERS.contains(&lower.as_str()) {
                return Err(MailError::InvalidHeader {
                    name: name.clone(),
                    reason: "it is written from the message's parts".to_owned(),
                });
            }
            if ADDRESS_HEADERS.contains(&lower.as_str()) {
                parse_list(value).map_err(|source| MailError::InvalidAddress {
                    field: "header",
                    source,
                })?;
            }
        }
        for alternative in &self.alternatives {
            if !valid_mimetype(&alternative.mimetype) {
                return Err(MailError::InvalidMimeType(alternative.mimetype.clone()));
            }
        }
        Ok(EmailMessage {
            subject: self.subject,
            body: self.body,
            from: self.from,
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            reply_to: self.reply_to,
            headers: self.headers,
            alternatives: self.alternatives,
        })
    }
}

/// A header name is printable ASCII without `:` (RFC 5322 `ftext`).
fn check_name(name: &str) -> Result<(), MailError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(MailError::InvalidHeader {
            name: name.to_owned(),
            reason: "a header name is printable ASCII without ':' or spaces".to_owned(),
        });
    }
    Ok(())
}

/// Django's `forbid_multi_line_headers`: a newline in a value would start
/// a header of the sender's choosing.
fn check_value(name: &str, value: &str) -> Result<(), MailError> {
    if value.contains(['\r', '\n']) {
        return Err(MailError::BadHeader {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn valid_mimetype(mimetype: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    mimetype
        .split_once('/')
        .is_some_and(|(t, s)| token(t) && token(s))
}

impl EmailMessage {
    /// A builder.
    pub fn builder() -> EmailMessageBuilder {
        EmailMessageBuilder::default()
    }

    /// The subject.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The sender, when one was given.
    #[must_use]
    pub fn from(&self) -> Option<&Mailbox> {
        self.from.as_ref()
    }

    /// The `To` recipients.
    #[must_use]
    pub fn to(&self) -> &[Mailbox] {
        &self.to
    }

    /// The `Cc` recipients.
    #[must_use]
    pub fn cc(&self) -> &[Mailbox] {
        &self.cc
    }

    /// The blind-copied recipients.
    #[must_use]
    pub fn bcc(&self) -> &[Mailbox] {
        &self.bcc
    }

    /// The `Reply-To` addresses.
    #[must_use]
    pub fn reply_to(&self) -> &[Mailbox] {
        &self.reply_to
    }

    /// The extra headers, in order.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of the extra header `name` (any case), if set.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The other representations of the body.
    #[must_use]
    pub fn alternatives(&self) -> &[Alternative] {
        &self.alternatives
    }

    /// The HTML version of the body, if any.
    #[must_use]
    pub fn html(&self) -> Option<&str> {
        self.alternatives
            .iter()
            .find(|a| a.mimetype == "text/html")
            .map(|a| a.content.as_str())
    }

    /// Everyone the message goes to: `to`, then `cc`, then `bcc`.
    #[must_use]
    pub fn recipients(&self) -> Vec<&Mailbox> {
        self.to.iter().chain(&self.cc).chain(&self.bcc).collect()
    }

    /// Whether `text` is in the body and in every `text/*` alternative
    /// (Django's `body_contains`, for tests).
    #[must_use]
    pub fn body_contains(&self, text: &str) -> bool {
        self.body.contains(text)
            && self
                .alternatives
                .iter()
                .filter(|a| a.mimetype.starts_with("text/"))
                .all(|a| a.content.contains(text))
    }

    /// Sets the sender when none was given.
    pub(crate) fn with_default_from(mut self, from: &Mailbox) -> Self {
        if self.from.is_none() {
            self.from = Some(from.clone());
        }
        self
    }

    /// The message as it goes to an SMTP server: RFC 5322 with CRLF line
    /// ends, a fresh `Date` and `Message-ID` unless the headers give them.
    #[must_use]
    pub fn as_bytes(&self) -> Vec<u8> {
        self.render("\r\n").into_bytes()
    }

    /// The message as text with `\n` line ends, as Django's console and
    /// file backends write it.
    #[must_use]
    pub fn as_string(&self) -> String {
        self.render("\n")
    }

    fn render(&self, nl: &str) -> String {
        let mut headers: Vec<String> = Vec::new();
        let body = if self.alternatives.is_empty() {
            let (part_headers, text) = text_part(&self.body, "plain", nl);
            headers.extend(part_headers);
            text
        } else {
            let mut parts: Vec<String> = Vec::new();
            if !self.body.is_empty() {
                parts.push(part(text_part(&self.body, "plain", nl), nl));
            }
            for alternative in &self.alternatives {
                parts.push(part(alternative_part(alternative, nl), nl));
            }
            let boundary = boundary(&parts);
            headers.push(mime::fold(
                "Content-Type",
                &[
                    "multipart/alternative;".to_owned(),
                    format!("boundary=\"{boundary}\""),
                ],
                nl,
            ));
            headers.push("MIME-Version: 1.0".to_owned());
            let mut body = String::new();
            for part in &parts {
                body.push_str(&format!("--{boundary}{nl}{part}{nl}"));
            }
            body.push_str(&format!("--{boundary}--{nl}"));
            body
        };
        let overridden = |name: &str| self.header(name).is_some();
        if !overridden("Subject") {
            headers.push(mime::fold(
                "Subject",
                &mime::unstructured_tokens("Subject", &self.subject),
                nl,
            ));
        }
        for (name, list) in [
            ("From", self.from.as_slice()),
            ("To", &self.to),
            ("Cc", &self.cc),
            ("Reply-To", &self.reply_to),
        ] {
            if !overridden(name) && !list.is_empty() {
                headers.push(address_header(name, list, nl));
            }
        }
        if !overridden("Date") {
            headers.push(format!(
                "Date: {}",
                chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000")
            ));
        }
        if !overridden("Message-ID") {
            headers.push(format!("Message-ID: {}", self.make_msgid()));
        }
        for (name, value) in &self.headers {
            if ADDRESS_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                // Written from the parsed addresses (checked when built).
                let list = parse_list(value).expect("checked when the message was built");
                headers.push(address_header(name, &list, nl));
            } else {
                headers.push(mime::fold(
                    name,
                    &mime::unstructured_tokens(name, value),
                    nl,
                ));
            }
        }
        let mut out = headers.join(nl);
        out.push_str(nl);
        out.push_str(nl);
        out.push_str(&body);
        out
    }

    /// `<time.random@domain>`, the domain the sender's (Django uses the
    /// machine's name; the sender's domain is as unique and needs no
    /// lookup).
    fn make_msgid(&self) -> String {
        let domain = self.from.as_ref().map_or("localhost", Mailbox::domain);
        format!(
            "<{}.{}@{domain}>",
            chrono::Utc::now().format("%Y%m%d%H%M%S%.6f"),
            crate::crypto::random_string(16, crate::crypto::ALPHANUMERIC)
        )
    }
}

/// The headers and the encoded text of a UTF-8 text part.
fn text_part(text: &str, subtype: &str, nl: &str) -> (Vec<String>, String) {
    let encoding = TransferEncoding::for_text(text);
    let body = match encoding {
        TransferEncoding::QuotedPrintable => mime::quoted_printable(text, nl),
        _ => mime::normalize_newlines(text, nl),
    };
    (
        vec![
            format!("Content-Type: text/{subtype}; charset=\"utf-8\""),
            "MIME-Version: 1.0".to_owned(),
            format!("Content-Transfer-Encoding: {}", encoding.as_str()),
        ],
        body,
    )
}

fn alternative_part(alternative: &Alternative, nl: &str) -> (Vec<String>, String) {
    match alternative.mimetype.strip_prefix("text/") {
        Some(subtype) => text_part(&alternative.content, subtype, nl),
        None => (
            vec![
                format!("Content-Type: {}", alternative.mimetype),
                "MIME-Version: 1.0".to_owned(),
                "Content-Transfer-Encoding: base64".to_owned(),
            ],
            mime::base64_lines(alternative.content.as_bytes(), nl),
        ),
    }
}

fn part((headers, body): (Vec<String>, String), nl: &str) -> String {
    format!("{}{nl}{nl}{body}", headers.join(nl))
}

/// A boundary that occurs in none of the parts.
fn boundary(parts: &[String]) -> String {
    loop {
        let candidate = format!(
            "==============={}==",
            crate::crypto::random_string(24, crate::crypto::ALPHANUMERIC)
        );
        if !parts.iter().any(|p| p.contains(&candidate)) {
            return candidate;
        }
    }
}

fn address_header(name: &str, list: &[Mailbox], nl: &str) -> String {
    let mut tokens: Vec<String> = Vec::new();
    let mut column = name.len() + 2;
    for (i, mailbox) in list.iter().enumerate() {
        let room = mime::FOLD_WIDTH.saturating_sub(column);
        let mut these = mailbox.header_tokens(room);
        if i + 1 < list.len()
            && let Some(last) = these.last_mut()
        {
            last.push(',');
        }
        column = these.last().map_or(0, |t| t.len() + 1);
        tokens.extend(these);
    }
    mime::fold(name, &tokens, nl)
}

/// The message as [`as_string`](EmailMessage::as_string) renders it.
impl fmt::Display for EmailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple() -> EmailMessageBuilder {
        EmailMessage::builder()
            .subject("Subject")
            .body("Content")
            .from("from@example.com")
            .to("to@example.com")
    }

    /// The header block of a rendered message, unfolded.
    fn headers_of(text: &str) -> Vec<String> {
        let head = text.split("\n\n").next().unwrap();
        head.replace("\n ", " ")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn an_ascii_message_has_django_s_headers_in_django_s_order() {
        // Django: EmailMessage("Subject", "Content", "from@example.com",
        // ["to@example.com"]).message().as_string()
        let text = simple()
            .header("Date", "Tue, 01 Jan 2030 00:00:00 -0000")
            .header("Message-ID", "<1@example.com>")
            .build()
            .unwrap()
            .as_string();
        assert_eq!(
            text,
            "Content-Type: text/plain; charset=\"utf-8\"\n\
             MIME-Version: 1.0\n\
             Content-Transfer-Encoding: 7bit\n\
             Subject: Subject\n\
             From: from@example.com\n\
             To: to@example.com\n\
             Date: Tue, 01 Jan 2030 00:00:00 -0000\n\
             Message-ID: <1@example.com>\n\
             \n\
             Content"
        );
    }

    #[test]
    fn date_and_message_id_are_generated() {
        let message = simple().build().unwrap();
        let headers = headers_of(&message.as_string());
        let date = headers.iter().find(|h| h.starts_with("Date: ")).unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc2822(&date[6..]).is_ok(),
            "{date}"
        );
        let id = headers
            .iter()
            .find(|h| h.starts_with("Message-ID: <"))
            .unwrap();
        assert!(id.ends_with("@example.com>"), "{id}");
        let again = headers_of(&message.as_string());
        assert_ne!(
            again.iter().find(|h| h.starts_with("Message-ID")),
            Some(id),
            "a fresh id per rendering"
        );
    }

    #[test]
    fn wire_form_has_crlf_line_ends_only() {
        let bytes = simple()
            .body("one\ntwo\r\nthree\rfour")
            .build()
            .unwrap()
            .as_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.ends_with("\r\n\r\none\r\ntwo\r\nthree\r\nfour"),
            "{text}"
        );
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    }

    #[test]
    fn header_injection_is_refused() {
        // Django's test_header_injection and the address variants.
        let err = simple()
            .subject("Subject\nInjection Test")
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Header values can't contain newlines (got \"Subject\\nInjection Test\" for header \"Subject\")"
        );
        assert!(matches!(err, MailError::BadHeader { .. }));
        let err = simple()
            .subject("Long subject\r\nBcc: evil@example.com")
            .build()
            .unwrap_err();
        assert!(matches!(err, MailError::BadHeader { .. }));
        let err = simple()
            .header("X-Tag", "a\nBcc: evil@example.com")
            .build()
            .unwrap_err();
        assert!(matches!(err, MailError::BadHeader { ref name, .. } if name == "X-Tag"));
        for builder in [
            simple().to("to@example.com\nBcc: evil@example.com"),
            simple().from("Name\nInjection <from@example.com>"),
            simple().cc(("Name\nInjection", "to@example.com")),
            simple().reply_to("to\ninjection@example.com"),
        ] {
            let err = builder.build().unwrap_err();
            assert!(err.to_string().contains("newlines"), "{err}");
        }
        let err = simple().header("X Tag", "v").build().unwrap_err();
        assert!(err.to_string().contains("header name"), "{err}");
        let err = simple()
            .header("Content-Type", "text/html")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("Content-Type"), "{err}");
        let err = simple().header("To", "not an address").build().unwrap_err();
        assert!(
            matches!(
                err,
                MailError::InvalidAddress {
                    field: "header",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_addresses_name_the_field() {
        let err = simple().cc("nobody").build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "cc: invalid address \"nobody\": an address needs an '@' and a domain"
        );
        // The first mistake is the one reported.
        let err = simple().to("@x").bcc("y@").build().unwrap_err();
        assert!(err.to_string().starts_with("to: "), "{err}");
    }

    #[test]
    fn recipients_and_bcc() {
        // Django's test_cc / test_recipients_as_tuple: Bcc never a header.
        let message = simple()
            .to("other@example.com")
            .cc("cc@example.com")
            .cc("cc.other@example.com")
            .bcc("bcc@example.com")
            .build()
            .unwrap();
        let emails: Vec<String> = message.recipients().iter().map(|m| m.email()).collect();
        assert_eq!(
            emails,
            [
                "to@example.com",
                "other@example.com",
                "cc@example.com",
                "cc.other@example.com",
                "bcc@example.com"
            ]
        );
        let headers = headers_of(&message.as_string());
        assert!(headers.contains(&"To: to@example.com, other@example.com".to_owned()));
        assert!(headers.contains(&"Cc: cc@example.com, cc.other@example.com".to_owned()));
        assert!(!message.as_string().contains("bcc@"));
    }

    #[test]
    fn extra_headers_override_as_in_django() {
        // Django's test_message_header_overrides / test_to_header /
        // test_reply_to_header: the header changes, the recipients do not.
        let message = simple()
            .reply_to("reply@example.com")
            .header("To", "Mailing list <list@example.com>")
            .header("From", "Someone <someone@example.com>")
            .header("Reply-To", "override@example.com")
            .header("Date", "Fri, 09 Nov 2001 01:08:47 -0000")
            .header("Message-ID", "foo")
            .header("X-Tag", "welcome")
            .build()
            .unwrap();
        let headers = headers_of(&message.as_string());
        for expected in [
            "To: Mailing list <list@example.com>",
            "From: Someone <someone@example.com>",
            "Reply-To: override@example.com",
            "Date: Fri, 09 Nov 2001 01:08:47 -0000",
            "Message-ID: foo",
            "X-Tag: welcome",
        ] {
            assert_eq!(
                headers.iter().filter(|h| **h == expected).count(),
                1,
                "{expected}: {headers:?}"
            );
        }
        assert_eq!(headers.iter().filter(|h| h.starts_with("To:")).count(), 1);
        assert_eq!(
            headers
                .iter()
                .filter(|h| h.starts_with("Reply-To:"))
                .count(),
            1
        );
        assert_eq!(message.recipients()[0].email(), "to@example.com");
    }

    #[test]
    fn unicode_headers_are_encoded() {
        // Django's test_unicode_headers and test_unicode_address_header.
        let message = EmailMessage::builder()
            .subject("Gżegżółka")
            .body("Content")
            .from("from@example.com")
            .to("\"Firstname Sürname\" <to@example.com>")
            .to("other@example.com")
            .header("Comments", "My Sürname is non-ASCII")
            .build()
            .unwrap();
        let headers = headers_of(&message.as_string());
        assert!(
            headers.contains(&"Subject: =?utf-8?b?R8W8ZWfFvMOzxYJrYQ==?=".to_owned()),
            "{headers:?}"
        );
        assert!(
            headers.contains(
                &"To: =?utf-8?q?Firstname_S=C3=BCrname?= <to@example.com>, other@example.com"
                    .to_owned()
            ),
            "{headers:?}"
        );
        assert!(
            headers.contains(&"Comments: =?utf-8?q?My_S=C3=BCrname_is_non-ASCII?=".to_owned()),
            "{headers:?}"
        );
        assert!(message.as_string().split("\n\n").next().unwrap().is_ascii());
    }

    #[test]
    fn bodies_use_django_s_transfer_encodings() {
        // Django's test_dont_base64_encode, test_7bit, test_8bit_latin and
        // the long-line case (#22561).
        let text = simple()
            .body("Body with only ASCII characters.")
            .build()
            .unwrap()
            .as_string();
        assert!(text.contains("Content-Transfer-Encoding: 7bit"));
        let text = simple()
            .body("Body with latin characters: àáä.")
            .build()
            .unwrap()
            .as_string();
        assert!(text.contains("Content-Transfer-Encoding: 8bit"));
        assert!(text.ends_with("\n\nBody with latin characters: àáä."));
        let long = format!("{}é", "x".repeat(1000));
        let text = simple().body(long).build().unwrap().as_string();
        assert!(text.contains("Content-Transfer-Encoding: quoted-printable"));
        assert!(text.lines().all(|l| l.len() <= 998));
        assert!(text.ends_with("=C3=A9"), "{text}");
    }

    #[test]
    fn html_alternative_makes_a_multipart_message() {
        let message = simple()
            .body("Hello é\n")
            .html("<p>Hello é</p>")
            .build()
            .unwrap();
        assert_eq!(message.html(), Some("<p>Hello é</p>"));
        let text = message.as_string();
        let headers = headers_of(&text);
        let content_type = &headers[0];
        let boundary = content_type
            .strip_prefix("Content-Type: multipart/alternative; boundary=\"")
            .and_then(|b| b.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{content_type}"));
        assert_eq!(headers[1], "MIME-Version: 1.0");
        let body = text.split_once("\n\n").unwrap().1;
        let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "{body}");
        assert_eq!(parts[0], "");
        assert_eq!(
            parts[1],
            "\nContent-Type: text/plain; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\nHello é\n\n"
        );
        assert_eq!(
            parts[2],
            "\nContent-Type: text/html; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n<p>Hello é</p>\n"
        );
        assert_eq!(parts[3], "--\n");
        assert!(message.body_contains("Hello"));
        assert!(!message.body_contains("<p>"));
        // No text body: only the alternative, as Django.
        let text = simple()
            .body("")
            .html("<p>x</p>")
            .build()
            .unwrap()
            .as_string();
        assert!(!text.contains("text/plain"));
        let err = simple().alternative("x", "html").build().unwrap_err();
        assert!(matches!(err, MailError::InvalidMimeType(_)));
        let text = simple()
            .alternative("{\"a\":1}", "application/json")
            .build()
            .unwrap()
            .as_string();
        assert!(text.contains("Content-Type: application/json\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\neyJhIjoxfQ==\n"));
    }

    #[test]
    fn long_headers_are_folded() {
        let to: Vec<String> = (0..10)
            .map(|i| format!("Recipient Number {i} <recipient{i}@example.com>"))
            .collect();
        let message = simple()
            .subject("A very long ascii subject line that goes well past the seventy-eight column limit for sure")
            .to_all(&to)
            .build()
            .unwrap();
        let text = message.as_string();
        let head = text.split("\n\n").next().unwrap();
        assert!(head.lines().all(|l| l.len() <= 78), "{head}");
        let headers = headers_of(&text);
        assert!(
            headers.contains(&format!("To: to@example.com, {}", to.join(", "))),
            "{headers:?}"
        );
    }
}
