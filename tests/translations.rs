//! Every visible string of the touchscreen is translated into every bundled language, with
//! the same `{}` placeholders: a missing entry would show English to a Polish shopper, a
//! lost placeholder would drop their name or order number from the sentence.

use std::collections::BTreeSet;
use std::path::Path;

const LANGUAGES: [&str; 4] = ["pl", "ru", "uk", "zh"];

/// The first argument of every `@tr("…")` in the `.slint` files.
fn msgids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("@tr(\"") {
                ids.insert(unescape(quoted(&text[at + 4..])));
            }
        }
    }
    ids
}

/// The text of the string literal `s` starts with (its quotes removed, escapes kept).
fn quoted(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    &s[1..i]
}

fn unescape(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// msgid → msgstr of a catalogue (single-line entries, as ours are written).
fn catalogue(lang: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("ui/lang/{lang}/LC_MESSAGES/omnikiosk.po"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut entries = Vec::new();
    let mut id = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("msgid ") {
            id = Some(unescape(quoted(rest)));
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            if let Some(id) = id.take().filter(|id| !id.is_empty()) {
                entries.push((id, unescape(quoted(rest))));
            }
        }
    }
    entries
}

#[test]
fn every_string_on_screen_is_translated_with_its_placeholders() {
    let ids = msgids();
    assert!(ids.len() > 100, "found only {} strings: is the scan of ui/*.slint broken?", ids.len());
    let mut problems = Vec::new();
    for lang in LANGUAGES {
        let entries = catalogue(lang);
        let have: BTreeSet<&String> = entries.iter().map(|(id, _)| id).collect();
        for id in &ids {
            if !have.contains(id) {
                problems.push(format!("{lang}: missing {id:?}"));
            }
        }
        for (id, text) in &entries {
            if !ids.contains(id) {
                problems.push(format!("{lang}: {id:?} is no longer on any screen"));
            }
            if text.trim().is_empty() {
                problems.push(format!("{lang}: {id:?} has an empty translation"));
            }
            if id.matches("{}").count() != text.matches("{}").count() {
                problems.push(format!("{lang}: {id:?} → {text:?} changes the number of {{}} placeholders"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
