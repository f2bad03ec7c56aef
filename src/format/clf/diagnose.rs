//! Why a line is not combined/common, with the column where it departs
//! from `host ident user [time] "request" status bytes ["referer" "agent"]`:
//! for `authstorm formats test`, when detection fails. Slow and simple;
//! never on the scan's path.

/// `None` when the line reads as combined/common; else what is wrong, at
/// which (1-based, in characters) column.
pub fn diagnose(line: &str) -> Option<String> {
    if super::parse(line).is_ok() {
        return None;
    }
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let col = |i: usize| i + 1;
    let word = |i: &mut usize| -> Option<(usize, usize)> {
        let start = *i;
        while *i < chars.len() && chars[*i] != ' ' {
            *i += 1;
        }
        (*i > start).then_some((start, *i))
    };
    let space = |i: &mut usize, what: &str| -> Result<(), String> {
        if chars.get(*i) == Some(&' ') {
            *i += 1;
            Ok(())
        } else if *i >= chars.len() {
            Err(format!("the line ends at column {} before {what}", col(*i)))
        } else {
            Err(format!(
                "expected a space before {what} at column {}",
                col(*i)
            ))
        }
    };
    let mut steps = || -> Result<(), String> {
        for what in ["the client address", "the ident", "the user"] {
            if what != "the client address" {
                space(&mut i, what)?;
            }
            word(&mut i).ok_or_else(|| format!("no {what} at column {}", col(i)))?;
        }
        space(&mut i, "the time")?;
        if chars.get(i) != Some(&'[') {
            return Err(format!("expected `[` (the time) at column {}", col(i)));
        }
        let open = i;
        let close = (i..chars.len()).find(|&j| chars[j] == ']');
        let Some(close) = close else {
            return Err(format!(
                "no closing `]` for the time opened at column {}",
                col(open)
            ));
        };
        let ts: String = chars[open + 1..close].iter().collect();
        if crate::time::parse_timestamp(&ts).is_none() {
            return Err(format!("`{ts}` at column {} is not a time", col(open + 1)));
        }
        i = close + 1;
        space(&mut i, "the request")?;
        if chars.get(i) != Some(&'"') {
            return Err(format!("expected `\"` (the request) at column {}", col(i)));
        }
        let open = i;
        i += 1;
        loop {
            match chars.get(i) {
                None => {
                    return Err(format!(
                        "no closing quote for the request opened at column {}",
                        col(open)
                    ));
                }
                Some('\\') => i += 2,
                Some('"') => break,
                Some(_) => i += 1,
            }
        }
        // A request line ends with its protocol; text after it means its
        // closing quote is missing (and the quote found is a later field's).
        let request: String = chars[open + 1..i].iter().collect();
        if let Some(p) = request.find(" HTTP/") {
            let proto_end = request[p + 1..].find(' ').map(|e| p + 1 + e);
            if let Some(e) = proto_end {
                let at = open + 1 + request[..e].chars().count();
                return Err(format!(
                    "no closing quote after the request's protocol, at column {}",
                    col(at)
                ));
            }
        }
        i += 1;
        space(&mut i, "the status")?;
        let (s, e) = word(&mut i).ok_or_else(|| format!("no status at column {}", col(i)))?;
        let status: String = chars[s..e].iter().collect();
        if status.len() != 3 || !status.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{status}` at column {} is not a status", col(s)));
        }
        space(&mut i, "the size")?;
        word(&mut i).ok_or_else(|| format!("no size at column {}", col(i)))?;
        // The rest: quoted referer and agent, then extras; find an open quote.
        let mut open = None;
        for (j, c) in chars.iter().enumerate().skip(i) {
            match (c, open) {
                ('"', None) => open = Some(j),
                ('"', Some(o)) if chars[j - 1] != '\\' || j - 1 == o => open = None,
                _ => {}
            }
        }
        if let Some(o) = open {
            return Err(format!(
                "no closing quote for the field opened at column {}",
                col(o)
            ));
        }
        Err(format!(
            "unexpected text after the size, at column {}",
            col(i)
        ))
    };
    Some(steps().err().unwrap_or_else(|| "does not parse".into()))
}

#[cfg(test)]
mod tests {
    use super::diagnose;

    #[test]
    fn says_where_a_line_departs() {
        let ok =
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "curl/8.0""#;
        assert_eq!(diagnose(ok), None);
        let cases = [
            (
                r#"1.2.3.4 - - 10/Oct/2000:13:55:36 "GET /a HTTP/1.1" 200 5"#,
                "expected `[` (the time) at column 13",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700 "GET /a" 200 5"#,
                "no closing `]`",
            ),
            (
                r#"1.2.3.4 - - [yesterday] "GET /a" OK 5"#,
                "`yesterday` at column 14 is not a time",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1 200 5"#,
                "no closing quote for the request opened at column 42",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1 200 5 "-" "curl/8""#,
                "no closing quote after the request's protocol, at column 58",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a" OK 5"#,
                "`OK` at column 51 is not a status",
            ),
            ("1.2.3.4", "the line ends at column 8 before the ident"),
        ];
        for (line, want) in cases {
            let got = diagnose(line).unwrap_or_default();
            assert!(got.contains(want), "{line}\n  got  {got}\n  want {want}");
        }
    }
}
