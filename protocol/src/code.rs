//! The signed code behind every QR the hub issues (customer app, order confirmation, staff
//! badge): `K1.<payload>.<sig>`. Kiosks check it offline with the hub's public key from
//! enrolment, so nothing in the payload is read until the signature over it checks out.
//! The one code a device signs is its receipts' (`"k":"r"`), with a key of its own that
//! the hub publishes to the store ([`receipt_kind_of`] tells which key to check it with).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use ed25519_dalek::{Signature, Signer};
use serde::{Deserialize, Serialize};

/// Longest code looked at. A real one with a 64-character id is under 300 bytes; the cap
/// means a blob of noise costs a length check, not a base64 decode and a signature check.
pub const MAX_CODE_LEN: usize = 512;
/// Longest id inside a code; the hub's ids are at most 64 characters too.
pub const MAX_ID_LEN: usize = 64;
/// How far a code's issue time may lie ahead of the kiosk's clock: hub and kiosk clocks
/// drift apart, and a code shown right after it was issued must still work.
pub const MAX_SKEW_SECS: i64 = 300;

const PREFIX: &str = "K1.";
const SIGNATURE_LEN: usize = 64;

/// What a code identifies. Serialised as the word (`"customer"`); inside the payload it
/// is a single letter to keep the QR small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Customer,
    Order,
    Staff,
    /// A till receipt, signed by the device that printed it.
    Receipt,
}

impl CodeKind {
    fn letter(self) -> &'static str {
        match self {
            CodeKind::Customer => "c",
            CodeKind::Order => "o",
            CodeKind::Staff => "s",
            CodeKind::Receipt => "r",
        }
    }

    fn from_letter(s: &str) -> Option<CodeKind> {
        match s {
            "c" => Some(CodeKind::Customer),
            "o" => Some(CodeKind::Order),
            "s" => Some(CodeKind::Staff),
            "r" => Some(CodeKind::Receipt),
            _ => None,
        }
    }

    /// `customer`, `order` or `staff`, as typed on a command line.
    pub fn parse_word(s: &str) -> Option<CodeKind> {
        match s {
            "customer" => Some(CodeKind::Customer),
            "order" => Some(CodeKind::Order),
            "staff" => Some(CodeKind::Staff),
            _ => None,
        }
    }
}

impl std::fmt::Display for CodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CodeKind::Customer => "customer",
            CodeKind::Order => "order",
            CodeKind::Staff => "staff",
            CodeKind::Receipt => "receipt",
        })
    }
}

/// What a verified code says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeClaims {
    pub kind: CodeKind,
    /// Customer, order or staff id; 1 to [`MAX_ID_LEN`] printable ASCII characters.
    pub id: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds; the code is refused from this second on.
    pub exp: i64,
    /// A staff badge's version (`"v"`): a kiosk refuses a badge older than the colleague's
    /// record. 0 is not written, so unversioned codes read as they always did.
    #[serde(skip_serializing_if = "is_zero")]
    pub version: i64,
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    k: &'a str,
    id: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "is_zero")]
    v: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The payload as read: every field optional so a missing one gets its own error.
/// Unknown fields are refused: a newer hub that adds a restriction (say, one store only)
/// must not have it silently ignored by an older kiosk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIn {
    k: Option<String>,
    id: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    v: Option<i64>,
}

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Wrong prefix, no second dot, or a signature of the wrong size (a cut-off scan).
    #[error("the code is not in the form K1.<payload>.<signature>")]
    NotK1,
    #[error("the code is longer than {MAX_CODE_LEN} bytes, so the hub did not issue it")]
    TooLong,
    /// Includes padding and non-zero trailing bits: one code has exactly one spelling.
    #[error("the code is not canonical base64url without padding")]
    BadBase64,
    #[error("the signature does not match: the code was altered or not issued by this hub")]
    BadSignature,
    #[error("the code's content is not the JSON object the hub writes")]
    BadPayload,
    #[error("the code's content has no \"{0}\" field")]
    MissingField(&'static str),
    #[error("the code is of an unknown kind {0:?}")]
    UnknownKind(String),
    #[error("the code's id is empty, longer than {MAX_ID_LEN} characters or not printable ASCII")]
    BadId,
    #[error("the code expired at {exp}, and it is now {now}")]
    Expired { exp: i64, now: i64 },
    #[error("the code is issued at {iat}, over {MAX_SKEW_SECS} s after now ({now}): a clock is wrong")]
    IssuedInFuture { iat: i64, now: i64 },
    #[error("the hub's public key is not a usable Ed25519 key in base64url")]
    BadPublicKey,
}

