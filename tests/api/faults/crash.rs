//! Crash consistency: refresh load from several clients, `SIGKILL` mid-load, a restart on
//! the same database. Every token a client last received with a 200 still refreshes, every
//! token it rotated away is refused, and no rotation is half done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Deployment, Http, assert_no_half_rotation, blacklisted};

/// Concurrent clients, each with a session of its own.
const CLIENTS: usize = 8;

/// Rotations (all clients together) before the kill.
const ROTATIONS_BEFORE_KILL: usize = 300;

/// What one client holds when the server dies.
#[derive(Debug, Default)]
struct Client {
    /// Every refresh token it presented and got a 200 for: each has been rotated away.
    rotated: Vec<String>,
    /// The token it last received with a 200.
    current: String,
}

/// Refreshes in a loop until the server stops answering.
async fn refresh_until_the_server_dies(
    http: Http,
    base: String,
    first: String,
    done: Arc<AtomicUsize>,
) -> Client {
    let mut client = Client {
        rotated: Vec::new(),
        current: first,
    };
    loop {
        match http.refresh(&base, &client.current).await {
            Ok(reply) => {
                // Before the kill, every refresh of a client's own current token succeeds.
                assert_eq!(reply.status, 200, "{reply:?}");
                let next = reply.json["refresh"].as_str().unwrap().to_owned();
                client
                    .rotated
                    .push(std::mem::replace(&mut client.current, next));
                done.fetch_add(1, Ordering::SeqCst);
            }
            // Refused, reset or unanswered: the server is gone. Whether that last request
            // was committed is unknown to the client, as it would be in production.
            Err(_) => return client,
        }
    }
}

async fn sigkill_under_refresh_load_loses_no_committed_rotation(deployment: Deployment) {
    // A client whose request died with the server retries with the same token; the grace
    // window, if the rotation was committed, hands it the successor it never received.
    // All the clients share the loopback address: its refresh limit would throttle the load.
    let env = [
        ("JWTD_ROTATION_GRACE_SECONDS", "120"),
        ("JWTD_REFRESH_RATE_PER_MINUTE", "0"),
    ];
    let mut server = deployment.start(&env);
    deployment.create_user("alice", "wonderland");
    let http = Http::new(Duration::from_secs(30));
    let done = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let first = http.login(&server.base, "alice", "wonderland").await;
        clients.push(tokio::spawn(refresh_until_the_server_dies(
            http.clone(),
            server.base.clone(),
            first,
            Arc::clone(&done),
        )));
    }
    let started = Instant::now();
    while done.load(Ordering::SeqCst) < ROTATIONS_BEFORE_KILL {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} rotations in a minute",
            done.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let mut held = Vec::new();
    for client in clients {
        held.push(client.await.unwrap());
    }

    let server = deployment.start(&env);
    let db = deployment.connect().await;
    assert_no_half_rotation(&db).await;

    let http = Http::new(Duration::from_secs(30));
    for client in &held {
        // The last token received with a 200 refreshes (rotated now, or, if its rotation
        // was committed just before the kill, replayed within the grace window)...
        let reply = http.refresh(&server.base, &client.current).await.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        let next = reply.json["refresh"].as_str().unwrap().to_owned();
        // ...and the session goes on from there.
        let reply = http.refresh(&server.base, &next).await.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_no_half_rotation(&db).await;

    // Every token rotated away is refused. The first one presented of a session is reuse
    // and revokes the session; the rest are refused as blacklisted either way.
    for client in &held {
        for (index, token) in client.rotated.iter().enumerate() {
            let reply = http.refresh(&server.base, token).await.unwrap();
            assert_eq!(reply.status, 401, "{reply:?}");
            assert_eq!(reply.json, blacklisted());
            if index == 0 {
                assert_eq!(reply.reason.as_deref(), Some("reuse_detected"));
            }
        }
    }
    let rotated: usize = held.iter().map(|client| client.rotated.len()).sum();
    assert!(rotated >= ROTATIONS_BEFORE_KILL, "{rotated} rotations");
    drop(server);
}

sqlite_and_postgres!(sigkill_under_refresh_load_loses_no_committed_rotation);
