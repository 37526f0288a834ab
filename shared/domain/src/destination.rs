//! Where voxdial may send a request a user chose (a campaign's outbound
//! webhook): the URL's shape, checked when it is set, and each address it
//! resolves to, checked again at send time after DNS.
//!
//! A URL is `https://` with a host and no user info; `http://` only to a
//! loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), which is then used
//! only where the runtime allows loopback (the local, one-machine mode). An
//! address is refused when it is not public: loopback (unless allowed),
//! private (`10/8`, `172.16/12`, `192.168/16`), carrier-grade NAT
//! (`100.64/10`), link-local (`169.254/16`, `fe80::/10`), unique-local v6
//! (`fc00::/7`), the cloud metadata endpoints (`169.254.169.254`,
//! `fd00:ec2::254`), unspecified, multicast, documentation and reserved
//! ranges; an IPv6 address that embeds an IPv4 one is judged by it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// The AWS instance metadata service's IPv6 address.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Checks a user-chosen URL's shape; the parsed URL when it may be used.
pub fn check_url(raw: &str) -> Result<url::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} characters"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL may not carry user info (`user@`)".into());
    }
    let host = url.host().ok_or("the URL has no host")?;
    let literal = match &host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        url::Host::Domain(_) => None,
    };
    let loopback = match (&host, literal) {
        (url::Host::Domain(name), _) => name.eq_ignore_ascii_case("localhost"),
        (_, Some(ip)) => ip.is_loopback(),
        _ => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("the URL must be https:// (http:// only to a loopback address)".into()),
    }
    if let Some(ip) = literal {
        check_address(ip, true)?;
    }
    Ok(url)
}

/// Checks one address a destination resolved to; `allow_loopback` is set
/// by the local runtime only.
pub fn check_address(ip: IpAddr, allow_loopback: bool) -> Result<(), String> {
    match non_public(ip) {
        None => Ok(()),
        Some("loopback") if allow_loopback => Ok(()),
        Some(kind) => Err(format!("{ip} is a {kind} address")),
    }
}

/// What kind of non-public address `ip` is, if it is one.
fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "metadata",
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "carrier-grade NAT",
        (169, 254, _) => "link-local",
        (192, 0, 0) | (198, 18..=19, _) | (240..=255, _, _) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (224..=239, _, _) => "multicast",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return non_public_v4(v4);
    }
    let first = ip.segments()[0];
    Some(match first {
        _ if ip == METADATA_V6 => "metadata",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        0xfc00..=0xfdff => "unique-local",
        0xfe80..=0xfebf => "link-local",
        0xff00..=0xffff => "multicast",
        0x2001 if ip.segments()[1] == 0x0db8 => "documentation",
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_plain_http_to_other_hosts_are_refused() {
        // Today's prefix check lets the first one through: its host is any-host.
        for bad in [
            "http://127.0.0.1@any-host/",
            "https://user:pw@hooks.example.com/",
            "http://hooks.example.com/",
            "http://127.0.0.1.evil.example/",
            "ftp://hooks.example.com/",
            "https://",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        for good in [
            "https://hooks.example.com/voxdial?x=1",
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/hook",
            "http://[::1]:9000/hook",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(MAX_URL_LEN))).is_err());
        let longest = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN - 18));
        assert_eq!(longest.len(), MAX_URL_LEN);
        assert!(check_url(&longest).is_ok());
        for user_info in [
            "https://user@hooks.example.com/",
            "https://:pw@hooks.example.com/",
        ] {
            assert!(check_url(user_info).is_err(), "{user_info}");
        }
    }

    #[test]
    fn literal_addresses_that_are_not_public_are_refused_even_over_https() {
        for bad in [
            "https://10.0.0.5/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://100.64.1.1/",
            "https://[::ffff:192.168.1.1]/",
            "https://0.0.0.0/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url("https://93.184.215.14/").is_ok());
    }

    #[test]
    fn every_non_public_range_is_named() {
        let kind = |s: &str| non_public(s.parse().unwrap());
        assert_eq!(kind("169.254.169.254"), Some("metadata"));
        assert_eq!(kind("fd00:ec2::254"), Some("metadata"));
        assert_eq!(kind("127.0.0.2"), Some("loopback"));
        assert_eq!(kind("::1"), Some("loopback"));
        assert_eq!(kind("10.1.2.3"), Some("private"));
        assert_eq!(kind("172.31.255.255"), Some("private"));
        assert_eq!(kind("192.168.0.1"), Some("private"));
        assert_eq!(kind("100.100.100.200"), Some("carrier-grade NAT"));
        assert_eq!(kind("169.254.1.1"), Some("link-local"));
        assert_eq!(kind("fe80::1"), Some("link-local"));
        assert_eq!(kind("fd12:3456::1"), Some("unique-local"));
        assert_eq!(kind("::ffff:10.0.0.1"), Some("private"));
        assert_eq!(kind("64:ff9b::a9fe:a9fe"), Some("metadata"));
        assert_eq!(kind("2002:a00:1::"), Some("private"));
        assert_eq!(kind("0.0.0.0"), Some("unspecified"));
        assert_eq!(kind("::"), Some("unspecified"));
        assert_eq!(kind("224.0.0.1"), Some("multicast"));
        assert_eq!(kind("255.255.255.255"), Some("reserved"));
        assert_eq!(kind("192.0.2.1"), Some("documentation"));
        assert_eq!(kind("198.51.100.7"), Some("documentation"));
        assert_eq!(kind("203.0.113.9"), Some("documentation"));
        assert_eq!(kind("2002:cb00:7105::"), Some("documentation"));
        assert_eq!(kind("2001:db8::1"), Some("documentation"));
        assert_eq!(kind("ff02::1"), Some("multicast"));
        assert_eq!(kind("2001:4860::8888"), None);
        assert_eq!(kind("192.0.3.1"), None);
        assert_eq!(kind("172.32.0.1"), None);
        assert_eq!(kind("100.128.0.1"), None);
        assert_eq!(kind("8.8.8.8"), None);
        assert_eq!(kind("2606:4700::1111"), None);
        assert!(check_address("127.0.0.1".parse().unwrap(), true).is_ok());
        assert!(check_address("127.0.0.1".parse().unwrap(), false).is_err());
        assert!(check_address("10.0.0.1".parse().unwrap(), true).is_err());
    }
}
