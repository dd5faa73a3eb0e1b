//! Issue 15: the grace window must not let a thief shadow a session. A replay of a
//! just-rotated refresh token is forgiven only for the client whose rotation it repeats
//! (`JWTD_ROTATION_GRACE_BINDING`); from anyone else it is reuse and revokes the family.
//! Every forgiven replay is a `rotation_grace_replay` security event, counted in `/metrics`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use auth_core::GraceBinding;
use axum::http::{Method, StatusCode};
use integration_tests::{
    Backend, Send, TestApp, TestResponse, VERIFY_BLACKLISTED, backend_tests, json,
};

/// Who sends a request: the socket peer and the `User-Agent`.
#[derive(Clone, Copy, Debug)]
struct Device {
    address: [u8; 4],
    agent: &'static str,
}

impl Device {
    fn peer(self) -> SocketAddr {
        let [a, b, c, d] = self.address;
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), 50_000)
    }
}

/// The owner's phone app.
const OWNER: Device = Device {
    address: [192, 0, 2, 7],
    agent: "shop-app/3.1 (iPhone)",
};

/// The owner's phone after its network changed.
const OWNER_MOVED: Device = Device {
    address: [198, 51, 100, 23],
    agent: OWNER.agent,
};

/// A thief: another machine, another program.
const THIEF: Device = Device {
    address: [203, 0, 113, 66],
    agent: "python-requests/2.32",
};

/// A thief who copied the owner's `User-Agent` but not its address.
const THIEF_SAME_AGENT: Device = Device {
    address: [203, 0, 113, 66],
    agent: OWNER.agent,
};

/// A thief behind the owner's address (the same NAT) with another program.
const THIEF_SAME_ADDRESS: Device = Device {
    address: OWNER.address,
    agent: "curl/8.5.0",
};

async fn post_from(
    app: &TestApp,
    device: Device,
    path: &str,
    body: serde_json::Value,
) -> TestResponse {
    app.request_from(
        Some(device.peer()),
        Method::POST,
        path,
        Send::Json(body),
        &[("user-agent", device.agent)],
    )
    .await
}

async fn refresh_from(app: &TestApp, device: Device, refresh: &str) -> TestResponse {
    post_from(app, device, "/token/refresh", json!({ "refresh": refresh })).await
}

async fn verify_from(app: &TestApp, device: Device, token: &str) -> TestResponse {
    post_from(app, device, "/token/verify", json!({ "token": token })).await
}

/// Logs alice in from `device` and returns her first refresh token.
async fn login_from(app: &TestApp, device: Device) -> String {
    let body = json!({ "username": "alice", "password": "wonderland" });
    post_from(app, device, "/token", body)
        .await
        .assert_ok()
        .str("refresh")
}

async fn events(app: &TestApp, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM auth_events WHERE kind = '{kind}'"
    ))
    .await
}

async fn spawn(backend: Backend, binding: GraceBinding) -> TestApp {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.rotation_grace_binding = binding;
    })
    .await;
    app.create_user("alice", "wonderland").await;
    app
}

/// The attack of issue 15, played out: the thief holds R0, polls `/token/verify` until it
/// says the owner rotated, then presents R0 inside the grace window. Whatever the thief
/// copies of the owner's client short of both its `User-Agent` and its address, the replay
/// is reuse: refused, and the owner's session (R1 with it) is revoked.
async fn a_thief_who_waits_for_the_rotation_cannot_replay_the_stolen_token(backend: Backend) {
    let app = spawn(backend, GraceBinding::Client).await;
    for thief in [THIEF, THIEF_SAME_AGENT, THIEF_SAME_ADDRESS] {
        let r0 = login_from(&app, OWNER).await;
        verify_from(&app, thief, &r0)
            .await
            .assert(StatusCode::OK, "{}");
        app.clock.advance(1);
        let r1 = refresh_from(&app, OWNER, &r0)
            .await
            .assert_ok()
            .str("refresh");
        verify_from(&app, thief, &r0)
            .await
            .assert(StatusCode::BAD_REQUEST, VERIFY_BLACKLISTED);
        app.clock.advance(2);
        refresh_from(&app, thief, &r0)
            .await
            .assert_blacklisted("reuse_detected");
        refresh_from(&app, OWNER, &r1)
            .await
            .assert_blacklisted("family_revoked");
        // Not even the owner's own replay gets through once the family is revoked.
        refresh_from(&app, OWNER, &r0)
            .await
            .assert_blacklisted("family_revoked");
    }
    assert_eq!(events(&app, "reuse_detected").await, 3);
    assert_eq!(events(&app, "rotation_grace_replay").await, 0);
}

