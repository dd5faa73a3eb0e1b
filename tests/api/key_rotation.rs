//! Key rotation with the real binary and live tokens, step by step as the README's "Keys and
//! algorithms" section gives it (add, promote, retire); and key settings that stop start-up.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::{jwt_header, key_fixture_path};

use crate::cli::{Site, get_authed, login, refresh};
use crate::smoke::{Server, http_get, jwtd_binary};

const ALICE: &str = r#"{"id":1,"username":"alice"}"#;
const INVALID: &str = r#"{"detail":"Token is invalid","code":"token_not_valid"}"#;

/// The `kid`s the server's JWK Set lists, in order.
async fn published(server: &Server) -> Vec<String> {
    let (status, body) = http_get(&format!("{}/.well-known/jwks.json", server.base)).await;
    assert_eq!(status, 200, "{body}");
    let jwks: serde_json::Value = serde_json::from_str(&body).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().unwrap().to_owned()
}

/// `(refresh, access)` of a fresh login of alice.
async fn alice(server: &Server) -> (String, String) {
    let reply = login(server, "alice", "wonderland", "test").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (reply.str("refresh"), reply.str("access"))
}

async fn me(server: &Server, access: &str) -> (u16, String) {
    let reply = get_authed(&format!("{}/me", server.base), access).await;
    (reply.status, reply.text)
}

#[tokio::test]
async fn a_key_is_added_promoted_and_retired_with_live_tokens() {
    let mut site = Site::new(&[]);
    site.unset("JWTD_SIGNING_KEY");
    site.create_user("alice", "wonderland");
    let keys = site.dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let keys_dir = keys.display().to_string();
    let file = |name: &str| keys.join(name).display().to_string();
    site.jwtd_ok(
        &[
            "keys", "generate", "--alg", "ES256", "--out", &keys_dir, "--name", "old",
        ],
        "",
    );
    site.set("JWTD_ALGORITHM", "ES256");
    site.set("JWTD_SIGNING_KEY_FILE", &file("old.key.pem"));
    site.set("JWTD_VERIFYING_KEY_FILE", &file("old.pub.pem"));
    let server = site.serve();
    let old_kid = published(&server).await.remove(0);
    let (old_refresh, old_access) = alice(&server).await;
    assert_eq!(kid(&old_access), old_kid);
    drop(server);

    // 1. Add: the new public key is published (and verifies); the old key still signs.
    site.jwtd_ok(
        &[
            "keys", "generate", "--alg", "ES256", "--out", &keys_dir, "--name", "new",
        ],
        "",
    );
    let both = format!("{},{}", file("old.pub.pem"), file("new.pub.pem"));
    site.set("JWTD_VERIFYING_KEY_FILE", &both);
    let report = site.jwtd_ok(&["config", "check"], "");
    let server = site.serve();
    let kids = published(&server).await;
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0], old_kid, "the signing key is listed first");
    let new_kid = kids[1].clone();
    assert!(
        report.contains(&format!(
            "# keys: ES256, signing kid {old_kid}, verifying kids {old_kid},{new_kid}"
        )),
        "{report}"
    );
    let (second_refresh, second_access) = alice(&server).await;
    assert_eq!(kid(&second_access), old_kid);
    assert_eq!(me(&server, &old_access).await, (200, ALICE.to_owned()));
    drop(server);

    // 2. Promote: the new key signs; tokens of the old one still verify and refresh.
    site.set("JWTD_SIGNING_KEY_FILE", &file("new.key.pem"));
    let both = format!("{},{}", file("new.pub.pem"), file("old.pub.pem"));
    site.set("JWTD_VERIFYING_KEY_FILE", &both);
    let server = site.serve();
    assert_eq!(published(&server).await, [new_kid.clone(), old_kid.clone()]);
    assert_eq!(me(&server, &old_access).await, (200, ALICE.to_owned()));
    let rotated = refresh(&server, &old_refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(kid(&rotated.str("refresh")), new_kid);
    assert_eq!(kid(&rotated.str("access")), new_kid);
    let (_, fresh_access) = alice(&server).await;
    assert_eq!(kid(&fresh_access), new_kid);
    drop(server);

    // 3. Retire: the old public key is removed; its tokens are refused.
    site.set("JWTD_VERIFYING_KEY_FILE", &file("new.pub.pem"));
    let server = site.serve();
    assert_eq!(published(&server).await, [new_kid.as_str()]);
    let refused = me(&server, &second_access).await;
    assert_eq!(refused.0, 401, "{}", refused.1);
    let refused = refresh(&server, &second_refresh).await;
    assert_eq!((refused.status, refused.text.as_str()), (401, INVALID));
    assert_eq!(me(&server, &fresh_access).await, (200, ALICE.to_owned()));
    let renewed = refresh(&server, &rotated.str("refresh")).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
}

