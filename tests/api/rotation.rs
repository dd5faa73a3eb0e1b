//! Rotation on and off, blacklist-after-rotation on and off, the grace window, and the
//! atomicity of rotation under 50 concurrent refreshes of one token.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use integration_tests::{Backend, TestApp, backend_tests, json};
use sea_orm::{ConnectionTrait, TransactionTrait};
use tower::ServiceExt;

const OUTSTANDING: &str = "SELECT COUNT(*) FROM outstanding_tokens";
const BLACKLISTED: &str = "SELECT COUNT(*) FROM blacklisted_tokens";

async fn zero_grace(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.tokens.rotation_grace = Duration::ZERO;
    })
    .await
}

/// Presents `rotated` again and asserts reuse detection: a 401 "Token is blacklisted" that
/// says `reuse_detected`, and `successor` refused from then on.
async fn assert_reuse_revokes_the_family(app: &TestApp, rotated: &str, successor: &str) {
    let reuse = app.refresh(rotated).await;
    reuse.assert_token_not_valid("Token is blacklisted");
    assert_eq!(
        reuse.header("x-jwtd-reason").as_deref(),
        Some("reuse_detected")
    );
    app.refresh(successor)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn with_rotation_off_the_same_refresh_token_serves_again_and_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.rotate_refresh_tokens = false;
    })
    .await;
    let (refresh, _) = app.alice().await;
    for _ in 0..3 {
        app.clock.advance(60);
        let response = app.refresh(&refresh).await.assert_ok();
        let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["access"]);
    }
    assert_eq!(
        app.count(OUTSTANDING).await,
        1,
        "no writes without rotation"
    );
    assert_eq!(app.count(BLACKLISTED).await, 0);
    app.logout(&refresh)
        .await
        .assert(axum::http::StatusCode::OK, "{}");
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn rotation_blacklists_the_presented_token(backend: Backend) {
    let app = zero_grace(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    assert_eq!(app.count(OUTSTANDING).await, 2);
    assert_eq!(
        app.text("SELECT reason FROM blacklisted_tokens").await,
        "rotated"
    );
    app.refresh(&second).await.assert_ok();
    assert_eq!(app.count(BLACKLISTED).await, 2);
}

async fn without_blacklist_after_rotation_an_old_token_forks_new_ones(backend: Backend) {
    // simplejwt's ROTATE_REFRESH_TOKENS without BLACKLIST_AFTER_ROTATION.
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.blacklist_after_rotation = false;
        config.tokens.rotation_grace = Duration::ZERO;
    })
    .await;
    let (first, _) = app.alice().await;
    let mut successors = Vec::new();
    for _ in 0..3 {
        app.clock.advance(1);
        let response = app.refresh(&first).await.assert_ok();
        successors.push(response.str("refresh"));
    }
    successors.sort();
    successors.dedup();
    assert_eq!(successors.len(), 3, "each use mints a distinct successor");
    assert_eq!(app.count(OUTSTANDING).await, 4);
    assert_eq!(app.count(BLACKLISTED).await, 0);
    for successor in &successors {
        app.refresh(successor).await.assert_ok();
    }
}

async fn inside_the_grace_window_a_replay_gets_the_same_successor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    app.clock.advance(9);
    let replay = app.refresh(&first).await.assert_ok();
    assert_eq!(replay.str("refresh"), second);
    assert_eq!(app.count(OUTSTANDING).await, 2);
}

async fn a_replay_after_the_grace_window_revokes_the_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    app.clock.advance(10);
    assert_reuse_revokes_the_family(&app, &first, &second).await;
}

