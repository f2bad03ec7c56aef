//! Every parser, format detection and the field mapping on arbitrary lines.
#![no_main]
use authstorm::event::FieldMap;
use authstorm::format::{self, FormatKind, LineParser, regex::RegexFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    let custom = RegexFormat::new(r"^(?P<ts>\S+) (?P<status>\d+) (?P<path>\S*)").ok();
    let _ = format::detect(&lines, custom.as_ref());
    let fields = FieldMap::default();
    let classifier = authstorm::classify::Classifier::default();
    for kind in FormatKind::ALL {
        let Ok(mut p) = LineParser::new(kind, custom.as_ref()) else { continue };
        for l in &lines {
            if let Ok(rec) = p.parse(l) {
                let raw = fields.resolve(rec.record());
                if let Ok(e) = raw.normalize() {
                    let _ = classifier.classify(&e, &mut authstorm::classify::Memo::default());
                }
            }
        }
    }
});