/// Runs `jwtd serve` with `env` until it exits (at most 60 s); its exit code and stderr.
fn serve_exit(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let log = dir.join("serve.err");
    let mut command = Command::new(jwtd_binary());
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("JWTD_SIGNING_KEY")
        .env(
            "JWTD_DATABASE_URL",
            format!("sqlite://{}", dir.join("jwtd.db").display()),
        )
        .env("JWTD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, std::fs::read_to_string(&log).unwrap())
}

/// A copy of a key fixture in `dir` with `mode`.
fn copy_key(dir: &Path, name: &str, mode: u32) -> String {
    let to = dir.join(name);
    std::fs::copy(key_fixture_path(name), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
    to.display().to_string()
}

#[test]
fn a_key_that_does_not_parse_fit_or_stay_private_stops_start_up_naming_it() {
    let dir = std::env::temp_dir().join(integration_tests::unique_name("jwtd_keys"));
    std::fs::create_dir_all(&dir).unwrap();
    let p256 = copy_key(&dir, "p256-a.key.pem", 0o600);
    let p256_pub = copy_key(&dir, "p256-a.pub.pem", 0o644);
    let p384 = copy_key(&dir, "p384-a.key.pem", 0o600);
    let p256_b_pub = copy_key(&dir, "p256-b.pub.pem", 0o644);
    let readable = copy_key(&dir, "p256-b.key.pem", 0o640);
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![("JWTD_ALGORITHM", "ES256"), ("JWTD_SIGNING_KEY_FILE", &p384), ("JWTD_VERIFYING_KEY_FILE", &p256_pub)],
            format!("invalid setting JWTD_SIGNING_KEY_FILE: {p384} is not a PKCS#8 (BEGIN PRIVATE KEY) P-256 key, which ES256 needs"),
        ),
        (
            vec![("JWTD_ALGORITHM", "ES256"), ("JWTD_SIGNING_KEY_FILE", &p256), ("JWTD_VERIFYING_KEY_FILE", &p256_b_pub)],
            format!("invalid setting JWTD_VERIFYING_KEY_FILE: none of its keys is the public key of {p256} (JWTD_SIGNING_KEY_FILE)"),
        ),
        (
            vec![("JWTD_ALGORITHM", "ES256"), ("JWTD_SIGNING_KEY_FILE", &p256), ("JWTD_VERIFYING_KEY_FILE", &p384)],
            format!("invalid setting JWTD_VERIFYING_KEY_FILE: {p384} is not a SPKI (BEGIN PUBLIC KEY) P-256 key, which ES256 needs"),
        ),
        (
            vec![("JWTD_ALGORITHM", "ES256"), ("JWTD_SIGNING_KEY_FILE", &readable), ("JWTD_VERIFYING_KEY_FILE", &p256_b_pub)],
            format!("invalid setting JWTD_SIGNING_KEY_FILE: {readable} is readable or writable by group or others (mode 640); chmod 600 it"),
        ),
        (
            vec![("JWTD_ALGORITHM", "ES256"), ("JWTD_VERIFYING_KEY_FILE", &p256_pub)],
            "invalid setting JWTD_SIGNING_KEY_FILE: ES256 needs a PKCS#8 private key file; `jwtd keys generate --alg ES256` makes a pair".to_owned(),
        ),
        (
            vec![("JWTD_SIGNING_KEY", "only-31-bytes-long-0123456789ab")],
            "invalid setting JWTD_SIGNING_KEY: HS256 needs a key of 32 bytes at least, as long as its hash (RFC 7518 §3.2); `jwtd keys generate --alg HS256` makes one".to_owned(),
        ),
        (
            vec![("JWTD_ALGORITHM", "HS512"), ("JWTD_SIGNING_KEY", "a key of fifty bytes is still short for HS512 (64)")],
            "invalid setting JWTD_SIGNING_KEY: HS512 needs a key of 64 bytes at least, as long as its hash (RFC 7518 §3.2); `jwtd keys generate --alg HS512` makes one".to_owned(),
        ),
        (
            vec![("JWTD_SIGNING_KEY", "a-signing-key-of-more-than-32-bytes!"), ("JWTD_VERIFYING_KEY_FILE", &p256_pub)],
            "invalid setting JWTD_VERIFYING_KEY_FILE: HS256 verifies with its secret (JWTD_SIGNING_KEY); public key files are for RS*, PS*, ES256, ES384 and EdDSA".to_owned(),
        ),
    ];
    for (env, message) in &cases {
        let (code, stderr) = serve_exit(&dir, env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert_eq!(stderr.trim_end(), format!("jwtd: {message}"), "{env:?}");
        // `jwtd config check` reads the same files and says the same.
        let check = Command::new(jwtd_binary())
            .args(["config", "check"])
            .current_dir(&dir)
            .env_remove("JWTD_SIGNING_KEY")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(2), "{env:?}");
        assert!(
            String::from_utf8_lossy(&check.stderr).contains(message.as_str()),
            "{env:?}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    // A key file of another user's: only root can make one here.
    if running_as_root() {
        std::os::unix::fs::chown(&p256, Some(65_534), None).unwrap();
        let (code, stderr) = serve_exit(
            &dir,
            &[
                ("JWTD_ALGORITHM", "ES256"),
                ("JWTD_SIGNING_KEY_FILE", &p256),
                ("JWTD_VERIFYING_KEY_FILE", &p256_pub),
            ],
        );
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "invalid setting JWTD_SIGNING_KEY_FILE: {p256} is owned by user 65534"
            )),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Whether this test runs as root (the owner of `/proc/self`).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}
