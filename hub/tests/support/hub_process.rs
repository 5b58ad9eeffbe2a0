//! A real `omnikiosk-hub serve` process for the tests and the fleet bench: on a free
//! loopback port of its own, so several can run over one database; killed when dropped.

use std::time::{Duration, Instant};

pub struct HubProcess {
    pub child: std::process::Child,
    /// `http://127.0.0.1:<port>`, for the requests.
    pub base: String,
}

impl HubProcess {
    /// `omnikiosk-hub --db <db_url> serve --listen 127.0.0.1:<port> <serve_args…>`.
    pub fn start(db_url: &str, serve_args: &[&str]) -> HubProcess {
        // A free port: the OS picks one, the process binds it again.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_omnikiosk-hub"))
            .args(["--db", db_url, "serve", "--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", "127.0.0.1:0"])
            .args(serve_args)
            .env("OMNIKIOSK_LOG", "warn")
            .spawn()
            .unwrap();
        HubProcess { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// Waits until the process answers HTTP.
    pub async fn ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{}/v1/device", self.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "hub process at {} never answered", self.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
