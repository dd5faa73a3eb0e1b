//! The admin CLI against a running `jwtd serve`: password changes and deactivation end the
//! user's sessions, `jwtd sessions list/revoke` and `jwtd events` show and act on what the
//! server recorded. SQLite file shared by the server and the commands.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use integration_tests::{claims, json, unique_name};
use serde_json::Value;

use crate::smoke::{Server, jwtd_binary};

const BLACKLISTED: &str = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;
const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;

/// A temporary directory with a SQLite database and the settings a server and the admin
/// commands share; removed when dropped.
pub(crate) struct Site {
    pub(crate) dir: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Site {
    pub(crate) fn new(extra: &[(&'static str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("jwtd_cli"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = vec![
            (
                "JWTD_DATABASE_URL",
                format!("sqlite://{}", dir.join("jwtd.db").display()),
            ),
            (
                "JWTD_SIGNING_KEY",
                "cli-test-signing-key-0123456789abcdef".to_owned(),
            ),
            // Cheap hashing: these tests are about sessions, not argon2.
            ("JWTD_ARGON2_MEMORY_KIB", "256".to_owned()),
            ("JWTD_ARGON2_ITERATIONS", "1".to_owned()),
            ("JWTD_ARGON2_PARALLELISM", "1".to_owned()),
            // Keep standard error to what a command says, not its progress.
            ("JWTD_LOG", "warn".to_owned()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned())),
        );
        Self { dir, env }
    }

    /// Sets `name` to `value` for the servers and commands started from now on.
    pub(crate) fn set(&mut self, name: &'static str, value: &str) {
        self.unset(name);
        self.env.push((name, value.to_owned()));
    }

    /// Unsets `name` for the servers and commands started from now on.
    pub(crate) fn unset(&mut self, name: &str) {
        self.env.retain(|(set, _)| *set != name);
    }

    pub(crate) fn serve(&self) -> Server {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        Server::start(&self.dir, &env)
    }

    /// Runs `jwtd ARGS`, feeding `stdin`.
    pub(crate) fn jwtd(&self, args: &[&str], stdin: &str) -> Output {
        let mut command = Command::new(jwtd_binary());
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start jwtd");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `jwtd ARGS` and returns its standard output, asserting success.
    pub(crate) fn jwtd_ok(&self, args: &[&str], stdin: &str) -> String {
        let output = self.jwtd(args, stdin);
        assert!(
            output.status.success(),
            "jwtd {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub(crate) fn create_user(&self, name: &str, password: &str) {
        let out = self.jwtd_ok(
            &["user", "create", name, "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(
            out.starts_with(&format!("created user {name:?} with id ")),
            "{out}"
        );
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTP response from the binary.
pub(crate) struct Reply {
    pub(crate) status: u16,
    reason: Option<String>,
    pub(crate) text: String,
    pub(crate) json: Value,
}

impl Reply {
    pub(crate) fn str(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field:?} in {}", self.text))
            .to_owned()
    }
}

/// POSTs JSON over loopback with a `User-Agent`.
pub(crate) async fn post(url: &str, body: &Value, user_agent: &str) -> Reply {
    send(
        hyper::Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", user_agent),
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// GETs over loopback with a Bearer access token.
pub(crate) async fn get_authed(url: &str, access: &str) -> Reply {
    send(
        hyper::Request::get(url).header("authorization", format!("Bearer {access}")),
        Vec::new(),
    )
    .await
}

async fn send(request: hyper::http::request::Builder, body: Vec<u8>) -> Reply {
    use axum::body::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let response = client.request(request).await.expect("POST");
    let status = response.status().as_u16();
    let reason = response
        .headers()
        .get("x-jwtd-reason")
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        reason,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

pub(crate) async fn login(
    server: &Server,
    username: &str,
    password: &str,
    user_agent: &str,
) -> Reply {
    post(
        &format!("{}/token", server.base),
        &json!({ "username": username, "password": password }),
        user_agent,
    )
    .await
}

pub(crate) async fn refresh(server: &Server, token: &str) -> Reply {
    post(
        &format!("{}/token/refresh", server.base),
        &json!({ "refresh": token }),
        "test",
    )
    .await
}

fn assert_refused(reply: &Reply, reason: &str) {
    assert_eq!((reply.status, reply.text.as_str()), (401, BLACKLISTED));
    assert_eq!(reply.reason.as_deref(), Some(reason));
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn sid(token: &str) -> String {
    claims(token)["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn set_password_ends_every_session_of_the_user() {
    let site = Site::new(&[]);
    site.create_user("alice", "wonderland");
    site.create_user("bob", "builder");
    let server = site.serve();
    let first = login(&server, "alice", "wonderland", "laptop").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = login(&server, "alice", "wonderland", "phone").await;
    let bob = login(&server, "bob", "builder", "bob").await;
    let rotated = refresh(&server, &first.str("refresh")).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);

    let out = site.jwtd_ok(
        &["user", "set-password", "alice", "--password-stdin"],
        "looking-glass\n",
    );
    assert_eq!(out, "password changed for \"alice\"; 2 session(s) ended\n");

    assert_refused(
        &refresh(&server, &rotated.str("refresh")).await,
        "password_changed",
    );
    assert_refused(
        &refresh(&server, &second.str("refresh")).await,
        "password_changed",
    );
    assert_eq!(refresh(&server, &bob.str("refresh")).await.status, 200);
    let old = login(&server, "alice", "wonderland", "laptop").await;
    assert_eq!((old.status, old.text.as_str()), (401, NO_ACCOUNT));
    assert_eq!(
        login(&server, "alice", "looking-glass", "laptop")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn deactivate_ends_every_session_and_refuses_logins() {
    let site = Site::new(&[]);
    site.create_user("alice", "wonderland");
    let server = site.serve();
    let session = login(&server, "alice", "wonderland", "laptop").await;
    assert_eq!(session.status, 200, "{}", session.text);

    let out = site.jwtd_ok(&["user", "deactivate", "alice"], "");
    assert_eq!(out, "deactivated \"alice\"; 1 session(s) ended\n");

    assert_refused(
        &refresh(&server, &session.str("refresh")).await,
        "user_deactivated",
    );
    let again = login(&server, "alice", "wonderland", "laptop").await;
    assert_eq!((again.status, again.text.as_str()), (401, NO_ACCOUNT));
}

#[tokio::test]
async fn sessions_list_and_revoke_act_on_the_servers_sessions() {
    let site = Site::new(&[]);
    site.create_user("alice", "wonderland");
    let server = site.serve();
    let laptop = login(&server, "alice", "wonderland", "laptop/1.0").await;
    assert_eq!(laptop.status, 200, "{}", laptop.text);
    let phone = login(&server, "alice", "wonderland", "phone/2.0").await;
    let (laptop_sid, phone_sid) = (sid(&laptop.str("refresh")), sid(&phone.str("refresh")));

    let listed = json_lines(&site.jwtd_ok(&["sessions", "list", "alice", "--json"], ""));
    assert_eq!(listed.len(), 2, "{listed:?}");
    let mut ids: Vec<&str> = listed
        .iter()
        .map(|session| session["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![laptop_sid.as_str(), phone_sid.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for session in &listed {
        let keys: Vec<&String> = session.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_at",
                "last_used_at",
                "expires_at",
                "user_agent",
                "ip"
            ]
        );
        assert_eq!(session["ip"], "127.0.0.1");
        let agent = if session["id"] == json!(laptop_sid) {
            "laptop/1.0"
        } else {
            "phone/2.0"
        };
        assert_eq!(session["user_agent"], agent);
        let created = session["created_at"].as_str().unwrap();
        assert_eq!(created.len(), "2027-01-15T08:00:00Z".len(), "{created}");
        assert!(created.ends_with('Z'), "{created}");
        assert_eq!(session["last_used_at"], session["created_at"]);
    }
    let table = site.jwtd_ok(&["sessions", "list", "alice"], "");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("id "), "{table}");
    assert!(lines[0].ends_with("user agent"), "{table}");
    assert!(
        table.contains(&phone_sid) && table.contains("phone/2.0"),
        "{table}"
    );

    let out = site.jwtd_ok(&["sessions", "revoke", "alice", &phone_sid], "");
    assert_eq!(out, format!("session {phone_sid} revoked\n"));
    assert_refused(&refresh(&server, &phone.str("refresh")).await, "admin");
    let rotated = refresh(&server, &laptop.str("refresh")).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);

    // Already revoked, unknown, or someone else's: refused, nothing changes.
    let again = site.jwtd(&["sessions", "revoke", "alice", &phone_sid], "");
    assert!(!again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        format!("jwtd: \"alice\" has no live session {phone_sid}\n")
    );
    let nobody = site.jwtd(&["sessions", "list", "nobody"], "");
    assert!(!nobody.status.success());
    assert_eq!(
        String::from_utf8_lossy(&nobody.stderr),
        "jwtd: no user named \"nobody\"\n"
    );

    let out = site.jwtd_ok(&["sessions", "revoke", "alice", "--all"], "");
    assert_eq!(out, "1 session(s) revoked\n");
    assert_refused(&refresh(&server, &rotated.str("refresh")).await, "admin");
    assert_eq!(
        site.jwtd_ok(&["sessions", "list", "alice", "--json"], ""),
        ""
    );
}

#[tokio::test]
async fn events_show_logins_failures_and_reuse_without_tokens() {
    let site = Site::new(&[("JWTD_ROTATION_GRACE_SECONDS", "0")]);
    site.create_user("alice", "wonderland");
    let server = site.serve();
    let session = login(&server, "alice", "wonderland", "laptop/1.0").await;
    assert_eq!(session.status, 200, "{}", session.text);
    let r0 = session.str("refresh");
    assert_eq!(
        login(&server, "alice", "wrong", "guesser/0.1").await.status,
        401
    );
    assert_eq!(
        login(&server, "mallory", "x", "guesser/0.1").await.status,
        401
    );
    let rotated = refresh(&server, &r0).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let r1 = rotated.str("refresh");
    let replay = post(
        &format!("{}/token/refresh", server.base),
        &json!({ "refresh": r0 }),
        "thief/6.6",
    )
    .await;
    assert_refused(&replay, "reuse_detected");

    let out = site.jwtd_ok(&["events", "--user", "alice", "--json"], "");
    for token in [&r0, &r1, &session.str("access")] {
        assert!(!out.contains(token.as_str()), "{out}");
    }
    let events = json_lines(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reuse_detected", "login_failed", "login_succeeded"]);
    let reuse = &events[0];
    let keys: Vec<&String> = reuse.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "at",
            "event",
            "user_id",
            "username",
            "session",
            "ip",
            "user_agent"
        ]
    );
    assert_eq!(reuse["user_id"], 1);
    assert_eq!(reuse["session"], json!(sid(&r0)));
    assert_eq!(reuse["ip"], "127.0.0.1");
    assert_eq!(reuse["user_agent"], "thief/6.6");
    assert_eq!(events[1]["username"], "alice");
    assert_eq!(events[1]["user_agent"], "guesser/0.1");
    assert_eq!(events[2]["session"], json!(sid(&r0)));
    assert_eq!(events[2]["user_agent"], "laptop/1.0");

    // Without --user: everyone's events, unknown usernames included.
    let all = json_lines(&site.jwtd_ok(&["events", "--json"], ""));
    assert_eq!(all.len(), 4, "{all:?}");
    let unknown = all
        .iter()
        .find(|event| event["username"] == "mallory")
        .expect("the failed login of an unknown user");
    assert_eq!(unknown["event"], "login_failed");
    assert_eq!(unknown["user_id"], Value::Null);

    let table = site.jwtd_ok(&["events", "--user", "alice"], "");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("at "), "{table}");
    assert!(lines[1].contains("reuse_detected"), "{table}");
    assert!(lines[1].contains(&sid(&r0)), "{table}");
    assert!(!table.contains(&r0), "{table}");
}

/// Issue 15: a replay inside the grace window by the client that rotated is honoured, and
/// `jwtd events` shows it as `rotation_grace_replay`.
#[tokio::test]
async fn events_show_an_honoured_grace_replay() {
    let site = Site::new(&[]);
    site.create_user("alice", "wonderland");
    let server = site.serve();
    let session = login(&server, "alice", "wonderland", "test").await;
    assert_eq!(session.status, 200, "{}", session.text);
    let r0 = session.str("refresh");
    let rotated = refresh(&server, &r0).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    // The same client (User-Agent `test`, loopback) retries: a lost response, not a thief.
    let replay = refresh(&server, &r0).await;
    assert_eq!(replay.status, 200, "{}", replay.text);
    assert_eq!(replay.str("refresh"), rotated.str("refresh"));

    let out = site.jwtd_ok(&["events", "--user", "alice", "--json"], "");
    assert!(!out.contains(&r0), "{out}");
    let events = json_lines(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rotation_grace_replay", "login_succeeded"]);
    assert_eq!(events[0]["session"], json!(sid(&r0)));
    assert_eq!(events[0]["ip"], "127.0.0.1");
    assert_eq!(events[0]["user_agent"], "test");
}
