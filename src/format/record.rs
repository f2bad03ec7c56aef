//! What every format's parsed line offers the mapping stage (`event`): its
//! values by source key, or a walk over all of them.

use std::borrow::Cow;

/// A parsed line before mapping: anything that can answer "what is the value
/// of source field `key`?" (a dotted path for JSON, an extra's key for
/// combined, a logfmt key, a regex capture name, a W3C field name).
pub trait Record {
    fn get(&self, key: &str) -> Option<Cow<'_, str>>;

    /// Offers every value the record has to `f`, in the precedence order of
    /// [`Record::get`] (an earlier key shadows a later equal one). Returns
    /// false when the record cannot list its keys; then mapping falls back
    /// to one `get` per candidate name.
    ///
    /// This is the hot path: a line has a dozen keys, while the mapping has
    /// about eighty candidate names, so walking the keys once is far cheaper.
    fn visit<'s>(&'s self, _f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        false
    }
}

/// A key offered by [`Record::visit`]: a name, or one of a format's fixed
/// slots (see [`SlotNames`]) whose candidate names are resolved once.
#[derive(Debug, Clone, Copy)]
pub enum Key<'k> {
    Name(&'k str),
    Slot(usize),
    /// The n-th (from 1) unnamed trailing field, addressed as `extra_n`.
    Extra(usize),
}

/// A format's fixed slots and the names each answers to (`remote_addr`
/// and `client_ip` for the first field of a combined line).
pub type SlotNames = &'static [&'static [&'static str]];
