//! Colleagues as the retailer's HR manages them: added with a badge and no PIN (they
//! choose it at a kiosk, `staff.set_pin`), listed, renamed or given another role, removed
//! (the badge stops working at every device of the store at its next pull), their PIN
//! reset, their badge reissued (the older one stops working). Also the printable badge.

use omnikiosk_protocol::code::{self, CodeClaims, CodeKind};
use omnikiosk_protocol::wire::{Colleague, Role, StaffPut, StaffRecord, MAX_STAFF_NAME};
use rand::Rng;

use crate::store::{writes, HubTx, Stored};
use crate::params::check_id;
use crate::{now_secs, Hub, HubError};

/// How long a printed badge's code is good for: a badge is reissued when lost, not renewed.
pub const BADGE_SECS: i64 = 5 * 365 * 86_400;

/// What is done to a colleague who exists.
enum StaffChange {
    Remove,
    ResetPin,
    Reissue,
}

impl Hub {
    /// A new colleague of `store_id`, with a badge and no PIN; their id is `S<store>-<n>`,
    /// beside the seed's `S<store>-STAFF` and `S<store>-MGR`.
    pub fn add_staff(&self, store_id: i64, body: &StaffPut) -> Result<Colleague, HubError> {
        check_name(&body.name)?;
        let body = body.clone();
        let st = self.store_write(store_id, move |tx| {
            known_store(tx, store_id)?;
            let id = loop {
                let id = format!("S{store_id}-{}", tx.next_counter(&format!("staff:{store_id}"))?);
                if !tx.staff_exists(&id)? {
                    break id;
                }
            };
            Ok(insert(tx, id, store_id, &body)?)
        })?;
        Ok(self.colleague(&st))
    }

    /// `PUT /v1/stores/{id}/staff/{staff_id}`: the colleague created, or renamed and given
    /// the role; their PIN and badge stay.
    pub fn put_staff(&self, store_id: i64, staff_id: &str, body: &StaffPut) -> Result<Colleague, HubError> {
        check_id("staff id", staff_id)?;
        check_name(&body.name)?;
        let (staff_id, body) = (staff_id.to_string(), body.clone());
        let st = self.store_write(store_id, move |tx| {
            known_store(tx, store_id)?;
            let Some(mut st) = tx.staff_member(&staff_id)? else { return Ok(insert(tx, staff_id, store_id, &body)?) };
            if st.store_id != store_id {
                return Err(HubError::Conflict(format!("staff {staff_id} works at store {}", st.store_id)));
            }
            st.name = body.name.clone();
            (st.role, st.till) = body.role.wire();
            tx.update_staff(&st)?;
            writes::publish_staff(tx, &st)?;
            Ok(st)
        })?;
        Ok(self.colleague(&st))
    }

    /// The store's colleagues, by id.
    pub fn staff_of_store(&self, store_id: i64) -> Result<Vec<Colleague>, HubError> {
        let staff = self.read(move |tx| {
            known_store(tx, store_id)?;
            Ok(tx.staff_of_store(store_id)?)
        })?;
        Ok(staff.iter().map(|st| self.colleague(st)).collect())
    }

    /// A leaver: their badge stops working at every device of the store at its next pull.
    /// `store_id`, when given, is the store they must work at.
    pub fn remove_staff(&self, store_id: Option<i64>, staff_id: &str) -> Result<Colleague, HubError> {
        self.change_staff(store_id, staff_id, StaffChange::Remove)
    }

    /// The colleague chooses a new PIN at a kiosk the next time they scan their badge.
    pub fn reset_staff_pin(&self, staff_id: &str) -> Result<Colleague, HubError> {
        self.change_staff(None, staff_id, StaffChange::ResetPin)
    }

    /// A new badge (a lost one): its version goes up, and kiosks refuse the older badge.
    pub fn reissue_badge(&self, staff_id: &str) -> Result<Colleague, HubError> {
        self.change_staff(None, staff_id, StaffChange::Reissue)
    }

