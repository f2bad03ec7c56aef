//! Writes simulated requests in each supported format.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
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

fn dt(ts: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(ts).unwrap_or_default()
}

pub fn write(f: SimFormat, r: &Req<'_>, w: &mut dyn Write) -> io::Result<()> {
    let t = dt(r.ts);
    match f {
        SimFormat::Combined => writeln!(
            w,
            "{} - - [{}] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\" request_time={:.3} user={} device={} auth_error=\"{}\"",
            r.ip,
            t.format("%d/%b/%Y:%H:%M:%S +0000"),
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
            t.format("%d/%b/%Y:%H:%M:%S +0000"),
            r.method,
            r.path,
            r.status,
            r.bytes
        ),
        SimFormat::Json => {
            let v = serde_json::json!({
                "time": t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
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
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
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
