//! One small file per screen that moves a controller's state into the screen's adapter
//! global and wires the global's callbacks to the controller. Only these files and
//! `kiosk.rs` touch generated Slint types; the behaviour is all in [`super::controller`].

use std::rc::Rc;

use slint::{ModelRc, VecModel};

use super::controller::{Kiosk, Screen};
use super::AppWindow;

/// Runs a controller action and brings the window up to date (made by `kiosk.rs`).
pub type Act = Rc<dyn Fn(&dyn Fn(&mut Kiosk))>;

/// Connects a Slint callback to a controller action.
macro_rules! on {
    ($act:expr, $global:expr, $setter:ident, |$k:ident $(, $arg:ident)*| $body:expr) => {{
        let act = $act.clone();
        $global.$setter(move |$($arg),*| act(&|$k: &mut $crate::ui::controller::Kiosk| $body));
    }};
}

mod app;
pub mod attract;
mod desk;
mod manager;
mod shopper;
mod staff;

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
}

/// Wires every screen's callbacks.
pub fn wire(w: &AppWindow, act: &Act) {
    attract::wire(w, act);
    shopper::wire(w, act);
    desk::wire(w, act);
    staff::wire(w, act);
    manager::wire(w, act);
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
}

fn update<T: PartialEq + Clone>(now: &T, shown: &mut T, show: impl FnOnce(&T, &T)) {
    if now != shown {
        show(now, shown);
        *shown = now.clone();
    }
}

/// A list model of `rows`, each made into its Slint struct.
fn model<R, T: Clone + 'static>(rows: &[R], row: impl Fn(&R) -> T) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows.iter().map(row).collect::<Vec<_>>()))
}

/// A count for an `int` property (the screens never show more than `i32::MAX`).
fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}
