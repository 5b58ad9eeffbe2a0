//! The pickup light and buzzer: what the store needs to notice ([`Alert`]), the
//! light-and-buzzer pattern each alert plays, a pure pattern player stepped by a clock
//! (real time in the kiosk, virtual time in tests), and the thread that drives two
//! output lines — GPIO pins on a Pi (`rpi.rs`) or simulated lines that record what they
//! were told, with times.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// What the light and buzzer tell the store, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// A shopper said "I'm here" for a ready order: staff, come to the desk.
    CustomerWaiting,
    /// A click-and-collect order came in: start picking.
    NewOrder,
    /// The kiosk cannot reach the hub.
    Offline,
    /// Nothing to tell: light and buzzer off.
    Quiet,
}

/// One output line (a GPIO pin driving a transistor or relay).
pub trait OutputLine: Send {
    /// Switches the line; `at` is the time since the indicator started, which a
    /// simulated line records.
    fn set(&mut self, on: bool, at: Duration);
}

/// What one line does during a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Off,
    Steady,
    /// On for `on_ms`, off for `off_ms`, over and over.
    Blink { on_ms: u64, off_ms: u64 },
    /// `count` beeps of `on_ms` with `off_ms` between, then silence.
    Beeps { count: u32, on_ms: u64, off_ms: u64 },
}

/// The light and the buzzer together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    pub light: Track,
    pub buzzer: Track,
}

/// The pattern of each alert. Staff learn these, so they are fixed here rather than
/// configured: a quick blink and two beeps call staff; a steady light and one beep mean
/// work to pick; a short flash every two seconds means offline.
pub fn pattern(alert: Alert, buzzer: bool) -> Pattern {
    let p = match alert {
        Alert::CustomerWaiting => Pattern {
            light: Track::Blink { on_ms: 500, off_ms: 500 },
            buzzer: Track::Beeps { count: 2, on_ms: 150, off_ms: 150 },
        },
        Alert::NewOrder => Pattern { light: Track::Steady, buzzer: Track::Beeps { count: 1, on_ms: 300, off_ms: 0 } },
        Alert::Offline => Pattern { light: Track::Blink { on_ms: 100, off_ms: 1900 }, buzzer: Track::Off },
        Alert::Quiet => Pattern { light: Track::Off, buzzer: Track::Off },
    };
    if buzzer {
        p
    } else {
        Pattern { buzzer: Track::Off, ..p }
    }
}

impl Track {
    /// The level at `t` after the pattern started, and when it next changes (if ever).
    pub fn at(self, t: Duration) -> (bool, Option<Duration>) {
        let ms = t.as_millis() as u64;
        match self {
            Track::Off => (false, None),
            Track::Steady => (true, None),
            Track::Blink { on_ms, off_ms } => {
                let period = (on_ms + off_ms).max(1);
                let phase = ms % period;
                let base = ms - phase;
                if phase < on_ms {
                    (true, Some(Duration::from_millis(base + on_ms)))
                } else {
                    (false, Some(Duration::from_millis(base + period)))
                }
            }
            Track::Beeps { count, on_ms, off_ms } => {
                let period = (on_ms + off_ms).max(1);
                let n = ms / period;
                if n >= u64::from(count) {
                    return (false, None);
                }
                let base = n * period;
                if ms - base < on_ms {
                    (true, Some(Duration::from_millis(base + on_ms)))
                } else if n + 1 < u64::from(count) {
                    (false, Some(Duration::from_millis(base + period)))
                } else {
                    (false, None)
                }
            }
        }
    }
}

/// Plays one pattern on two lines; only changes of level reach the lines.
pub struct Player {
    pattern: Pattern,
    /// When the pattern started, on the indicator's clock.
    started: Duration,
    /// What the lines were last set to.
    light: bool,
    buzzer: bool,
}

impl Player {
    /// Both lines off, as they are when the indicator starts.
    pub fn new() -> Player {
        Player { pattern: pattern(Alert::Quiet, false), started: Duration::ZERO, light: false, buzzer: false }
    }

