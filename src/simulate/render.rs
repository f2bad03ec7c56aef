//! Writes simulated requests in each supported format, in UTC (the
//! historical output, byte for byte) or in a time zone given by `--tz`;
//! and the corrupt and junk lines real archives contain.

use crate::error::SettingError;
use std::io::{self, Write};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::Req;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFormat {
    /// nginx combined with trailing `key=value` extras.
    Combined,
    /// Plain common log format (no user agent, no extras).
    Common,
    Json,
    Logfmt,
}

impl SimFormat {
    pub fn name(self) -> &'static str {
        match self {
            SimFormat::Combined => "combined",
            SimFormat::Common => "common",
            SimFormat::Json => "json",
            SimFormat::Logfmt => "logfmt",
        }
    }

    /// Whether lines carry the server's auth error and the user agent
    /// (`common` has neither).
    pub fn shows_token_state(self) -> bool {
        self != SimFormat::Common
    }
}

/// The zone timestamps are written in (`--tz`): a fixed offset such as
/// `+05:30`, or an IANA name such as `America/New_York` (offsets follow
/// its daylight-saving rules). Without one, lines are written in UTC as
/// they always were (`+0000`, `Z`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimTz {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl SimTz {
    /// `None` for UTC (`UTC`, `Z`): the historical output.
    pub fn parse(s: &str) -> Result<Option<SimTz>, SettingError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(None);
        }
        if let Some(rest) = t.strip_prefix(['+', '-']) {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let digits: String = rest.chars().filter(|c| *c != ':').collect();
            let ok = digits.bytes().all(|b| b.is_ascii_digit())
                && (digits.len() == 2 || digits.len() == 4)
                && (rest.len() == digits.len() || (rest.len() == 5 && rest.as_bytes()[2] == b':'));
            if ok {
                let h: i32 = digits[..2].parse().unwrap_or(99);
                let m: i32 = if digits.len() == 4 {
                    digits[2..].parse().unwrap_or(99)
                } else {
                    0
                };
                if h <= 18
                    && m < 60
                    && let Some(o) = FixedOffset::east_opt(sign * (h * 3600 + m * 60))
                {
                    return Ok(Some(SimTz::Fixed(o)));
                }
            }
            return Err(SettingError::value(format!(
                "bad offset {s:?} (use +05:30, -0800 or +02)"
            )));
        }
        t.parse::<chrono_tz::Tz>()
            .map(|z| Some(SimTz::Named(z)))
            .map_err(|_| SettingError::Unknown {
                what: "time zone",
                name: s.into(),
                expected: vec![
                    "an offset like +05:30".into(),
                    "an IANA name like Asia/Kolkata".into(),
                    "UTC".into(),
                ],
            })
    }

    pub fn name(&self) -> String {
        match self {
            SimTz::Fixed(o) => o.to_string(),
            SimTz::Named(z) => z.name().to_string(),
        }
    }

    fn format(&self, utc: DateTime<Utc>, fmt: &str) -> String {
        match self {
            SimTz::Fixed(o) => utc.with_timezone(o).format(fmt).to_string(),
            SimTz::Named(z) => utc.with_timezone(z).format(fmt).to_string(),
        }
    }

    /// The offset from UTC at `utc`, in seconds.
    pub fn offset_secs(&self, utc: DateTime<Utc>) -> i32 {
        use chrono::Offset;
        match self {
            SimTz::Fixed(o) => o.local_minus_utc(),
            SimTz::Named(z) => z
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
        }
    }
}

fn dt(ts: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(ts).unwrap_or_default()
}

/// The timestamp as `[...]` of the CLF formats.
fn clf_time(t: DateTime<Utc>, tz: Option<&SimTz>) -> String {
    match tz {
        None => t.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        Some(z) => z.format(t, "%d/%b/%Y:%H:%M:%S %z"),
    }
}

/// The RFC 3339 timestamp of the JSON and logfmt formats.
fn iso_time(t: DateTime<Utc>, tz: Option<&SimTz>) -> String {
    match tz {
        None => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Some(z) => z.format(t, "%Y-%m-%dT%H:%M:%S%.3f%:z"),
    }
}

