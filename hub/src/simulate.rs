//! The simulated online channel (`omnikiosk-hub simulate`, and the demo): what a web shop
//! does to the hub all day — shoppers change their carts, place click-and-collect orders
//! and cancel some of them — at a steady, jittered rate, through the same [`Hub`] calls as
//! the channel API, so kiosks see it arrive through their feeds.
//!
//! The simulator only ever names real things: it learns each store's customers, stock,
//! carts and open orders by reading that store's change feed (lazily, the first time it
//! acts there, then only what changed), so it needs no queries of its own and stays right
//! while kiosks pick and hand over orders. Given the same seed and the same hub database it
//! does the same actions in the same order.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use omnikiosk_protocol::wire::{CartLine, CartPut, Change, OrderCreate, OrderStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{HubError, Result};
use crate::Hub;

/// Default pace of the online channel.
pub const DEFAULT_RATE_PER_MIN: f64 = 20.0;
/// Fastest pace accepted: a thousand actions a second.
pub const MAX_RATE_PER_MIN: f64 = 60_000.0;
/// An order's promised ready time is this many minutes after it is placed.
pub const READY_IN_MIN: std::ops::RangeInclusive<i64> = 30..=120;
/// A cart never grows beyond this many lines (a shopper empties it by checking out).
const MAX_CART_LINES: usize = 8;
/// A cancellation picks among this many of a store's most recently placed orders.
const RECENT_ORDERS: usize = 10;
/// Changes read from a feed per call.
const FEED_PAGE: u32 = 2000;

/// How the simulator runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateOptions {
    /// Actions per minute, on average; each gap is jittered by ±50 %.
    pub rate_per_min: f64,
    /// Seeds every choice: the same seed on the same database does the same actions.
    pub seed: u64,
    /// Stop after this many actions; `None` runs until stopped.
    pub count: Option<u64>,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions { rate_per_min: DEFAULT_RATE_PER_MIN, seed: 0, count: None }
    }
}

/// One thing the online channel did (one line of `simulate` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A shopper changed their online cart; `lines` is the whole new cart.
    CartChanged { store_id: i64, customer_id: String, customer: String, change: CartChange, lines: Vec<CartLine> },
    /// A click-and-collect order for pickup at `store_id`. `from_cart`: the shopper checked
    /// out these lines of their cart, which no longer holds them.
    OrderPlaced {
        store_id: i64,
        order_id: String,
        customer_id: String,
        customer: String,
        lines: Vec<CartLine>,
        from_cart: bool,
        ready_in_min: i64,
        pickup_code: String,
    },
    /// The shopper cancelled an order that was placed and not yet picked.
    OrderCancelled { store_id: i64, order_id: String, reason: String },
    /// Nothing could be done this time: the store has nothing to act on, or the hub
    /// refused (the world moved: an order was picked meanwhile, a customer erased).
    Skipped { store_id: i64, reason: String },
}

/// What changed in a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CartChange {
    Added { sku: String, name: String, qty: i64 },
    Quantity { sku: String, name: String, qty: i64 },
    Removed { sku: String, name: String },
    /// Bought elsewhere, or given up.
    Emptied,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CartChanged { store_id, customer_id, customer, change, lines } => {
                let what = match change {
                    CartChange::Added { name, qty, .. } => format!("added {qty} × {name}"),
                    CartChange::Quantity { name, qty, .. } => format!("now {qty} × {name}"),
                    CartChange::Removed { name, .. } => format!("removed {name}"),
                    CartChange::Emptied => "emptied".to_string(),
                };
                let n = lines.len();
                write!(f, "cart    store {store_id}  {customer_id} {customer}: {what} ({n} line{})", plural(n))
            }
            Action::OrderPlaced { store_id, order_id, customer_id, customer, lines, from_cart, ready_in_min, pickup_code } => {
                let n = lines.len();
                let from = if *from_cart { " from the cart" } else { "" };
                write!(
                    f,
                    "placed  store {store_id}  {order_id} for {customer_id} {customer}: {n} line{}{from}, ready in {ready_in_min} min, pickup code {pickup_code}",
                    plural(n)
                )
            }
            Action::OrderCancelled { store_id, order_id, reason } => {
                write!(f, "cancel  store {store_id}  {order_id}: {reason}")
            }
            Action::Skipped { store_id, reason } => write!(f, "skipped store {store_id}  {reason}"),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Counts of what a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimulationSummary {
    pub carts_changed: u64,
    pub orders_placed: u64,
    pub orders_cancelled: u64,
    pub skipped: u64,
}

