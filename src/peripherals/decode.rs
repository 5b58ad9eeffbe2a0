//! What a scanner sends → scanned codes. Pure functions, no I/O: the framing both kinds of
//! scanner share (terminator, prefix and suffix, a bounded buffer), the serial byte
//! decoder, and the keystroke decoder of HID "keyboard wedge" scanners with its layouts.

use evdev::KeyCode;

use crate::config::{KeyboardLayout, ScanTerminator, ScannerConfig};

/// What the framing makes of the input so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole code, prefix and suffix removed.
    Scan(String),
    /// Input thrown away, and why (logged; never shown as a scan).
    Discarded(String),
}

/// Collects characters into codes. The buffer never grows past `max_chars`: a longer
/// burst is dropped up to its next terminator, so noise never becomes a code and never
/// costs memory.
#[derive(Debug, Clone)]
pub struct Framer {
    buf: String,
    /// Characters in `buf` (it holds ASCII and a few Latin-1 letters, so not `len()`).
    chars: usize,
    max_chars: usize,
    prefix: String,
    suffix: String,
    /// Input since the last terminator overflowed; drop until the next terminator.
    overflowed: usize,
    /// Input since the last terminator held something no scanner sends in a code.
    unreadable: bool,
}

impl Framer {
    pub fn new(cfg: &ScannerConfig) -> Framer {
        Framer {
            buf: String::new(),
            chars: 0,
            max_chars: cfg.max_scan_chars,
            prefix: cfg.prefix.clone(),
            suffix: cfg.suffix.clone(),
            overflowed: 0,
            unreadable: false,
        }
    }

    /// One character of a code.
    pub fn push(&mut self, c: char) -> Option<Frame> {
        if self.overflowed > 0 {
            self.overflowed += 1;
            return None;
        }
        if self.chars == self.max_chars {
            self.overflowed = self.chars + 1;
            self.buf = String::new(); // give the memory back, not just the length
            self.chars = 0;
            return Some(Frame::Discarded(format!(
                "more than {} characters without a terminator; dropping input up to the next one",
                self.max_chars
            )));
        }
        self.buf.push(c);
        self.chars += 1;
        None
    }

    /// Something that cannot be part of a code (a control byte, a key with no character).
    pub fn unreadable(&mut self) {
        self.unreadable = true;
    }

    /// A terminator: the code so far is complete.
    pub fn end(&mut self) -> Option<Frame> {
        let text = std::mem::take(&mut self.buf);
        let (chars, overflowed, unreadable) = (self.chars, self.overflowed, self.unreadable);
        self.chars = 0;
        self.overflowed = 0;
        self.unreadable = false;
        if overflowed > 0 {
            return Some(Frame::Discarded(format!("end of an over-long scan ({overflowed} characters)")));
        }
        if unreadable {
            return Some(Frame::Discarded(format!("unreadable input ({chars} characters and control codes)")));
        }
        let mut code = text.as_str();
        if !self.prefix.is_empty() {
            code = code.strip_prefix(self.prefix.as_str()).unwrap_or(code);
        }
        if !self.suffix.is_empty() {
            code = code.strip_suffix(self.suffix.as_str()).unwrap_or(code);
        }
        // A lone terminator (CR LF, or Enter pressed twice) is not a scan.
        (!code.is_empty()).then(|| Frame::Scan(code.to_string()))
    }
}

/// Bytes from a serial scanner → codes. Codes are printable ASCII; CR or LF ends one
/// (CR LF counts once: the empty line between is no scan), Tab when configured.
#[derive(Debug, Clone)]
pub struct SerialDecoder {
    framer: Framer,
    enter: bool,
    tab: bool,
}

impl SerialDecoder {
    pub fn new(cfg: &ScannerConfig) -> SerialDecoder {
        SerialDecoder {
            framer: Framer::new(cfg),
            enter: cfg.terminators.contains(&ScanTerminator::Enter),
            tab: cfg.terminators.contains(&ScanTerminator::Tab),
        }
    }

    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Frame>) {
        for &b in bytes {
            let frame = match b {
                b'\r' | b'\n' if self.enter => self.framer.end(),
                b'\t' if self.tab => self.framer.end(),
                0x20..=0x7e => self.framer.push(b as char),
                _ => {
                    self.framer.unreadable();
                    None
                }
            };
            out.extend(frame);
        }
    }
}

