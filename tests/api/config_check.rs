//! `jwtd config check` and where `/metrics` is served, through the real binary.

use std::process::Output;

use crate::cli::Site;
use crate::smoke::http_get;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The line of `JWTD_<name>` in the report.
fn line<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|line| line.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in\n{report}"))
}

fn check(site: &Site, args: &[&str]) -> Output {
    let mut all = vec!["config", "check"];
    all.extend_from_slice(args);
    site.jwtd(&all, "")
}

#[test]
fn config_check_shows_each_setting_with_its_origin_and_no_secret() {
    let site = Site::new(&[
        (
            "JWTD_DATABASE_URL",
            "postgres://jwtd:pg-Secret-771@db.internal/jwtd",
        ),
        (
            "JWTD_REDIS_URL",
            "redis://:redis-Secret-553@cache.internal:6379/0",
        ),
        ("JWTD_SIGNING_KEY", "signing-Secret-0123456789abcdef-xyz"),
        ("JWTD_AUDIENCE", "billing"),
        ("JWTD_INTROSPECT_CLIENT_ID", "billing-api"),
        ("JWTD_INTROSPECT_CLIENT_SECRET", "introspect-Secret-8812"),
        ("JWTD_NOT_A_SETTING", "1"),
    ]);
    let file = std::env::temp_dir().join(integration_tests::unique_name("jwtd_config"));
    std::fs::write(&file, "leeway = \"5s\"\naudience = \"from-file\"\n").unwrap();
    let output = check(&site, &["--config", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    let (report, warnings) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{report}{warnings}");

    assert!(
        line(&report, "JWTD_LEEWAY").starts_with("JWTD_LEEWAY=5 "),
        "{report}"
    );
    assert!(
        line(&report, "JWTD_LEEWAY").ends_with(&format!("# file {}", file.display())),
        "{report}"
    );
    // The environment wins over the file.
    let audience = line(&report, "JWTD_AUDIENCE");
    assert!(audience.starts_with("JWTD_AUDIENCE=billing "), "{report}");
    assert!(audience.ends_with("# environment"), "{report}");
    let lifetime = line(&report, "JWTD_ACCESS_TOKEN_LIFETIME");
    assert!(
        lifetime.starts_with("JWTD_ACCESS_TOKEN_LIFETIME=300 "),
        "{report}"
    );
    assert!(lifetime.ends_with("# default"), "{report}");
    assert!(
        line(&report, "JWTD_DATABASE_URL")
            .starts_with("JWTD_DATABASE_URL=postgres://jwtd:***@db.internal/jwtd "),
        "{report}"
    );
    assert!(
        line(&report, "JWTD_REDIS_URL")
            .starts_with("JWTD_REDIS_URL=redis://:***@cache.internal:6379/0 "),
        "{report}"
    );
    assert!(
        line(&report, "JWTD_SIGNING_KEY").starts_with("JWTD_SIGNING_KEY=(set, redacted) "),
        "{report}"
    );
    assert!(line(&report, "JWTD_METRICS_BIND").starts_with("JWTD_METRICS_BIND=(unset) "));
    assert!(
        line(&report, "JWTD_INTROSPECT_CLIENT_ID")
            .starts_with("JWTD_INTROSPECT_CLIENT_ID=billing-api "),
        "{report}"
    );
    assert!(
        line(&report, "JWTD_INTROSPECT_CLIENT_SECRET")
            .starts_with("JWTD_INTROSPECT_CLIENT_SECRET=(set, redacted) "),
        "{report}"
    );
    for secret in [
        "introspect-Secret-8812",
        "pg-Secret-771",
        "redis-Secret-553",
        "signing-Secret-0123456789",
    ] {
        assert!(!report.contains(secret), "{secret} in\n{report}");
        assert!(!warnings.contains(secret), "{secret} in\n{warnings}");
    }
    assert_eq!(
        warnings,
        "warning: unknown setting JWTD_NOT_A_SETTING is ignored\n"
    );
    assert!(report.ends_with("# configuration is valid\n"), "{report}");
}

#[test]
fn config_check_exits_2_naming_an_invalid_setting() {
    for (name, value) in [
        ("JWTD_ROTATE_REFRESH_TOKENS", "maybe"),
        ("JWTD_METRICS_BIND", "everywhere"),
        ("JWTD_DATABASE_URL", "oracle://x"),
        ("JWTD_DATABASE_SCHEMA", "jwtd; DROP SCHEMA public"),
        ("JWTD_DATABASE_SCHEMA", "a-b"),
        ("JWTD_REQUEST_TIMEOUT", "0"),
        ("JWTD_HEADER_READ_TIMEOUT", "soon"),
        ("JWTD_MAX_CONNECTIONS", "0"),
    ] {
        let site = Site::new(&[(name, value)]);
        let output = check(&site, &[]);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        assert!(output.stdout.is_empty(), "{name}: {output:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with(&format!("jwtd: invalid setting {name}")),
            "{stderr}"
        );
    }
}

/// Issue 15: the abuse limits and trusted proxies are settings like any other; the replaced
/// `JWTD_TRUST_X_FORWARDED_FOR` stops start-up naming its successor, and a proxy entry that
/// is neither an address nor a CIDR is named.
#[test]
fn config_check_shows_the_abuse_settings_and_refuses_the_replaced_forwarded_for() {
    let site = Site::new(&[
        ("JWTD_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
        ("JWTD_LOGIN_USERNAME_MAX_FAILURES", "3"),
        ("JWTD_ROTATION_GRACE_BINDING", "user-agent"),
    ]);
    let output = check(&site, &[]);
    let report = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}{}",
        text(&output.stderr)
    );
    for (name, value, origin) in [
        ("JWTD_TRUSTED_PROXIES", "10.0.0.0/8,::1", "environment"),
        ("JWTD_LOGIN_USERNAME_MAX_FAILURES", "3", "environment"),
        ("JWTD_LOGIN_USERNAME_WINDOW", "900", "default"),
        ("JWTD_LOGIN_ADDRESS_MAX_ATTEMPTS", "30", "default"),
        ("JWTD_LOGIN_ADDRESS_WINDOW", "60", "default"),
        ("JWTD_REFRESH_RATE_PER_MINUTE", "120", "default"),
        ("JWTD_VERIFY_RATE_PER_MINUTE", "600", "default"),
        ("JWTD_ROTATION_GRACE_BINDING", "user-agent", "environment"),
    ] {
        let shown = line(&report, name);
        assert!(shown.starts_with(&format!("{name}={value} ")), "{report}");
        assert!(shown.ends_with(&format!("# {origin}")), "{report}");
    }

    for (name, value, message) in [
        (
            "JWTD_TRUST_X_FORWARDED_FOR",
            "true",
            "jwtd: JWTD_TRUST_X_FORWARDED_FOR was replaced by JWTD_TRUSTED_PROXIES",
        ),
        (
            "JWTD_TRUSTED_PROXIES",
            "10.0.0.0/8,proxy.internal",
            "jwtd: invalid setting JWTD_TRUSTED_PROXIES: \"proxy.internal\" is not an address or a CIDR",
        ),
        (
            "JWTD_ROTATION_GRACE_BINDING",
            "ip",
            "jwtd: invalid setting JWTD_ROTATION_GRACE_BINDING",
        ),
    ] {
        let site = Site::new(&[(name, value)]);
        let output = check(&site, &[]);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with(message), "{stderr}");
    }
}