async fn with_zero_grace_a_second_use_is_reuse_and_revokes_the_family(backend: Backend) {
    let app = zero_grace(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    assert_reuse_revokes_the_family(&app, &first, &second).await;
    app.logout(&second)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

/// Sends `count` refreshes of `token` at once, each a task of its own, and returns
/// `(status, body, refresh token if any)` of each.
async fn concurrent_refreshes(
    app: &TestApp,
    token: &str,
    count: usize,
) -> Vec<(StatusCode, String, Option<String>)> {
    refresh_all_at_once(app, &vec![token.to_owned(); count]).await
}

/// Sends a refresh of each of `tokens` at once, each a task of its own, and returns
/// `(status, body, refresh token if any)` of each, in order.
async fn refresh_all_at_once(
    app: &TestApp,
    tokens: &[String],
) -> Vec<(StatusCode, String, Option<String>)> {
    let tasks: Vec<_> = tokens
        .iter()
        .map(|token| {
            let request = Request::post("/token/refresh")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({ "refresh": token }).to_string()))
                .unwrap();
            let router = app.router.clone();
            tokio::spawn(async move {
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                let has_auth_header = response.headers().contains_key(header::WWW_AUTHENTICATE);
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let text = String::from_utf8(bytes.to_vec()).unwrap();
                assert_eq!(
                    has_auth_header,
                    status == StatusCode::UNAUTHORIZED,
                    "{status} {text}"
                );
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                let refresh = json["refresh"].as_str().map(str::to_owned);
                (status, text, refresh)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tokens.len());
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

async fn with_zero_grace_exactly_one_of_fifty_concurrent_refreshes_wins(backend: Backend) {
    let app = zero_grace(backend).await;
    let (refresh, _) = app.alice().await;
    let results = concurrent_refreshes(&app, &refresh, 50).await;
    let winners = results
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::OK)
        .count();
    let blacklisted = results
        .iter()
        .filter(|(status, text, _)| {
            *status == StatusCode::UNAUTHORIZED
                && text == r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#
        })
        .count();
    assert_eq!((winners, blacklisted), (1, 49), "{results:#?}");
    assert_eq!(
        app.count(OUTSTANDING).await,
        2,
        "exactly one successor minted"
    );
}

async fn inside_the_grace_window_fifty_concurrent_refreshes_share_one_successor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    let results = concurrent_refreshes(&app, &refresh, 50).await;
    let mut successors: Vec<_> = results
        .iter()
        .map(|(status, text, successor)| {
            assert_eq!(*status, StatusCode::OK, "{text}");
            successor.clone().unwrap()
        })
        .collect();
    successors.sort();
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all");
    assert_eq!(app.count(OUTSTANDING).await, 2);
    app.refresh(&successors[0]).await.assert_ok();
}

backend_tests!(
    with_rotation_off_the_same_refresh_token_serves_again_and_again,
    rotation_blacklists_the_presented_token,
    without_blacklist_after_rotation_an_old_token_forks_new_ones,
    inside_the_grace_window_a_replay_gets_the_same_successor,
    a_replay_after_the_grace_window_revokes_the_family,
    with_zero_grace_a_second_use_is_reuse_and_revokes_the_family,
    with_zero_grace_exactly_one_of_fifty_concurrent_refreshes_wins,
    inside_the_grace_window_fifty_concurrent_refreshes_share_one_successor,
);

/// SQLite's writer commits concurrent rotations in one transaction. A rotation that fails in
/// the database halfway through its writes (here a trigger refuses its successor, after its
/// token was blacklisted) must undo its own writes and nobody else's: its token stays usable
/// and every other rotation committed with it stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_failing_in_the_database_writes_nothing_and_spares_its_batch() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let install = |family: &str| {
        format!(
            "CREATE TRIGGER doom BEFORE INSERT ON outstanding_tokens \
             WHEN NEW.family_id = '{family}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
    };
    assert_a_failing_rotation_spares_its_batch(&app, install, "DROP TRIGGER doom").await;
}

/// Logs in 16 sessions, has `install` (given the family) make the database fail the
/// rotation of the eighth, rotates all 16 at once, and asserts that the eighth alone failed
/// and wrote nothing; once `remove` has run, it rotates.
async fn assert_a_failing_rotation_spares_its_batch(
    app: &TestApp,
    install: impl Fn(&str) -> String,
    remove: &str,
) {
    let tokens = sessions_of_alice(app, 16).await;
    let doomed = tokens[7].clone();
    let family = family_of(&doomed);
    app.execute(&install(&family)).await;
    app.clock.advance(60);
    let results = refresh_all_at_once(app, &tokens).await;
    for (index, (status, text, _)) in results.iter().enumerate() {
        let expected = if index == 7 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        assert_eq!(*status, expected, "refresh {index}: {text}");
    }
    assert_eq!(app.count(OUTSTANDING).await, 16 + 15);
    assert_eq!(app.count(BLACKLISTED).await, 15);
    let doomed_blacklisted = format!(
        "SELECT COUNT(*) FROM blacklisted_tokens b \
         JOIN outstanding_tokens o ON o.id = b.token_id WHERE o.family_id = '{family}'"
    );
    assert_eq!(app.count(&doomed_blacklisted).await, 0);
    app.execute(remove).await;
    app.refresh(&doomed).await.assert_ok();
}

/// PostgreSQL, or `None` after saying the test is skipped.
fn postgres_or_skip() -> Option<Backend> {
    let backend = Backend::postgres();
    if backend.is_none() {
        eprintln!("SKIPPED: JWTD_TEST_POSTGRES_URL is not set");
    }
    backend
}

/// Logs `alice` in `count` times and returns each session's refresh token.
/// A PostgreSQL app (or `None`, reported as skipped) with `count` sessions of alice.
async fn postgres_app_with_sessions(count: usize) -> Option<(TestApp, Vec<String>)> {
    let app = TestApp::spawn(postgres_or_skip()?).await;
    let tokens = sessions_of_alice(&app, count).await;
    Some((app, tokens))
}

async fn sessions_of_alice(app: &TestApp, count: usize) -> Vec<String> {
    app.create_user("alice", "wonderland").await;
    let mut tokens = Vec::with_capacity(count);
    for _ in 0..count {
        tokens.push(
            app.login("alice", "wonderland")
                .await
                .assert_ok()
                .str("refresh"),
        );
    }
    tokens
}

fn family_of(token: &str) -> String {
    integration_tests::claims(token)["sid"]
        .as_str()
        .expect("sid")
        .to_owned()
}

/// On PostgreSQL, concurrent rotations of different sessions are committed together: their
/// successors share transactions (a row's `xmin` is the transaction that inserted it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_concurrent_rotations_are_committed_in_shared_transactions() {
    let Some((app, mut tokens)) = postgres_app_with_sessions(32).await else {
        return;
    };
    app.clock.advance(60);
    for round in 0..3 {
        let results = refresh_all_at_once(&app, &tokens).await;
        for (index, (status, text, _)) in results.iter().enumerate() {
            assert_eq!(
                *status,
                StatusCode::OK,
                "round {round}, refresh {index}: {text}"
            );
        }
        tokens = results
            .into_iter()
            .filter_map(|(_, _, next)| next)
            .collect();
        assert_eq!(tokens.len(), 32);
    }
    let successors = "SELECT COUNT(DISTINCT xmin::text) FROM outstanding_tokens \
                      WHERE parent_jti IS NOT NULL";
    let transactions = app.count(successors).await;
    assert!(
        (1..32 * 3).contains(&transactions),
        "{transactions} transactions for 96 rotations"
    );
    eprintln!("96 rotations in {transactions} transactions");
    assert_eq!(app.count(OUTSTANDING).await, 32 + 32 * 3);
    assert_eq!(app.count(BLACKLISTED).await, 32 * 3);
}