/// A key going down or coming up, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStroke {
    pub key: KeyCode,
    /// Down (and autorepeat) is `true`, up is `false`.
    pub down: bool,
}

impl KeyStroke {
    pub fn down(key: KeyCode) -> KeyStroke {
        KeyStroke { key, down: true }
    }

    pub fn up(key: KeyCode) -> KeyStroke {
        KeyStroke { key, down: false }
    }
}

/// Keystrokes of a HID scanner → codes, in the layout the scanner is programmed for.
#[derive(Debug, Clone)]
pub struct KeyDecoder {
    framer: Framer,
    layout: KeyboardLayout,
    enter: bool,
    tab: bool,
    left_shift: bool,
    right_shift: bool,
    alt_gr: bool,
    caps_lock: bool,
}

impl KeyDecoder {
    pub fn new(cfg: &ScannerConfig) -> KeyDecoder {
        KeyDecoder {
            framer: Framer::new(cfg),
            layout: cfg.layout,
            enter: cfg.terminators.contains(&ScanTerminator::Enter),
            tab: cfg.terminators.contains(&ScanTerminator::Tab),
            left_shift: false,
            right_shift: false,
            alt_gr: false,
            caps_lock: false,
        }
    }

    pub fn feed(&mut self, stroke: KeyStroke) -> Option<Frame> {
        match stroke.key {
            KeyCode::KEY_LEFTSHIFT => self.left_shift = stroke.down,
            KeyCode::KEY_RIGHTSHIFT => self.right_shift = stroke.down,
            KeyCode::KEY_RIGHTALT => self.alt_gr = stroke.down,
            KeyCode::KEY_CAPSLOCK if stroke.down => self.caps_lock = !self.caps_lock,
            // Modifiers that type nothing.
            KeyCode::KEY_CAPSLOCK
            | KeyCode::KEY_LEFTCTRL
            | KeyCode::KEY_RIGHTCTRL
            | KeyCode::KEY_LEFTALT
            | KeyCode::KEY_NUMLOCK => {}
            _ if !stroke.down => {}
            KeyCode::KEY_ENTER | KeyCode::KEY_KPENTER if self.enter => return self.framer.end(),
            KeyCode::KEY_TAB if self.tab => return self.framer.end(),
            key => {
                let shift = self.left_shift || self.right_shift;
                match char_for(self.layout, key, shift, self.alt_gr, self.caps_lock) {
                    Some(c) => return self.framer.push(c),
                    None => self.framer.unreadable(),
                }
            }
        }
        None
    }
}

/// One key of a layout: what it types plain, with Shift, and with AltGr.
type KeyChars = (KeyCode, char, char, Option<char>);

const fn k(key: KeyCode, plain: char, shifted: char) -> KeyChars {
    (key, plain, shifted, None)
}

const fn ka(key: KeyCode, plain: char, shifted: char, alt_gr: char) -> KeyChars {
    (key, plain, shifted, Some(alt_gr))
}

