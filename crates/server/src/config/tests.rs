//! The settings' names, defaults, sources and refusals.

use super::*;

#[test]
fn a_schema_must_be_a_plain_identifier() {
    for good in ["jwtd", "_x", "Auth_2", &"s".repeat(63)] {
        assert!(is_plain_identifier(good), "{good}");
    }
    for bad in [
        "",
        "2fa",
        "jwtd; DROP TABLE users",
        "a-b",
        "\"quoted\"",
        "sch\u{e9}ma",
        "a b",
        &"s".repeat(64),
    ] {
        assert!(!is_plain_identifier(bad), "{bad}");
    }
}

#[test]
fn every_setting_keeps_its_flat_name_and_default() {
    let defaults = serde_json::to_value(Config::default()).unwrap();
    // In parts: one `json!` of every setting is past the macro's recursion limit.
    let browser = serde_json::json!({
        "refresh_cookie": false,
        "refresh_cookie_secure": true,
        "refresh_cookie_samesite": "Strict",
        "refresh_cookie_name": "refresh_token",
        "refresh_cookie_domain": null,
        "refresh_cookie_body": false,
        "cors_allowed_origins": [],
        "header_read_timeout": 10,
        "request_timeout": 20,
        "keep_alive_timeout": 30,
        "max_connections": 512,
    });
    let mut expected = serde_json::json!({
        "access_token_lifetime": 300,
        "refresh_token_lifetime": 86_400,
        "rotate_refresh_tokens": true,
        "blacklist_after_rotation": true,
        "algorithm": "HS256",
        "signing_key_file": null,
        "verifying_key_file": [],
        "audience": null,
        "issuer": null,
        "leeway": 0,
        "user_id_claim": "user_id",
        "token_type_claim": "token_type",
        "jti_claim": "jti",
        "rotation_grace_seconds": 10,
        "rotation_grace_binding": "client",
        "session_max_lifetime": 2_592_000,
        "access_token_profile": "simplejwt",
        "access_token_client_id": null,
        "bind": "127.0.0.1:8000",
        "auth_header_types": ["Bearer"],
        "auth_header_name": "Authorization",
        "update_last_login": false,
        "check_user_is_active": true,
        "trusted_proxies": [],
        "metrics": true,
        "metrics_bind": null,
        "shutdown_timeout": 25,
        "revoke_access_on_logout": false,
        "revocation_poll_interval": 1,
        "introspect_client_id": null,
        "adopt_refresh_tokens_issued_before": null,
    });
    let storage = serde_json::json!({
        "database_url": "sqlite://jwtd.db",
        "database_schema": null,
        "database_max_connections": 10,
        "database_acquire_timeout": 5,
        "database_statement_timeout": 5,
        "auto_migrate": true,
        "events_retention": 7_776_000,
        "flush_expired_interval": 3600,
        "argon2_memory_kib": auth_core::PasswordHasher::DEFAULT_MEMORY_KIB,
        "argon2_iterations": auth_core::PasswordHasher::DEFAULT_ITERATIONS,
        "argon2_parallelism": auth_core::PasswordHasher::DEFAULT_PARALLELISM,
        "log": "info",
        "log_format": "text",
    });
    let abuse = serde_json::json!({
        "login_username_max_failures": 5,
        "login_username_window": 900,
        "login_address_max_attempts": 30,
        "login_address_window": 60,
        "refresh_rate_per_minute": 120,
        "verify_rate_per_minute": 600,
    });
    for part in [browser, abuse, storage] {
        if let (Some(expected), Some(part)) = (expected.as_object_mut(), part.as_object()) {
            expected.extend(part.clone());
        }
    }
    assert_eq!(defaults, expected);
    assert_eq!(known_keys().len(), 64);
}

