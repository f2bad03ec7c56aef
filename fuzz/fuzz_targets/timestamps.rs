//! Timestamp parsing and time bounds on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = authstorm::time::parse_timestamp(&s);
    let _ = authstorm::time::parse_time_bound(&s, 1_772_409_600_000_000);
    let _ = authstorm::time::parse_duration(&s);
    // The scan's minute cache gives what parsing each line alone gives,
    // over a stream of lines that share minutes and lines that do not.
    let mut cache = authstorm::time::TsCache::default();
    for line in s.lines().chain(s.lines().rev()) {
        assert_eq!(
            cache.parse(line),
            authstorm::time::parse_timestamp(line),
            "{line:?}"
        );
    }
});