impl SimulationSummary {
    pub fn actions(&self) -> u64 {
        self.carts_changed + self.orders_placed + self.orders_cancelled + self.skipped
    }

    fn count(&mut self, action: &Action) {
        match action {
            Action::CartChanged { .. } => self.carts_changed += 1,
            Action::OrderPlaced { .. } => self.orders_placed += 1,
            Action::OrderCancelled { .. } => self.orders_cancelled += 1,
            Action::Skipped { .. } => self.skipped += 1,
        }
    }
}

const CANCEL_REASONS: &[&str] =
    &["changed my mind", "ordered by mistake", "found it cheaper", "cannot come to the store", "payment failed"];

/// Ids in insertion order with O(1) membership and removal, so a seeded choice among
/// them depends only on what happened, never on hashing.
#[derive(Debug, Default)]
struct Pool {
    ids: Vec<String>,
    index: HashMap<String, usize>,
}

impl Pool {
    fn insert(&mut self, id: &str) {
        if !self.index.contains_key(id) {
            self.index.insert(id.to_string(), self.ids.len());
            self.ids.push(id.to_string());
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(i) = self.index.remove(id) {
            self.ids.swap_remove(i);
            if let Some(moved) = self.ids.get(i) {
                self.index.insert(moved.clone(), i);
            }
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    fn choose(&self, rng: &mut StdRng) -> Option<&str> {
        (!self.ids.is_empty()).then(|| self.ids[rng.gen_range(0..self.ids.len())].as_str())
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// What the simulator knows of one store, kept current from the store's feed.
#[derive(Debug, Default)]
struct StoreView {
    /// Feed position read up to.
    cursor: i64,
    /// Customers relevant to the store (home store, an order here, seen here).
    customers: Pool,
    /// Products on the shelf here (stock above zero).
    in_stock: Pool,
    carts: HashMap<String, Vec<CartLine>>,
    /// Orders still `placed`, with the order in which the feed brought them: the newest
    /// are the ones a shopper still cancels. Feed order, not clock time, so a replay with
    /// the same seed picks the same order.
    placed: HashMap<String, u64>,
    /// Changes read so far (numbers `placed`).
    seen: u64,
}

/// The online channel: a seeded random walk over the hub's real stores, customers and
/// products. [`spawn`] runs one on its own thread; [`Simulator::step`] is one action.
pub struct Simulator {
    /// Where actions go, through the same calls as the channel API.
    hub: Hub,
    /// Every choice comes from here, so a seed replays a run.
    rng: StdRng,
    /// Store ids, in order.
    store_ids: Vec<i64>,
    /// Views of the stores acted on so far (read on first use).
    stores: HashMap<i64, StoreView>,
    /// The catalogue (every store's feed carries it), for carts that also hold products
    /// this store does not stock.
    products: Pool,
    /// Product names, for readable lines.
    product_names: HashMap<String, String>,
    /// "Anna K." per customer id, for readable lines.
    customer_names: HashMap<String, String>,
}

impl Simulator {
    /// A simulator over the hub's stores. Blocking (a few small queries); fails with a
    /// clear reason when the hub has no stores.
    pub fn new(hub: Hub, seed: u64) -> Result<Simulator> {
        // Stores are created by `seed` only, numbered from 1 without gaps.
        let mut store_ids = Vec::new();
        while hub.store(store_ids.len() as i64 + 1)?.is_some() {
            store_ids.push(store_ids.len() as i64 + 1);
        }
        if store_ids.is_empty() {
            return Err(HubError::NotFound("the hub has no stores; run `omnikiosk-hub seed` first".into()));
        }
        Ok(Simulator {
            hub,
            rng: StdRng::seed_from_u64(seed),
            store_ids,
            stores: HashMap::new(),
            products: Pool::default(),
            product_names: HashMap::new(),
            customer_names: HashMap::new(),
        })
    }

    /// Does one thing a web shop does. An error is the hub failing (its database); the
    /// world moving under an action (an order picked meanwhile) is [`Action::Skipped`].
    pub fn step(&mut self) -> Result<Action> {
        let store_id = self.store_ids[self.rng.gen_range(0..self.store_ids.len())];
        self.catch_up(store_id)?;
        let roll = self.rng.gen_range(0..100);
        let outcome = match roll {
            0..=59 => self.change_cart(store_id),
            60..=84 => self.place_order(store_id),
            _ => self.cancel_order(store_id),
        };
        match outcome {
            Ok(action) => Ok(action),
            Err(e @ (HubError::BadRequest(_) | HubError::NotFound(_) | HubError::Conflict(_))) => {
                Ok(Action::Skipped { store_id, reason: e.to_string() })
            }
            Err(e) => Err(e),
        }
    }

    /// The wait before the next action: the mean gap at `rate_per_min`, ±50 %.
    pub fn next_gap(&mut self, rate_per_min: f64) -> Duration {
        let mean = 60.0 / rate_per_min.clamp(f64::MIN_POSITIVE, MAX_RATE_PER_MIN);
        Duration::from_secs_f64(mean * self.rng.gen_range(0.5..1.5))
    }

    /// Reads the store's feed from where this view stopped.
    fn catch_up(&mut self, store_id: i64) -> Result<()> {
        let view = self.stores.entry(store_id).or_default();
        loop {
            let page = self.hub.pull(store_id, view.cursor, FEED_PAGE)?;
            for body in &page.changes {
                view.seen += 1;
                match serde_json::from_str::<Change>(body).map_err(crate::StorageError::from)? {
                    Change::Customer(c) => {
                        view.customers.insert(&c.id);
                        self.customer_names.insert(c.id, format!("{} {}.", c.first_name, c.last_initial));
                    }
                    Change::CustomerRemoved { id } => {
                        view.customers.remove(&id);
                        view.carts.remove(&id);
                    }
                    Change::Cart(cart) => {
                        view.carts.insert(cart.customer_id, cart.lines);
                    }
                    Change::Product(p) => {
                        self.products.insert(&p.sku);
                        self.product_names.insert(p.sku, p.name);
                    }
                    Change::Stock(s) if s.on_hand > 0 => view.in_stock.insert(&s.sku),
                    Change::Stock(s) => view.in_stock.remove(&s.sku),
                    Change::Order(o) if o.status == OrderStatus::Placed => {
                        view.placed.insert(o.id, view.seen);
                    }
                    Change::Order(o) => {
                        view.placed.remove(&o.id);
                    }
                    Change::Store(_)
                    | Change::Sale(_)
                    | Change::Shift(_)
                    | Change::Staff(_)
                    | Change::StaffRemoved { .. }
                    | Change::Checkin(_)
                    | Change::CheckinEnded { .. }
                    | Change::Help(_)
                    | Change::HelpEnded { .. }
                    | Change::Feedback(_)
                    | Change::PinFailures(_)
                    | Change::Device(_)
                    | Change::LoyaltyRule(_) => {}
                }
            }
            view.cursor = page.last_seq;
            if !page.has_more {
                return Ok(());
            }
        }
    }

    fn customer_name(&self, id: &str) -> String {
        self.customer_names.get(id).cloned().unwrap_or_default()
    }

    fn product_name(&self, sku: &str) -> String {
        self.product_names.get(sku).cloned().unwrap_or_else(|| sku.to_string())
    }

    /// A product for a cart: mostly one on this store's shelves, sometimes any product of
    /// the catalogue (the kiosk then shows it as not available here).
    fn cart_product(&mut self, store_id: i64) -> Option<String> {
        let from_shelf = self.rng.gen_bool(0.85);
        let shelf = &self.stores[&store_id].in_stock;
        let pool = if from_shelf && !shelf.is_empty() { shelf } else { &self.products };
        pool.choose(&mut self.rng).map(str::to_string)
    }

    fn change_cart(&mut self, store_id: i64) -> Result<Action> {
        let Some(customer_id) = self.stores[&store_id].customers.choose(&mut self.rng).map(str::to_string) else {
            return Ok(Action::Skipped { store_id, reason: format!("store {store_id} has no customers") });
        };
        let mut lines = self.stores[&store_id].carts.get(&customer_id).cloned().unwrap_or_default();
        let roll = self.rng.gen_range(0..100);
        let change = if lines.is_empty() || (roll < 45 && lines.len() < MAX_CART_LINES) {
            let Some(sku) = self.cart_product(store_id) else {
                return Ok(Action::Skipped { store_id, reason: "the catalogue is empty".into() });
            };
            let qty = self.rng.gen_range(1..=3);
            match lines.iter_mut().find(|l| l.sku == sku) {
                Some(line) => {
                    line.qty = (line.qty + qty).min(99);
                    CartChange::Quantity { name: self.product_name(&sku), qty: line.qty, sku }
                }
                None => {
                    lines.push(CartLine { sku: sku.clone(), qty });
                    CartChange::Added { name: self.product_name(&sku), sku, qty }
                }
            }
        } else if roll < 70 {
            let i = self.rng.gen_range(0..lines.len());
            let qty = self.rng.gen_range(1..=5);
            lines[i].qty = qty;
            CartChange::Quantity { sku: lines[i].sku.clone(), name: self.product_name(&lines[i].sku), qty }
        } else if roll < 92 {
            let line = lines.remove(self.rng.gen_range(0..lines.len()));
            CartChange::Removed { name: self.product_name(&line.sku), sku: line.sku }
        } else {
            lines.clear();
            CartChange::Emptied
        };
        self.hub.put_cart(&customer_id, &CartPut { lines: lines.clone() })?;
        self.stores.get_mut(&store_id).expect("caught up").carts.insert(customer_id.clone(), lines.clone());
        Ok(Action::CartChanged { store_id, customer: self.customer_name(&customer_id), customer_id, change, lines })
    }

    fn place_order(&mut self, store_id: i64) -> Result<Action> {
        let view = &self.stores[&store_id];
        if view.in_stock.is_empty() {
            return Ok(Action::Skipped { store_id, reason: format!("store {store_id} has nothing in stock") });
        }
        let Some(customer_id) = view.customers.choose(&mut self.rng).map(str::to_string) else {
            return Ok(Action::Skipped { store_id, reason: format!("store {store_id} has no customers") });
        };
        let view = &self.stores[&store_id];
        let cart = view.carts.get(&customer_id).cloned().unwrap_or_default();
        let (in_cart, rest): (Vec<CartLine>, Vec<CartLine>) = cart.into_iter().partition(|l| view.in_stock.contains(&l.sku));
        // Half the time a shopper checks out what of their cart is on this store's shelves.
        let from_cart = !in_cart.is_empty() && self.rng.gen_bool(0.5);
        let lines: Vec<CartLine> = if from_cart {
            in_cart.iter().take(4).cloned().collect()
        } else {
            let n = self.rng.gen_range(1..=4).min(view.in_stock.len());
            let mut lines: Vec<CartLine> = Vec::with_capacity(n);
            while lines.len() < n {
                let sku = self.stores[&store_id].in_stock.choose(&mut self.rng).expect("in stock").to_string();
                if !lines.iter().any(|l| l.sku == sku) {
                    lines.push(CartLine { sku, qty: self.rng.gen_range(1..=3) });
                }
            }
            lines
        };
        let ready_in_min = self.rng.gen_range(READY_IN_MIN);
        let body = OrderCreate {
            customer_id: customer_id.clone(),
            store_id,
            lines: lines.clone(),
            promised_ready_at: Some(crate::now_secs() + ready_in_min * 60),
        };
        let detail = self.hub.place_order(&body)?;
        if from_cart {
            let left: Vec<CartLine> =
                in_cart.into_iter().filter(|l| !lines.iter().any(|o| o.sku == l.sku)).chain(rest).collect();
            self.hub.put_cart(&customer_id, &CartPut { lines: left.clone() })?;
            self.stores.get_mut(&store_id).expect("caught up").carts.insert(customer_id.clone(), left);
        }
        Ok(Action::OrderPlaced {
            store_id,
            order_id: detail.order.id,
            customer: self.customer_name(&customer_id),
            customer_id,
            lines,
            from_cart,
            ready_in_min,
            pickup_code: detail.order.pickup_code,
        })
    }

    fn cancel_order(&mut self, store_id: i64) -> Result<Action> {
        let view = &self.stores[&store_id];
        let mut recent: Vec<(&u64, &String)> = view.placed.iter().map(|(id, n)| (n, id)).collect();
        if recent.is_empty() {
            // Nothing to cancel yet: the shopper orders instead.
            return self.place_order(store_id);
        }
        recent.sort_unstable_by(|a, b| b.cmp(a));
        recent.truncate(RECENT_ORDERS);
        let order_id = recent[self.rng.gen_range(0..recent.len())].1.clone();
        let reason = CANCEL_REASONS[self.rng.gen_range(0..CANCEL_REASONS.len())].to_string();
        // Whatever the hub answers, this order is no longer one to cancel.
        self.stores.get_mut(&store_id).expect("caught up").placed.remove(&order_id);
        self.hub.cancel_order(&order_id, &reason)?;
        Ok(Action::OrderCancelled { store_id, order_id, reason })
    }
}

/// A simulator running on its own thread. Dropping the handle stops it too (without
/// waiting for the thread).
pub struct SimulatorHandle {
    /// Sending on it (or dropping it) ends the loop at its next wait.
    stop: mpsc::Sender<()>,
    /// The loop; it returns what it did, or why it stopped early.
    thread: JoinHandle<Result<SimulationSummary>>,
    /// Resolves when the loop has ended: its count reached, or a database failure.
    ended: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl SimulatorHandle {
    /// Waits until the loop ends by itself (`count` reached, or the hub failed).
    /// Cancel-safe: use it in a `select!` beside a shutdown signal.
    pub async fn ended(&mut self) {
        if let Some(rx) = &mut self.ended {
            let _ = rx.await;
            self.ended = None;
        }
    }

    /// Stops the loop (the action under way completes) and returns what it did, or the
    /// error that stopped it earlier.
    pub fn stop(self) -> Result<SimulationSummary> {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_else(|_| Err(HubError::Internal("the simulator thread panicked".into())))
    }
}

/// Starts the online channel on its own thread: one action per gap (mean `60 /
/// rate_per_min` s, jittered), each passed to `on_action` (the CLI prints it), until
/// [`SimulatorHandle::stop`], `opts.count` actions, or a database failure.
///
/// Blocking while it looks up the stores; fails when the hub has no stores or the rate is
/// out of range.
pub fn spawn(hub: Hub, opts: SimulateOptions, mut on_action: impl FnMut(&Action) + Send + 'static) -> Result<SimulatorHandle> {
    if !(opts.rate_per_min > 0.0 && opts.rate_per_min <= MAX_RATE_PER_MIN) {
        return Err(HubError::BadRequest(format!("--rate must be above 0 and at most {MAX_RATE_PER_MIN} per minute")));
    }
    let mut sim = Simulator::new(hub, opts.seed)?;
    let (stop, stop_rx) = mpsc::channel::<()>();
    let (ended_tx, ended) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("online-channel".into())
        .spawn(move || {
            let mut summary = SimulationSummary::default();
            let mut next = Instant::now() + sim.next_gap(opts.rate_per_min);
            let result = loop {
                if opts.count.is_some_and(|n| summary.actions() >= n) {
                    break Ok(summary);
                }
                match stop_rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(summary),
                }
                match sim.step() {
                    Ok(action) => {
                        summary.count(&action);
                        on_action(&action);
                    }
                    Err(e) => break Err(e),
                }
                // Keep the pace without bursting to catch up after a slow action.
                next = (next + sim.next_gap(opts.rate_per_min)).max(Instant::now());
            };
            let _ = ended_tx.send(());
            result
        })
        .map_err(|e| HubError::Internal(format!("cannot start the simulator thread: {e}")))?;
    Ok(SimulatorHandle { stop, thread, ended: Some(ended) })
}
