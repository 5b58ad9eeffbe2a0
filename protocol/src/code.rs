//! The signed code behind every QR the hub issues (customer app, order confirmation,
//! staff badge): `K1.<payload>.<sig>`, base64url without padding, an Ed25519 signature by
//! the hub over the ASCII bytes `K1.<payload>`. Kiosks verify it offline.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Longest code accepted; a real one is about 150 characters.
pub const MAX_CODE_LEN: usize = 512;
/// Longest id inside a code.
pub const MAX_ID_LEN: usize = 64;
/// Clock skew tolerated between the hub that issued a code and the kiosk reading it.
pub const MAX_SKEW_SECS: i64 = 300;

const PREFIX: &str = "K1.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Customer,
    Order,
    Staff,
}

impl CodeKind {
    fn letter(self) -> &'static str {
        match self {
            CodeKind::Customer => "c",
            CodeKind::Order => "o",
            CodeKind::Staff => "s",
        }
    }

    fn from_letter(s: &str) -> Option<CodeKind> {
        match s {
            "c" => Some(CodeKind::Customer),
            "o" => Some(CodeKind::Order),
            "s" => Some(CodeKind::Staff),
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
        })
    }
}

/// What a verified code says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeClaims {
    pub kind: CodeKind,
    pub id: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// The JSON inside the payload.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    k: String,
    id: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("not a K1 code")]
    NotK1,
    #[error("the code is longer than {MAX_CODE_LEN} characters")]
    TooLong,
    #[error("the code is damaged (bad base64)")]
    BadBase64,
    #[error("the signature does not match: the code was not issued by this chain's hub")]
    BadSignature,
    #[error("the code's content is unreadable: {0}")]
    BadPayload(String),
    #[error("the code's id is empty, too long or has unprintable characters")]
    BadId,
    #[error("the code expired (at {exp}, now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("the code is issued in the future (at {iat}, now {now}): check the kiosk's clock")]
    NotYetValid { iat: i64, now: i64 },
    #[error("the hub public key is not a valid Ed25519 key")]
    BadPublicKey,
}

/// Signs `claims` with the hub's key.
pub fn sign(key: &SigningKey, claims: &CodeClaims) -> String {
    let payload = Payload { k: claims.kind.letter().into(), id: claims.id.clone(), iat: claims.iat, exp: claims.exp };
    let json = serde_json::to_vec(&payload).expect("payload serialises");
    let signed = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let sig = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Verifies signature first, then content and time. Nothing in the payload is trusted
/// before the signature checks out.
pub fn verify(key: &VerifyingKey, code: &str, now: i64) -> Result<CodeClaims, CodeError> {
    if code.len() > MAX_CODE_LEN {
        return Err(CodeError::TooLong);
    }
    let rest = code.strip_prefix(PREFIX).ok_or(CodeError::NotK1)?;
    let (payload_b64, sig_b64) = rest.split_once('.').ok_or(CodeError::NotK1)?;
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| CodeError::BadBase64)?;
    let sig = Signature::from_slice(&sig_bytes).map_err(|_| CodeError::BadSignature)?;
    let signed = &code[..PREFIX.len() + payload_b64.len()];
    key.verify(signed.as_bytes(), &sig).map_err(|_| CodeError::BadSignature)?;

    let json = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| CodeError::BadBase64)?;
    let p: Payload = serde_json::from_slice(&json).map_err(|e| CodeError::BadPayload(e.to_string()))?;
    let kind = CodeKind::from_letter(&p.k).ok_or_else(|| CodeError::BadPayload(format!("unknown kind {:?}", p.k)))?;
    if p.id.is_empty() || p.id.len() > MAX_ID_LEN || !p.id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CodeError::BadId);
    }
    if p.iat > now + MAX_SKEW_SECS {
        return Err(CodeError::NotYetValid { iat: p.iat, now });
    }
    if now >= p.exp {
        return Err(CodeError::Expired { exp: p.exp, now });
    }
    Ok(CodeClaims { kind, id: p.id, iat: p.iat, exp: p.exp })
}

