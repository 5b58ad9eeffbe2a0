//! Pairing a kiosk with its hub: the token tells the hub which store this device serves;
//! the hub tells the kiosk its store and the public key that verifies codes offline.

use omnikiosk_protocol::code::{decode_public_key, key_fingerprint};

use super::{blocking, HubClient, SyncError};
use crate::config::SyncConfig;
use crate::store::{Enrolment, LocalStore};

/// What an operator gives at enrolment beside the hub's address and the device token.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Allow plain `http://` to a hub that is not on this machine.
    pub insecure: bool,
    /// The private CA of the hub's certificate (PEM), kept for every later command.
    pub hub_ca: Option<String>,
    /// The hub key's fingerprint as `omnikiosk-hub device add` printed it: enrolment is
    /// refused when the hub answers with another key (a man in the middle).
    pub hub_key_fingerprint: Option<String>,
}

pub async fn enroll(store: &LocalStore, hub_url: &str, token: &str, trust: Trust, cfg: &SyncConfig) -> Result<Enrolment, SyncError> {
    let Trust { insecure, hub_ca, hub_key_fingerprint } = trust;
    let client = HubClient::trusting(hub_url, token, insecure, hub_ca.as_deref(), cfg)?;
    let info = client.device().await?;
    let key = decode_public_key(&info.hub_public_key)
        .map_err(|e| SyncError::BadResponse(format!("the hub's public key is unusable: {e}")))?;
    if let Some(expected) = hub_key_fingerprint {
        let got = key_fingerprint(&key);
        if !same_fingerprint(&expected, &got) {
            return Err(SyncError::BadResponse(format!(
                "the hub at {hub_url} answered with key {got}, not {expected}: not enrolled (someone may stand between this kiosk and its hub)"
            )));
        }
    }
    let enrolment = Enrolment {
        hub_url: client.base_url().to_string(),
        device_token: token.to_string(),
        device_id: info.device_id.clone(),
        store_id: info.store_id,
        store_name: info.store_name,
        hub_public_key: info.hub_public_key,
        insecure,
        hub_ca,
    };
    let saved = enrolment.clone();
    let hub_last_seq = info.last_seq;
    let hub_last_receipt = info.last_receipt;
    blocking(store, move |s| {
        s.save_enrolment(&saved)?;
        s.raise_op_seq(hub_last_seq)?;
        s.raise_receipt_seq(hub_last_receipt.as_ref())
    })
    .await?;
    Ok(enrolment)
}

/// Fingerprints compare without their case and the `SHA256:` prefix or colons an
/// operator may have copied with them.
fn same_fingerprint(given: &str, got: &str) -> bool {
    let plain = |f: &str| f.trim().trim_start_matches("SHA256:").replace(':', "").to_ascii_lowercase();
    plain(given) == plain(got)
}
