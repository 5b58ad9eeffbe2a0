//! A Slint platform without a display, for pictures and timings of the real kiosk window:
//! every window is a `MinimalSoftwareWindow`, drawn by Slint's software renderer into
//! memory, and time stands still (timers and animations move only when told), so the same
//! screen renders to the same pixels on every run.
//!
//! Shared by `tests/screens.rs` and `benches/ui.rs` (`#[path]`-included). A process can
//! install one platform, once, on the thread that then builds and draws the windows.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::PlatformError;

/// The installed platform; clones share its windows and its clock.
#[derive(Clone, Default)]
pub struct Headless {
    /// The window created last: the one a test or benchmark is looking at.
    window: Rc<RefCell<Option<Rc<MinimalSoftwareWindow>>>>,
    /// What Slint's timers and animations take for "now".
    now: Rc<Cell<Duration>>,
}

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        // A new buffer every frame: each frame is drawn whole, as a snapshot is.
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        *self.window.borrow_mut() = Some(window.clone());
        Ok(window)
    }

    fn duration_since_start(&self) -> Duration {
        self.now.get()
    }
}

impl Headless {
    /// Installs the platform for this process. Panics when one is installed already
    /// (Slint allows one per process).
    pub fn install() -> Headless {
        let platform = Headless::default();
        slint::platform::set_platform(Box::new(platform.clone())).expect("the first Slint platform of this process");
        platform
    }

    /// The window created last (each `KioskUi::new` creates one).
    pub fn window(&self) -> Rc<MinimalSoftwareWindow> {
        self.window.borrow().clone().expect("a window was created")
    }

    /// Moves Slint's clock on and fires the timers that came due.
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
        slint::platform::update_timers_and_animations();
    }
}

/// `VmRSS` and `VmHWM` (peak) of this process, in KiB.
pub fn resident_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
