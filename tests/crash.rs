//! kill -9 of the kiosk in the middle of its first sync: after a restart its store ends
//! exactly equal to a kiosk that was never interrupted. Cycles: `OMNIKIOSK_SOAK_CYCLES`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use omnikiosk_hub::SeedOptions;
use support::{Kiosk, TestHub};

fn cycles() -> usize {
    std::env::var("OMNIKIOSK_SOAK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_first_sync_then_restart_ends_equal_to_the_hub() {
    let hub = TestHub::start(SeedOptions { stores: 3, customers: 15_000, products: 1_500, orders: 300, seed: 11 }).await;
    let reference = Kiosk::with_config("[sync]\npage_size = 50\n");
    reference.enroll(&hub.url(), &hub.device_token(1)).await;
    let full = reference.json(&["sync", "--once", "--json"]).await;
    let expected = reference.json(&["status", "--json"]).await;
    let pages = full["pulled"]["pages"].as_u64().unwrap();
    assert!(pages > 5, "the first sync should take several pages at page_size 50, took {pages}");

    for cycle in 0..cycles() {
        let kiosk = Kiosk::with_config("[sync]\npage_size = 50\n");
        kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
        // Kill after a different number of progress lines each cycle.
        let kill_after = 2 + (cycle * 7) % 20;
        let mut cmd = kiosk.command();
        cmd.args(["sync", "--once"]).stderr(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let killed_at = tokio::task::spawn_blocking(move || {
            let mut seen = 0;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("pulled") {
                    seen += 1;
                    if seen == kill_after {
                        child.kill().unwrap(); // SIGKILL: no cleanup runs
                        break;
                    }
                }
            }
            child.wait().unwrap();
            seen
        })
        .await
        .unwrap();
        assert_eq!(killed_at, kill_after, "cycle {cycle}: the sync ended before it could be killed");

        // The half-synced store opens cleanly and is a whole number of pages.
        let mid = kiosk.json(&["status", "--json"]).await;
        assert!(mid["counts"]["customers"].as_i64().unwrap() <= expected["counts"]["customers"].as_i64().unwrap());

        kiosk.json(&["sync", "--once", "--json"]).await;
        let after = kiosk.json(&["status", "--json"]).await;
        assert_eq!(after["counts"], expected["counts"], "cycle {cycle} (killed after {kill_after} pages)");
        assert_eq!(after["cursor"], expected["cursor"], "cycle {cycle}");
    }
}
