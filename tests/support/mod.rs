//! Test support: a real hub on loopback, real kiosk processes, and a fault proxy that
//! stands between them. Nothing of ours is mocked; the proxy only breaks the wire.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use omnikiosk_hub::{Hub, SeedOptions, ServeConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub const CHANNEL_TOKEN: &str = "test-channel-token";

#[path = "../../hub/tests/support/pg.rs"]
mod pg;

/// The hub's database for this test: embedded SQLite, or PostgreSQL when
/// `OMNIKIOSK_TEST_HUB=postgres` (CI runs the end-to-end suites both ways).
fn hub_db_url(dir: &Path) -> String {
    if hub_on_postgres() {
        assert!(pg::available(), "OMNIKIOSK_TEST_HUB=postgres, but no PostgreSQL test cluster could start");
        pg::database()
    } else {
        format!("sqlite:{}", dir.join("hub.db").display())
    }
}

pub fn hub_on_postgres() -> bool {
    std::env::var("OMNIKIOSK_TEST_HUB").is_ok_and(|v| v == "postgres")
}

/// A hub process's worth of server, in this test process, on 127.0.0.1.
pub struct TestHub {
    pub hub: Hub,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// HTTPS with these files (`serve --tls-cert --tls-key`); the URL then names
    /// `localhost`, the name the test certificates are made for.
    tls: Option<omnikiosk_hub::tls::TlsFiles>,
}

impl TestHub {
    pub async fn start(seed: SeedOptions) -> TestHub {
        let t = TestHub::empty().await;
        let h = t.hub.clone();
        tokio::task::spawn_blocking(move || h.seed(&seed)).await.unwrap().unwrap();
        t
    }

    /// A hub as `omnikiosk-hub init` leaves it: no store, no product, nobody.
    pub async fn empty() -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let url = hub_db_url(dir.path());
        let hub = tokio::task::spawn_blocking(move || Hub::open(&url)).await.unwrap().unwrap();
        let mut t = TestHub { hub, addr: "127.0.0.1:0".parse().unwrap(), dir, stop: None, task: None, tls: None };
        t.listen("127.0.0.1:0").await;
        t
    }

    /// [`TestHub::start`] on HTTPS.
    pub async fn start_tls(seed: SeedOptions, tls: omnikiosk_hub::tls::TlsFiles) -> TestHub {
        let mut t = TestHub::start(seed).await;
        t.stop().await;
        t.tls = Some(tls);
        t.restart().await;
        t
    }

    async fn listen(&mut self, addr: &str) {
        let listener = TcpListener::bind(addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let cfg = ServeConfig { channel_token: Some(CHANNEL_TOKEN.into()), tls: self.tls.clone(), ..ServeConfig::default() };
        let hub = self.hub.clone();
        self.task = Some(tokio::spawn(async move {
            omnikiosk_hub::serve(hub, listener, cfg, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        }));
        self.stop = Some(tx);
    }

    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// Takes the hub off the network (as a pulled cable would).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Long-polls in flight may hold the server for their wait; do not wait on them.
            task.abort();
            let _ = task.await;
        }
    }

    /// Brings the hub back on the same address.
    pub async fn restart(&mut self) {
        let addr = self.addr.to_string();
        self.listen(&addr).await;
    }

    /// The cursor at the end of a store's feed as the hub holds it now: where a kiosk that
    /// is current stands (every device's pulls add its own record to the feed, so another
    /// kiosk's cursor is a moving target).
    pub async fn feed_end(&self, store_id: i64) -> String {
        let hub = self.hub.clone();
        tokio::task::spawn_blocking(move || {
            let mut end = 0;
            loop {
                let page = hub.pull(store_id, end, 10_000).unwrap();
                end = page.last_seq;
                if !page.has_more {
                    return hub.cursor(end);
                }
            }
        })
        .await
        .unwrap()
    }

    pub fn device_token(&self, store_id: i64) -> String {
        self.hub.add_device(store_id, "test kiosk").unwrap()
    }

    pub fn channel(&self) -> Channel {
        Channel { base: self.url(), http: reqwest::Client::new() }
    }
}

/// The online shop's side of the hub: the channel API over HTTP.
pub struct Channel {
    pub base: String,
    http: reqwest::Client,
}

