//! The RFC 9068 access-token profile (`JWTD_ACCESS_TOKEN_PROFILE=rfc9068`): through the real
//! binary, tokens typed `at+jwt` with `sub` and `client_id` that `/me`, `/token/verify` and
//! `/introspect` take; the settings it needs; access tokens of the simplejwt profile refused.

use base64::Engine as _;
use integration_tests::{Backend, TestApp, claims, json};

use crate::cli::{Site, get_authed, login, post, refresh};

const ISSUER: &str = "https://auth.example";
const AUDIENCE: &str = "https://api.example";
const CLIENT_ID: &str = "spa-frontend";

fn header(token: &str) -> serde_json::Value {
    let segment = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// What RFC 9068 §2.2 asks of an access token, and simplejwt's claims beside it.
fn assert_profiled(access: &str, user_id: &str) {
    assert_eq!(header(access)["typ"], "at+jwt", "{access}");
    let claims = claims(access);
    for (claim, value) in [
        ("iss", ISSUER),
        ("aud", AUDIENCE),
        ("sub", user_id),
        ("client_id", CLIENT_ID),
        ("user_id", user_id),
        ("token_type", "access"),
    ] {
        assert_eq!(claims[claim], value, "{claim} in {claims}");
    }
    for claim in ["exp", "iat"] {
        assert!(claims[claim].is_i64(), "{claim} in {claims}");
    }
    assert!(claims["jti"].is_string(), "{claims}");
}

#[tokio::test]
async fn the_binary_issues_rfc9068_access_tokens_that_it_accepts() {
    let site = Site::new(&[
        ("JWTD_ACCESS_TOKEN_PROFILE", "rfc9068"),
        ("JWTD_ACCESS_TOKEN_CLIENT_ID", CLIENT_ID),
        ("JWTD_ISSUER", ISSUER),
        ("JWTD_AUDIENCE", AUDIENCE),
    ]);
    site.create_user("alice", "wonderland");
    let server = site.serve();
    let pair = login(&server, "alice", "wonderland", "laptop").await;
    assert_eq!(pair.status, 200, "{}", pair.text);
    assert_profiled(&pair.str("access"), "1");
    // Refresh tokens stay simplejwt's: only jwtd reads them.
    let refresh_token = pair.str("refresh");
    assert_eq!(header(&refresh_token)["typ"], "JWT");
    assert!(claims(&refresh_token).get("client_id").is_none());

    let me = get_authed(&format!("{}/me", server.base), &pair.str("access")).await;
    assert_eq!(
        (me.status, me.text.as_str()),
        (200, r#"{"id":1,"username":"alice"}"#)
    );
    let rotated = refresh(&server, &refresh_token).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_profiled(&rotated.str("access"), "1");
    let verified = post(
        &format!("{}/token/verify", server.base),
        &json!({ "token": rotated.str("access") }),
        "laptop",
    )
    .await;
    assert_eq!((verified.status, verified.text.as_str()), (200, "{}"));
}

#[test]
fn rfc9068_needs_the_issuer_the_audience_and_a_client_id() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("JWTD_ACCESS_TOKEN_PROFILE", "rfc9068")],
            "jwtd: invalid setting JWTD_ACCESS_TOKEN_PROFILE: rfc9068 tokens must carry iss, aud and client_id; set JWTD_ISSUER, JWTD_AUDIENCE, JWTD_ACCESS_TOKEN_CLIENT_ID\n",
        ),
        (
            &[
                ("JWTD_ACCESS_TOKEN_PROFILE", "rfc9068"),
                ("JWTD_ISSUER", ISSUER),
                ("JWTD_AUDIENCE", AUDIENCE),
            ],
            "jwtd: invalid setting JWTD_ACCESS_TOKEN_PROFILE: rfc9068 tokens must carry iss, aud and client_id; set JWTD_ACCESS_TOKEN_CLIENT_ID\n",
        ),
        (
            &[("JWTD_ACCESS_TOKEN_PROFILE", "oauth")],
            "jwtd: invalid setting JWTD_ACCESS_TOKEN_PROFILE: \"oauth\" is not simplejwt or rfc9068\n",
        ),
    ];
    for (settings, message) in cases {
        let site = Site::new(settings);
        let output = site.jwtd(&["config", "check"], "");
        assert_eq!(output.status.code(), Some(2), "{settings:?}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), message);
    }
}

async fn spawn(backend: Backend, profile: auth_core::AccessTokenProfile) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.tokens.issuer = Some(ISSUER.to_owned());
        config.tokens.audience = Some(AUDIENCE.to_owned());
        config.tokens.access_token_profile = profile;
        crate::introspect::allow_introspection(config);
    })
    .await
}

fn rfc9068() -> auth_core::AccessTokenProfile {
    auth_core::AccessTokenProfile::parse("rfc9068", CLIENT_ID).unwrap()
}

async fn introspection_names_the_client_and_simplejwt_access_tokens_are_refused(backend: Backend) {
    let app = spawn(backend.clone(), rfc9068()).await;
    let (_, access) = app.alice().await;
    assert_profiled(&access, "1");
    let response = crate::introspect::introspect(&app, &access).await;
    assert_eq!(response.json["active"], true);
    assert_eq!(response.json["client_id"], CLIENT_ID);
    assert_eq!(response.json["sub"], "1");
    assert_eq!(response.json["aud"], AUDIENCE);

    // An access token of the simplejwt profile, signed with the same key (one issued before
    // the profile was turned on): RFC 9068 §4 has it refused for want of `typ: at+jwt`.
    let before = spawn(backend, auth_core::AccessTokenProfile::Simplejwt).await;
    let (_, untyped) = before.alice().await;
    assert_eq!(header(&untyped)["typ"], "JWT");
    app.get_authed("/me", &untyped)
        .await
        .assert_bearer_refused("Token is invalid");
    app.get_authed("/me", &access).await.assert_ok();
}

integration_tests::backend_tests!(
    introspection_names_the_client_and_simplejwt_access_tokens_are_refused
);
