//! One function that says what any scanned or typed string is: a signed customer, order
//! or staff code, a loyalty card, a pickup code, a product — or, in one sentence a shopper
//! understands, why it is none of them. It never panics and trusts nothing it has not checked.

use ed25519_dalek::VerifyingKey;

use crate::code::{self, CodeClaims, CodeError, CodeKind};
use crate::gtin::{Gtin, GtinError, LoyaltyCard, PickupCode};

/// Longest input looked at, in bytes, before any other work: a real code is under 300
/// bytes, so anything longer is noise or an attack and must cost nothing.
pub const MAX_SCAN_LEN: usize = 1024;

/// What was scanned, with everything in it already checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Scan {
    Customer(CodeClaims),
    Order(CodeClaims),
    Staff(CodeClaims),
    LoyaltyCard(LoyaltyCard),
    PickupCode(PickupCode),
    Product(Gtin),
    /// A receipt's QR: the number it names, and the code, whose signature is NOT checked
    /// yet — it is the printing device's, so the caller checks it with that device's key
    /// ([`crate::code::verify`]).
    Receipt { number: String, code: String },
}

impl Scan {
    /// Stable snake_case name, used in `--json` output and logs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Scan::Customer(_) => "customer",
            Scan::Order(_) => "order",
            Scan::Staff(_) => "staff",
            Scan::LoyaltyCard(_) => "loyalty_card",
            Scan::PickupCode(_) => "pickup_code",
            Scan::Product(_) => "product",
            Scan::Receipt { .. } => "receipt",
        }
    }
}

/// What the classifier needs to know about the kiosk.
#[derive(Debug, Clone, Copy)]
pub struct ScanContext<'a> {
    /// The hub's key from enrolment; without it signed codes cannot be checked.
    pub hub_key: Option<&'a VerifyingKey>,
    /// Now, Unix seconds, for expiry.
    pub now: i64,
    /// The chain's loyalty-card prefix (config, default [`crate::gtin::DEFAULT_LOYALTY_PREFIX`]).
    pub loyalty_prefix: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reason {
    Empty,
    TooLong,
    NoHubKey,
    /// Kept whole so `Debug` (logs) shows the times of an expired code.
    Code(CodeError),
    BadCheckDigit,
    UnknownFormat,
}

/// Why a scan is not recognised. `Display` is the sentence for the screen; [`code`]
/// is the stable reason for machines.
///
/// [`code`]: NotRecognised::code
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRecognised {
    reason: Reason,
}

impl NotRecognised {
    fn new(reason: Reason) -> Self {
        NotRecognised { reason }
    }

    /// Stable snake_case reason: `empty`, `too_long`, `no_hub_key`, `damaged_code`,
    /// `bad_signature`, `expired`, `not_yet_valid`, `unsupported_code`, `bad_hub_key`,
    /// `bad_check_digit` or `unknown_format`.
    pub fn code(&self) -> &'static str {
        match &self.reason {
            Reason::Empty => "empty",
            Reason::TooLong | Reason::Code(CodeError::TooLong) => "too_long",
            Reason::NoHubKey => "no_hub_key",
            Reason::Code(CodeError::NotK1 | CodeError::BadBase64) => "damaged_code",
            Reason::Code(CodeError::BadSignature) => "bad_signature",
            Reason::Code(CodeError::Expired { .. }) => "expired",
            Reason::Code(CodeError::IssuedInFuture { .. }) => "not_yet_valid",
            Reason::Code(
                CodeError::BadPayload | CodeError::MissingField(_) | CodeError::UnknownKind(_) | CodeError::BadId,
            ) => "unsupported_code",
            Reason::Code(CodeError::BadPublicKey) => "bad_hub_key",
            Reason::BadCheckDigit => "bad_check_digit",
            Reason::UnknownFormat => "unknown_format",
        }
    }

    fn sentence(&self) -> &'static str {
        match &self.reason {
            Reason::Empty => "nothing was scanned",
            Reason::TooLong | Reason::Code(CodeError::TooLong) => "it is far too long to be one of ours",
            Reason::NoHubKey => "this kiosk is not enrolled yet, so it cannot check app codes, order codes or badges",
            Reason::Code(CodeError::NotK1 | CodeError::BadBase64) => {
                "it looks damaged or cut short, please scan it again"
            }
            Reason::Code(CodeError::BadSignature) => "it was not issued by this shop or it has been altered",
            Reason::Code(CodeError::Expired { .. }) => {
                "it has expired, please open the app or the e-mail again for a fresh one"
            }
            Reason::Code(CodeError::IssuedInFuture { .. }) => {
                "it is not valid yet, the kiosk's clock may be wrong, please ask a member of staff"
            }
            Reason::Code(
                CodeError::BadPayload | CodeError::MissingField(_) | CodeError::UnknownKind(_) | CodeError::BadId,
            ) => "it is one of ours, but this kiosk cannot use it, please ask a member of staff",
            Reason::Code(CodeError::BadPublicKey) => {
                "this kiosk's copy of the shop's key is unusable, please ask a member of staff"
            }
            Reason::BadCheckDigit => "the check digit is wrong, please scan it again",
            Reason::UnknownFormat => {
                "it is not a loyalty card, app or order code, staff badge, pickup code or product barcode"
            }
        }
    }
}