/// Signs `claims` with the hub's key. The caller keeps the id within the rules of
/// [`CodeClaims::id`]; a code with any other id is refused by [`verify`].
pub fn sign(key: &SigningKey, claims: &CodeClaims) -> String {
    let payload = PayloadOut { k: claims.kind.letter(), id: &claims.id, iat: claims.iat, exp: claims.exp, v: claims.version };
    // Two strings and two integers: serde_json has no way to fail on them.
    let json = serde_json::to_vec(&payload).expect("a payload of strings and integers serialises");
    let signed = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let sig = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Checks `code` against the hub's key at time `now` (Unix seconds). The signature is
/// checked over the bytes as scanned, before the payload is decoded or parsed.
pub fn verify(key: &VerifyingKey, code: &str, now: i64) -> Result<CodeClaims, CodeError> {
    if code.len() > MAX_CODE_LEN {
        return Err(CodeError::TooLong);
    }
    let rest = code.strip_prefix(PREFIX).ok_or(CodeError::NotK1)?;
    let (payload_b64, sig_b64) = rest.split_once('.').ok_or(CodeError::NotK1)?;
    // URL_SAFE_NO_PAD refuses padding and non-zero trailing bits, so a signature has one
    // spelling and a code cannot be varied into a second, equally valid string.
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| CodeError::BadBase64)?;
    if sig_bytes.len() != SIGNATURE_LEN {
        return Err(CodeError::NotK1);
    }
    let sig = Signature::from_slice(&sig_bytes).map_err(|_| CodeError::NotK1)?;
    let signed = &code[..PREFIX.len() + payload_b64.len()];
    // Strict: also refuses small-order keys and signature points, under which one
    // signature could be made to fit other messages.
    key.verify_strict(signed.as_bytes(), &sig).map_err(|_| CodeError::BadSignature)?;

    // From here on the bytes are the hub's own; the checks catch a hub bug or a newer hub.
    let json = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| CodeError::BadBase64)?;
    let p: PayloadIn = serde_json::from_slice(&json).map_err(|_| CodeError::BadPayload)?;
    let k = p.k.ok_or(CodeError::MissingField("k"))?;
    let id = p.id.ok_or(CodeError::MissingField("id"))?;
    let iat = p.iat.ok_or(CodeError::MissingField("iat"))?;
    let exp = p.exp.ok_or(CodeError::MissingField("exp"))?;
    let kind = CodeKind::from_letter(&k).ok_or(CodeError::UnknownKind(k))?;
    // Graphic ASCII (no space, no control): ids end up in logs, SQL parameters and
    // command lines, and the hub never issues anything else.
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CodeError::BadId);
    }
    if iat > now.saturating_add(MAX_SKEW_SECS) {
        return Err(CodeError::IssuedInFuture { iat, now });
    }
    if now >= exp {
        return Err(CodeError::Expired { exp, now });
    }
    Ok(CodeClaims { kind, id, iat, exp, version: p.v.unwrap_or(0) })
}

/// Whether `code` claims to be a receipt code, and the receipt number it names — read
/// WITHOUT checking the signature, only to find the device key to [`verify`] it with.
pub fn receipt_kind_of(code: &str) -> Option<String> {
    if code.len() > MAX_CODE_LEN {
        return None;
    }
    let (payload_b64, _) = code.strip_prefix(PREFIX)?.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
    let p: PayloadIn = serde_json::from_slice(&json).ok()?;
    (p.k.as_deref() == Some("r")).then_some(p.id?)
}