/// Keys that type the same in every layout here: letters (but Y and Z), the keypad, Space.
const COMMON: &[KeyChars] = &[
    k(KeyCode::KEY_A, 'a', 'A'),
    k(KeyCode::KEY_B, 'b', 'B'),
    k(KeyCode::KEY_C, 'c', 'C'),
    k(KeyCode::KEY_D, 'd', 'D'),
    k(KeyCode::KEY_F, 'f', 'F'),
    k(KeyCode::KEY_G, 'g', 'G'),
    k(KeyCode::KEY_H, 'h', 'H'),
    k(KeyCode::KEY_I, 'i', 'I'),
    k(KeyCode::KEY_J, 'j', 'J'),
    k(KeyCode::KEY_K, 'k', 'K'),
    k(KeyCode::KEY_L, 'l', 'L'),
    k(KeyCode::KEY_M, 'm', 'M'),
    k(KeyCode::KEY_N, 'n', 'N'),
    k(KeyCode::KEY_O, 'o', 'O'),
    k(KeyCode::KEY_P, 'p', 'P'),
    k(KeyCode::KEY_R, 'r', 'R'),
    k(KeyCode::KEY_S, 's', 'S'),
    k(KeyCode::KEY_T, 't', 'T'),
    k(KeyCode::KEY_U, 'u', 'U'),
    k(KeyCode::KEY_V, 'v', 'V'),
    k(KeyCode::KEY_W, 'w', 'W'),
    k(KeyCode::KEY_X, 'x', 'X'),
    k(KeyCode::KEY_SPACE, ' ', ' '),
    k(KeyCode::KEY_KP0, '0', '0'),
    k(KeyCode::KEY_KP1, '1', '1'),
    k(KeyCode::KEY_KP2, '2', '2'),
    k(KeyCode::KEY_KP3, '3', '3'),
    k(KeyCode::KEY_KP4, '4', '4'),
    k(KeyCode::KEY_KP5, '5', '5'),
    k(KeyCode::KEY_KP6, '6', '6'),
    k(KeyCode::KEY_KP7, '7', '7'),
    k(KeyCode::KEY_KP8, '8', '8'),
    k(KeyCode::KEY_KP9, '9', '9'),
    k(KeyCode::KEY_KPDOT, '.', '.'),
    k(KeyCode::KEY_KPMINUS, '-', '-'),
    k(KeyCode::KEY_KPPLUS, '+', '+'),
    k(KeyCode::KEY_KPASTERISK, '*', '*'),
    k(KeyCode::KEY_KPSLASH, '/', '/'),
];

const US: &[KeyChars] = &[
    k(KeyCode::KEY_E, 'e', 'E'),
    k(KeyCode::KEY_Q, 'q', 'Q'),
    k(KeyCode::KEY_Y, 'y', 'Y'),
    k(KeyCode::KEY_Z, 'z', 'Z'),
    k(KeyCode::KEY_1, '1', '!'),
    k(KeyCode::KEY_2, '2', '@'),
    k(KeyCode::KEY_3, '3', '#'),
    k(KeyCode::KEY_4, '4', '$'),
    k(KeyCode::KEY_5, '5', '%'),
    k(KeyCode::KEY_6, '6', '^'),
    k(KeyCode::KEY_7, '7', '&'),
    k(KeyCode::KEY_8, '8', '*'),
    k(KeyCode::KEY_9, '9', '('),
    k(KeyCode::KEY_0, '0', ')'),
    k(KeyCode::KEY_MINUS, '-', '_'),
    k(KeyCode::KEY_EQUAL, '=', '+'),
    k(KeyCode::KEY_LEFTBRACE, '[', '{'),
    k(KeyCode::KEY_RIGHTBRACE, ']', '}'),
    k(KeyCode::KEY_SEMICOLON, ';', ':'),
    k(KeyCode::KEY_APOSTROPHE, '\'', '"'),
    k(KeyCode::KEY_GRAVE, '`', '~'),
    k(KeyCode::KEY_BACKSLASH, '\\', '|'),
    k(KeyCode::KEY_COMMA, ',', '<'),
    k(KeyCode::KEY_DOT, '.', '>'),
    k(KeyCode::KEY_SLASH, '/', '?'),
];

