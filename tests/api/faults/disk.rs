//! A read-only or full disk under SQLite: a clear start-up error, or 503 at run time, and
//! never a corrupted database.
//!
//! The disk is a small tmpfs the test mounts, since jwtd's tests run as root here and root
//! writes through any file mode. Without the right to mount (not root, or no
//! `CAP_SYS_ADMIN`) these tests report SKIPPED.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::unique_name;

use super::{Http, assert_exits_0, assert_no_half_rotation, create_user, unavailable};
use crate::smoke::Server;

/// A tmpfs of `size` mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(unique_name("jwtd_disk"));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            let _ = std::fs::remove_dir(&dir);
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Self { dir })
    }

    /// Remounts with `options` (`ro`, `rw`).
    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A directory for the server's log, off the small disk.
struct LogDir(PathBuf);

impl LogDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("jwtd_disk_log"));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment of a jwtd whose database is `database`.
fn env(database: &Path) -> Vec<(String, String)> {
    [
        (
            "JWTD_DATABASE_URL",
            format!("sqlite://{}", database.display()),
        ),
        ("JWTD_SIGNING_KEY", super::SIGNING_KEY.to_owned()),
        ("JWTD_ARGON2_MEMORY_KIB", "1024".to_owned()),
        ("JWTD_ARGON2_ITERATIONS", "1".to_owned()),
        ("JWTD_ROTATION_GRACE_SECONDS", "120".to_owned()),
        ("JWTD_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

fn start(logs: &LogDir, env: &[(String, String)]) -> Result<Server, String> {
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    Server::try_start(&logs.0, &env)
}

/// Stops a server with `SIGTERM` and expects a clean exit.
async fn stop(mut server: Server) {
    server.terminate();
    assert_exits_0(&mut server, Duration::from_secs(30)).await;
}

/// Expects jwtd to refuse to start on `database`, exit 1, and say the file is read-only.
fn assert_refused_as_read_only(logs: &LogDir, database: &Path) {
    let refusal = match start(logs, &env(database)) {
        Ok(_) => panic!("jwtd started on a read-only {}", database.display()),
        Err(refusal) => refusal,
    };
    assert!(refusal.contains("exit status: 1"), "{refusal}");
    assert!(
        refusal.contains(&database.display().to_string()),
        "{refusal}"
    );
    assert!(refusal.contains("read-only"), "{refusal}");
}

/// Asserts the SQLite file at `database` is sound and holds no half-done rotation.
async fn assert_sound(database: &Path) {
    let db = api::db::connect(&api::db::DbOptions::new(format!(
        "sqlite://{}",
        database.display()
    )))
    .await
    .unwrap();
    assert_no_half_rotation(&db).await;
    db.write.close_by_ref().await.ok();
    db.read.close_by_ref().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_stops_start_up_with_a_message_naming_it() {
    let Some(disk) = Tmpfs::mount("8m") else {
        return;
    };
    let logs = LogDir::new();

    // An empty read-only directory: the database cannot even be created.
    disk.remount("ro");
    let database = disk.dir.join("jwtd.db");
    assert_refused_as_read_only(&logs, &database);

    // A database made while writable, then read-only: refused as clearly, and unharmed.
    disk.remount("rw");
    let server = start(&logs, &env(&database)).unwrap();
    create_user(&logs.0, &env(&database), "alice", "wonderland");
    let http = Http::new(Duration::from_secs(30));
    http.login(&server.base, "alice", "wonderland").await;
    stop(server).await;
    disk.remount("ro");
    assert_refused_as_read_only(&logs, &database);
    disk.remount("rw");
    assert_sound(&database).await;
}

/// Fills the file system of `dir` to the last byte with a file; returns it.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0_u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    for _ in 0..4096 {
        if file.write_all(&[0]).is_err() {
            break;
        }
    }
    filler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_never_500_and_service_resumes_when_space_returns() {
    let Some(disk) = Tmpfs::mount("8m") else {
        return;
    };
    let logs = LogDir::new();
    let database = disk.dir.join("jwtd.db");
    let server = start(&logs, &env(&database)).unwrap();
    create_user(&logs.0, &env(&database), "alice", "wonderland");
    let http = Http::new(Duration::from_secs(30));
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(http.login(&server.base, "alice", "wonderland").await);
    }

    let filler = fill(&disk.dir);
    // Logins and refreshes until the disk refuses a write: each answer is a 200 or a 503.
    let mut unavailable_answers = 0;
    let started = Instant::now();
    while unavailable_answers < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a full disk did not stop writes in a minute"
        );
        for token in &mut tokens {
            let reply = http.refresh(&server.base, token).await.unwrap();
            match reply.status {
                200 => *token = reply.json["refresh"].as_str().unwrap().to_owned(),
                503 => {
                    assert_eq!(reply.json, unavailable());
                    unavailable_answers += 1;
                }
                _ => panic!("refresh on a full disk: {reply:?}\n{}", server.log()),
            }
        }
        let reply = http
            .post(
                &server.base,
                "/token",
                serde_json::json!({ "username": "alice", "password": "wonderland" }),
            )
            .await
            .unwrap();
        assert!(
            matches!(reply.status, 200 | 503),
            "login on a full disk: {reply:?}\n{}",
            server.log()
        );
        if reply.status == 503 {
            assert_eq!(reply.json, unavailable());
        }
    }

    std::fs::remove_file(filler).unwrap();
    // Space again: the very tokens the clients hold go on working.
    for token in &mut tokens {
        let reply = http.refresh(&server.base, token).await.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}\n{}", server.log());
        *token = reply.json["refresh"].as_str().unwrap().to_owned();
    }
    stop(server).await;
    assert_sound(&database).await;
}
