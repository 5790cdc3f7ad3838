//! Trusted proxies: the client's address and scheme when a load balancer
//! or a TLS terminator stands in front of the server.
//!
//! Behind a proxy, every connection comes from the proxy: the socket peer
//! is its address and the connection is plain HTTP even when the client
//! spoke HTTPS. The proxy reports the real ones in headers, but anyone can
//! send those headers, so they are read only on connections **from a
//! listed proxy** (`server.trusted_proxies`: addresses, CIDR ranges, and
//! `unix` for connections over a Unix socket), and only the headers the
//! proxies are said to set (`server.proxy_headers`):
//!
//! - `x-forwarded` (the default; nginx, HAProxy, most cloud balancers):
//!   `X-Forwarded-For` for the address, `X-Forwarded-Proto` for the
//!   scheme;
//! - `forwarded`: RFC 7239's `Forwarded` (`for=` and `proto=`).
//!
//! Only one family is read because a proxy passes on the headers it does
//! not set: a client behind nginx (which appends to `X-Forwarded-For`)
//! could otherwise write its own `Forwarded: for=...`.
//!
//! **The address** is the rightmost untrusted one. Each proxy appends the
//! address it received the request from, so the list is read from the
//! right: entries that are trusted proxies are skipped, and the first that
//! is not is the client (what werkzeug's `ProxyFix` and Rack do with a hop
//! count or a trusted list). Entries further left were written by the
//! client and are never believed. When every entry is a trusted proxy, the
//! leftmost is the client (a request from inside the network). A list
//! with an entry that does not parse before the client is reached is
//! ignored as a whole (the client is then the socket peer, the proxy): it
//! was not written by a proxy that follows the format. In `Forwarded`,
//! `for=unknown` and obfuscated identifiers (`for=_hidden`) stand for a
//! client whose address the proxy does not tell: the address is then
//! unknown (`None`).
//!
//! **The scheme** comes from the same hop: the `X-Forwarded-Proto` entry
//! at the client's position counted from the right (the one written by
//! the proxy that received the client's connection), or the leftmost one
//! when the list is shorter (proxies that overwrite the header instead of
//! appending leave a single value); in `Forwarded`, the `proto=` of the
//! client's element. Only `http` and `https` count; anything else leaves
//! the connection's own scheme.
//!
//! The per-client connection cap (`server.max_connections_per_client`)
//! stays on the socket peer: it is enforced when a connection is accepted,
//! before any request says anything.
//!
//! ```
//! use manouche::proxies::{ProxyHeaders, TrustedProxies};
//!
//! let proxies = TrustedProxies::new(["10.0.0.0/8", "unix"], ProxyHeaders::XForwarded).unwrap();
//! let mut headers = http::HeaderMap::new();
//! headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.2".parse().unwrap());
//! headers.insert("x-forwarded-proto", "https".parse().unwrap());
//! let peer = Some("10.0.0.1".parse().unwrap());
//! let client = proxies.client(peer, false, &headers);
//! assert_eq!(client.addr, Some("203.0.113.7".parse().unwrap()));
//! assert!(client.secure);
//!
//! // The same headers from anyone else are ignored.
//! let client = proxies.client(Some("198.51.100.1".parse().unwrap()), false, &headers);
//! assert_eq!(client.addr, Some("198.51.100.1".parse().unwrap()));
//! assert!(!client.secure);
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use http::HeaderMap;