/// German QWERTZ (Linux `de` layout, no dead keys: scanners send finished characters).
const DE: &[KeyChars] = &[
    ka(KeyCode::KEY_E, 'e', 'E', '€'),
    ka(KeyCode::KEY_Q, 'q', 'Q', '@'),
    k(KeyCode::KEY_Y, 'z', 'Z'),
    k(KeyCode::KEY_Z, 'y', 'Y'),
    k(KeyCode::KEY_1, '1', '!'),
    ka(KeyCode::KEY_2, '2', '"', '²'),
    ka(KeyCode::KEY_3, '3', '§', '³'),
    k(KeyCode::KEY_4, '4', '$'),
    k(KeyCode::KEY_5, '5', '%'),
    k(KeyCode::KEY_6, '6', '&'),
    ka(KeyCode::KEY_7, '7', '/', '{'),
    ka(KeyCode::KEY_8, '8', '(', '['),
    ka(KeyCode::KEY_9, '9', ')', ']'),
    ka(KeyCode::KEY_0, '0', '=', '}'),
    ka(KeyCode::KEY_MINUS, 'ß', '?', '\\'),
    k(KeyCode::KEY_EQUAL, '´', '`'),
    k(KeyCode::KEY_LEFTBRACE, 'ü', 'Ü'),
    ka(KeyCode::KEY_RIGHTBRACE, '+', '*', '~'),
    k(KeyCode::KEY_SEMICOLON, 'ö', 'Ö'),
    k(KeyCode::KEY_APOSTROPHE, 'ä', 'Ä'),
    k(KeyCode::KEY_GRAVE, '^', '°'),
    k(KeyCode::KEY_BACKSLASH, '#', '\''),
    k(KeyCode::KEY_COMMA, ',', ';'),
    k(KeyCode::KEY_DOT, '.', ':'),
    k(KeyCode::KEY_SLASH, '-', '_'),
    ka(KeyCode::KEY_102ND, '<', '>', '|'),
];

fn table(layout: KeyboardLayout) -> &'static [KeyChars] {
    match layout {
        KeyboardLayout::Us => US,
        KeyboardLayout::De => DE,
    }
}

/// The character `key` types in `layout` with these modifiers; `None` for a key that
/// types nothing a code can hold (F-keys, arrows, AltGr on a key without a third level).
pub fn char_for(layout: KeyboardLayout, key: KeyCode, shift: bool, alt_gr: bool, caps_lock: bool) -> Option<char> {
    let &(_, plain, shifted, third) = table(layout).iter().chain(COMMON).find(|(k, ..)| *k == key)?;
    if alt_gr {
        return third;
    }
    // Caps Lock shifts letters only, as on a keyboard.
    let shift = if plain.is_alphabetic() && shifted != plain { shift != caps_lock } else { shift };
    Some(if shift { shifted } else { plain })
}

