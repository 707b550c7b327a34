//! Event time: nanoseconds since the Unix epoch, in UTC.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// An instant, stored as whole nanoseconds since 1970-01-01T00:00:00Z (UTC).
///
/// twinstore keeps the full precision of its input: RFC 3339 text with up to nine fractional
/// digits (ADT sends seven) and epoch milliseconds with a fraction. An `i64` of nanoseconds
/// covers the years 1677 to 2262; times outside that range are rejected at ingest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// Why a text or number could not be read as a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimestampError(String);

impl Timestamp {
    /// The earliest representable instant (1677-09-21).
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant (2262-04-11).
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// From nanoseconds since the Unix epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// From microseconds since the Unix epoch, or `None` when out of range.
    pub const fn from_micros(micros: i64) -> Option<Self> {
        match micros.checked_mul(1_000) {
            Some(n) => Some(Timestamp(n)),
            None => None,
        }
    }

    /// From milliseconds since the Unix epoch, or `None` when out of range.
    pub const fn from_millis(millis: i64) -> Option<Self> {
        match millis.checked_mul(1_000_000) {
            Some(n) => Some(Timestamp(n)),
            None => None,
        }
    }

    /// From seconds since the Unix epoch, or `None` when out of range.
    pub const fn from_secs(secs: i64) -> Option<Self> {
        match secs.checked_mul(1_000_000_000) {
            Some(n) => Some(Timestamp(n)),
            None => None,
        }
    }

    /// From fractional epoch milliseconds (the numeric `$ts` form); rejects NaN, infinities
    /// and out-of-range values. Sub-nanosecond digits are rounded to the nearest nanosecond.
    pub fn from_millis_f64(millis: f64) -> Result<Self, TimestampError> {
        let out_of_range = || {
            TimestampError(format!(
                "epoch milliseconds {millis} out of the supported range (years 1677-2262)"
            ))
        };
        // Whole and fractional milliseconds apart: multiplying the whole value by 1e6 in f64
        // would round away the sub-millisecond digits of present-day times.
        let whole = millis.trunc();
        // `i64::MAX as f64` rounds up to 2^63, so compare with a strict upper bound.
        if !whole.is_finite() || whole < i64::MIN as f64 || whole >= i64::MAX as f64 {
            return Err(out_of_range());
        }
        let sub_millisecond = ((millis - whole) * 1e6).round() as i64;
        (whole as i64)
            .checked_mul(1_000_000)
            .and_then(|n| n.checked_add(sub_millisecond))
            .map(Timestamp)
            .ok_or_else(out_of_range)
    }

    /// The current time of the system clock.
    pub fn now() -> Self {
        let now = jiff::Timestamp::now().as_nanosecond();
        Timestamp(now.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds since the Unix epoch (rounded towards negative infinity).
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This instant moved by `nanos` nanoseconds, saturating at the ends of the range.
    pub const fn saturating_add_nanos(self, nanos: i64) -> Self {
        Timestamp(self.0.saturating_add(nanos))
    }

    /// Parses ISO 8601 / RFC 3339 text: a date, `T` (or a space), a time with any number of
    /// fractional digits (truncated to the nanosecond), and an offset `Z`, `±HH:MM` or `±HHMM` (an offset
    /// followed by a redundant `Z`, which TSI accepts, is accepted too). The result is in UTC.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let trimmed = text.trim();
        // TSI accepts `+01:00Z`: an explicit offset followed by a redundant zone letter.
        let body = match trimmed.strip_suffix(['Z', 'z']) {
            Some(rest) if has_numeric_offset(rest) => rest,
            _ => trimmed,
        };
        let parsed: jiff::Timestamp = truncate_fraction(body)
            .parse()
            .map_err(|e: jiff::Error| TimestampError(format!("invalid date-time {trimmed:?}: {e}")))?;
        let nanos = parsed.as_nanosecond();
        i64::try_from(nanos).map(Timestamp).map_err(|_| {
            TimestampError(format!(
                "date-time {trimmed:?} is outside the supported range (years 1677-2262)"
            ))
        })
    }

    /// Cheap pre-check used for type inference: does `text` look like an ISO 8601 date-time
    /// (`YYYY-MM-DDTHH:MM...`)? Only such strings are handed to the full parser.
    pub(crate) fn looks_like_datetime(text: &str) -> bool {
        let b = text.as_bytes();
        b.len() >= 16
            && b.len() <= 40
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[7] == b'-'
            && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
            && b[13] == b':'
    }
}

/// `text` with fractional seconds beyond nine digits dropped (truncated to the nanosecond):
/// RFC 3339 allows any number of digits, jiff takes nine.
fn truncate_fraction(text: &str) -> Cow<'_, str> {
    // The fraction follows the seconds of `YYYY-MM-DDTHH:MM:SS`.
    let b = text.as_bytes();
    let Some(dot) = b.iter().skip(19).position(|&c| c == b'.' || c == b',').map(|p| p + 19) else {
        return Cow::Borrowed(text);
    };
    let digits = b[dot + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits <= 9 {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..dot + 10]);
    out.push_str(&text[dot + 1 + digits..]);
    Cow::Owned(out)
}

