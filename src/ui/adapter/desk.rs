//! `DeskAdapter`: "Collect an order" (our keypad) and the answer to a check-in.

use slint::ComponentHandle;

use crate::ui::controller::desk::{DeskScreen, DeskState};
use crate::ui::generated::{AppWindow, DeskAdapter, DeskState as State};
use super::support::{int, Act};

pub fn wire(w: &AppWindow, act: &Act) {
    let d = w.global::<DeskAdapter>();
    on!(act, d, on_code_entered, |k, code| k.pickup_code_entered(&code));
    on!(act, d, on_typed, |k| k.touched());
    on!(act, d, on_close, |k| k.go_home());
}

pub fn show(w: &AppWindow, s: &DeskScreen) {
    let d = w.global::<DeskAdapter>();
    d.set_state(mirror!(s.state, DeskState => State { Typing => Typing, CheckedIn => CheckedIn, NotReady => NotReady, NotFound => NotFound, NothingToCollect => NothingToCollect }));
    d.set_order_id(s.order_id.as_str().into());
    d.set_items(int(s.items));
    d.set_position(int(s.position));
    d.set_ready_by(s.ready_by.as_str().into());
    d.set_help_by(s.help_by.as_str().into());
}