/// The keystrokes a scanner programmed for `layout` sends for `text` and a terminator:
/// the inverse of [`KeyDecoder`], for the simulated HID scanner and for tests. Characters
/// the layout cannot type are left out.
pub fn keystrokes_for(layout: KeyboardLayout, text: &str, terminator: ScanTerminator) -> Vec<KeyStroke> {
    let mut out = Vec::new();
    for c in text.chars() {
        let Some(&(key, plain, shifted, third)) = table(layout).iter().chain(COMMON).find(|(_, p, s, t)| {
            *p == c || *s == c || *t == Some(c)
        }) else {
            continue;
        };
        let modifier = if c == plain {
            None
        } else if c == shifted {
            Some(KeyCode::KEY_LEFTSHIFT)
        } else {
            debug_assert_eq!(third, Some(c));
            Some(KeyCode::KEY_RIGHTALT)
        };
        out.extend(modifier.map(KeyStroke::down));
        out.extend([KeyStroke::down(key), KeyStroke::up(key)]);
        out.extend(modifier.map(KeyStroke::up));
    }
    let end = match terminator {
        ScanTerminator::Enter => KeyCode::KEY_ENTER,
        ScanTerminator::Tab => KeyCode::KEY_TAB,
    };
    out.extend([KeyStroke::down(end), KeyStroke::up(end)]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ScannerConfig {
        ScannerConfig::default()
    }

    fn keys(decoder: &mut KeyDecoder, strokes: &[KeyStroke]) -> Vec<Frame> {
        strokes.iter().filter_map(|s| decoder.feed(*s)).collect()
    }

    fn scans(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .filter_map(|f| match f {
                Frame::Scan(s) => Some(s.as_str()),
                Frame::Discarded(_) => None,
            })
            .collect()
    }

    /// What a shopper's code looks like (base64url and dots) and the other code forms.
    const CODES: &[&str] = &[
        "K1.eyJrIjoiYyIsImlkIjoiQzAwMDAwNiJ9.Zm9vYmFyLV9iYXo",
        "0420000000068",
        "310270",
        "O-1-2",
        "S1-STAFF",
        "Mixed Case 42_x-y.z",
    ];

    #[test]
    fn every_code_typed_in_each_layout_decodes_to_itself() {
        for layout in [KeyboardLayout::Us, KeyboardLayout::De] {
            for terminator in [ScanTerminator::Enter, ScanTerminator::Tab] {
                let mut c = cfg();
                c.layout = layout;
                let mut d = KeyDecoder::new(&c);
                for code in CODES {
                    let frames = keys(&mut d, &keystrokes_for(layout, code, terminator));
                    assert_eq!(frames, vec![Frame::Scan(code.to_string())], "{layout:?} {terminator:?}");
                }
            }
        }
    }

    /// The same keys mean different characters in each layout: a US-programmed decoder
    /// reading a German scanner gets Y and Z swapped and '-' as '/'.
    #[test]
    fn layouts_differ_where_keyboards_differ() {
        use KeyCode as K;
        let cases: &[(KeyboardLayout, &[KeyStroke], &str)] = &[
            (KeyboardLayout::Us, &[KeyStroke::down(K::KEY_Y), KeyStroke::down(K::KEY_Z)], "yz"),
            (KeyboardLayout::De, &[KeyStroke::down(K::KEY_Y), KeyStroke::down(K::KEY_Z)], "zy"),
            (KeyboardLayout::Us, &[KeyStroke::down(K::KEY_SLASH)], "/"),
            (KeyboardLayout::De, &[KeyStroke::down(K::KEY_SLASH)], "-"),
            (
                KeyboardLayout::Us,
                &[KeyStroke::down(K::KEY_LEFTSHIFT), KeyStroke::down(K::KEY_7), KeyStroke::up(K::KEY_LEFTSHIFT), KeyStroke::down(K::KEY_7)],
                "&7",
            ),
            (
                KeyboardLayout::De,
                &[KeyStroke::down(K::KEY_RIGHTSHIFT), KeyStroke::down(K::KEY_7), KeyStroke::up(K::KEY_RIGHTSHIFT), KeyStroke::down(K::KEY_7)],
                "/7",
            ),
            (KeyboardLayout::De, &[KeyStroke::down(K::KEY_RIGHTALT), KeyStroke::down(K::KEY_Q), KeyStroke::up(K::KEY_RIGHTALT)], "@"),
            (
                KeyboardLayout::Us,
                &[KeyStroke::down(K::KEY_CAPSLOCK), KeyStroke::up(K::KEY_CAPSLOCK), KeyStroke::down(K::KEY_A), KeyStroke::down(K::KEY_1)],
                "A1",
            ),
            (KeyboardLayout::Us, &[KeyStroke::down(K::KEY_KP4), KeyStroke::down(K::KEY_KP2)], "42"),
        ];
        for (layout, strokes, want) in cases {
            let mut c = cfg();
            c.layout = *layout;
            let mut d = KeyDecoder::new(&c);
            let mut all = strokes.to_vec();
            all.push(KeyStroke::down(K::KEY_KPENTER));
            assert_eq!(keys(&mut d, &all), vec![Frame::Scan(want.to_string())], "{layout:?} {strokes:?}");
        }
    }

    #[test]
    fn only_configured_terminators_end_a_scan() {
        let mut c = cfg();
        c.terminators = vec![ScanTerminator::Enter];
        let mut d = KeyDecoder::new(&c);
        // Tab is then a key with no character: the scan is unreadable, not two scans.
        let mut strokes = keystrokes_for(KeyboardLayout::Us, "123", ScanTerminator::Tab);
        strokes.extend(keystrokes_for(KeyboardLayout::Us, "456", ScanTerminator::Enter));
        let frames = keys(&mut d, &strokes);
        assert!(matches!(frames.as_slice(), [Frame::Discarded(_)]), "{frames:?}");
    }

    #[test]
    fn programmed_prefix_and_suffix_are_removed() {
        let mut c = cfg();
        c.prefix = "]E0".into();
        c.suffix = "#".into();
        let mut s = SerialDecoder::new(&c);
        let mut out = Vec::new();
        s.feed(b"]E00420000000068#\r\n0420000000075\r\n", &mut out);
        // A code without them (scanner reprogrammed) still passes, unchanged.
        assert_eq!(scans(&out), ["0420000000068", "0420000000075"]);
    }

    #[test]
    fn serial_line_ends_and_garbage() {
        let cases: &[(&[u8], &[&str], usize)] = &[
            (b"0420000000068\r", &["0420000000068"], 0),
            (b"0420000000068\n", &["0420000000068"], 0),
            (b"0420000000068\r\n310270\r\n", &["0420000000068", "310270"], 0),
            (b"\r\n\r\n", &[], 0),
            (b"04200\x0000068\r\n", &[], 1),
            (b"\xff\xfe\xfd\r", &[], 1),
            (b"caf\xc3\xa9\r", &[], 1),
            (b"\x1b[A\r310270\r", &["310270"], 1),
            (b"310270\t0420000000068\t", &["310270", "0420000000068"], 0),
        ];
        for (bytes, want, discarded) in cases {
            let mut s = SerialDecoder::new(&cfg());
            let mut out = Vec::new();
            s.feed(bytes, &mut out);
            assert_eq!(scans(&out), *want, "{bytes:?}");
            assert_eq!(out.iter().filter(|f| matches!(f, Frame::Discarded(_))).count(), *discarded, "{bytes:?}: {out:?}");
        }
    }

    #[test]
    fn a_4k_burst_without_terminator_is_dropped_and_the_next_scan_still_reads() {
        let mut s = SerialDecoder::new(&cfg());
        let mut out = Vec::new();
        let burst = vec![b'7'; 4096];
        s.feed(&burst, &mut out);
        assert_eq!(out.len(), 1, "one notice when the buffer fills");
        let Frame::Discarded(reason) = &out[0] else { panic!("{out:?}") };
        assert!(reason.contains("1024 characters without a terminator"), "{reason}");
        assert!(s.framer.buf.capacity() <= 1024, "the buffer is bounded");
        // The tail of the burst up to its terminator is not a code…
        s.feed(b"\r", &mut out);
        assert!(matches!(&out[1], Frame::Discarded(r) if r.contains("4096")), "{out:?}");
        // …and the next scan reads normally.
        s.feed(b"310270\r", &mut out);
        assert_eq!(out[2], Frame::Scan("310270".into()));
    }

    #[test]
    fn a_4k_burst_of_keystrokes_is_bounded_too() {
        let mut c = cfg();
        c.max_scan_chars = 64;
        let mut d = KeyDecoder::new(&c);
        let mut strokes = Vec::new();
        for _ in 0..4096 {
            strokes.extend([KeyStroke::down(KeyCode::KEY_5), KeyStroke::up(KeyCode::KEY_5)]);
        }
        let frames = keys(&mut d, &strokes);
        assert!(matches!(frames.as_slice(), [Frame::Discarded(_)]), "{frames:?}");
        assert!(d.framer.buf.capacity() <= 64);
        let frames = keys(&mut d, &keystrokes_for(KeyboardLayout::Us, "0420000000068", ScanTerminator::Enter));
        assert!(matches!(frames.as_slice(), [Frame::Discarded(_)]), "the burst ends at this Enter: {frames:?}");
        let frames = keys(&mut d, &keystrokes_for(KeyboardLayout::Us, "0420000000068", ScanTerminator::Enter));
        assert_eq!(frames, vec![Frame::Scan("0420000000068".into())]);
    }

    #[test]
    fn keys_that_type_nothing_make_a_scan_unreadable() {
        let mut d = KeyDecoder::new(&cfg());
        let mut strokes = vec![KeyStroke::down(KeyCode::KEY_F5), KeyStroke::down(KeyCode::KEY_UP)];
        strokes.extend(keystrokes_for(KeyboardLayout::Us, "310270", ScanTerminator::Enter));
        let frames = keys(&mut d, &strokes);
        assert!(matches!(frames.as_slice(), [Frame::Discarded(r)] if r.contains("unreadable")), "{frames:?}");
    }
}