/// True when `text` ends in a numeric UTC offset such as `+01:00` or `-0130`.
fn has_numeric_offset(text: &str) -> bool {
    let b = text.as_bytes();
    let tail = |n: usize| b.len() > n && matches!(b[b.len() - n - 1], b'+' | b'-');
    // `±HH:MM` is 5 bytes after the sign, `±HHMM` 4.
    (tail(5) && b[b.len() - 3] == b':') || (tail(4) && b[b.len() - 4..].iter().all(u8::is_ascii_digit))
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

/// The longest RFC 3339 text of a [`Timestamp`]: `2262-04-11T23:47:16.854775807Z`.
pub(crate) const RFC3339_MAX_LEN: usize = 30;

impl Timestamp {
    /// Writes the RFC 3339 text of [`Display`](fmt::Display) into `out` and returns it.
    ///
    /// By hand rather than through a date library's printer: query answers print one time
    /// per bucket or event (1,440 for a day in minutes), and printing each into a string of
    /// its own was a quarter of an aggregateSeries answer's cost. Every instant of an `i64` of nanoseconds
    /// falls in the years 1677-2262, so the four-digit year form always applies.
    pub(crate) fn write_rfc3339(self, out: &mut [u8; RFC3339_MAX_LEN]) -> &str {
        Rfc3339Printer::default().print(self, out)
    }
}

/// Prints times as RFC 3339 text, remembering the last day's date: times in a query answer
/// come in order, mostly many to a day, and the date is the costly part.
#[derive(Default)]
pub(crate) struct Rfc3339Printer {
    /// The day (since the epoch) whose date `date` holds; `None` before the first.
    day: Option<i64>,
    date: [u8; 10],
}

impl Rfc3339Printer {
    /// Writes `t`'s text into `out` and returns it.
    pub(crate) fn print<'b>(&mut self, t: Timestamp, out: &'b mut [u8; RFC3339_MAX_LEN]) -> &'b str {
        let len = self.write(t, out);
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&out[..len]).unwrap_or_default()
    }

    /// Appends `t`'s text to `out`.
    #[cfg(any(feature = "server", test))]
    pub(crate) fn append(&mut self, t: Timestamp, out: &mut Vec<u8>) {
        let mut buffer = [0; RFC3339_MAX_LEN];
        let len = self.write(t, &mut buffer);
        out.extend_from_slice(&buffer[..len]);
    }

    /// Writes `t`'s text into `out`; its length.
    fn write(&mut self, t: Timestamp, out: &mut [u8; RFC3339_MAX_LEN]) -> usize {
        let secs = t.0.div_euclid(1_000_000_000);
        let nanos = t.0.rem_euclid(1_000_000_000) as u32;
        let day = secs.div_euclid(86_400);
        let second_of_day = secs.rem_euclid(86_400) as u32;
        let two = |out: &mut [u8], at: usize, v: u32| {
            out[at] = b'0' + (v / 10) as u8;
            out[at + 1] = b'0' + (v % 10) as u8;
        };
        if self.day != Some(day) {
            let (year, month, day_of_month) = civil_from_days(day);
            // Every instant of an i64 of nanoseconds is in the years 1677-2262.
            let year = year as u32;
            two(&mut self.date, 0, year / 100);
            two(&mut self.date, 2, year % 100);
            self.date[4] = b'-';
            two(&mut self.date, 5, month);
            self.date[7] = b'-';
            two(&mut self.date, 8, day_of_month);
            self.day = Some(day);
        }
        out[..10].copy_from_slice(&self.date);
        out[10] = b'T';
        two(out, 11, second_of_day / 3600);
        out[13] = b':';
        two(out, 14, second_of_day / 60 % 60);
        out[16] = b':';
        two(out, 17, second_of_day % 60);
        let mut len = 19;
        if nanos > 0 {
            out[19] = b'.';
            let mut digits = 9;
            let mut fraction = nanos;
            while fraction.is_multiple_of(10) {
                fraction /= 10;
                digits -= 1;
            }
            for i in (0..digits).rev() {
                out[20 + i] = b'0' + (fraction % 10) as u8;
                fraction /= 10;
            }
            len = 20 + digits;
        }
        out[len] = b'Z';
        len + 1
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with a `Z` suffix and only as many fractional digits as needed
    /// (`2026-01-01T08:01:00.5Z`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write_rfc3339(&mut [0; RFC3339_MAX_LEN]))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written printer against jiff's, over the whole range of instants.
    #[test]
    fn prints_as_jiff_does() {
        let jiff_text = |n: i64| {
            jiff::Timestamp::from_nanosecond(i128::from(n))
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        let edges = [
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            -1,
            0,
            1,
            999_999_999,
            -86_400_000_000_000,
            951_782_400_000_000_000,   // 2000-02-29
            4_107_542_400_000_000_000, // 2100-03-01
            1_767_225_600_500_000_000,
            1_767_225_600_123_456_700,
        ];
        for n in edges {
            assert_eq!(Timestamp(n).to_string(), jiff_text(n), "{n}");
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            // xorshift: instants spread over the whole range, then some whole seconds and
            // milliseconds.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = state as i64;
            for n in [n, n - n % 1_000_000_000, n - n % 1_000_000] {
                assert_eq!(Timestamp(n).to_string(), jiff_text(n), "{n}");
            }
        }
        // One printer over times in order across midnight, as a query answer prints them.
        let mut printer = Rfc3339Printer::default();
        let mut buffer = [0; RFC3339_MAX_LEN];
        let start = 1_767_225_600_000_000_000 - 3 * 60_000_000_000;
        for n in (0..10).map(|i| start + i * 45_000_000_000) {
            assert_eq!(printer.print(Timestamp(n), &mut buffer), jiff_text(n), "{n}");
        }
    }

    #[test]
    fn parses_rfc3339_forms_to_utc_nanoseconds() {
        // 2026-01-01T00:00:00Z is 1767225600 s after the epoch.
        let base = 1_767_225_600_000_000_000i64;
        let cases = [
            ("2026-01-01T00:00:00Z", base),
            ("2026-01-01T00:00:00.5Z", base + 500_000_000),
            ("2026-01-01T00:00:00.1234567Z", base + 123_456_700),
            ("2026-01-01T00:00:00.123456789Z", base + 123_456_789),
            ("2026-01-01T01:00:00+01:00", base),
            ("2026-01-01T01:00:00+0100", base),
            ("2026-01-01T01:00:00+01:00Z", base),
            ("2025-12-31T23:00:00-01:00", base),
            ("2026-01-01 00:00:00Z", base),
        ];
        for (text, nanos) in cases {
            assert_eq!(Timestamp::parse(text).map(|t| t.as_nanos()), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn rejects_bad_text_and_out_of_range_years() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "3000-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_shortest_utc_form() {
        let t = Timestamp::parse("2026-01-01T09:01:00.500+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-01T08:01:00.5Z");
        assert_eq!(Timestamp::from_nanos(0).to_string(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn epoch_millis_with_fraction() {
        assert_eq!(Timestamp::from_millis_f64(1.5).unwrap().as_nanos(), 1_500_000);
        assert_eq!(
            Timestamp::from_millis_f64(1_767_225_600_000.5).unwrap().as_nanos(),
            1_767_225_600_000_500_000
        );
        assert!(Timestamp::from_millis_f64(f64::NAN).is_err());
        assert!(Timestamp::from_millis_f64(1e300).is_err());
    }
}
