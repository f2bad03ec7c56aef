//! Every parser, format detection and the field mapping on arbitrary lines.
#![no_main]
use authstorm::event::FieldMap;
use authstorm::format::{self, Custom, FormatKind, regex::RegexFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lines found with their marks in one pass are `split`'s, with the
    // marks `Marks::new` gives a plain line.
    use format::marks::{Class, MAX_LEN, Marks};
    let mut m = Marks::empty();
    let mut parts = data.split(|b| *b == b'\n');
    let mut at = 0;
    while at <= data.len() {
        let (end, plain) = m.line(data, at);
        let raw = &data[at..end];
        assert_eq!(Some(raw), parts.next());
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let fresh = Marks::new(line)
            .filter(|f| line.is_ascii() && !f.control() && !f.backslash() && raw.len() < MAX_LEN);
        assert_eq!(plain, fresh.is_some(), "{line:?}");
        if let Some(f) = fresh {
            assert_eq!(m.line_len(), line.len());
            for from in 0..=line.len() + 1 {
                for c in [Class::Space, Class::Quote] {
                    assert_eq!(m.next(c, from), f.next(c, from), "{line:?}");
                }
            }
        }
        at = end + 1;
    }
    assert_eq!(parts.next(), None);
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    // Every format, the config-defined ones too.
    let custom = Custom {
        regex: RegexFormat::new(r"^(?P<ts>\S+) (?P<status>\d+) (?P<path>\S*)").ok(),
        nginx: format::template::nginx::compile(
            r#"log_format t '$remote_addr [$time_iso8601] "$request" $status rt=$request_time "$http_user_agent"';"#,
        )
        .ok(),
        apache: format::template::apache::compile(r#"%h %l %u %t \"%r\" %>s %b %D"#).ok(),
        ..Custom::default()
    };
    let _ = format::explain(&lines, &custom);
    let fields = FieldMap::default();
    let classifier = authstorm::classify::Classifier::default();
    // The scan's planned combined-log mapping equals parse-then-map, with
    // one plan cache over all lines as in a scan.
    let mut shapes = authstorm::event::Plans::default();
    for l in &lines {
        assert!(
            format::clf::tokenizers_agree(l, None).0,
            "tokenizers disagree on {l:?}"
        );
        // Hinted with the keys of the first line, as in a scan.
        if let Ok(first) = format::clf::parse(lines[0]) {
            let keys: Vec<_> = (0..first.extras_len())
                .map(|j| first.extra_key(j).map(Box::from))
                .collect();
            assert!(
                format::clf::tokenizers_agree(l, Some(&keys)).0,
                "hinted: {l:?}"
            );
        }
        // The direct path (with the plan of the line before) takes a line
        // only as the record path reads it.
        // Given the marks the scan builds, as the scan does for plain lines.
        let marks = format::marks::Marks::new(l.as_bytes());
        let mut pos = format::positions::Positions::empty(l);
        let direct = shapes.clf_direct(&mut pos, marks.as_ref()).map(|d| {
            let fields = authstorm::event::FIELDS.map(|f| d.get(f).map(String::from));
            (fields, d.present_mask())
        });
        match (
            format::clf::parse(l),
            fields.resolve_clf_with(l, &mut shapes),
        ) {
            (Ok(rec), Ok(fast)) => {
                let slow = fields.resolve(&rec);
                if let Some((fields, mask)) = &direct {
                    for (i, f) in authstorm::event::FIELDS.iter().enumerate() {
                        assert_eq!(fields[i].as_deref(), slow.get(*f), "direct {f:?} of {l:?}");
                    }
                    assert_eq!(*mask, slow.present_mask(), "{l:?}");
                }
                // Borrowed from the line when it has no escapes.
                let borrowed = fields.clf_fields(&rec, &mut shapes);
                for f in authstorm::event::FIELDS {
                    assert_eq!(fast.get(f), slow.get(f), "{f:?} of {l:?}");
                    if let Some(b) = &borrowed {
                        assert_eq!(b.get(f), slow.get(f), "borrowed {f:?} of {l:?}");
                    }
                }
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b);
                assert!(direct.is_none(), "the direct path took {l:?}");
            }
            _ => panic!("parse and resolve_clf_with disagree on {l:?}"),
        }
    }
    // The JSON scanner accepts what serde_json accepts, with the same pairs
    // (objects nested past its limit aside, which it refuses).
    for l in &lines {
        match (format::json::parse(l), format::json::reference::parse(l)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len(), "{l:?}");
                for j in 0..a.len() {
                    assert_eq!((a.key(j), a.value(j)), (b.key(j), b.value(j)), "{l:?}");
                }
            }
            (Err(_), Err(_)) => {}
            (Err(_), Ok(_)) if l.matches('{').count() > 128 => {}
            _ => panic!("the JSON scanner and serde_json disagree on {l:?}"),
        }
    }
    // The same for JSON records, with its own plan cache, hinted with the
    // last plan's keys as in a scan (and the hint changes no pair).
    let mut plans = authstorm::event::Plans::default();
    for l in &lines {
        assert!(
            format::json::scanners_agree(l, None).0,
            "quote marks: {l:?}"
        );
        assert!(
            format::json::scanners_agree(l, plans.json_hint()).0,
            "quote marks, hinted: {l:?}"
        );
        // The direct path, with the last plan: only as the record path reads.
        let mut pos = format::positions::Positions::empty(l);
        let direct = plans.json_direct(&mut pos).map(|d| {
            let fields = authstorm::event::FIELDS.map(|f| d.get(f).map(String::from));
            (fields, d.present_mask())
        });
        let hinted = format::json::parse_hinted(l, plans.json_hint());
        match (&hinted, format::json::parse(l)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len(), "{l:?}");
                for j in 0..a.len() {
                    assert_eq!((a.key(j), a.value(j)), (b.key(j), b.value(j)), "{l:?}");
                }
            }
            (Err(a), Err(b)) => assert_eq!(*a, b),
            _ => panic!("hinted and plain JSON parses disagree on {l:?}"),
        }
        if hinted.is_err() {
            assert!(direct.is_none(), "the direct path took {l:?}");
        }
        if let Ok(rec) = hinted {
            let (fast, slow) = (fields.json_fields(&rec, &mut plans), fields.resolve(&rec));
            for f in authstorm::event::FIELDS {
                assert_eq!(fast.get(f), slow.get(f), "{f:?} of {l:?}");
            }
            if let Some((values, mask)) = &direct {
                for (i, f) in authstorm::event::FIELDS.iter().enumerate() {
                    assert_eq!(values[i].as_deref(), slow.get(*f), "direct {f:?} of {l:?}");
                }
                assert_eq!(*mask, slow.present_mask(), "{l:?}");
            }
        }
    }
    for kind in FormatKind::all() {
        let Ok(mut p) = kind.parser(&custom) else {
            continue;
        };
        let fields = fields.with_sources(&p.sources(kind));
        for l in &lines {
            let _ = p.clone().why(l);
            if let Ok(rec) = p.parse(l) {
                let _ = fields.explain(rec.record());
                let raw = fields.resolve(rec.record());
                if let Ok(e) = raw.normalize() {
                    let _ = classifier.classify(&e, &mut authstorm::classify::Memo::default());
                }
            }
        }
    }
});