/// The owner's own retry (a response lost on the way) still gets the same successor, and
/// is recorded and counted as a security event.
async fn the_owner_s_own_replay_gets_the_successor_and_is_recorded(backend: Backend) {
    let app = spawn(backend, GraceBinding::Client).await;
    let r0 = login_from(&app, OWNER).await;
    let r1 = refresh_from(&app, OWNER, &r0)
        .await
        .assert_ok()
        .str("refresh");
    app.clock.advance(9);
    let replay = refresh_from(&app, OWNER, &r0).await.assert_ok();
    assert_eq!(replay.str("refresh"), r1);
    assert!(!replay.str("access").is_empty());
    assert_eq!(events(&app, "rotation_grace_replay").await, 1);
    assert_eq!(
        app.text("SELECT ip FROM auth_events WHERE kind = 'rotation_grace_replay'")
            .await,
        "192.0.2.7"
    );
    assert_eq!(
        app.text("SELECT user_agent FROM auth_events WHERE kind = 'rotation_grace_replay'")
            .await,
        OWNER.agent
    );
    let metrics = app.request(Method::GET, "/metrics", Send::Empty, &[]).await;
    assert!(
        metrics
            .text
            .contains("jwtd_security_events_total{event=\"rotation_grace_replay\"} 1"),
        "{}",
        metrics.text
    );
    // The session goes on: R1 rotates, and no address or agent is stored in the clear.
    refresh_from(&app, OWNER, &r1).await.assert_ok();
    let marks = app
        .text("SELECT client_mark FROM outstanding_tokens WHERE client_mark IS NOT NULL ORDER BY id LIMIT 1")
        .await;
    assert_eq!(marks.len(), 64, "{marks}");
    assert!(marks.chars().all(|c| c.is_ascii_hexdigit()), "{marks}");
}

/// `user-agent`: for mobile networks whose address changes; another program is still reuse.
async fn with_user_agent_binding_a_moved_owner_replays_and_another_agent_is_reuse(
    backend: Backend,
) {
    let app = spawn(backend, GraceBinding::UserAgent).await;
    let r0 = login_from(&app, OWNER).await;
    let r1 = refresh_from(&app, OWNER, &r0)
        .await
        .assert_ok()
        .str("refresh");
    let replay = refresh_from(&app, OWNER_MOVED, &r0).await.assert_ok();
    assert_eq!(replay.str("refresh"), r1);
    refresh_from(&app, THIEF_SAME_ADDRESS, &r0)
        .await
        .assert_blacklisted("reuse_detected");
    refresh_from(&app, OWNER, &r1)
        .await
        .assert_blacklisted("family_revoked");
    assert_eq!(events(&app, "rotation_grace_replay").await, 1);
}

/// `none`: the old, weaker behaviour: anyone inside the window gets the successor (and the
/// replay is still recorded).
async fn without_binding_anyone_inside_the_window_gets_the_successor(backend: Backend) {
    let app = spawn(backend, GraceBinding::None).await;
    let r0 = login_from(&app, OWNER).await;
    let r1 = refresh_from(&app, OWNER, &r0)
        .await
        .assert_ok()
        .str("refresh");
    let replay = refresh_from(&app, THIEF, &r0).await.assert_ok();
    assert_eq!(replay.str("refresh"), r1);
    assert_eq!(events(&app, "rotation_grace_replay").await, 1);
    assert_eq!(events(&app, "reuse_detected").await, 0);
}

backend_tests!(
    a_thief_who_waits_for_the_rotation_cannot_replay_the_stolen_token,
    the_owner_s_own_replay_gets_the_successor_and_is_recorded,
    with_user_agent_binding_a_moved_owner_replays_and_another_agent_is_reuse,
    without_binding_anyone_inside_the_window_gets_the_successor,
);
