//! RFC 3339 timestamps, as LocalSend puts them in `metadata.modified`/`accessed`:
//! `2021-01-01T12:34:56Z`, with or without fractional seconds, with `Z` or an offset. A time
//! without any zone (what Dart prints for a local time) is read as UTC. Anything else is `None`:
//! a file time is a nicety, never a reason to refuse a file.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `s`; `None` when it is not a timestamp we understand or is before 1970.
pub fn parse(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac[..digits].bytes().take(9).enumerate() {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let zb = zone.as_bytes();
            if zone.len() != 6 || !matches!(zb[0], b'+' | b'-') || zb[3] != b':' {
                return None;
            }
            let (h, m) = (zone[1..3].parse::<i64>().ok()?, zone[4..6].parse::<i64>().ok()?);
            let secs = h * 3600 + m * 60;
            if zb[0] == b'+' { secs } else { -secs }
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// `2021-01-01T12:34:56.789Z` (milliseconds, UTC). Times before 1970 print as the epoch.
pub fn format(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::new(secs, nanos))
    }

    #[test]
    fn the_forms_localsend_senders_use() {
        assert_eq!(parse("2000-01-01T00:00:00Z"), at(946_684_800, 0));
        // Dart's toIso8601String of a UTC time has milliseconds or microseconds.
        assert_eq!(parse("1970-01-01T00:00:00.500Z"), at(0, 500_000_000));
        assert_eq!(parse("2021-01-01T12:34:56.123456Z"), at(1_609_504_496, 123_456_000));
        assert_eq!(parse("2000-01-01T01:00:00+01:00"), at(946_684_800, 0));
        assert_eq!(parse("1999-12-31T23:00:00-01:00"), at(946_684_800, 0));
        // No zone at all: read as UTC.
        assert_eq!(parse("2000-01-01T00:00:00"), at(946_684_800, 0));
        assert_eq!(parse("2024-02-29T12:00:00Z"), at(1_709_208_000, 0));
    }

    #[test]
    fn nonsense_is_none() {
        for s in [
            "",
            "yesterday",
            "2000-13-01T00:00:00Z",
            "2000-01-01 00:00",
            "1969-12-31T23:59:59Z",
            "2000-01-01T00:00:00.Z",
            "2000-01-01T00:00:00+0100",
            "2000-01-01T00:00:00Q",
            "２０００-01-01T00:00:00Z",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn format_round_trips_to_the_millisecond() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let s = format(t);
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse(&s), at(1_700_000_000, 123_000_000));
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