#[test]
fn introspection_needs_both_its_client_id_and_secret() {
    for (set, missing) in [
        ("JWTD_INTROSPECT_CLIENT_ID", "JWTD_INTROSPECT_CLIENT_SECRET"),
        ("JWTD_INTROSPECT_CLIENT_SECRET", "JWTD_INTROSPECT_CLIENT_ID"),
    ] {
        let site = Site::new(&[(set, "introspect-Secret-4410")]);
        let output = check(&site, &[]);
        assert_eq!(output.status.code(), Some(2), "{set}: {output:?}");
        let stderr = text(&output.stderr);
        assert_eq!(
            stderr,
            format!("jwtd: invalid setting {missing}: required when {set} is set\n")
        );
    }
}

#[test]
fn serve_refuses_to_start_on_a_schema_that_is_not_a_plain_identifier() {
    let site = Site::new(&[("JWTD_DATABASE_SCHEMA", "public,evil")]);
    let output = site.jwtd(&["serve", "--bind", "127.0.0.1:0"], "");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(
        text(&output.stderr),
        "jwtd: invalid setting JWTD_DATABASE_SCHEMA: \"public,evil\" is not a plain identifier (ASCII letters, digits and _, not starting with a digit, at most 63 characters)\n"
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn metrics_move_to_their_own_address_or_go_away() {
    let port = free_port();
    let metrics_bind = format!("127.0.0.1:{port}");
    let site = Site::new(&[("JWTD_METRICS_BIND", &metrics_bind)]);
    let server = site.serve();
    let (status, body) = http_get(&format!("http://{metrics_bind}/metrics")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("# TYPE jwtd_logins_total counter"), "{body}");
    assert_eq!(
        http_get(&format!("http://{metrics_bind}/healthz")).await.0,
        404
    );
    assert_eq!(http_get(&format!("{}/metrics", server.base)).await.0, 404);
    assert_eq!(http_get(&format!("{}/healthz", server.base)).await.0, 200);
    drop(server);

    let site = Site::new(&[("JWTD_METRICS", "false")]);
    let server = site.serve();
    assert_eq!(http_get(&format!("{}/metrics", server.base)).await.0, 404);
    assert_eq!(http_get(&format!("{}/healthz", server.base)).await.0, 200);
}
