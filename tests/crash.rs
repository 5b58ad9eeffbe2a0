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
    let reference = Kiosk::with_config("[sync]\npage_size = 50\ncatch_up_page_size = 50\n");
    reference.enroll(&hub.url(), &hub.device_token(1)).await;
    let full = reference.json(&["sync", "--once", "--json"]).await;
    let expected = reference.json(&["status", "--json"]).await;
    let pages = full["pulled"]["pages"].as_u64().unwrap();
    assert!(pages > 5, "the first sync should take several pages at page_size 50, took {pages}");

    for cycle in 0..cycles() {
        let kiosk = Kiosk::with_config("[sync]\npage_size = 50\ncatch_up_page_size = 50\n");
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
        assert_eq!(after["cursor"], hub.feed_end(1).await.as_str(), "cycle {cycle}");
    }
}

/// kill -9 at random points of a stream of offline ops and syncs: every op a command
/// confirmed (exit 0) reaches the hub exactly once, and so does every op that made it
/// into the outbox before a kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_offline_ops_and_syncs_loses_and_doubles_nothing() {
    let hub = TestHub::start(SeedOptions { stores: 2, customers: 200, products: 100, orders: 40, seed: 5 }).await;
    let kiosk = Kiosk::with_config("[sync]\npush_batch = 3\n");
    kiosk.enroll(&hub.url(), &hub.device_token(1)).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let customer = kiosk.query_strings("SELECT id FROM customers ORDER BY id LIMIT 1").remove(0);
    let points = |v: &serde_json::Value| v["points"].as_i64().unwrap();
    let before = points(&hub.channel().get(&format!("/v1/customers/{customer}")).await);

    let (mut confirmed, mut killed_ops) = (0i64, 0i64);
    for cycle in 0..cycles() * 4 {
        // A few earns, one of them killed at a varying moment.
        for k in 0..3 {
            let mut cmd = kiosk.command();
            cmd.args(["loyalty", &customer, "earn", "1"]).stdout(Stdio::null()).stderr(Stdio::null());
            let mut child = cmd.spawn().unwrap();
            if k == 1 {
                std::thread::sleep(std::time::Duration::from_millis((cycle as u64 * 7) % 40));
                let _ = child.kill();
                killed_ops += 1;
                child.wait().unwrap();
            } else if child.wait().unwrap().success() {
                confirmed += 1;
            }
        }
        // A sync killed part-way (sometimes before it starts, sometimes mid-push).
        let mut cmd = kiosk.command();
        cmd.args(["sync", "--once"]).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis((cycle as u64 * 13) % 60));
        let _ = child.kill();
        child.wait().unwrap();
    }
    kiosk.json(&["sync", "--once", "--json"]).await;
    kiosk.json(&["sync", "--once", "--json"]).await;
    let status = kiosk.json(&["status", "--json"]).await;
    assert_eq!(status["outbox"], 0, "{status}");
    assert_eq!(status["conflicts"], 0, "{status}");

    let earned = points(&hub.channel().get(&format!("/v1/customers/{customer}")).await) - before;
    // Ops are numbered gaplessly: the last number is exactly how many were recorded.
    let recorded: i64 = kiosk.query_strings("SELECT value FROM meta WHERE key = 'last_op_seq'")[0].parse().unwrap();
    assert_eq!(earned, recorded, "every recorded op counted exactly once");
    assert!(recorded >= confirmed && recorded <= confirmed + killed_ops, "{confirmed} confirmed, {killed_ops} killed, {recorded} recorded");
}
