//! Deleting expired rows: the store's batched flush on every backend, and
//! `jwtd flush-expired` against a real database file.

use std::process::Command;

use api::clock::Clock;
use axum::http::StatusCode;
use integration_tests::{Backend, T0, TestApp, backend_tests};

use crate::smoke::jwtd_binary;

const DAY: i64 = 86_400;

async fn flush_deletes_expired_tokens_in_batches_and_keeps_live_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    // Two rotations: three outstanding rows, two of them blacklisted.
    let next = app.refresh(&refresh).await.assert_ok().str("refresh");
    app.clock.advance(20);
    app.refresh(&next).await.assert_ok();
    // A second session, started a day and a half later, is still live when flushing.
    app.clock.advance(DAY + DAY / 2);
    let later = app
        .login("alice", "wonderland")
        .await
        .assert_ok()
        .str("refresh");

    let now = app.clock.now();
    let flushed = app.state.store.flush_expired(now, T0 - 1, 1).await.unwrap();
    assert_eq!(flushed.tokens, 3, "{flushed:?}");
    assert_eq!(flushed.events, 0, "{flushed:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM blacklisted_tokens").await,
        0
    );
    // The live session is untouched.
    assert_eq!(app.refresh(&later).await.status, StatusCode::OK);

    // Past the first session's absolute end its family row goes too, and events past
    // retention are deleted.
    app.clock.advance(31 * DAY);
    let now = app.clock.now();
    let flushed = app.state.store.flush_expired(now, now, 2).await.unwrap();
    assert_eq!(flushed.families, 2, "{flushed:?}");
    assert!(flushed.events >= 2, "{flushed:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM token_families").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM auth_events").await, 0);
}

backend_tests!(flush_deletes_expired_tokens_in_batches_and_keeps_live_ones);

#[tokio::test]
async fn the_flush_expired_command_deletes_what_the_system_clock_says_is_expired() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Tokens issued in 2001 are long expired by the wall clock the command reads.
    app.clock.set(1_000_000_000);
    app.alice().await;
    app.login("alice", "wonderland").await.assert_ok();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        2
    );

    let output = Command::new(jwtd_binary())
        .args(["flush-expired", "--batch-size", "1"])
        .env("JWTD_DATABASE_URL", &app.db.options.url)
        .env(
            "JWTD_SIGNING_KEY",
            "flush-test-signing-key-0123456789abcdef",
        )
        .env("JWTD_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("deleted 2 expired token(s), 2 expired session(s), "),
        "{stdout}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM token_families").await, 0);

    let refused = Command::new(jwtd_binary())
        .args(["flush-expired", "--batch-size", "0"])
        .env("JWTD_DATABASE_URL", &app.db.options.url)
        .env(
            "JWTD_SIGNING_KEY",
            "flush-test-signing-key-0123456789abcdef",
        )
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--batch-size must be at least 1"));
}

/// `jwtd serve` on the test app's SQLite file with the given flush interval, in a fresh
/// working directory that the caller removes.
fn serve_with_flush_interval(
    app: &TestApp,
    interval: &str,
) -> (crate::smoke::Server, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(integration_tests::unique_name("jwtd_flush"));
    std::fs::create_dir_all(&dir).unwrap();
    let server = crate::smoke::Server::start(
        &dir,
        &[
            ("JWTD_DATABASE_URL", &app.db.options.url),
            (
                "JWTD_SIGNING_KEY",
                "flush-test-signing-key-0123456789abcdef",
            ),
            ("JWTD_FLUSH_EXPIRED_INTERVAL", interval),
        ],
    );
    (server, dir)
}

#[tokio::test]
async fn serve_flushes_expired_rows_in_the_background() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Issued in 2001: expired by the wall clock the server reads.
    app.clock.set(1_000_000_000);
    app.alice().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        1
    );

    let (server, dir) = serve_with_flush_interval(&app, "1");
    // The first flush runs as the server starts; poll for it with a deadline. It deletes
    // tokens and sessions in separate transactions, so wait for both.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.count("SELECT COUNT(*) FROM outstanding_tokens").await != 0
        || app.count("SELECT COUNT(*) FROM token_families").await != 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the background flush did not delete the expired token; the server's log:\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_zero_flush_interval_turns_the_background_flush_off() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.clock.set(1_000_000_000);
    app.alice().await;
    let (server, dir) = serve_with_flush_interval(&app, "0");
    // The server is up (it printed its address); a request proves it has finished starting.
    let (status, _) = crate::smoke::http_get(&format!("{}/healthz", server.base)).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        1
    );
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