pub fn write(f: SimFormat, tz: Option<&SimTz>, r: &Req<'_>, w: &mut dyn Write) -> io::Result<()> {
    let t = dt(r.ts);
    match f {
        SimFormat::Combined => writeln!(
            w,
            "{} - - [{}] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\" request_time={:.3} user={} device={} auth_error=\"{}\"",
            r.ip,
            clf_time(t, tz),
            r.method,
            r.path,
            r.status,
            r.bytes,
            r.ua,
            r.latency_s,
            r.user,
            r.device,
            r.auth_error
        ),
        SimFormat::Common => writeln!(
            w,
            "{} - {} [{}] \"{} {} HTTP/1.1\" {} {}",
            r.ip,
            r.user,
            clf_time(t, tz),
            r.method,
            r.path,
            r.status,
            r.bytes
        ),
        SimFormat::Json => {
            let v = serde_json::json!({
                "time": iso_time(t, tz),
                "client_ip": r.ip,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "bytes": r.bytes,
                "user_agent": r.ua,
                "duration_ms": (r.latency_s * 1000.0 * 10.0).round() / 10.0,
                "user": r.user,
                "device_id": r.device,
                "auth_error": r.auth_error,
            });
            writeln!(w, "{v}")
        }
        SimFormat::Logfmt => writeln!(
            w,
            "time={} ip={} method={} path={} status={} bytes={} ua=\"{}\" duration_ms={:.1} user={} device={} auth_error={}",
            iso_time(t, tz),
            r.ip,
            r.method,
            r.path,
            r.status,
            r.bytes,
            r.ua,
            r.latency_s * 1000.0,
            r.user,
            r.device,
            r.auth_error
        ),
    }
}

/// A corrupt line of one of the kinds real archives contain.
pub fn corrupt_line(rng: &mut ChaCha8Rng, w: &mut dyn Write) -> io::Result<()> {
    match rng.random_range(0..4) {
        0 => writeln!(w, "10.1.2.3 - - [02/Mar/2026:08:1"),
        1 => w.write_all(b"\xff\xfe\x00garbage\x00\n"),
        2 => writeln!(w),
        _ => writeln!(w, "<<<< not a log line >>>>"),
    }
}

/// Lines other programs write into the same file (`--junk`).
const FOREIGN: [&str; 6] = [
    "2026/03/02 08:41:07 [error] 2211#2211: *99182 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.20.3.4, server: auth.acme.example, request: \"GET /v1/session HTTP/1.1\", upstream: \"http://10.1.0.7:8080/v1/session\", host: \"auth.acme.example\"",
    "Mar  2 08:41:07 auth-lb-1 systemd[1]: Started Session 412 of user root.",
    "\tat com.acme.auth.TokenService.refresh(TokenService.java:214)",
    "2026/03/02 06:25:01 [notice] 1#1: signal 1 (SIGHUP) received from 3121, reconfiguring",
    "==> /var/log/nginx/access.log <==",
    "logrotate: rotating log /var/log/nginx/access.log, log->rotateCount is 14",
];

/// A junk line (`--junk`): a truncated copy of `line` (the request line
/// written just before, cut where no parser can read a request from it:
/// inside the request of the CLF formats, before the second `key=value`
/// of logfmt, anywhere in a JSON object), binary garbage, a blank line, or
/// another program's line.
pub fn junk_line(
    rng: &mut ChaCha8Rng,
    f: SimFormat,
    line: &[u8],
    w: &mut dyn Write,
) -> io::Result<()> {
    match rng.random_range(0..10) {
        0..=3 if line.len() >= 8 => {
            // Everything up to the status is needed to read a request.
            let limit = match f {
                SimFormat::Combined | SimFormat::Common => find(line, b" HTTP/1.1\""),
                // `time=... ip`: one pair with a value, prose to logfmt.
                SimFormat::Logfmt => find(line, b" ip=").map(|i| i + 3),
                SimFormat::Json => Some(line.len().saturating_sub(2)),
            }
            .unwrap_or(line.len() / 2)
            .max(2);
            let cut = rng.random_range(1..limit);
            w.write_all(&line[..cut])?;
            w.write_all(b"\n")
        }
        4 | 5 => {
            let n = rng.random_range(4..40);
            let mut b: Vec<u8> = (0..n).map(|_| rng.random::<u8>()).collect();
            for x in b.iter_mut() {
                if *x == b'\n' {
                    *x = 0;
                }
            }
            b.push(b'\n');
            w.write_all(&b)
        }
        0..=3 | 6 => writeln!(w),
        _ => writeln!(w, "{}", FOREIGN[rng.random_range(0..FOREIGN.len())]),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_and_render() {
        assert_eq!(SimTz::parse("UTC").unwrap(), None);
        let ist = SimTz::parse("+05:30").unwrap().unwrap();
        assert_eq!(ist.name(), "+05:30");
        assert_eq!(SimTz::parse("-0800").unwrap().unwrap().name(), "-08:00");
        assert!(SimTz::parse("+25:00").is_err());
        assert!(SimTz::parse("Mars/Olympus").is_err());
        let t = dt(1_772_441_400_000_000); // 2026-03-02T08:50:00Z
        assert_eq!(clf_time(t, Some(&ist)), "02/Mar/2026:14:20:00 +0530");
        assert_eq!(iso_time(t, Some(&ist)), "2026-03-02T14:20:00.000+05:30");
        let ny = SimTz::parse("America/New_York").unwrap().unwrap();
        assert_eq!(iso_time(t, Some(&ny)), "2026-03-02T03:50:00.000-05:00");
        assert_eq!(ny.offset_secs(t), -5 * 3600);
    }
}
