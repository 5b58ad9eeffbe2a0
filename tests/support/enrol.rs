//! A kiosk's store filled the way a real kiosk fills it: the hub served on loopback, the
//! store enrolled with a device token and pulled until current, the hub stopped again.
//! For the window tests, which then run the screens over that store without a network.

use std::path::Path;
use std::time::Duration;

use omnikiosk::config::{StoreConfig, SyncConfig};
use omnikiosk::store::LocalStore;
use omnikiosk_hub::{Hub, ServeConfig};

/// Enrols a store in `dir` to `hub` with `token` and pulls it until current.
pub fn synced_store(hub: Hub, token: &str, dir: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(omnikiosk_hub::serve(hub, listener, ServeConfig::default(), async {
            let _ = stopped.await;
        }));
        let store = LocalStore::open(dir, &StoreConfig::default()).unwrap();
        let cfg = SyncConfig::default();
        omnikiosk::sync::enroll(&store, &url, token, Default::default(), &cfg).await.unwrap();
        let client = omnikiosk::sync::client_for(&store.require_enrolment().unwrap(), &cfg).unwrap();
        omnikiosk::sync::pull_until_current(&store, &client, &cfg, Duration::ZERO, |_| {}).await.unwrap();
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}