use crate::request::ClientInfo;
use http::header::{FORWARDED, HeaderName};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Which forwarding headers the trusted proxies set (`server.proxy_headers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProxyHeaders {
    /// `X-Forwarded-For` and `X-Forwarded-Proto`.
    #[default]
    XForwarded,
    /// RFC 7239's `Forwarded`.
    Forwarded,
}

impl FromStr for ProxyHeaders {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "x-forwarded" => Ok(Self::XForwarded),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!(
                "{other:?} is not a header family: use \"x-forwarded\" or \"forwarded\""
            )),
        }
    }
}

/// The proxies whose forwarding headers are believed
/// (`server.trusted_proxies`), and which headers they set.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<Network>,
    unix: bool,
    headers: ProxyHeaders,
}

impl TrustedProxies {
    /// Parses the entries: IP addresses (`10.0.0.1`, `::1`), CIDR ranges
    /// (`10.0.0.0/8`, `fd00::/8`) and `unix` (connections over a Unix
    /// socket).
    ///
    /// # Errors
    /// The first entry that is none of these, with what to write instead.
    pub fn new<I, S>(entries: I, headers: ProxyHeaders) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut proxies = Self {
            headers,
            ..Self::default()
        };
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.eq_ignore_ascii_case("unix") {
                proxies.unix = true;
            } else {
                proxies.networks.push(entry.parse()?);
            }
        }
        Ok(proxies)
    }

    /// Whether no proxy is trusted (the headers are never read).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && !self.unix
    }

    /// Whether a connection from `peer` (`None`: a Unix socket) is from a
    /// trusted proxy.
    #[must_use]
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        match peer {
            Some(ip) => self.trusts_ip(ip),
            None => self.unix,
        }
    }

    fn trusts_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client of a request that came from `peer` (`None`: a Unix
    /// socket) on a connection that is TLS or not, with `headers`.
    #[must_use]
    pub fn client(&self, peer: Option<IpAddr>, tls: bool, headers: &HeaderMap) -> ClientInfo {
        let direct = ClientInfo {
            addr: peer.map(|ip| ip.to_canonical()),
            secure: tls,
        };
        if !self.trusts(peer) {
            return direct;
        }
        let forwarded = match self.headers {
            ProxyHeaders::XForwarded => self.x_forwarded(headers),
            ProxyHeaders::Forwarded => self.forwarded(headers),
        };
        let Some(Hop { addr, proto }) = forwarded else {
            return direct;
        };
        ClientInfo {
            addr: match addr {
                Reported::Absent => direct.addr,
                Reported::Hidden => None,
                Reported::Ip(ip) => Some(ip),
            },
            secure: proto.unwrap_or(tls),
        }
    }

    /// The client's hop from `X-Forwarded-For` and `X-Forwarded-Proto`;
    /// `None` when a value does not parse.
    fn x_forwarded(&self, headers: &HeaderMap) -> Option<Hop> {
        let addrs = joined(headers, &X_FORWARDED_FOR)?;
        let (addr, position) = if addrs.is_empty() {
            (Reported::Absent, 0)
        } else {
            let mut found = None;
            for (position, entry) in addrs.iter().rev().enumerate() {
                let ip = parse_forwarded_for(entry)?;
                found = Some((ip, position));
                if !self.trusts_ip(ip) {
                    break;
                }
            }
            let (ip, position) = found?;
            (Reported::Ip(ip.to_canonical()), position)
        };
        // A malformed scheme list leaves the scheme, not the address.
        let protos = joined(headers, &X_FORWARDED_PROTO).unwrap_or_default();
        let proto = protos
            .iter()
            .rev()
            .nth(position)
            .or(protos.first())
            .and_then(|p| scheme_is_secure(p));
        Some(Hop { addr, proto })
    }

    /// The client's hop from `Forwarded`; `None` when it does not parse,
    /// or an element before the client's has no `for=`.
    fn forwarded(&self, headers: &HeaderMap) -> Option<Hop> {
        let mut elements = Vec::new();
        for value in headers.get_all(FORWARDED) {
            elements.extend(parse_forwarded(value.to_str().ok()?)?);
        }
        let mut found = None;
        for element in elements.iter().rev() {
            let node = element.node?;
            found = Some(Hop {
                addr: node,
                proto: element.proto.as_deref().and_then(scheme_is_secure),
            });
            match node {
                Reported::Ip(ip) if self.trusts_ip(ip) => {}
                _ => break,
            }
        }
        Some(found.unwrap_or(Hop {
            addr: Reported::Absent,
            proto: None,
        }))
    }
}

/// One hop's report: the address it received the request from and the
/// scheme (`Some(true)`: https).
#[derive(Debug, Clone, Copy)]
struct Hop {
    addr: Reported,
    proto: Option<bool>,
}

/// An address as a proxy reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    /// No header: the socket peer stands.
    Absent,
    /// `unknown` or an obfuscated identifier.
    Hidden,
    Ip(IpAddr),
}

/// The comma-separated entries of every `name` header, in order; `None`
/// when a value is not text or has an empty entry.
fn joined<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<Vec<&'h str>> {
    let mut entries = Vec::new();
    for value in headers.get_all(name) {
        for entry in value.to_str().ok()?.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                return None;
            }
            entries.push(entry);
        }
    }
    Some(entries)
}

/// `Some(true)` for `https`, `Some(false)` for `http`, else `None`.
fn scheme_is_secure(scheme: &str) -> Option<bool> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(true)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(false)
    } else {
        None
    }
}

/// An `X-Forwarded-For` entry: an address, `[IPv6]`, or either with a
/// port (some proxies write one).
fn parse_forwarded_for(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let node = split_node(entry)?;
    if !node.port.is_none_or(is_port) {
        return None;
    }
    node.ip()
}

/// A node written `host`, `host:port`, `[IPv6]` or `[IPv6]:port`, split.
struct Node<'a> {
    host: &'a str,
    port: Option<&'a str>,
    /// Written in brackets: an IPv6 address, or nothing.
    bracketed: bool,
}

impl Node<'_> {
    /// The address: IPv6 in brackets, else IPv4.
    fn ip(&self) -> Option<IpAddr> {
        if self.bracketed {
            let ip: std::net::Ipv6Addr = self.host.parse().ok()?;
            Some(IpAddr::V6(ip).to_canonical())
        } else {
            self.host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        }
    }
}

fn split_node(node: &str) -> Option<Node<'_>> {
    if let Some(rest) = node.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        return Some(Node {
            host,
            port,
            bracketed: true,
        });
    }
    let (host, port) = match node.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (node, None),
    };
    Some(Node {
        host,
        port,
        bracketed: false,
    })
}

fn is_port(s: &str) -> bool {
    s.parse::<u16>().is_ok()
}

/// One element of a `Forwarded` header, as far as it matters here.
#[derive(Debug, Default)]
struct Element {
    /// `None`: no `for=`.
    node: Option<Reported>,
    proto: Option<String>,
}

/// Parses a `Forwarded` value (RFC 7239 section 4): elements separated by
/// commas, pairs by semicolons, values tokens or quoted strings. `None`
/// when it does not follow the grammar.
fn parse_forwarded(value: &str) -> Option<Vec<Element>> {
    let mut elements = vec![Element::default()];
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let (name, after) = rest.split_once('=')?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return None;
        }
        let (value, after) = take_value(after)?;
        let element = elements.last_mut()?;
        if name.eq_ignore_ascii_case("for") {
            if element.node.is_some() {
                return None;
            }
            element.node = Some(parse_node(&value)?);
        } else if name.eq_ignore_ascii_case("proto") {
            element.proto = Some(value);
        }
        rest = after.trim_start_matches([' ', '\t']);
        match rest.as_bytes().first() {
            None => break,
            Some(b';') => rest = &rest[1..],
            Some(b',') => {
                elements.push(Element::default());
                rest = &rest[1..];
            }
            Some(_) => return None,
        }
    }
    Some(elements)
}

/// A token or a quoted string at the start of `s`, unescaped, and what
/// follows it.
fn take_value(s: &str) -> Option<(String, &str)> {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.bytes().position(|b| !is_tchar(b)).unwrap_or(s.len());
        if end == 0 {
            return None;
        }
        return Some((s[..end].to_owned(), &s[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

/// RFC 7230's `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A `for=` node: an IPv4 address, `[IPv6]`, `unknown` or `_obfuscated`,
/// each with an optional `:port` (a number or `_obfuscated`).
fn parse_node(node: &str) -> Option<Reported> {
    let node = split_node(node)?;
    if !port_ok(node.port) {
        return None;
    }
    if !node.bracketed && (node.host.eq_ignore_ascii_case("unknown") || is_obfuscated(node.host)) {
        return Some(Reported::Hidden);
    }
    node.ip().map(Reported::Ip)
}

fn port_ok(port: Option<&str>) -> bool {
    port.is_none_or(|p| is_port(p) || is_obfuscated(p))
}

/// `_` followed by letters, digits, `.`, `_` or `-`.
fn is_obfuscated(s: &str) -> bool {
    s.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    })
}