pub fn encode_public_key(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_public_key(s: &str) -> Result<VerifyingKey, CodeError> {
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| CodeError::BadPublicKey)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| CodeError::BadPublicKey)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| CodeError::BadPublicKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn claims(kind: CodeKind, id: &str) -> CodeClaims {
        CodeClaims { kind, id: id.into(), iat: NOW - 10, exp: NOW + 3600 }
    }

    fn tamper_payload(code: &str) -> String {
        let parts: Vec<&str> = code.split('.').collect();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(json.replace("C0001", "C0002"));
        format!("K1.{forged}.{}", parts[2])
    }

    #[test]
    fn verification_table() {
        let hub = key(1);
        let good = sign(&hub, &claims(CodeKind::Customer, "C0001"));
        let expired = sign(&hub, &CodeClaims { exp: NOW - 1, ..claims(CodeKind::Customer, "C0001") });
        let future = sign(&hub, &CodeClaims { iat: NOW + 3600, exp: NOW + 7200, ..claims(CodeKind::Customer, "C0001") });
        let other_hub = sign(&key(2), &claims(CodeKind::Customer, "C0001"));
        let cases: Vec<(String, Result<&str, CodeError>)> = vec![
            (good.clone(), Ok("C0001")),
            (sign(&hub, &claims(CodeKind::Staff, "S1-MGR")), Ok("S1-MGR")),
            (expired, Err(CodeError::Expired { exp: NOW - 1, now: NOW })),
            (future, Err(CodeError::NotYetValid { iat: NOW + 3600, now: NOW })),
            (other_hub, Err(CodeError::BadSignature)),
            (tamper_payload(&good), Err(CodeError::BadSignature)),
            (good[..good.len() - 4].to_string(), Err(CodeError::BadBase64)),
            (
                format!("{}.{}", &good[..good.rfind('.').unwrap()], URL_SAFE_NO_PAD.encode([0u8; 63])),
                Err(CodeError::BadSignature),
            ),
            (good[..20].to_string(), Err(CodeError::NotK1)),
            (format!("{good}=="), Err(CodeError::BadBase64)),
            ("K2.abc.def".into(), Err(CodeError::NotK1)),
            ("K1.!!!.???".into(), Err(CodeError::BadBase64)),
            ("K1.".to_string() + &"A".repeat(4096), Err(CodeError::TooLong)),
        ];
        for (code, expected) in cases {
            let got = verify(&hub.verifying_key(), &code, NOW).map(|c| c.id);
            assert_eq!(got.as_deref().map_err(Clone::clone), expected, "{code:.60}");
        }
    }

    #[test]
    fn kind_survives_the_round_trip() {
        let hub = key(3);
        for kind in [CodeKind::Customer, CodeKind::Order, CodeKind::Staff] {
            let c = verify(&hub.verifying_key(), &sign(&hub, &claims(kind, "X1")), NOW).unwrap();
            assert_eq!(c.kind, kind);
            assert_eq!(CodeKind::parse_word(&kind.to_string()), Some(kind));
        }
    }

    #[test]
    fn public_keys_round_trip_and_garbage_is_refused() {
        let k = key(4).verifying_key();
        assert_eq!(decode_public_key(&encode_public_key(&k)), Ok(k));
        assert_eq!(decode_public_key("short"), Err(CodeError::BadPublicKey));
    }

    proptest! {
        #[test]
        fn any_printable_id_round_trips(id in "[!-~]{1,64}") {
            let hub = key(5);
            let c = verify(&hub.verifying_key(), &sign(&hub, &claims(CodeKind::Order, &id)), NOW).unwrap();
            prop_assert_eq!(c.id, id);
        }

        #[test]
        fn verify_never_panics(s in "\\PC{0,600}") {
            let _ = verify(&key(6).verifying_key(), &s, NOW);
        }
    }
}
