//! Pairing a kiosk with its hub: the token tells the hub which store this device serves;
//! the hub tells the kiosk its store and the public key that verifies codes offline.

use omnikiosk_protocol::code::decode_public_key;

use super::{blocking, HubClient, SyncError};
use crate::config::SyncConfig;
use crate::store::{Enrolment, LocalStore};

pub async fn enroll(
    store: &LocalStore,
    hub_url: &str,
    token: &str,
    insecure: bool,
    cfg: &SyncConfig,
) -> Result<Enrolment, SyncError> {
    let client = HubClient::new(hub_url, token, insecure, cfg)?;
    let info = client.device().await?;
    decode_public_key(&info.hub_public_key)
        .map_err(|e| SyncError::BadResponse(format!("the hub's public key is unusable: {e}")))?;
    let enrolment = Enrolment {
        hub_url: client.base_url().to_string(),
        device_token: token.to_string(),
        device_id: info.device_id.clone(),
        store_id: info.store_id,
        store_name: info.store_name,
        hub_public_key: info.hub_public_key,
        insecure,
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
