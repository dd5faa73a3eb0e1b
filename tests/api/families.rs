//! Token families: reuse detection, the grace window, and concurrent refreshes of one token.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use integration_tests::{Backend, TestApp, TestResponse, backend_tests, claims, json};
use sea_orm::EntityTrait;

/// Refreshes and returns the successor refresh token, asserting a 200.
async fn rotate(app: &TestApp, refresh: &str) -> String {
    app.refresh(refresh).await.assert_ok().str("refresh")
}

async fn every_token_of_a_login_carries_its_family_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (r0, a0) = app.alice().await;
    let sid = claims(&r0)["sid"].clone();
    assert!(sid.is_string(), "{sid}");
    let response = app.refresh(&r0).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    for token in [a0, response.str("access"), response.str("refresh")] {
        assert_eq!(claims(&token)["sid"], sid);
    }
    // A second login is a second family.
    let other = app.login("alice", "wonderland").await;
    assert_ne!(claims(&other.str("refresh"))["sid"], sid);
}

async fn replay_after_the_grace_window_revokes_the_family_and_kills_the_newest_token(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (r0, _) = app.alice().await;
    let r1 = rotate(&app, &r0).await;
    app.clock.advance(60);
    let r2 = rotate(&app, &r1).await;
    app.clock.advance(60);

    // r0 was rotated two minutes ago: presenting it again is theft.
    let replay = app.refresh(&r0).await;
    replay.assert_blacklisted("reuse_detected");

    // The legitimate holder's newest token is dead too, and says why.
    app.refresh(&r2).await.assert_blacklisted("family_revoked");
    app.refresh(&r1).await.assert_blacklisted("family_revoked");
    let verify = app.verify(&r2).await;
    assert_eq!(verify.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        verify.text,
        r#"{"non_field_errors":["Token is blacklisted"]}"#
    );
    // A second replay finds the family already revoked: no second detection.
    app.refresh(&r0).await.assert_blacklisted("family_revoked");

    // Every token of the family that was still live is blacklisted as reuse.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM blacklisted_tokens WHERE reason = 'reuse_detected'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM blacklisted_tokens").await,
        3
    );

    // One security event, naming the user and the family, never the token.
    let events = entity::auth_events::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    let reuse: Vec<_> = events
        .iter()
        .filter(|event| event.kind == "reuse_detected")
        .collect();
    assert_eq!(reuse.len(), 1, "{events:?}");
    let user_id: i64 = claims(&r0)["user_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(reuse[0].user_id, Some(user_id));
    assert_eq!(reuse[0].family_id.as_deref(), claims(&r0)["sid"].as_str());
    assert_eq!(reuse[0].at, integration_tests::T0 + 120);
    for event in &events {
        let row = format!("{event:?}");
        for token in [&r0, &r1, &r2] {
            assert!(!row.contains(token.as_str()), "{row}");
            let signature = token.rsplit('.').next().unwrap();
            assert!(!row.contains(signature), "{row}");
        }
    }
}

async fn replay_one_second_before_the_grace_edge_gets_the_same_successor_and_at_the_edge_revokes(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (r0, _) = app.alice().await;
    let first = app.refresh(&r0).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let r1 = first.str("refresh");

    app.clock.advance(9);
    let retry = app.refresh(&r0).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    // Byte for byte the successor issued the first time: the family does not fork.
    assert_eq!(retry.str("refresh"), r1);
    let access = claims(&retry.str("access"));
    assert_eq!(access["token_type"], "access");
    assert_eq!(access["sid"], claims(&r0)["sid"]);
    assert_eq!(access["iat"], json!(integration_tests::T0 + 9));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        2
    );

    app.clock.advance(1);
    app.refresh(&r0).await.assert_blacklisted("reuse_detected");
    app.refresh(&r1).await.assert_blacklisted("family_revoked");
}