    /// Starts `pattern` at `now` (the lines change on the next [`Player::step`]).
    pub fn play(&mut self, pattern: Pattern, now: Duration) {
        self.pattern = pattern;
        self.started = now;
    }

    /// Brings the lines to their levels at `now`; returns when to step again.
    pub fn step(&mut self, now: Duration, light: &mut dyn OutputLine, buzzer: &mut dyn OutputLine) -> Option<Duration> {
        let t = now.saturating_sub(self.started);
        let (l, l_next) = self.pattern.light.at(t);
        let (b, b_next) = self.pattern.buzzer.at(t);
        if l != self.light {
            light.set(l, now);
            self.light = l;
        }
        if b != self.buzzer {
            buzzer.set(b, now);
            self.buzzer = b;
        }
        match (l_next, b_next) {
            (Some(a), Some(b)) => Some(self.started + a.min(b)),
            (a, b) => a.or(b).map(|d| self.started + d),
        }
    }
}

impl Default for Player {
    fn default() -> Self {
        Player::new()
    }
}

enum Command {
    Show(Alert),
    Stop,
}

/// The running indicator: its thread plays the pattern of the current alert.
pub struct Indicator {
    tx: mpsc::Sender<Command>,
    /// The alert playing, so a repeated `show` does not restart its pattern.
    current: Mutex<Alert>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Indicator {
    /// Starts driving `light` and `buzzer`; both stay off until an alert is shown.
    pub fn start(mut light: Box<dyn OutputLine>, mut buzzer: Box<dyn OutputLine>, buzzer_on: bool) -> Indicator {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("indicator".into())
            .spawn(move || {
                let clock = Instant::now();
                let mut player = Player::new();
                let mut next = None;
                loop {
                    let wait = next.map(|n: Duration| n.saturating_sub(clock.elapsed())).unwrap_or(Duration::from_secs(3600));
                    match rx.recv_timeout(wait) {
                        Ok(Command::Show(alert)) => player.play(pattern(alert, buzzer_on), clock.elapsed()),
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => {
                            player.play(pattern(Alert::Quiet, false), clock.elapsed());
                            player.step(clock.elapsed(), light.as_mut(), buzzer.as_mut());
                            return;
                        }
                    }
                    next = player.step(clock.elapsed(), light.as_mut(), buzzer.as_mut());
                }
            })
            .expect("spawning the indicator thread");
        Indicator { tx, current: Mutex::new(Alert::Quiet), thread: Mutex::new(Some(thread)) }
    }

    /// Plays `alert`'s pattern from its start, unless it is already playing.
    pub fn show(&self, alert: Alert) {
        self.play(alert, false);
    }

    /// Plays `alert`'s pattern from its start even if it is playing: one more shopper
    /// waiting, one more new order, and the buzzer sounds again.
    pub fn replay(&self, alert: Alert) {
        self.play(alert, true);
    }

    fn play(&self, alert: Alert, again: bool) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if *current != alert || again {
            tracing::info!(?alert, "indicator");
            *current = alert;
            let _ = self.tx.send(Command::Show(alert));
        }
    }