/// A family locked by a long transaction elsewhere holds up its own rotation only: the
/// batch skips it (its rotation waits alone for the lock) and commits the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_family_locked_elsewhere_does_not_hold_up_other_sessions() {
    let Some((app, tokens)) = postgres_app_with_sessions(9).await else {
        return;
    };
    let (held, others) = tokens.split_first().expect("nine sessions");
    let holder = app.state.db.write.begin().await.expect("begin");
    holder
        .execute_unprepared(&format!(
            "SELECT id FROM token_families WHERE id = '{}' FOR UPDATE",
            family_of(held)
        ))
        .await
        .expect("lock one family");

    let router = app.router.clone();
    let waiting = tokio::spawn({
        let held = held.clone();
        async move {
            let request = axum::http::Request::post("/token/refresh")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({ "refresh": held }).to_string()))
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }
    });
    // Let the held family's rotation reach its lock before the others are sent.
    let holder_pid: i32 = holder
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_backend_pid()",
        ))
        .await
        .expect("pid")
        .expect("a row")
        .try_get_by_index(0)
        .expect("an int");
    let blocked = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE {holder_pid} = ANY(pg_blocking_pids(pid))"
    );
    let mut polls = 0;
    while app.count(&blocked).await == 0 {
        polls += 1;
        assert!(
            polls < 500,
            "the held family's rotation never waited for its lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Well inside the 30 s statement timeout of the test databases: were the batch waiting
    // for the held family, these would wait for it too.
    let others = tokio::time::timeout(Duration::from_secs(10), refresh_all_at_once(&app, others))
        .await
        .expect("the other sessions rotate while one family is locked");
    for (index, (status, text, _)) in others.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "refresh {index}: {text}");
    }
    assert!(
        !waiting.is_finished(),
        "the held family's rotation waits for its lock"
    );

    holder.rollback().await.expect("release");
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    assert_eq!(app.count(OUTSTANDING).await, 9 + 9);
}

