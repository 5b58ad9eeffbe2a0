//! One small file per screen that moves a controller's state into the screen's adapter
//! global and wires the global's callbacks to the controller. Only these files and
//! `kiosk.rs` touch generated Slint types; the behaviour is all in [`super::controller`].

pub use support::Act;

use super::controller::{Kiosk, Screen};
use super::generated::AppWindow;

#[macro_use]
mod support;

mod app;
pub mod attract;
mod desk;
mod manager;
mod shift;
mod shopper;
mod staff;
mod till;

/// What the window shows now: the controllers' state as last copied into the globals.
#[derive(Default)]
pub struct Shown {
    screen: Screen,
    seconds_left: u32,
    attract: super::controller::AttractScreen,
    shopper: super::controller::shopper::ShopperScreen,
    desk: super::controller::desk::DeskScreen,
    staff: super::controller::staff::StaffScreen,
    manager: super::controller::manager::ManagerScreen,
    till: super::controller::till::TillScreen,
    shift: super::controller::shift::ShiftScreen,
}

/// Wires every screen's callbacks.
pub fn wire(w: &AppWindow, act: &Act) {
    attract::wire(w, act);
    shopper::wire(w, act);
    desk::wire(w, act);
    staff::wire(w, act);
    manager::wire(w, act);
    till::wire(w, act);
    shift::wire(w, act);
}

/// Copies into the globals what changed since `shown`.
pub fn show(w: &AppWindow, k: &Kiosk, shown: &mut Shown) {
    update(&k.screen(), &mut shown.screen, |s, _| app::show(w, *s));
    update(&k.seconds_left(), &mut shown.seconds_left, |s, _| shopper::show_seconds_left(w, *s));
    update(k.attract(), &mut shown.attract, |s, _| attract::show(w, s));
    update(k.shopper(), &mut shown.shopper, |s, before| shopper::show(w, s, before));
    update(k.desk(), &mut shown.desk, |s, _| desk::show(w, s));
    update(k.staff(), &mut shown.staff, |s, before| staff::show(w, s, before));
    update(k.manager(), &mut shown.manager, |s, before| manager::show(w, s, before));
    update(k.till(), &mut shown.till, |s, before| till::show(w, s, before));
    update(k.shift(), &mut shown.shift, |s, before| shift::show(w, s, before));
}

fn update<T: PartialEq + Clone>(now: &T, shown: &mut T, show: impl FnOnce(&T, &T)) {
    if now != shown {
        show(now, shown);
        *shown = now.clone();
    }
}
