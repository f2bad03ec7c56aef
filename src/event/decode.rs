//! One line, from its text to its normalized event, through its format's
//! own path: the direct path when the line has the shape its log repeats
//! (positions of the line straight to fields, no record), else the
//! format's parser and the field mapping. The scan calls [`decode`] once
//! per line and never looks at the format.

use super::{Event, FieldMap, Plans};
use crate::format::marks::Marks;
use crate::format::positions::Positions;
use crate::format::{LineParser, SkipReason, clf, json};
use crate::text::Ascii;
use crate::time::TsCache;

/// Whether `parser`'s lines should be found with their structural marks
/// (`Marks::line`): its direct path reads them, and they cost nothing more
/// than finding the line's end.
pub fn wants_marks(parser: &LineParser) -> bool {
    matches!(parser, LineParser::Clf | LineParser::ClfAs(_))
}

/// Decodes `text` (a line without its newline, not blank) and hands its
/// event, with the mask of the fields the line had, to `sink`. `ascii` is
/// the line when it is known to be ASCII, and `marks` are its marks when
/// [`wants_marks`] and the line is plain ASCII.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn decode<'l, R>(
    parser: &mut LineParser,
    text: &'l str,
    ascii: Option<Ascii<'l>>,
    marks: Option<&Marks>,
    fields: &FieldMap,
    plans: &mut Plans,
    ts: &mut TsCache,
    sink: impl FnOnce(&Event<'_>, u32) -> R,
) -> Result<R, SkipReason> {
    plans.bind(fields);
    // Whatever the event borrows from lives here, declared before it.
    let (parsed, rawev, mut record, mut pos);
    let positions = || match ascii {
        Some(a) => Positions::ascii(a),
        None => Positions::empty(text),
    };
    let mut ev = Event::default();
    // Combined and JSON lines are taken by plan straight from the line (or
    // record) into borrowed fields, filled in place (a returned event was
    // copied); other formats, and combined lines with escapes, go through a
    // RawEvent that owns unescaped text.
    let mask = match parser {
        LineParser::Clf | LineParser::ClfAs(_) => 'clf: {
            pos = positions();
            if let Some(f) = plans.clf_direct(&mut pos, marks) {
                f.normalize_into(ts, &mut ev)?;
                break 'clf f.present_mask();
            }
            // The fields borrow the line, not the record.
            let mut rec = clf::ClfRecord::empty(text);
            clf::parse_hinted(&mut rec, plans.clf_hint())?;
            match fields.clf_fields(&rec, plans) {
                Some(f) => {
                    ev = f.normalize_with(ts)?;
                    f.present_mask()
                }
                None => {
                    rawev = fields.resolve_clf_record(&rec, plans);
                    ev = rawev.normalize_with(ts)?;
                    rawev.present_mask()
                }
            }
        }
        LineParser::Json => 'json: {
            pos = positions();
            if let Some(f) = plans.json_direct(&mut pos) {
                f.normalize_into(ts, &mut ev)?;
                break 'json f.present_mask();
            }
            // Filled in place: a record returned by value was copied.
            record = json::JsonRecord::default();
            json::parse_into(text, plans.json_hint(), &mut record)?;
            let f = fields.json_fields(&record, plans);
            ev = f.normalize_with(ts)?;
            f.present_mask()
        }
        _ => {
            parsed = parser.parse(text)?;
            rawev = fields.resolve(parsed.record());
            ev = rawev.normalize_with(ts)?;
            rawev.present_mask()
        }
    };
    Ok(sink(&ev, mask))
}
