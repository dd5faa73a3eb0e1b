//! The real binary's logs at the most verbose level, in both formats: a whole session
//! (login, refresh, `/me`, logout) leaves no password, token, key or `Authorization` value
//! in them, and the lines of a request carry its id.

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use integration_tests::json;
use serde_json::Value;

use crate::cli::Site;
use crate::smoke::Server;

const PASSWORD: &str = "plum-orchard-Velvet-8841";
/// What `Site` configures as `JWTD_SIGNING_KEY`.
const SIGNING_KEY: &str = "cli-test-signing-key-0123456789abcdef";

/// An answer: status, headers and the body as JSON.
struct Answer {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

/// Sends `method url` with `headers` and an optional JSON body.
async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Bytes::from(serde_json::to_vec(&body).unwrap())
        }
        None => Bytes::new(),
    };
    let response = client
        .request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Runs a whole session against `server` with request ids `<prefix>-<step>`; returns every
/// secret it saw (the tokens and the `Authorization` values).
async fn whole_session(server: &Server, prefix: &str) -> Vec<String> {
    let base = &server.base;
    let id = |step: &str| format!("{prefix}-{step}");
    let login = send(
        "POST",
        &format!("{base}/token"),
        &[("x-request-id", &id("login"))],
        Some(json!({ "username": "alice", "password": PASSWORD })),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.json);
    assert_eq!(login.headers["x-request-id"], id("login").as_str());
    let refresh = login.json["refresh"].as_str().unwrap().to_owned();
    let refreshed = send(
        "POST",
        &format!("{base}/token/refresh"),
        &[("x-request-id", &id("refresh"))],
        Some(json!({ "refresh": refresh })),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.json);
    let access = refreshed.json["access"].as_str().unwrap().to_owned();
    let rotated = refreshed.json["refresh"].as_str().unwrap().to_owned();
    let authorization = format!("Bearer {access}");
    let me = send(
        "GET",
        &format!("{base}/me"),
        &[
            ("x-request-id", &id("me")),
            ("authorization", &authorization),
        ],
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.json);
    // A refused one too: error paths log more than happy ones.
    let forged = format!("Bearer {access}x");
    let refused = send(
        "GET",
        &format!("{base}/me"),
        &[("x-request-id", &id("refused")), ("authorization", &forged)],
        None,
    )
    .await;
    assert_eq!(refused.status, 401);
    let wrong = send(
        "POST",
        &format!("{base}/token"),
        &[],
        Some(json!({ "username": "alice", "password": format!("{PASSWORD}!") })),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let logout = send(
        "POST",
        &format!("{base}/logout"),
        &[("x-request-id", &id("logout"))],
        Some(json!({ "refresh": rotated })),
    )
    .await;
    assert_eq!(logout.status, 200, "{}", logout.json);
    let access_at_login = login.json["access"].as_str().unwrap().to_owned();
    vec![
        refresh,
        rotated,
        access,
        access_at_login,
        authorization,
        forged,
    ]
}

/// Every secret of the session, and each signed part of every token alone (a log that cut
/// a token at its dots would still leak it).
fn assert_no_secret(log: &str, secrets: &[String]) {
    let mut needles: Vec<&str> = vec![PASSWORD, SIGNING_KEY];
    for secret in secrets {
        needles.push(secret);
        let token = secret.strip_prefix("Bearer ").unwrap_or(secret);
        // The header part (`{"alg":"HS256","typ":"JWT"}`) is the same in every token.
        needles.extend(token.split('.').skip(1).filter(|part| part.len() > 8));
    }
    for needle in needles {
        assert!(!log.contains(needle), "the log holds {needle:?}:\n{log}");
    }
}

#[tokio::test]
async fn trace_logs_of_a_whole_session_hold_no_secret_and_carry_request_ids() {
    for format in ["json", "text"] {
        let site = Site::new(&[("JWTD_LOG", "trace"), ("JWTD_LOG_FORMAT", format)]);
        let created = site.jwtd(
            &["user", "create", "alice", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        );
        assert!(created.status.success(), "{created:?}");
        let server = site.serve();
        let prefix = format!("logs-{format}");
        let secrets = whole_session(&server, &prefix).await;
        let log = server.log();
        drop(server);
        assert_no_secret(&log, &secrets);
        assert_no_secret(&String::from_utf8_lossy(&created.stderr), &secrets);

        // Not vacuous: the session was logged, each request's lines with its id.
        let lines: Vec<&str> = log.lines().collect();
        for step in ["login", "refresh", "me", "refused", "logout"] {
            let id = format!("{prefix}-{step}");
            let answered = lines
                .iter()
                .filter(|line| line.contains(&id) && line.contains("answered"))
                .count();
            assert_eq!(answered, 1, "{id} in\n{log}");
        }
        if format == "json" {
            for line in &lines {
                let parsed: Value = serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("{error}: not JSON: {line}"));
                assert!(parsed["level"].is_string(), "{line}");
            }
            // The security event of the login is written inside the request's span.
            let event = lines
                .iter()
                .map(|line| serde_json::from_str::<Value>(line).unwrap())
                .find(|line| line["fields"]["event"] == "login_succeeded")
                .unwrap_or_else(|| panic!("no login event in\n{log}"));
            assert_eq!(event["span"]["request_id"], format!("{prefix}-login"));
            assert_eq!(event["span"]["route"], "/token");
        } else {
            assert!(
                lines.iter().any(|line| line.contains("login_succeeded")
                    && line.contains(&format!("request_id={prefix}-login"))),
                "{log}"
            );
            assert!(!lines.iter().any(|line| line.starts_with('{')), "{log}");
        }
    }
}