/// A device's receipt-signing key from its 32 secret bytes.
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

/// The hub's public key as kiosks receive it at enrolment: base64url, no padding.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The fingerprint an operator compares by eye: `SHA256:` and the hex SHA-256 of the
/// key's 32 bytes (`omnikiosk-hub device add` prints it, `omnikiosk enroll
/// --hub-key-fingerprint` checks it).
pub fn key_fingerprint(key: &VerifyingKey) -> String {
    use sha2::Digest;
    format!("SHA256:{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
}

/// Reads a key written by [`encode_public_key`]. Small-order ("weak") keys are refused:
/// signatures under them can be forged without the private key.
pub fn decode_public_key(s: &str) -> Result<VerifyingKey, CodeError> {
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| CodeError::BadPublicKey)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| CodeError::BadPublicKey)?;
    let key = VerifyingKey::from_bytes(&arr).map_err(|_| CodeError::BadPublicKey)?;
    if key.is_weak() {
        return Err(CodeError::BadPublicKey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn hub() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    fn claims(kind: CodeKind, id: &str) -> CodeClaims {
        CodeClaims { kind, id: id.into(), iat: NOW - 10, exp: NOW + 3600, version: 0 }
    }

    fn customer() -> String {
        sign(&hub(), &claims(CodeKind::Customer, "C0001"))
    }

    /// A code the hub signed over an arbitrary payload: reaches the checks behind the
    /// signature, which no forger can.
    fn signed_raw(json: &str) -> String {
        let signed = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(hub().sign(signed.as_bytes()).to_bytes()))
    }

    fn parts(code: &str) -> (String, String) {
        let mut it = code.splitn(3, '.').skip(1);
        (it.next().unwrap_or_default().to_string(), it.next().unwrap_or_default().to_string())
    }

    /// The customer code with its id changed and the payload re-encoded; old signature.
    fn tampered_payload() -> String {
        let (payload, sig) = parts(&customer());
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        format!("K1.{}.{sig}", URL_SAFE_NO_PAD.encode(json.replace("C0001", "C0002")))
    }

    /// The same signature bytes spelt with non-zero trailing bits. 64 bytes leave 4 spare
    /// bits in the last character; a lenient decoder would read the same signature.
    fn non_canonical_signature() -> String {
        let code = customer();
        let last = code.as_bytes()[code.len() - 1];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = alphabet.iter().position(|&c| c == last).unwrap();
        format!("{}{}", &code[..code.len() - 1], alphabet[pos + 1] as char)
    }

    fn other_kiosk_clock(iat: i64, exp: i64) -> String {
        sign(&hub(), &CodeClaims { iat, exp, ..claims(CodeKind::Customer, "C0001") })
    }

    /// One row: the code, and the id it verifies to or the error.
    fn check(code: &str, expected: Result<&str, CodeError>) {
        let got = verify(&hub().verifying_key(), code, NOW).map(|c| c.id);
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "code {code:.80}");
    }

    #[test]
    fn verification_table() {
        let good = customer();
        let (payload, sig) = parts(&good);
        let longest_id = "O".repeat(64);
        let cases: Vec<(String, Result<&str, CodeError>)> = vec![
            (good.clone(), Ok("C0001")),
            (sign(&hub(), &claims(CodeKind::Staff, "S1-MGR")), Ok("S1-MGR")),
            (sign(&hub(), &claims(CodeKind::Order, &longest_id)), Ok(longest_id.as_str())),
            // Time: expiry is exclusive, the skew allowance inclusive.
            (other_kiosk_clock(NOW - 100, NOW + 1), Ok("C0001")),
            (other_kiosk_clock(NOW - 100, NOW), Err(CodeError::Expired { exp: NOW, now: NOW })),
            (other_kiosk_clock(NOW + 300, NOW + 900), Ok("C0001")),
            (other_kiosk_clock(NOW + 301, NOW + 900), Err(CodeError::IssuedInFuture { iat: NOW + 301, now: NOW })),
            (other_kiosk_clock(i64::MAX, i64::MAX), Err(CodeError::IssuedInFuture { iat: i64::MAX, now: NOW })),
            // Forged, tampered, wrong key.
            (
                sign(&SigningKey::from_bytes(&[2; 32]), &claims(CodeKind::Customer, "C0001")),
                Err(CodeError::BadSignature),
            ),
            (tampered_payload(), Err(CodeError::BadSignature)),
            (format!("K1.{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 64])), Err(CodeError::BadSignature)),
            (format!("K1.{payload}A.{sig}"), Err(CodeError::BadSignature)),
            (format!("K1.{}.{sig}", &payload[..payload.len() - 1]), Err(CodeError::BadSignature)),
            // One spelling per code.
            (non_canonical_signature(), Err(CodeError::BadBase64)),
            (format!("{good}=="), Err(CodeError::BadBase64)),
            (
                format!("K1.{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]).replace('A', "+")),
                Err(CodeError::BadBase64),
            ),
            // Cut short by a bad scan.
            (good[..good.len() - 1].to_string(), Err(CodeError::BadBase64)),
            (good[..good.len() - 2].to_string(), Err(CodeError::NotK1)),
            (format!("K1.{payload}."), Err(CodeError::NotK1)),
            (format!("K1.{payload}"), Err(CodeError::NotK1)),
            ("K1.".into(), Err(CodeError::NotK1)),
            (format!("K2.{payload}.{sig}"), Err(CodeError::NotK1)),
            (format!("k1.{payload}.{sig}"), Err(CodeError::NotK1)),
            (format!("{good}.extra"), Err(CodeError::BadBase64)),
            ("K1.".to_string() + &"A".repeat(4096), Err(CodeError::TooLong)),
            // Signed by the hub but not what a kiosk can use (a hub bug, or a newer hub).
            (signed_raw("not json"), Err(CodeError::BadPayload)),
            (signed_raw(r#"{"k":"c","id":"C1","iat":1,"exp":"soon"}"#), Err(CodeError::BadPayload)),
            (signed_raw(r#"{"k":"c","id":"C1","iat":1,"exp":2,"store":"S9"}"#), Err(CodeError::BadPayload)),
            (signed_raw(r#"{"k":"c","id":"C1","id":"C2","iat":1,"exp":2}"#), Err(CodeError::BadPayload)),
            (signed_raw(r#"{"k":"c","iat":1,"exp":2}"#), Err(CodeError::MissingField("id"))),
            (signed_raw(r#"{"id":"C1","iat":1,"exp":2}"#), Err(CodeError::MissingField("k"))),
            (signed_raw(r#"{"k":"c","id":"C1","iat":1}"#), Err(CodeError::MissingField("exp"))),
            (signed_raw(r#"{"k":"g","id":"C1","iat":1,"exp":2}"#), Err(CodeError::UnknownKind("g".into()))),
            (sign(&hub(), &claims(CodeKind::Customer, "")), Err(CodeError::BadId)),
            (sign(&hub(), &claims(CodeKind::Customer, &"C".repeat(65))), Err(CodeError::BadId)),
            (sign(&hub(), &claims(CodeKind::Customer, "C 1")), Err(CodeError::BadId)),
            (sign(&hub(), &claims(CodeKind::Customer, "C1\n")), Err(CodeError::BadId)),
            (sign(&hub(), &claims(CodeKind::Customer, "Ç1")), Err(CodeError::BadId)),
        ];
        for (code, expected) in cases {
            check(&code, expected);
        }
    }

    #[test]
    fn kind_and_times_survive_the_round_trip() {
        for kind in [CodeKind::Customer, CodeKind::Order, CodeKind::Staff] {
            let c = claims(kind, "X1");
            assert_eq!(verify(&hub().verifying_key(), &sign(&hub(), &c), NOW), Ok(c));
            assert_eq!(CodeKind::parse_word(&kind.to_string()), Some(kind));
        }
        assert_eq!(CodeKind::parse_word("Customer"), None);
    }

    #[test]
    fn a_badge_carries_its_version_and_an_unversioned_code_reads_as_before() {
        let badge = CodeClaims { version: 3, ..claims(CodeKind::Staff, "S1-7") };
        let code = sign(&hub(), &badge);
        let json = URL_SAFE_NO_PAD.decode(parts(&code).0).unwrap();
        assert!(String::from_utf8(json).unwrap().ends_with(r#","v":3}"#));
        assert_eq!(verify(&hub().verifying_key(), &code, NOW), Ok(badge));
        let old = sign(&hub(), &claims(CodeKind::Staff, "S1-STAFF"));
        assert!(!String::from_utf8(URL_SAFE_NO_PAD.decode(parts(&old).0).unwrap()).unwrap().contains("\"v\""));
        assert_eq!(verify(&hub().verifying_key(), &old, NOW).map(|c| c.version), Ok(0));
    }

    #[test]
    fn payload_is_the_documented_json() {
        let code = sign(
            &hub(),
            &CodeClaims { kind: CodeKind::Customer, id: "C0001".into(), iat: 1_700_000_000, exp: 1_702_592_000, version: 0 },
        );
        let json = URL_SAFE_NO_PAD.decode(parts(&code).0).unwrap();
        assert_eq!(std::str::from_utf8(&json), Ok(r#"{"k":"c","id":"C0001","iat":1700000000,"exp":1702592000}"#));
    }

    #[test]
    fn claims_serialise_with_the_kind_as_a_word() {
        let json = serde_json::to_value(claims(CodeKind::Order, "O-1")).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "order", "id": "O-1", "iat": NOW - 10, "exp": NOW + 3600}));
    }

    #[test]
    fn public_keys_round_trip_and_unusable_ones_are_refused() {
        let k = hub().verifying_key();
        assert_eq!(decode_public_key(&encode_public_key(&k)), Ok(k));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for bad in [
            "",
            "short",
            &URL_SAFE_NO_PAD.encode([7u8; 31]),
            &format!("{}=", encode_public_key(&k)),
            &URL_SAFE_NO_PAD.encode(identity),
        ] {
            assert_eq!(decode_public_key(bad), Err(CodeError::BadPublicKey), "{bad}");
        }
    }

    fn any_kind() -> impl Strategy<Value = CodeKind> {
        prop_oneof![Just(CodeKind::Customer), Just(CodeKind::Order), Just(CodeKind::Staff)]
    }

    proptest! {
        #[test]
        fn any_valid_id_round_trips(kind in any_kind(), id in "[!-~]{1,64}", age in 0i64..1_000_000, life in 1i64..100_000_000) {
            let c = CodeClaims { kind, id, iat: NOW - age, exp: NOW + life, version: 0 };
            prop_assert_eq!(verify(&hub().verifying_key(), &sign(&hub(), &c), NOW), Ok(c));
        }

        #[test]
        fn any_one_changed_character_is_refused(pos in 0usize..200, c in any::<char>()) {
            let good = customer();
            let pos = pos % good.len();
            prop_assume!(!good[pos..].starts_with(c));
            let bad = format!("{}{c}{}", &good[..pos], &good[pos + 1..]);
            prop_assert!(verify(&hub().verifying_key(), &bad, NOW).is_err(), "{} accepted", bad);
        }

        #[test]
        fn verify_never_panics(s in proptest::collection::vec(any::<char>(), 0..600)) {
            let s: String = s.into_iter().collect();
            let _ = verify(&hub().verifying_key(), &s, NOW);
            let _ = verify(&hub().verifying_key(), &format!("K1.{s}"), NOW);
        }
    }
}
