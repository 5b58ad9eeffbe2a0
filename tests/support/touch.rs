//! Finding and pressing things on the kiosk window on Slint's testing backend, by
//! accessible label (for a text, the text itself) — as the UI tests and a screen reader do.
#![allow(dead_code)]

use i_slint_backend_testing::{ElementHandle, ElementQuery};
use omnikiosk::ui::KioskUi;

/// Every accessible label on screen, sorted, each once (the query may reach one element
/// along several paths).
pub fn labels(ui: &KioskUi) -> Vec<String> {
    let mut labels: Vec<String> = ElementQuery::from_root(ui.window())
        .match_descendants()
        .find_all()
        .into_iter()
        .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

/// Every label on screen that contains `needle`.
pub fn labels_containing(ui: &KioskUi, needle: &str) -> Vec<String> {
    labels(ui).into_iter().filter(|l| l.contains(needle)).collect()
}

pub fn has_label(ui: &KioskUi, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(ui.window(), label).next().is_some()
}

#[track_caller]
pub fn press(ui: &KioskUi, label: &str) {
    match ElementHandle::find_by_accessible_label(ui.window(), label).next() {
        Some(e) => e.invoke_accessible_default_action(),
        None => panic!("no element labelled {label:?} on screen; labels: {:?}", labels(ui)),
    }
}

/// Types digits on whichever keypad shows, labelled `what`, and presses its submit key.
#[track_caller]
pub fn keypad(ui: &KioskUi, what: &str, digits: &str, submit: &str) {
    for d in digits.chars() {
        press(ui, &format!("{what} {d}"));
    }
    press(ui, &format!("{what} {submit}"));
}