    fn change_staff(&self, store_id: Option<i64>, staff_id: &str, change: StaffChange) -> Result<Colleague, HubError> {
        let key = staff_id.to_string();
        let found = self.read(move |tx| Ok(tx.staff_member(&key)?))?.filter(|st| store_id.is_none_or(|s| s == st.store_id));
        let Some(st) = found else { return Err(HubError::NotFound(format!("staff {staff_id} does not exist"))) };
        let st = self.store_write(st.store_id, move |tx| {
            let Some(mut st) = tx.staff_member(&st.id)? else { return Err(HubError::NotFound(format!("staff {} does not exist", st.id))) };
            match change {
                StaffChange::Remove => return Ok(writes::remove_staff(tx, &st).map(|()| st)?),
                StaffChange::ResetPin => st.pin_hash.clear(),
                StaffChange::Reissue => st.badge_version += 1,
            }
            tx.update_staff(&st)?;
            writes::publish_staff(tx, &st)?;
            Ok(st)
        })?;
        Ok(self.colleague(&st))
    }

    /// The colleague as answered, with their badge's code signed now.
    fn colleague(&self, st: &StaffRecord) -> Colleague {
        let now = now_secs();
        let claims = CodeClaims { kind: CodeKind::Staff, id: st.id.clone(), iat: now, exp: now + BADGE_SECS, version: st.badge_version };
        Colleague {
            id: st.id.clone(),
            name: st.name.clone(),
            store_id: st.store_id,
            role: st.role(),
            pin_set: st.has_pin(),
            badge_version: st.badge_version,
            badge: code::sign(&self.key, &claims),
        }
    }
}

fn check_name(name: &str) -> Result<(), HubError> {
    if name.trim().is_empty() || name.chars().count() > MAX_STAFF_NAME || name.chars().any(char::is_control) {
        return Err(HubError::BadRequest(format!("name must be 1-{MAX_STAFF_NAME} printable characters")));
    }
    Ok(())
}

fn known_store(tx: &mut dyn HubTx, store_id: i64) -> Result<(), HubError> {
    match tx.store(store_id)? {
        Some(_) => Ok(()),
        None => Err(HubError::NotFound(format!("store {store_id} does not exist"))),
    }
}

/// A new badge holder with no PIN, published to their store.
fn insert(tx: &mut dyn HubTx, id: String, store_id: i64, body: &StaffPut) -> Stored<StaffRecord> {
    let (role, till) = body.role.wire();
    let st = StaffRecord {
        id,
        name: body.name.clone(),
        role,
        store_id,
        pin_salt: hex::encode(rand::thread_rng().gen::<[u8; 16]>()),
        pin_hash: String::new(),
        till,
        // 0 is written into no code, so kiosks of an older release read a new badge too.
        badge_version: 0,
    };
    tx.insert_staff(&st)?;
    writes::publish_staff(tx, &st)?;
    Ok(st)
}

/// A printable badge (ID-1 card size, portrait): the QR of the badge's code, the
/// colleague's name and role and the store, as SVG.
pub fn badge_svg(c: &Colleague, store_name: &str) -> Result<String, HubError> {
    let qr = qrcode::QrCode::new(c.badge.as_bytes()).map_err(|e| HubError::Internal(format!("badge QR: {e}")))?;
    let width = qr.width();
    // Four modules of quiet zone around the code, in a 440-unit square.
    let module = 440.0 / (width + 8) as f64;
    let mut dark = String::new();
    for (i, colour) in qr.to_colors().into_iter().enumerate() {
        if colour == qrcode::Color::Dark {
            let (x, y) = ((i % width + 4) as f64 * module + 50.0, (i / width + 4) as f64 * module + 250.0);
            dark.push_str(&format!("M{x:.2} {y:.2}h{module:.2}v{module:.2}h-{module:.2}z"));
        }
    }
    let role = match c.role {
        Role::Staff => "Pickup desk",
        Role::Till => "Till",
        Role::Manager => "Manager",
    };
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="54mm" height="86mm" viewBox="0 0 540 860">
<rect width="540" height="860" rx="30" fill="#fff" stroke="#1b3a5c" stroke-width="6"/>
<text x="270" y="110" font-family="sans-serif" font-size="46" font-weight="700" text-anchor="middle">{name}</text>
<text x="270" y="170" font-family="sans-serif" font-size="30" text-anchor="middle">{role}</text>
<text x="270" y="220" font-family="sans-serif" font-size="26" text-anchor="middle" fill="#555">{store}</text>
<path d="{dark}" fill="#000"/>
<text x="270" y="780" font-family="monospace" font-size="28" text-anchor="middle">{id}</text>
</svg>
"##,
        name = xml(&c.name),
        store = xml(store_name),
        id = xml(&c.id),
    ))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
