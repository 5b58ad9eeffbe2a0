//! Wall-clock time in Unix seconds, and that time as the store's people read it: on the
//! store's own clock (its record's IANA time zone, summer time included). Kiosk clocks
//! are for display and audit only: they never order anything (the hub's receipt order does).

use jiff::tz::TimeZone;
use jiff::Timestamp;

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The time zone a store record names. A name our bundled tz database does not know (a
/// typo at the retailer, a zone newer than this build) is UTC, logged: a wrong clock on
/// screen is better than a kiosk that does not start.
pub fn store_zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| {
        tracing::warn!(zone = name, error = %e, "the store's time zone is unknown to this kiosk: showing UTC");
        TimeZone::UTC
    })
}

/// `at` on the store's clock (the epoch for a time out of range, which no record holds).
fn local(at: i64, zone: &TimeZone) -> jiff::Zoned {
    Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(zone.clone())
}

/// "14:05": `at` on the store's clock.
pub fn clock(at: i64, zone: &TimeZone) -> String {
    local(at, zone).strftime("%H:%M").to_string()
}

/// "2026-05-01 10:42": `at` on the store's clock, for what is printed and kept.
pub fn date_time(at: i64, zone: &TimeZone) -> String {
    local(at, zone).strftime("%Y-%m-%d %H:%M").to_string()
}

/// When the store's day that holds `now` began: its local midnight (or the first moment
/// of the day where a clock change skips midnight).
pub fn day_start(now: i64, zone: &TimeZone) -> i64 {
    local(now, zone).start_of_day().map_or(now, |start| start.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC: the EU's clock changes.
    const SPRING: i64 = 1_774_746_000;
    const AUTUMN: i64 = 1_792_890_000;

    /// A store's clock and day across the clock changes of spring and autumn, in Warsaw
    /// (UTC+1, +2 in summer) and London (UTC, +1 in summer): what the screens show and
    /// where the manager's "today" begins.
    #[test]
    fn the_store_clock_and_day_follow_summer_time() {
        assert_eq!(Timestamp::from_second(SPRING).unwrap().to_string(), "2026-03-29T01:00:00Z");
        assert_eq!(Timestamp::from_second(AUTUMN).unwrap().to_string(), "2026-10-25T01:00:00Z");
        let midnight_utc = |day: &str| day.parse::<Timestamp>().unwrap().as_second();
        for (zone, at, shown, day_began) in [
            ("Europe/Warsaw", SPRING - 60, "01:59", midnight_utc("2026-03-28T23:00:00Z")),
            ("Europe/Warsaw", SPRING, "03:00", midnight_utc("2026-03-28T23:00:00Z")),
            ("Europe/Warsaw", SPRING + 22 * 3600, "01:00", midnight_utc("2026-03-29T22:00:00Z")),
            ("Europe/Warsaw", AUTUMN - 60, "02:59", midnight_utc("2026-10-24T22:00:00Z")),
            ("Europe/Warsaw", AUTUMN, "02:00", midnight_utc("2026-10-24T22:00:00Z")),
            ("Europe/Warsaw", AUTUMN + 22 * 3600, "00:00", midnight_utc("2026-10-25T23:00:00Z")),
            ("Europe/London", SPRING - 60, "00:59", midnight_utc("2026-03-29T00:00:00Z")),
            ("Europe/London", SPRING, "02:00", midnight_utc("2026-03-29T00:00:00Z")),
            ("Europe/London", SPRING + 22 * 3600, "00:00", midnight_utc("2026-03-29T23:00:00Z")),
            ("Europe/London", AUTUMN - 60, "01:59", midnight_utc("2026-10-24T23:00:00Z")),
            ("Europe/London", AUTUMN, "01:00", midnight_utc("2026-10-24T23:00:00Z")),
            ("Europe/London", AUTUMN + 23 * 3600, "00:00", midnight_utc("2026-10-26T00:00:00Z")),
            ("UTC", AUTUMN, "01:00", midnight_utc("2026-10-25T00:00:00Z")),
        ] {
            let tz = store_zone(zone);
            assert_eq!(clock(at, &tz), shown, "{zone} at {at}");
            assert_eq!(day_start(at, &tz), day_began, "{zone}: the day of {at}");
        }
    }

    /// A record naming a zone we do not know shows UTC instead of stopping the kiosk.
    #[test]
    fn an_unknown_zone_is_utc() {
        for name in ["Europe/Atlantis", "", "+01:00"] {
            assert_eq!(clock(AUTUMN, &store_zone(name)), "01:00", "{name:?}");
        }
        assert_eq!(date_time(AUTUMN, &store_zone("Europe/Warsaw")), "2026-10-25 02:00");
    }
}