impl Channel {
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path)).bearer_auth(CHANNEL_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        let (st, v) = self.send(reqwest::Method::PUT, path, Some(body)).await;
        assert!(st < 300, "PUT {path} → {st}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (st, v) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert!(st < 300, "POST {path} → {st}: {v}");
        v
    }

    /// Uploads a file (a feed) as the body of a POST.
    pub async fn upload(&self, path: &str, file: &Path) -> Value {
        let body = std::fs::read(file).unwrap();
        let resp = self.http.post(format!("{}{}", self.base, path)).bearer_auth(CHANNEL_TOKEN).body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        assert!(status < 300, "POST {path} → {status}: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        let (st, v) = self.send(reqwest::Method::GET, path, None).await;
        assert!(st < 300, "GET {path} → {st}: {v}");
        v
    }

    /// Every item of a cursor-paged listing (`/v1/sales?store_id=1&limit=50`), read page by
    /// page as the ERP would: `field` holds a page's items.
    pub async fn pages<T: serde::de::DeserializeOwned>(&self, path: &str, field: &str) -> Vec<T> {
        let (mut out, mut cursor) = (Vec::new(), String::new());
        loop {
            let after = if cursor.is_empty() { String::new() } else { format!("&after={cursor}") };
            let page = self.get(&format!("{path}{after}")).await;
            out.extend(page[field].as_array().unwrap().iter().map(|v| serde_json::from_value::<T>(v.clone()).unwrap()));
            cursor = page["cursor"].as_str().unwrap().to_string();
            if page["has_more"] != true {
                return out;
            }
        }
    }
}

/// A kiosk: its own data directory and the real `omnikiosk` binary.
pub struct Kiosk {
    pub dir: tempfile::TempDir,
    pub config: Option<PathBuf>,
}

impl Kiosk {
    pub fn new() -> Kiosk {
        Kiosk { dir: tempfile::tempdir().unwrap(), config: None }
    }

    pub fn with_config(toml: &str) -> Kiosk {
        let k = Kiosk::new();
        let path = k.dir.path().join("kiosk.toml");
        std::fs::write(&path, toml).unwrap();
        Kiosk { config: Some(path), ..k }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnikiosk"));
        cmd.arg("--data-dir").arg(self.data_dir());
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.env_remove("OMNIKIOSK_DATA_DIR");
        cmd
    }

    /// Runs a command to completion off the async threads.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    /// Runs a command that must succeed and print one JSON document.
    pub async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "omnikiosk {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("omnikiosk {args:?}: stdout is not one JSON document ({e}): {}", String::from_utf8_lossy(&out.stdout))
        })
    }

    pub async fn enroll(&self, hub_url: &str, token: &str) {
        self.json(&["enroll", "--hub", hub_url, "--token", token, "--json"]).await;
    }

    /// Reads the kiosk's SQLite file directly (test inspection only).
    pub fn query_strings(&self, sql: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.data_dir().join("kiosk.db")).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// What the proxy does to the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward bytes both ways untouched.
    Pass,
    /// Answer `500 Internal Server Error` without asking the hub.
    Error500,
    /// Answer `200 OK` with a body that is not JSON.
    Garbage,
    /// Accept the connection and never answer.
    Hang,
    /// Refuse: close the connection at once.
    Reset,
    /// Answer `429 Too Many Requests`.
    TooMany,
    /// Pass the request to the hub, then drop its answer: the hub acted, the kiosk never
    /// hears of it (the lost acknowledgement that doubles points in other systems).
    LoseAnswer,
    /// Pass the request, then cut the answer off halfway through.
    Truncate,
    /// Hold the request for a while, then pass it.
    Delay,
}

/// A TCP proxy between kiosk and hub that can break the wire on demand.
pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let f = fault.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else { return };
                let mode = *f.lock().unwrap();
                tokio::spawn(handle(conn, upstream, mode));
            }
        });
        FaultProxy { addr, fault, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(mut conn: TcpStream, upstream: SocketAddr, mode: Fault) {
    let canned = |status: &str, body: &str| {
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
    };
    match mode {
        Fault::Pass => {
            if let Ok(mut up) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
            }
        }
        Fault::Error500 | Fault::Garbage => {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let reply = if mode == Fault::Error500 {
                canned("500 Internal Server Error", r#"{"error":"internal","message":"boom"}"#)
            } else {
                canned("200 OK", "<html>this is not the hub</html>")
            };
            let _ = conn.write_all(reply.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
        Fault::Hang => {
            let mut buf = [0u8; 4096];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        }
        Fault::Reset => drop(conn),
        Fault::TooMany => {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let reply = canned("429 Too Many Requests", r#"{"error":"busy","message":"slow down"}"#);
            let _ = conn.write_all(reply.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
        Fault::Delay => {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            if let Ok(mut up) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
            }
        }
        Fault::LoseAnswer | Fault::Truncate => {
            let Ok(mut up) = TcpStream::connect(upstream).await else { return };
            // One request per connection: read it whole (headers + content-length body).
            let Some(request) = read_http_message(&mut conn).await else { return };
            if up.write_all(&request).await.is_err() {
                return;
            }
            let Some(answer) = read_http_message(&mut up).await else { return };
            if mode == Fault::Truncate {
                let _ = conn.write_all(&answer[..answer.len() / 2]).await;
            }
            // LoseAnswer: the hub has acted; the kiosk sees the connection close.
            drop(conn);
        }
    }
}

/// Reads one HTTP/1.1 message with a content-length body (what our peers send).
async fn read_http_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
