//! One smoke test of the real `jwtd` binary: it starts on port 0 and answers `/healthz`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `jwtd` binary built beside this test (`make test` builds it first).
pub fn jwtd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/api-<hash> -> target/<profile>/jwtd
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let binary = profile_dir.join("jwtd");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p jwtd` (make test does)",
        binary.display()
    );
    binary
}

/// A running `jwtd serve`, killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where its stderr (its log) goes, for a failing test to show.
    log: PathBuf,
}

impl Server {
    /// Starts `jwtd serve --bind 127.0.0.1:0` with `env`, and waits until it listens.
    pub fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        Self::try_start(dir, env).unwrap_or_else(|refusal| panic!("{refusal}"))
    }

    /// As [`Server::start`], but a server that stops before it listens is an `Err` with
    /// its exit status and its log, for tests of start-up errors.
    pub fn try_start(dir: &std::path::Path, env: &[(&str, &str)]) -> Result<Self, String> {
        let log = dir.join(format!("{}.log", integration_tests::unique_name("jwtd")));
        let stderr = std::fs::File::create(&log).expect("create the server's log file");
        let mut command = Command::new(jwtd_binary());
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir)
            .env_remove("JWTD_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start jwtd");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait().expect("wait for jwtd");
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "unexpected first line {line:?}, {status}; the server's log:\n{log}"
            ));
        };
        let base = base.to_owned();
        Ok(Self { child, base, log })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIGTERM`, as a supervisor stopping the service does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Kills the process with `SIGKILL` (no chance to clean up) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits at most `limit` for the process to exit; `None` if it is still running.
    pub async fn wait_exit(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `jwtd user create NAME --password-stdin` with `env`, in `dir`; panics unless it succeeds.
pub fn create_user<K, V>(dir: &std::path::Path, env: &[(K, V)], name: &str, password: &str)
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    use std::io::Write;
    let mut command = Command::new(jwtd_binary());
    command
        .args(["user", "create", name, "--password-stdin"])
        .current_dir(dir)
        .env_remove("JWTD_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start jwtd user create");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write the password");
    let output = child.wait_with_output().expect("wait for jwtd user create");
    assert!(
        output.status.success(),
        "user create: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A plain HTTP/1.1 GET over loopback; returns status and body.
pub async fn http_get(url: &str) -> (u16, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let response = client.get(url.parse().expect("url")).await.expect("GET");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_binary_starts_on_a_fresh_directory_and_answers_healthz() {
    let dir = std::env::temp_dir().join(integration_tests::unique_name("jwtd_smoke"));
    std::fs::create_dir_all(&dir).unwrap();
    let server = Server::start(&dir, &[]);
    let (status, body) = http_get(&format!("{}/healthz", server.base)).await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"status":"ok"}"#);
    // The embedded default: a SQLite file and a private generated key beside it. The
    // database, its write-ahead log and its shared memory are private too: they hold
    // password hashes and token digests.
    for file in ["jwtd.db", "jwtd.db-wal", "jwtd.db-shm", "jwtd.db.key"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.join(file))
                .unwrap_or_else(|error| panic!("{file}: {error}"))
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
