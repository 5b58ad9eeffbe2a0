//! A throwaway PostgreSQL cluster for the tests: the Debian binaries
//! (`/usr/lib/postgresql/*/bin/{initdb,postgres}`), a temporary data directory, a unix
//! socket only (no TCP), `fsync=off`. Started once per test binary; every test gets its
//! own database. When the binaries are missing the tests print why and skip.
//!
//! The server is watched by a small shell loop that stops it when the test process is
//! gone (statics are never dropped, so a `Drop` could not be relied on).

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PORT: u16 = 5432;

struct Cluster {
    socket_dir: PathBuf,
    /// Keeps the data directory until the process ends.
    _dir: tempfile::TempDir,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| "no initdb/postgres under /usr/lib/postgresql/*/bin".to_string())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root (initdb refuses root).
fn command(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start() -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let dir = tempfile::Builder::new().prefix("okpg").tempdir().map_err(|e| e.to_string())?;
    let (data, socket_dir) = (dir.path().join("data"), dir.path().join("sock"));
    std::fs::create_dir(&socket_dir).map_err(|e| e.to_string())?;
    if is_root() {
        let st = Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()).status().map_err(|e| format!("chown: {e}"))?;
        if !st.success() {
            return Err("chown of the cluster directory to the postgres user failed".into());
        }
    }
    let out = command(&bin.join("initdb"))
        .args(["-D"])
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    // The server, stopped by its watcher once this test process is gone.
    let script = format!(
        "{postgres} -D '{data}' -k '{sock}' -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=400 -c shared_buffers={buffers} >'{log}' 2>&1 & pg=$!; \
         while [ -d /proc/{me} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done; kill -INT $pg 2>/dev/null; wait $pg; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        sock = socket_dir.display(),
        log = dir.path().join("server.log").display(),
        me = std::process::id(),
        dir = dir.path().display(),
        buffers = shared_buffers(),
    );
    command(Path::new("/bin/sh"))
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("postgresql://postgres@/postgres?host={}&port={PORT}", socket_dir.display());
    loop {
        // The sync client must not run on a tokio thread: use a plain one.
        let u = url.clone();
        let ok = std::thread::spawn(move || postgres::Client::connect(&u, postgres::NoTls).is_ok()).join().unwrap_or(false);
        if ok {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            return Err(format!("postgres did not start within 30 s: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Cluster { socket_dir, _dir: dir })
}

/// The server's cache: small for the tests (many clusters may run at once), a server's
/// own size for a benchmark at chain scale (`OMNIKIOSK_PG_SHARED_BUFFERS=2GB`).
fn shared_buffers() -> String {
    std::env::var("OMNIKIOSK_PG_SHARED_BUFFERS").ok().filter(|v| v.chars().all(|c| c.is_ascii_alphanumeric())).unwrap_or_else(|| "32MB".into())
}

fn cluster() -> Result<&'static Cluster, String> {
    CLUSTER.get_or_init(start).as_ref().map_err(|e| e.clone())
}

/// Whether PostgreSQL tests can run here; prints why not, once per test.
pub fn available() -> bool {
    match cluster() {
        Ok(_) => true,
        Err(why) => {
            println!("skipping PostgreSQL tests: {why}");
            false
        }
    }
}

/// A fresh, empty database on the test cluster: its URL.
pub fn database() -> String {
    let c = cluster().expect("PostgreSQL test cluster");
    let name = format!("t{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let admin = format!("postgresql://postgres@/postgres?host={}&port={PORT}", c.socket_dir.display());
    let n = name.clone();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect to the test cluster");
        client.batch_execute(&format!("CREATE DATABASE {n}")).expect("create a test database");
    })
    .join()
    .expect("create a test database");
    format!("postgresql://postgres@/{name}?host={}&port={PORT}", c.socket_dir.display())
}
