//! Staff PINs: how a PIN is stored, checked and migrated — the one home of that rule, for
//! the hub (which hashes the PINs it hands out) and the kiosk (which checks them offline).
//!
//! The stored value is an Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`, so
//! the cost can change later without a format change) over a SHA-256 pre-hash of the
//! record's salt-hex followed by the PIN. The pre-hash is exactly what older releases
//! stored, so [`upgrade_legacy`] turns a legacy row into a current one without knowing
//! the PIN, and every row is checked the same way. The Argon2 salt is the record's own
//! `pin_salt`, which makes hashing a pure function: the hub and a kiosk upgrading the same
//! legacy row write the same string.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

use crate::wire::StaffRecord;

/// Argon2id memory cost in KiB (OWASP's first recommended setting: 19 MiB, t=2, p=1).
/// On a Raspberry Pi 4 one check stays well under a second (docs/DECISIONS.md).
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2id passes over the memory.
pub const ITERATIONS: u32 = 2;
/// Argon2id lanes: one, as a kiosk checks one PIN at a time on a small CPU.
pub const PARALLELISM: u32 = 1;

/// The most memory a stored value may ask for (256 MiB): a corrupt or hostile value must
/// not exhaust a Pi's memory when a PIN is checked against it.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
/// The most passes a stored value may ask for.
const MAX_ITERATIONS: u32 = 16;
/// The most lanes a stored value may ask for.
const MAX_PARALLELISM: u32 = 4;

/// Why a PIN could not be hashed or checked (a wrong PIN is not an error: `Ok(false)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("the PIN salt is not 8 to 48 bytes of hex")]
    BadSalt,
    #[error("the stored PIN hash is a legacy SHA-256 value: upgrade it with pin::upgrade_legacy first")]
    Legacy,
    #[error("the stored PIN hash is not an Argon2id PHC string within limits: {0}")]
    Malformed(String),
}

/// Digits a PIN a colleague chooses at a kiosk has: the PIN pad takes up to six.
pub const CHOSEN_PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=6;

/// Why a PIN a colleague chose is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChosenPinError {
    #[error("a PIN is 4 to 6 digits")]
    NotDigits,
    /// One digit repeated (0000, 7777) or a straight run up or down (1234, 4321, 2345):
    /// the first PINs anyone tries with a found badge.
    #[error("that PIN is too easy to guess: no repeated digit like 0000 and no run like 1234 or 4321")]
    Trivial,
}

/// Whether `pin` may be chosen as a colleague's PIN: the one rule, run by the kiosk's
/// PIN pad (the hub never sees a PIN, only its hash).
pub fn check_chosen(pin: &str) -> Result<(), ChosenPinError> {
    let digits: Vec<i32> = pin.chars().map(|c| c.to_digit(10).map(|d| d as i32)).collect::<Option<_>>().ok_or(ChosenPinError::NotDigits)?;
    if !CHOSEN_PIN_DIGITS.contains(&digits.len()) {
        return Err(ChosenPinError::NotDigits);
    }
    let steps: Vec<i32> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    if [-1, 0, 1].iter().any(|step| steps.iter().all(|s| s == step)) {
        return Err(ChosenPinError::Trivial);
    }
    Ok(())
}

/// The value to store for `pin` under the record's `salt_hex` (the hub's seed and staff
/// changes call this).
pub fn hash(salt_hex: &str, pin: &str) -> Result<String, PinError> {
    wrap(salt_hex, &prehash(salt_hex, pin))
}

/// Whether `pin` is the PIN of a record holding `salt_hex` and `stored`. The comparison is
/// the argon2 crate's, in constant time; the cost parameters are read from `stored`.
pub fn verify(salt_hex: &str, pin: &str, stored: &str) -> Result<bool, PinError> {
    let parsed = parse(stored)?;
    match argon2().verify_password(&prehash(salt_hex, pin), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PinError::Malformed(e.to_string())),
    }
}

/// The current value for a stored one: `Some(argon2id)` for a legacy SHA-256 hex value
/// (wrapped without knowing the PIN), `None` for a value that is already Argon2id (so a
/// migration may call it on every row), an error for anything else.
pub fn upgrade_legacy(salt_hex: &str, stored: &str) -> Result<Option<String>, PinError> {
    if !is_legacy(stored) {
        return parse(stored).map(|_| None);
    }
    let mut legacy = [0u8; 32];
    hex::decode_to_slice(stored, &mut legacy).map_err(|e| PinError::Malformed(e.to_string()))?;
    wrap(salt_hex, &legacy).map(Some)
}

