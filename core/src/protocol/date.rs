//! JavaScript dates on the wire: msgpack's timestamp extension (type -1, which Node's
//! `notepack.io` writes for a `Date`, e.g. in Redis adapter messages) and the ISO 8601 string
//! a `Date` becomes in JSON (`Date.prototype.toISOString`).

/// The msgpack extension type of timestamps.
pub(crate) const TIMESTAMP_EXT: i8 = -1;

/// Milliseconds since the Unix epoch of a msgpack timestamp (32, 64 or 96 bits); `None` for
/// any other length.
pub(crate) fn timestamp_millis(data: &[u8]) -> Option<i64> {
    let (secs, nanos): (i64, i64) = match data.len() {
        4 => (i64::from(u32::from_be_bytes(data.try_into().ok()?)), 0),
        8 => {
            let v = u64::from_be_bytes(data.try_into().ok()?);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as i64)
        }
        12 => (
            i64::from_be_bytes(data[4..].try_into().ok()?),
            i64::from(u32::from_be_bytes(data[..4].try_into().ok()?)),
        ),
        _ => return None,
    };
    secs.checked_mul(1000)?.checked_add(nanos / 1_000_000)
}

/// A time as JavaScript's `Date.prototype.toISOString` writes it
/// (`2024-02-29T23:59:59.123Z`; `-000001-01-01T00:00:00.000Z` and `+275760-09-13T00:00:00.000Z`
/// outside years 0–9999), from milliseconds since the Unix epoch (UTC).
#[must_use]
pub fn iso_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // The civil date of a day count (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Outside years 0–9999, JavaScript writes a sign and six digits.
    let year = match year {
        0..=9999 => format!("{year:04}"),
        y if y < 0 => format!("-{:06}", -y),
        y => format!("+{y:06}"),
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `notepack.encode(date)` in Node (the Redis adapter's encoder), and `date.toISOString()`.
    #[test]
    fn notepack_dates_read_as_javascript_writes_them() {
        for (encoded, iso) in [
            ("d6ff6553f100", "2023-11-14T22:13:20.000Z"),
            ("d7ff1d53530065e11a7f", "2024-02-29T23:59:59.123Z"),
            ("c70cff00000000ffffffffffffffff", "1969-12-31T23:59:59.000Z"),
            ("d7ff1d535300f4865700", "2100-01-01T00:00:00.123Z"),
        ] {
            let bytes = hex(encoded);
            // Skip the ext header: d6/d7 + type, or c7 + length + type.
            let data = if bytes[0] == 0xc7 {
                &bytes[3..]
            } else {
                &bytes[2..]
            };
            let ms = timestamp_millis(data).expect("a timestamp");
            assert_eq!(iso_date(ms), iso, "{encoded}");
        }
        assert_eq!(timestamp_millis(&[1, 2, 3]), None);
    }

    #[test]
    fn iso_dates_match_javascript() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_date(1_798_761_600_000), "2027-01-01T00:00:00.000Z");
        // `new Date(ms).toISOString()` in Node, at and beyond the four-digit years.
        assert_eq!(iso_date(-62_198_755_200_000), "-000001-01-01T00:00:00.000Z");
        assert_eq!(iso_date(-62_167_219_200_000), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso_date(253_402_300_800_000), "+010000-01-01T00:00:00.000Z");
        assert_eq!(
            iso_date(8_640_000_000_000_000),
            "+275760-09-13T00:00:00.000Z"
        );
        assert_eq!(
            iso_date(-8_640_000_000_000_000),
            "-271821-04-20T00:00:00.000Z"
        );
    }
}