impl std::fmt::Display for NotRecognised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "code not recognised: {}", self.sentence())
    }
}

impl std::error::Error for NotRecognised {}

/// Says what `input` is. Checks come in order of cost: length, shape, then signature
/// or check digit, so noise is refused before any real work.
pub fn classify(input: &str, ctx: &ScanContext<'_>) -> Result<Scan, NotRecognised> {
    if input.len() > MAX_SCAN_LEN {
        return Err(NotRecognised::new(Reason::TooLong));
    }
    // Scanners end a read with CR, LF or TAB and some frame it with STX/ETX; people
    // paste with spaces. None of these can be part of a code.
    let s = input.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if s.is_empty() {
        return Err(NotRecognised::new(Reason::Empty));
    }
    if s.starts_with("K1.") {
        if let Some(number) = code::receipt_kind_of(s) {
            return Ok(Scan::Receipt { number, code: s.to_string() });
        }
        let key = ctx.hub_key.ok_or(NotRecognised::new(Reason::NoHubKey))?;
        let claims = code::verify(key, s, ctx.now).map_err(|e| NotRecognised::new(Reason::Code(e)))?;
        return Ok(match claims.kind {
            CodeKind::Customer => Scan::Customer(claims),
            CodeKind::Order => Scan::Order(claims),
            CodeKind::Staff => Scan::Staff(claims),
            // The hub signs no receipts: one under its key is not a code it issued.
            CodeKind::Receipt => return Err(NotRecognised::new(Reason::Code(CodeError::UnknownKind("r".into())))),
        });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotRecognised::new(Reason::UnknownFormat));
    }
    // Shape is settled above, so the only way these parsers can still refuse is the check digit.
    let digit_error = |e: GtinError| match e {
        GtinError::BadCheckDigit { .. } => NotRecognised::new(Reason::BadCheckDigit),
        GtinError::WrongLength { .. } | GtinError::NotDigits | GtinError::NotLoyaltyPrefix { .. } => {
            NotRecognised::new(Reason::UnknownFormat)
        }
    };
    match s.len() {
        6 => PickupCode::parse(s).map(Scan::PickupCode).map_err(digit_error),
        // The prefix decides before the check digit does: a loyalty card is never a product.
        13 if s.starts_with(ctx.loyalty_prefix) => {
            LoyaltyCard::parse(s, ctx.loyalty_prefix).map(Scan::LoyaltyCard).map_err(digit_error)
        }
        8 | 12 | 13 => Gtin::parse(s).map(Scan::Product).map_err(digit_error),
        _ => Err(NotRecognised::new(Reason::UnknownFormat)),
    }
}
