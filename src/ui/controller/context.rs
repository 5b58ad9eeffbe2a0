//! What every part of the touchscreen shares: the settings, the context the parts act
//! through, the desk's signals, and the effects they leave to the window.

use omnikiosk_protocol::ops::OpBody;
use omnikiosk_protocol::wire::OrderRecord;

use crate::clock::unix_now;
use crate::config::LoyaltyConfig;
use crate::resolve::HubQuery;
use crate::store::{LocalStore, OpError, RecordedOp, StoreLocale};
use jiff::tz::TimeZone;

/// The staff screens are in English: amounts on them are written the English way.
pub const STAFF_LANGUAGE: &str = "en";

/// What the screens need from the configuration.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// A shopper session ends after this long without a touch.
    pub idle_timeout_secs: u32,
    /// A signed-in colleague is signed out after this long without a touch.
    pub staff_idle_timeout_secs: u32,
    /// The screens' language with no shopper signed in, when the config names one
    /// (`[ui] language`); else the store record's.
    pub language: Option<String>,
    pub loyalty_prefix: String,
    pub loyalty: LoyaltyConfig,
    /// Why goods may come back at the till.
    pub till: crate::config::TillConfig,
    /// Where "Continue on your phone" leads (the web shop's cart page).
    pub phone_url: String,
    /// How long after its promised time a ready order expires as a no-show (the hub's rule).
    pub no_show_secs: i64,
    /// Where sale receipts print (`enabled` false: nowhere).
    pub printer: crate::config::PrinterConfig,
    /// The time: the system clock, or a fixed one where a picture must not change
    /// (screenshot references, benchmarks).
    pub clock: fn() -> i64,
}

impl UiSettings {
    pub fn from_config(cfg: &crate::config::Config) -> UiSettings {
        UiSettings {
            idle_timeout_secs: cfg.ui.idle_timeout_secs,
            staff_idle_timeout_secs: cfg.ui.staff_idle_timeout_secs,
            language: cfg.ui.language.clone(),
            loyalty_prefix: cfg.scan.loyalty_prefix.clone(),
            loyalty: cfg.loyalty.clone(),
            till: cfg.till.clone(),
            phone_url: cfg.ui.phone_url.clone(),
            no_show_secs: i64::from(cfg.ui.no_show_days) * 86_400,
            printer: cfg.printer.clone(),
            clock: unix_now,
        }
    }
}

/// What every part reads and acts through: the local store, the settings, the time.
pub struct Ctx {
    pub store: LocalStore,
    pub settings: UiSettings,
    /// The store's currency, read once (the store has no cheaper read of it than `today`).
    pub currency: std::cell::OnceCell<String>,
    /// The store's time zone: every time on screen, and where the store's day begins.
    pub zone: TimeZone,
    /// The store record's language and zone name, as `zone` was made from them.
    locale: StoreLocale,
}

impl Ctx {
    /// The context over `store`, in the time zone and language of its record (UTC and
    /// English until the record has come).
    pub fn new(store: LocalStore, settings: UiSettings) -> Ctx {
        let locale = store.store_locale().unwrap_or_default();
        let zone = crate::clock::store_zone(&locale.timezone);
        Ctx { store, settings, currency: Default::default(), zone, locale }
    }

    /// Takes up the store record's time zone and language when a pull changed them (the
    /// first sync after enrolment, the retailer correcting a store); true when it did.
    pub fn follow_store(&mut self) -> bool {
        match self.store.store_locale() {
            Ok(locale) if locale != self.locale => {
                if locale.timezone != self.locale.timezone {
                    self.zone = crate::clock::store_zone(&locale.timezone);
                }
                self.locale = locale;
                true
            }
            _ => false,
        }
    }

    /// The screens' language while no shopper is signed in: the config's, else the store's.
    pub fn home_language(&self) -> String {
        self.settings.language.clone().unwrap_or_else(|| self.locale.language.clone())
    }

    /// Where the store's day that holds `now` began (local midnight).
    pub fn day_start(&self, now: i64) -> i64 {
        crate::clock::day_start(now, &self.zone)
    }

    pub fn now(&self) -> i64 {
        (self.settings.clock)()
    }

    /// Records a local action as an op (its checks and local effect in one transaction).
    pub fn record(&self, op: OpBody) -> Result<RecordedOp, OpError> {
        self.store.record_op(op, &self.settings.loyalty, self.now())
    }

    /// The store's currency (ISO 4217), for every amount on screen.
    pub fn currency(&self) -> String {
        self.currency
            .get_or_init(|| self.store.currency().unwrap_or_else(|_| omnikiosk_protocol::wire::default_currency()))
            .clone()
    }

    /// The points rule of a sale here: the chain's for the store's currency, or the config's.
    pub fn points_rule(&self) -> omnikiosk_protocol::till::PointsRule {
        self.store.points_rule(&self.settings.loyalty).unwrap_or_else(|_| self.settings.loyalty.points_rule())
    }

    /// "14:05" in the store's time zone.
    pub fn clock(&self, at: i64) -> String {
        crate::clock::clock(at, &self.zone)
    }
}

/// Why the store refused an action, in the rules' words (or what went wrong underneath).
pub fn refusal(e: OpError) -> String {
    match e {
        OpError::Refused(r) => r.message,
        e => e.to_string(),
    }
}

/// What the pickup light and buzzer (or any other signal outside the window) follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeskSignals {
    /// Shoppers checked in at the desk, waiting for a colleague.
    pub customers_waiting: usize,
    /// Online orders nobody has started picking.
    pub new_orders: usize,
    /// Open "call staff" requests.
    pub help_requests: usize,
    /// The last sync round reached the hub.
    pub online: bool,
}

/// What the controllers leave to the window to do, in the order they asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Show the screens in this language (a shopper's, or the store's again).
    Language(String),
    /// A customer this store has not cached: ask the hub, and give the answer to
    /// [`Kiosk::hub_answered`].
    AskHub(HubQuery),
    /// An order was handed over here by this colleague (for the receipt printer).
    HandedOver { order: OrderRecord, staff_id: String },
    /// The desk's signals changed (for the pickup light).
    Signals(DeskSignals),
    /// A sale or a return was made at the till (for the receipt printer).
    Sold(Box<omnikiosk_protocol::till::Receipt>),
    /// The till's shift was closed (for the printer: the Z report).
    ShiftClosed(Box<omnikiosk_protocol::shift::ZReport>),
}
