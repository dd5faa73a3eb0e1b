//! Users whose hashes came from Django's `auth_user` log in with their passwords, and the
//! first successful login replaces the hash with jwtd's argon2id.

use axum::http::StatusCode;
use integration_tests::{Backend, T0, TestApp, backend_tests};
use serde_json::Value;

/// The hashes Django itself made (tests/fixtures/django, see its README).
const VECTORS: &str = include_str!("../fixtures/django/vectors.json");

/// A password and the hash Django stored for it.
pub(crate) struct Vector {
    pub(crate) name: String,
    pub(crate) password: String,
    pub(crate) encoded: String,
}

/// The Django vectors made at cheap costs (the default costs take a second each).
pub(crate) fn cheap_vectors() -> Vec<Vector> {
    let file: Value = serde_json::from_str(VECTORS).unwrap();
    file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vector| Vector {
            name: vector["name"].as_str().unwrap().to_owned(),
            password: vector["password"].as_str().unwrap().to_owned(),
            encoded: vector["encoded"].as_str().unwrap().to_owned(),
        })
        .filter(|vector| !vector.name.contains("default"))
        .collect()
}

/// The argon2id prefix of the hashes the test app writes (its hasher: 256 KiB, 1, 1).
const JWTD_HASH: &str = "$argon2id$v=19$m=256,t=1,p=1$";

const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;

async fn create_with_hash(app: &TestApp, username: &str, hash: &str) -> i64 {
    api::users::create(&app.state.db.write, username, hash, T0)
        .await
        .unwrap()
        .id
}

async fn stored_hash(app: &TestApp, id: i64) -> String {
    app.text(&format!("SELECT password_hash FROM users WHERE id = {id}"))
        .await
}

async fn a_django_hash_logs_in_once_and_is_then_jwtds_argon2id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let vectors = cheap_vectors();
    assert_eq!(vectors.len(), 12);
    for (index, vector) in vectors.iter().enumerate() {
        let username = format!("django{index}");
        let id = create_with_hash(&app, &username, &vector.encoded).await;
        let wrong = app.login(&username, &format!("{}x", vector.password)).await;
        wrong.assert_401(NO_ACCOUNT);
        assert_eq!(
            stored_hash(&app, id).await,
            vector.encoded,
            "{}",
            vector.name
        );

        let first = app.login(&username, &vector.password).await;
        assert_eq!(
            first.status,
            StatusCode::OK,
            "{}: {}",
            vector.name,
            first.text
        );
        let upgraded = stored_hash(&app, id).await;
        assert!(
            upgraded.starts_with(JWTD_HASH),
            "{}: {upgraded}",
            vector.name
        );

        // The new hash is the password's: it logs in, and it is not replaced again.
        let second = app.login(&username, &vector.password).await;
        assert_eq!(
            second.status,
            StatusCode::OK,
            "{}: {}",
            vector.name,
            second.text
        );
        assert_eq!(stored_hash(&app, id).await, upgraded, "{}", vector.name);
        app.login(&username, &vector.encoded)
            .await
            .assert_401(NO_ACCOUNT);
    }
}

async fn an_argon2_hash_of_another_cost_is_replaced_and_the_current_one_is_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let older = auth_core::PasswordHasher::new(128, 2, 1, [3; 16])
        .unwrap()
        .hash("wonderland", [4; 16])
        .unwrap();
    let id = create_with_hash(&app, "alice", &older).await;
    let current = app.create_user("bob", "builder").await;
    let bobs = stored_hash(&app, current).await;

    app.login("alice", "wonderland").await.assert_ok();
    let upgraded = stored_hash(&app, id).await;
    assert!(upgraded.starts_with(JWTD_HASH), "{upgraded}");
    app.login("bob", "builder").await.assert_ok();
    assert_eq!(stored_hash(&app, current).await, bobs);
}

async fn an_inactive_or_refused_django_user_keeps_the_django_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let vector = &cheap_vectors()[0];
    let id = create_with_hash(&app, "old", &vector.encoded).await;
    app.set_active(id, false).await;
    app.login("old", &vector.password)
        .await
        .assert_401(NO_ACCOUNT);
    assert_eq!(stored_hash(&app, id).await, vector.encoded);
    // Unsupported and unusable hashes never log in, whatever is sent.
    for (name, hash) in [
        ("md5", "md5$salt$0f3e5ba6d7d7a5f4a0b0c7e1a2a6c0c1"),
        ("unusable", "!Xy7s9aQ0bN3Lr1c5d2e4f6g8h0j2k4m6n8p0q2"),
        ("plain", "wonderland"),
    ] {
        create_with_hash(&app, name, hash).await;
        for password in ["wonderland", hash] {
            app.login(name, password).await.assert_401(NO_ACCOUNT);
        }
    }
}

async fn an_upgrade_never_overwrites_a_password_changed_meanwhile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let vector = &cheap_vectors()[0];
    let id = create_with_hash(&app, "old", &vector.encoded).await;
    let changed = app.state.passwords.hash("new".to_owned()).await.unwrap();
    api::users::set_password_hash(
        &app.state.db.write,
        &app.state.users,
        auth_core::UserId(id),
        &changed,
    )
    .await
    .unwrap();
    // What a login that read the Django hash before the change would store.
    let replaced = api::users::replace_password_hash(
        &app.state.db.write,
        auth_core::UserId(id),
        &vector.encoded,
        "$argon2id$v=19$m=256,t=1,p=1$c3RhbGU$c3RhbGU",
    )
    .await
    .unwrap();
    assert!(!replaced);
    assert_eq!(stored_hash(&app, id).await, changed);
}

backend_tests!(
    a_django_hash_logs_in_once_and_is_then_jwtds_argon2id,
    an_argon2_hash_of_another_cost_is_replaced_and_the_current_one_is_not,
    an_inactive_or_refused_django_user_keeps_the_django_hash,
    an_upgrade_never_overwrites_a_password_changed_meanwhile,
);
