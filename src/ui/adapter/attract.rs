//! `AttractAdapter`: the idle screen's sync line and scan notice; scans typed into the
//! window, the language buttons, "Collect an order", "Call staff", the demo's codes.

use slint::ComponentHandle;

use crate::ui::controller::{AttractNotice, AttractScreen};
use crate::ui::generated::{AppWindow, AttractAdapter, AttractNotice as Notice, DemoCode};
use super::support::{int, model, Act};

pub fn wire(w: &AppWindow, act: &Act) {
    let a = w.global::<AttractAdapter>();
    on!(act, a, on_scanned, |k, code| k.scan(&typed_code(&code)));
    on!(act, a, on_language_chosen, |k, lang| k.language_chosen(&lang));
    on!(act, a, on_collect_order, |k| k.open_pickup());
    on!(act, a, on_call_staff, |k| k.call_staff());
}

pub fn show(w: &AppWindow, s: &AttractScreen) {
    let a = w.global::<AttractAdapter>();
    a.set_online(s.online);
    a.set_offline_since(s.offline_since.as_str().into());
    a.set_changes_waiting(int(s.changes_waiting));
    a.set_notice(mirror!(s.notice, AttractNotice => Notice { None => None, NotRecognised => NotRecognised, NotFound => NotFound, TryAgain => TryAgain }));
}

/// Codes the demo offers instead of a scanner: (label, code).
pub fn set_demo_codes(w: &AppWindow, codes: &[(String, String)]) {
    w.global::<AttractAdapter>().set_demo_codes(model(codes, |(label, code)| DemoCode { label: label.into(), code: code.into() }));
}

/// A code typed into the window (a keyboard-wedge scanner, or a person) without the
/// key events that carry no character: Shift for capitals, other modifiers, arrows.
/// Slint reports those as control characters or as characters of Unicode's private use
/// area.
fn typed_code(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control() && !('\u{E000}'..='\u{F8FF}').contains(c)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn modifier_keys_are_not_part_of_a_typed_code() {
        // Shift (U+0010) before each capital, as a keyboard-wedge scanner sends them.
        assert_eq!(super::typed_code("\u{10}K1.\u{10}Ab\u{15}C"), "K1.AbC");
        assert_eq!(super::typed_code("\u{F700}0420000000068\u{11}"), "0420000000068");
        assert_eq!(super::typed_code("zażółć"), "zażółć");
    }
}
