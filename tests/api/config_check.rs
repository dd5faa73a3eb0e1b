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
    for secret in [
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