/// As for SQLite above: on PostgreSQL a rotation that fails in the database fails the
/// batch's one write, and every rotation of the batch then runs alone, so that the failure
/// undoes that rotation only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_rotation_failing_in_the_database_writes_nothing_and_spares_its_batch() {
    let Some(backend) = postgres_or_skip() else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    let install = |family: &str| {
        format!(
            "CREATE FUNCTION doom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.family_id = '{family}' THEN RAISE EXCEPTION 'injected'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER doom BEFORE INSERT ON outstanding_tokens \
             FOR EACH ROW EXECUTE FUNCTION doom()"
        )
    };
    let remove = "DROP TRIGGER doom ON outstanding_tokens";
    assert_a_failing_rotation_spares_its_batch(&app, install, remove).await;
}

/// On PostgreSQL, a batch whose write does not insert exactly the rows it planned is rolled
/// back whole and each of its rotations runs alone. Here a trigger silently drops the
/// blacklist row of one family's token, as if another transaction had rotated it first:
/// that rotation alone fails (its token cannot be marked rotated, so no successor is
/// issued), and the other fifteen commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_batch_that_writes_other_than_planned_is_undone_and_run_alone() {
    let Some((app, tokens)) = postgres_app_with_sessions(16).await else {
        return;
    };
    let family = family_of(&tokens[7]);
    app.execute(&format!(
        "CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF EXISTS (SELECT 1 FROM outstanding_tokens o \
                          WHERE o.id = NEW.token_id AND o.family_id = '{family}') \
         THEN RETURN NULL; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER drop_row BEFORE INSERT ON blacklisted_tokens \
         FOR EACH ROW EXECUTE FUNCTION drop_row()"
    ))
    .await;
    app.clock.advance(60);
    let results = refresh_all_at_once(&app, &tokens).await;
    for (index, (status, text, _)) in results.iter().enumerate() {
        let expected = if index == 7 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        assert_eq!(*status, expected, "refresh {index}: {text}");
    }
    let in_family = format!("SELECT COUNT(*) FROM outstanding_tokens WHERE family_id = '{family}'");
    assert_eq!(
        app.count(&in_family).await,
        1,
        "no successor without its parent blacklisted"
    );
    assert_eq!(app.count(OUTSTANDING).await, 16 + 15);
    assert_eq!(app.count(BLACKLISTED).await, 15);
    app.execute("DROP TRIGGER drop_row ON blacklisted_tokens")
        .await;
    app.refresh(&tokens[7]).await.assert_ok();
}
