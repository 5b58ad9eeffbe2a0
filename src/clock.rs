//! Wall-clock time in Unix seconds. Kiosk clocks are for display and audit only: they
//! never order anything (the hub's receipt order does).

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