    pub fn current(&self) -> Alert {
        *self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Light and buzzer off, thread ended.
    pub fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Indicator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A line with nothing attached: it records each change with its time, for tests and
/// the demo to read, and logs it at debug level.
#[derive(Clone)]
pub struct SimulatedLine {
    name: &'static str,
    changes: Arc<Mutex<Vec<(Duration, bool)>>>,
}

impl SimulatedLine {
    pub fn new(name: &'static str) -> SimulatedLine {
        SimulatedLine { name, changes: Arc::default() }
    }

    /// Every change so far: (time since the indicator started, on).
    pub fn changes(&self) -> Vec<(Duration, bool)> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The line's level now.
    pub fn is_on(&self) -> bool {
        self.changes().last().is_some_and(|c| c.1)
    }
}

impl OutputLine for SimulatedLine {
    fn set(&mut self, on: bool, at: Duration) {
        tracing::debug!(line = self.name, on, ?at, "simulated indicator");
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).push((at, on));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs `player` on a virtual clock until `until`, stepping exactly when it asks.
    fn run(player: &mut Player, light: &mut SimulatedLine, buzzer: &mut SimulatedLine, from: Duration, until: Duration) {
        let mut now = from;
        while let Some(next) = player.step(now, light, buzzer) {
            if next > until {
                break;
            }
            now = next;
        }
    }

    fn on_off(changes: &[(Duration, bool)]) -> Vec<(u64, bool)> {
        changes.iter().map(|(t, on)| (t.as_millis() as u64, *on)).collect()
    }

    #[test]
    fn customer_waiting_blinks_and_beeps_twice() {
        let (mut light, mut buzzer) = (SimulatedLine::new("light"), SimulatedLine::new("buzzer"));
        let mut p = Player::new();
        p.play(pattern(Alert::CustomerWaiting, true), ms(1000));
        run(&mut p, &mut light, &mut buzzer, ms(1000), ms(3000));
        assert_eq!(
            on_off(&light.changes()),
            [(1000, true), (1500, false), (2000, true), (2500, false), (3000, true)]
        );
        assert_eq!(on_off(&buzzer.changes()), [(1000, true), (1150, false), (1300, true), (1450, false)]);
    }

    #[test]
    fn new_order_is_a_steady_light_and_one_beep() {
        let (mut light, mut buzzer) = (SimulatedLine::new("light"), SimulatedLine::new("buzzer"));
        let mut p = Player::new();
        p.play(pattern(Alert::NewOrder, true), ms(0));
        assert_eq!(p.step(ms(0), &mut light, &mut buzzer), Some(ms(300)));
        assert_eq!(p.step(ms(300), &mut light, &mut buzzer), None, "nothing changes any more");
        assert_eq!(on_off(&light.changes()), [(0, true)]);
        assert_eq!(on_off(&buzzer.changes()), [(0, true), (300, false)]);
    }

    #[test]
    fn offline_flashes_briefly_and_stays_silent() {
        let (mut light, mut buzzer) = (SimulatedLine::new("light"), SimulatedLine::new("buzzer"));
        let mut p = Player::new();
        p.play(pattern(Alert::Offline, true), ms(0));
        run(&mut p, &mut light, &mut buzzer, ms(0), ms(4500));
        assert_eq!(on_off(&light.changes()), [(0, true), (100, false), (2000, true), (2100, false), (4000, true), (4100, false)]);
        assert!(buzzer.changes().is_empty());
    }

    #[test]
    fn a_quiet_store_keeps_the_light_only() {
        assert_eq!(pattern(Alert::CustomerWaiting, false).buzzer, Track::Off);
        assert_eq!(pattern(Alert::CustomerWaiting, false).light, pattern(Alert::CustomerWaiting, true).light);
    }

    #[test]
    fn switching_patterns_turns_off_what_the_new_one_does_not_use() {
        let (mut light, mut buzzer) = (SimulatedLine::new("light"), SimulatedLine::new("buzzer"));
        let mut p = Player::new();
        p.play(pattern(Alert::NewOrder, true), ms(0));
        p.step(ms(0), &mut light, &mut buzzer);
        // Quiet while the first beep still sounds: both go off at once.
        p.play(pattern(Alert::Quiet, true), ms(100));
        assert_eq!(p.step(ms(100), &mut light, &mut buzzer), None);
        assert_eq!(on_off(&light.changes()), [(0, true), (100, false)]);
        assert_eq!(on_off(&buzzer.changes()), [(0, true), (100, false)]);
    }

    #[test]
    fn the_driver_thread_plays_and_turns_everything_off_when_stopped() {
        let (light, buzzer) = (SimulatedLine::new("light"), SimulatedLine::new("buzzer"));
        let ind = Indicator::start(Box::new(light.clone()), Box::new(buzzer.clone()), true);
        ind.show(Alert::NewOrder);
        ind.show(Alert::NewOrder); // already playing: not restarted
        ind.stop();
        // The thread took the command before the stop: the light went on, then off.
        let levels: Vec<bool> = light.changes().into_iter().map(|c| c.1).collect();
        assert_eq!(levels, [true, false]);
        assert!(!buzzer.is_on());
        assert_eq!(ind.current(), Alert::NewOrder);
    }
}
