//! HTTP status vocabulary shared by every stage: classes, and which codes
//! mean a timeout.

/// The class of a status (`2xx`...), `other` for codes outside 100-599 and
/// `-` for none.
pub fn status_class(s: Option<u16>) -> &'static str {
    match s {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "-",
    }
}

/// Status codes that mean the client gave up or the gateway timed out.
pub fn is_timeout(s: u16) -> bool {
    matches!(s, 499 | 504 | 408)
}