async fn zero_grace_makes_an_immediate_replay_reuse(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.rotation_grace = Duration::ZERO;
    })
    .await;
    let (r0, _) = app.alice().await;
    let r1 = rotate(&app, &r0).await;
    app.refresh(&r0).await.assert_blacklisted("reuse_detected");
    app.refresh(&r1).await.assert_blacklisted("family_revoked");
}

async fn only_the_immediate_parent_of_the_newest_token_gets_grace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (r0, _) = app.alice().await;
    let r1 = rotate(&app, &r0).await;
    app.clock.advance(1);
    let r2 = rotate(&app, &r1).await;
    app.clock.advance(1);

    // r1 is r2's parent and was rotated a second ago: a retry.
    assert_eq!(rotate(&app, &r1).await, r2);
    // r0 was rotated two seconds ago, inside the window, but it is an older ancestor.
    app.refresh(&r0).await.assert_blacklisted("reuse_detected");
    app.refresh(&r2).await.assert_blacklisted("family_revoked");
    app.refresh(&r1).await.assert_blacklisted("family_revoked");
}

/// Refreshes `token` from `n` tasks at once.
async fn refresh_concurrently(app: &Arc<TestApp>, token: &str, n: usize) -> Vec<TestResponse> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let app = Arc::clone(app);
            let token = token.to_owned();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                app.refresh(&token).await
            })
        })
        .collect();
    let mut responses = Vec::with_capacity(n);
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    responses
}

async fn fifty_concurrent_refreshes_inside_the_grace_window_all_get_the_same_successor(
    backend: Backend,
) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let (r0, _) = app.alice().await;
    let responses = refresh_concurrently(&app, &r0, 50).await;
    for response in &responses {
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    }
    let successor = responses[0].str("refresh");
    assert!(
        responses
            .iter()
            .all(|response| response.str("refresh") == successor)
    );
    // One successor stored, nothing revoked, and the family lives on.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM token_families WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
    let next = rotate(&app, &successor).await;
    assert_eq!(claims(&next)["sid"], claims(&r0)["sid"]);
}

async fn with_zero_grace_one_of_fifty_concurrent_refreshes_wins_and_the_losers_revoke_the_family(
    backend: Backend,
) {
    let app = Arc::new(
        TestApp::spawn_with(backend, |config| {
            config.tokens.rotation_grace = Duration::ZERO;
        })
        .await,
    );
    let (r0, _) = app.alice().await;
    let responses = refresh_concurrently(&app, &r0, 50).await;
    let winners: Vec<_> = responses
        .iter()
        .filter(|response| response.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{responses:?}");
    // The losers presented a token that had already been rotated: reuse. The first of them
    // to be served detects it and revokes the family; the rest find it revoked.
    let reasons: Vec<String> = responses
        .iter()
        .filter(|response| response.status != StatusCode::OK)
        .map(|response| {
            response.assert_token_not_valid("Token is blacklisted");
            response.header("x-jwtd-reason").unwrap()
        })
        .collect();
    let detected = reasons
        .iter()
        .filter(|reason| *reason == "reuse_detected")
        .count();
    let found_revoked = reasons
        .iter()
        .filter(|reason| *reason == "family_revoked")
        .count();
    assert_eq!((detected, found_revoked), (1, 48), "{reasons:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM auth_events WHERE kind = 'reuse_detected'")
            .await,
        1
    );
    // The winner's successor went down with the family.
    app.refresh(&winners[0].str("refresh"))
        .await
        .assert_blacklisted("family_revoked");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens").await,
        2
    );
}

backend_tests!(
    every_token_of_a_login_carries_its_family_id,
    replay_after_the_grace_window_revokes_the_family_and_kills_the_newest_token,
    replay_one_second_before_the_grace_edge_gets_the_same_successor_and_at_the_edge_revokes,
    zero_grace_makes_an_immediate_replay_reuse,
    only_the_immediate_parent_of_the_newest_token_gets_grace,
    fifty_concurrent_refreshes_inside_the_grace_window_all_get_the_same_successor,
    with_zero_grace_one_of_fifty_concurrent_refreshes_wins_and_the_losers_revoke_the_family,
);