/// An address range: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{s:?} is not a proxy address: use an IP address (10.0.0.1, ::1), a CIDR range (10.0.0.0/8, fd00::/8) or \"unix\""
            )
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(bad)?,
        };
        let network = Self { addr, prefix };
        if network.masked(addr) != bits_of(addr) {
            return Err(format!(
                "{s:?} has bits set past its /{prefix} prefix: write the range's first address (e.g. 10.0.0.0/8)"
            ));
        }
        Ok(network)
    }
}

impl Network {
    /// Whether `ip` (canonical) is in the range.
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                self.masked(ip) == self.masked(self.addr)
            }
            _ => false,
        }
    }

    /// `ip`'s bits under the prefix, as a number.
    fn masked(&self, ip: IpAddr) -> u128 {
        let (value, bits) = match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        let host_bits = bits - u32::from(self.prefix);
        if host_bits >= 128 {
            0
        } else {
            value >> host_bits << host_bits
        }
    }
}

fn bits_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        map
    }

    fn xff(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::new(entries, ProxyHeaders::XForwarded).unwrap()
    }

    fn fwd(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::new(entries, ProxyHeaders::Forwarded).unwrap()
    }

    #[test]
    fn parses_addresses_ranges_and_unix_and_refuses_the_rest() {
        let proxies = xff(&["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "unix"]);
        for trusted in [
            "10.1.2.3",
            "192.168.1.7",
            "fd12::1",
            "::1",
            "::ffff:10.9.9.9",
        ] {
            assert!(proxies.trusts(Some(ip(trusted))), "{trusted}");
        }
        for not in ["11.0.0.1", "192.168.1.8", "fe80::1", "::2", "127.0.0.1"] {
            assert!(!proxies.trusts(Some(ip(not))), "{not}");
        }
        assert!(proxies.trusts(None), "unix");
        assert!(!xff(&["10.0.0.1"]).trusts(None));
        assert!(xff(&[]).is_empty());
        assert!(xff(&["0.0.0.0/0"]).trusts(Some(ip("8.8.8.8"))));
        assert!(!xff(&["0.0.0.0/0"]).trusts(Some(ip("::8"))));
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0",
            "example.com",
            "",
            "10.0.0.0/",
            "10.0.0.0/x",
            "unixx",
        ] {
            let err = TrustedProxies::new([bad], ProxyHeaders::XForwarded).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer() {
        let proxies = xff(&["10.0.0.1"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let from_proxy = proxies.client(Some(ip("10.0.0.1")), false, &h);
        assert_eq!(from_proxy.addr, Some(ip("203.0.113.9")));
        assert!(from_proxy.secure);
        let from_anyone = proxies.client(Some(ip("10.0.0.2")), false, &h);
        assert_eq!(from_anyone.addr, Some(ip("10.0.0.2")));
        assert!(!from_anyone.secure);
        // Nothing trusted: the headers are never read.
        let none = xff(&[]).client(Some(ip("10.0.0.1")), true, &h);
        assert_eq!(none.addr, Some(ip("10.0.0.1")));
        assert!(none.secure);
        // Over a Unix socket, only with `unix` listed.
        assert_eq!(proxies.client(None, false, &h).addr, None);
        assert_eq!(
            xff(&["unix"]).client(None, false, &h).addr,
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = xff(&["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.1"));
        // The client wrote the first entry itself; the proxies appended.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(
            proxies.client(peer, false, &h).addr,
            Some(ip("203.0.113.9"))
        );
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9, 10.0.0.5"),
        ]);
        assert_eq!(
            proxies.client(peer, false, &h).addr,
            Some(ip("203.0.113.9"))
        );
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.5")]);
        assert_eq!(proxies.client(peer, false, &h).addr, Some(ip("10.0.0.9")));
        // A trusted proxy not in the header's list stays untrusted there.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 11.0.0.5")]);
        assert_eq!(proxies.client(peer, false, &h).addr, Some(ip("11.0.0.5")));
    }

    #[test]
    fn the_scheme_comes_from_the_clients_hop() {
        let proxies = xff(&["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.1"));
        // Two appending proxies: the edge saw https, the inner one http.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9, 10.0.0.5"),
            ("x-forwarded-proto", "https, http"),
        ]);
        assert!(proxies.client(peer, false, &h).secure);
        // A client's own entry further left is not believed.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https, http"),
        ]);
        assert!(!proxies.client(peer, true, &h).secure);
        // Overwritten by the proxies: one value.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9, 10.0.0.5"),
            ("x-forwarded-proto", "HTTPS"),
        ]);
        assert!(proxies.client(peer, false, &h).secure);
        // Only the scheme: the address stays the peer's.
        let h = headers(&[("x-forwarded-proto", "https")]);
        let client = proxies.client(peer, false, &h);
        assert_eq!(client.addr, peer);
        assert!(client.secure);
        // Another word leaves the connection's scheme.
        let h = headers(&[("x-forwarded-proto", "gopher")]);
        assert!(proxies.client(peer, true, &h).secure);
        assert!(!proxies.client(peer, false, &h).secure);
    }

    #[test]
    fn malformed_values_are_ignored_without_a_panic() {
        let proxies = xff(&["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.1"));
        for bad in [
            "not-an-ip",
            "203.0.113.9,,10.0.0.5",
            ",",
            "203.0.113.9, 10.0.0.5:99999",
            "[::1",
            "[::1]x",
            "1.2.3.4:5:6",
            "::1:80:x",
            "203.0.113.9 10.0.0.5",
            "ünïcode",
        ] {
            let h = headers(&[("x-forwarded-for", bad), ("x-forwarded-proto", "https")]);
            let client = proxies.client(peer, false, &h);
            assert_eq!(client.addr, peer, "{bad}");
            assert!(!client.secure, "{bad}");
        }
        // Bytes that are not text.
        let mut h = HeaderMap::new();
        h.insert(
            X_FORWARDED_FOR,
            http::HeaderValue::from_bytes(b"1.2.3.4\xff").unwrap(),
        );
        assert_eq!(proxies.client(peer, false, &h).addr, peer);
        // Junk left of the client is the client's own and does not matter.
        let h = headers(&[("x-forwarded-for", "garbage, 203.0.113.9")]);
        assert_eq!(
            proxies.client(peer, false, &h).addr,
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn ipv6_and_ports_in_x_forwarded_for() {
        let proxies = xff(&["fd00::/8", "10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "2001:db8::7, [fd00::5]:443")]);
        assert_eq!(
            proxies.client(Some(ip("fd00::1")), false, &h).addr,
            Some(ip("2001:db8::7"))
        );
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:5555")]);
        assert_eq!(
            proxies.client(Some(ip("10.0.0.1")), false, &h).addr,
            Some(ip("2001:db8::7"))
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.9:1234")]);
        assert_eq!(
            proxies.client(Some(ip("10.0.0.1")), false, &h).addr,
            Some(ip("203.0.113.9"))
        );
        // An IPv4-mapped peer on a dual-stack socket is matched as IPv4.
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(
            proxies.client(Some(ip("::ffff:10.0.0.1")), false, &h).addr,
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn forwarded_with_quotes_ports_and_several_elements() {
        let proxies = fwd(&["10.0.0.0/8", "fd00::/8"]);
        let peer = Some(ip("10.0.0.1"));
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6;proto=http, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.5, For=10.0.0.5;Proto=http"#,
        )]);
        let client = proxies.client(peer, false, &h);
        assert_eq!(client.addr, Some(ip("2001:db8:cafe::17")));
        assert!(client.secure);
        let h = headers(&[("forwarded", r#"for="192.0.2.60:8080";proto="https""#)]);
        assert_eq!(proxies.client(peer, false, &h).addr, Some(ip("192.0.2.60")));
        // Quoted commas and semicolons do not split.
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;ext="a,b;c\"d", for=10.0.0.7"#,
        )]);
        assert_eq!(proxies.client(peer, false, &h).addr, Some(ip("192.0.2.60")));
        // Two header lines.
        let h = headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("forwarded", "for=10.0.0.7;proto=https"),
        ]);
        let client = proxies.client(peer, false, &h);
        assert_eq!(client.addr, Some(ip("192.0.2.60")));
        assert!(!client.secure, "the client's element says no proto");
        // Hidden addresses.
        for hidden in ["for=unknown", "for=_gazonk", r#"for="_hidden:_port""#] {
            let h = headers(&[("forwarded", hidden)]);
            assert_eq!(proxies.client(peer, false, &h).addr, None, "{hidden}");
        }
        // With x-forwarded configured, Forwarded is not read, and the
        // other way round.
        let h = headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("x-forwarded-for", "192.0.2.99"),
        ]);
        assert_eq!(
            xff(&["10.0.0.1"]).client(peer, false, &h).addr,
            Some(ip("192.0.2.99"))
        );
        assert_eq!(
            fwd(&["10.0.0.1"]).client(peer, false, &h).addr,
            Some(ip("192.0.2.60"))
        );
    }

    #[test]
    fn malformed_forwarded_values_are_ignored() {
        let proxies = fwd(&["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.1"));
        for bad in [
            "for=",
            "for",
            "=1.2.3.4",
            "for=1.2.3.4;for=5.6.7.8",
            r#"for="[2001:db8::1"#,
            "for=[2001:db8::1]",
            r#"for="[2001:db8::1]:x""#,
            "for=1.2.3.4:99999",
            "for=not-an-address",
            "for=1.2.3.4 junk",
            "proto=https",
            "for=10.0.0.5, proto=https",
            r#"for="unterminated"#,
            "fo r=1.2.3.4",
        ] {
            let h = headers(&[("forwarded", bad)]);
            let client = proxies.client(peer, false, &h);
            assert_eq!(client.addr, peer, "{bad}");
            assert!(!client.secure, "{bad}");
        }
        // An empty element between commas is allowed by the grammar, but
        // one without `for=` before the client is reached is not usable.
        let h = headers(&[("forwarded", "for=192.0.2.60,")]);
        assert_eq!(proxies.client(peer, false, &h).addr, peer);
    }
}