#[test]
fn a_file_is_read_flat_and_a_bad_or_unknown_key_is_named() {
    let load = |toml: &str| {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
        Config::extract(&figment, &known_keys())
    };
    let config = load("leeway = \"5s\"\ndatabase_max_connections = 3\nlog = \"warn\"\nauth_header_types = \"JWT, Bearer\"\nsigning_key = 12").unwrap();
    assert_eq!(config.tokens.leeway.0.as_secs(), 5);
    assert_eq!(config.database.max_connections, 3);
    assert_eq!(config.logging.filter, "warn");
    assert_eq!(config.http.auth_header_types.0, ["JWT", "Bearer"]);
    assert_eq!(
        config
            .tokens
            .signing_key
            .as_ref()
            .map(ExposeSecret::expose_secret),
        Some("12")
    );
    let refusal = |toml: &str| load(toml).unwrap_err().to_string();
    assert!(
        refusal("log_format = \"xml\"\nleeway = \"soon\"").starts_with(
            "invalid setting JWTD_LEEWAY (TOML source string): \"soon\" is not a duration"
        ),
    );
    assert!(refusal("[tokens]\nleeway = 3").starts_with(
        "invalid setting JWTD_TOKENS (TOML source string): unknown field: found `tokens`, expected `one of `access_token_lifetime`, "
    ));
    assert_eq!(
        refusal("database_max_connections = \"x\""),
        "invalid setting JWTD_DATABASE_MAX_CONNECTIONS (TOML source string): invalid type: found string \"x\", expected u32"
    );
}

#[test]
fn cookie_mode_settings_are_checked_and_a_bad_one_is_named() {
    let settings = |toml: &str| {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
        let config = Config::extract(&figment, &known_keys()).unwrap();
        config.check().map(|()| config.browser.settings().unwrap())
    };
    let refusal = |toml: &str| settings(toml).unwrap_err().to_string();
    let (cookie, origins) = settings("").unwrap();
    assert!(
        cookie.is_none() && origins.is_empty(),
        "cookie mode and CORS are off by default"
    );
    let (cookie, origins) = settings(
        "refresh_cookie = true\nrefresh_cookie_samesite = \"lax\"\nrefresh_cookie_domain = \".Example.com\"\ncors_allowed_origins = \"https://app.example.com/, http://localhost:5173\"",
    )
    .unwrap();
    let cookie = cookie.unwrap();
    assert_eq!(cookie.same_site, api::cookies::SameSite::Lax);
    assert_eq!(cookie.domain.as_deref(), Some("example.com"));
    assert_eq!(
        origins
            .iter()
            .map(|origin| origin.as_str())
            .collect::<Vec<_>>(),
        ["https://app.example.com", "http://localhost:5173"]
    );
    for (toml, setting) in [
        (
            "refresh_cookie_samesite = \"sometimes\"",
            "JWTD_REFRESH_COOKIE_SAMESITE",
        ),
        (
            "refresh_cookie_samesite = \"None\"\nrefresh_cookie_secure = false",
            "JWTD_REFRESH_COOKIE_SAMESITE",
        ),
        ("refresh_cookie_name = \"a b\"", "JWTD_REFRESH_COOKIE_NAME"),
        (
            "refresh_cookie_name = \"csrftoken\"",
            "JWTD_REFRESH_COOKIE_NAME",
        ),
        (
            "refresh_cookie_domain = \"x;y\"",
            "JWTD_REFRESH_COOKIE_DOMAIN",
        ),
        ("cors_allowed_origins = \"*\"", "JWTD_CORS_ALLOWED_ORIGINS"),
        (
            "cors_allowed_origins = \"app.example.com\"",
            "JWTD_CORS_ALLOWED_ORIGINS",
        ),
        ("refresh_cookie = true", "JWTD_CORS_ALLOWED_ORIGINS"),
    ] {
        assert!(
            refusal(toml).starts_with(&format!("invalid setting {setting}: ")),
            "{toml}: {}",
            refusal(toml)
        );
    }
}