/// [`upgrade_legacy`] on a record (a hub's `staff` row or the `Change::Staff` body of its
/// feed): `true` when its `pin_hash` was legacy and now is Argon2id.
pub fn upgrade_record(staff: &mut StaffRecord) -> Result<bool, PinError> {
    match upgrade_legacy(&staff.pin_salt, &staff.pin_hash)? {
        Some(current) => {
            staff.pin_hash = current;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Whether `stored` is what releases before Argon2id stored: hex SHA-256 (64 hex digits).
pub fn is_legacy(stored: &str) -> bool {
    stored.len() == 64 && stored.bytes().all(|b| b.is_ascii_hexdigit())
}

/// SHA-256 of the salt's hex text followed by the PIN: the legacy value, as bytes.
fn prehash(salt_hex: &str, pin: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt_hex.as_bytes());
    h.update(pin.as_bytes());
    h.finalize().into()
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("the PIN cost parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn wrap(salt_hex: &str, prehash: &[u8; 32]) -> Result<String, PinError> {
    let salt = hex::decode(salt_hex).map_err(|_| PinError::BadSalt)?;
    if !(argon2::MIN_SALT_LEN..=48).contains(&salt.len()) {
        return Err(PinError::BadSalt);
    }
    let salt = SaltString::encode_b64(&salt).map_err(|_| PinError::BadSalt)?;
    let hashed = argon2().hash_password(prehash, &salt).map_err(|e| PinError::Malformed(e.to_string()))?;
    Ok(hashed.to_string())
}

/// A stored value as an Argon2id hash with a salt, an output and bounded cost.
fn parse(stored: &str) -> Result<PasswordHash<'_>, PinError> {
    if is_legacy(stored) {
        return Err(PinError::Legacy);
    }
    let parsed = PasswordHash::new(stored).map_err(|e| PinError::Malformed(e.to_string()))?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(PinError::Malformed(format!("algorithm {}", parsed.algorithm)));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PinError::Malformed("no salt or no hash".into()));
    }
    let params = Params::try_from(&parsed).map_err(|e| PinError::Malformed(e.to_string()))?;
    if params.m_cost() > MAX_MEMORY_KIB || params.t_cost() > MAX_ITERATIONS || params.p_cost() > MAX_PARALLELISM {
        return Err(PinError::Malformed(format!("cost m={} t={} p={}", params.m_cost(), params.t_cost(), params.p_cost())));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "00112233445566778899aabbccddeeff";

    /// What releases before Argon2id stored for `pin` (the SHA-256 hex that `wire::pin_hash` made).
    fn legacy(salt_hex: &str, pin: &str) -> String {
        hex::encode(prehash(salt_hex, pin))
    }

    #[test]
    fn chosen_pins() {
        use ChosenPinError::*;
        let cases: &[(&str, Result<(), ChosenPinError>)] = &[
            ("0000", Err(Trivial)),
            ("7777", Err(Trivial)),
            ("999999", Err(Trivial)),
            ("1234", Err(Trivial)),
            ("2345", Err(Trivial)),
            ("6789", Err(Trivial)),
            ("123456", Err(Trivial)),
            ("4321", Err(Trivial)),
            ("9876", Err(Trivial)),
            ("543210", Err(Trivial)),
            ("1357", Ok(())),
            ("2580", Ok(())),
            ("1123", Ok(())),
            ("8901", Ok(())),
            ("0987", Ok(())),
            ("12345", Err(Trivial)),
            ("482916", Ok(())),
            ("123", Err(NotDigits)),
            ("", Err(NotDigits)),
            ("1234567", Err(NotDigits)),
            ("12a4", Err(NotDigits)),
            ("１２３５", Err(NotDigits)),
        ];
        for (pin, expected) in cases {
            assert_eq!(check_chosen(pin), *expected, "PIN {pin:?}");
        }
    }

    #[test]
    fn a_stored_value_is_argon2id_with_its_parameters() {
        let stored = hash(SALT, "1234").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(!stored.contains("1234"));
        // A pure function of salt and PIN: the hub and kiosks agree on upgraded rows.
        assert_eq!(stored, hash(SALT, "1234").unwrap());
        assert_ne!(stored, hash("ffeeddccbbaa99887766554433221100", "1234").unwrap());
    }

    #[test]
    fn pins_against_stored_values() {
        let current = hash(SALT, "1234").unwrap();
        let upgraded = upgrade_legacy(SALT, &legacy(SALT, "1234")).unwrap().expect("a legacy value is upgraded");
        let weaker = {
            // A value hashed with other (older or newer) parameters still verifies: they are in the string.
            let params = Params::new(8 * 1024, 1, 1, None).unwrap();
            let salt = SaltString::encode_b64(&hex::decode(SALT).unwrap()).unwrap();
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(&prehash(SALT, "1234"), &salt).unwrap().to_string()
        };
        let cases: &[(&str, &str, &str, Result<bool, PinError>)] = &[
            ("right PIN", "1234", &current, Ok(true)),
            ("wrong PIN", "1235", &current, Ok(false)),
            ("empty PIN", "", &current, Ok(false)),
            ("PIN with a digit more", "12345", &current, Ok(false)),
            ("legacy upgraded, right PIN", "1234", &upgraded, Ok(true)),
            ("legacy upgraded, wrong PIN", "4321", &upgraded, Ok(false)),
            ("other parameters, right PIN", "1234", &weaker, Ok(true)),
            ("other parameters, wrong PIN", "0000", &weaker, Ok(false)),
        ];
        for (name, pin, stored, expected) in cases {
            assert_eq!(&verify(SALT, pin, stored), expected, "{name}");
        }
        assert_eq!(upgraded, current, "upgrading a legacy value gives what hashing the PIN gives");
    }

    #[test]
    fn malformed_stored_values_are_refused_without_panic() {
        let current = hash(SALT, "1234").unwrap();
        let huge = current.replace("m=19456", "m=4194304");
        let argon2i = current.replace("$argon2id$", "$argon2i$");
        let cases: &[(&str, &str, fn(&PinError) -> bool)] = &[
            ("empty", "", |e| matches!(e, PinError::Malformed(_))),
            ("garbage", "not a hash", |e| matches!(e, PinError::Malformed(_))),
            ("legacy, not upgraded", &legacy(SALT, "1234"), |e| *e == PinError::Legacy),
            ("truncated", &current[..current.len() - 10], |e| matches!(e, PinError::Malformed(_))),
            ("no hash", current.rsplit_once('$').unwrap().0, |e| matches!(e, PinError::Malformed(_))),
            ("other algorithm", &argon2i, |e| matches!(e, PinError::Malformed(_))),
            ("4 GiB of memory", &huge, |e| matches!(e, PinError::Malformed(_))),
            ("bcrypt", "$2b$12$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui", |e| matches!(e, PinError::Malformed(_))),
        ];
        for (name, stored, is_expected) in cases {
            match verify(SALT, "1234", stored) {
                Err(e) => assert!(is_expected(&e), "{name}: {e:?}"),
                Ok(v) => panic!("{name}: accepted as {v}"),
            }
            if *name != "legacy, not upgraded" {
                assert!(upgrade_legacy(SALT, stored).is_err(), "{name}: upgraded");
            }
        }
    }

    #[test]
    fn a_staff_record_is_upgraded_once() {
        let mut staff = StaffRecord {
            id: "S1-STAFF".into(),
            name: "Kasia".into(),
            role: crate::wire::StaffRole::Staff,
            store_id: 1,
            pin_salt: SALT.into(),
            pin_hash: legacy(SALT, "1234"),
            till: false,
            badge_version: 0,
        };
        assert_eq!(upgrade_record(&mut staff), Ok(true));
        assert_eq!(staff.pin_hash, hash(SALT, "1234").unwrap());
        assert_eq!(upgrade_record(&mut staff), Ok(false), "a second run changes nothing");
        assert_eq!(verify(SALT, "1234", &staff.pin_hash), Ok(true));
    }

    #[test]
    fn upgrading_leaves_current_values_and_refuses_bad_salts() {
        let current = hash(SALT, "1234").unwrap();
        assert_eq!(upgrade_legacy(SALT, &current), Ok(None));
        for salt in ["", "zz", "0011", "00112233445566"] {
            assert_eq!(upgrade_legacy(salt, &legacy(salt, "1234")), Err(PinError::BadSalt), "salt {salt:?}");
            assert_eq!(hash(salt, "1234"), Err(PinError::BadSalt), "salt {salt:?}");
        }
    }
}
