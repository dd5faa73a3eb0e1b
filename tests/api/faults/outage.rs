//! A PostgreSQL outage under load, made by cutting a TCP proxy the test owns between jwtd and
//! the server: requests are answered 503 with a clear body within a bound set by the
//! acquire timeout, `/readyz` turns red while `/healthz` stays green, nothing answers 500 or
//! hangs, and service resumes by itself once the proxy forwards again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};

use super::{Deployment, Http, unavailable};

/// Forwards TCP connections to `upstream` until cut; while cut, every connection it had is
/// closed and every new one is closed as soon as it is accepted.
struct Proxy {
    port: u16,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watching) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *watching.borrow() {
                    continue;
                }
                let mut watching = watching.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut, task }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The parts of a PostgreSQL URL `postgres://user@host:port/db`: `("postgres", "user@",
/// "host:port", "db")`.
fn url_parts(url: &str) -> (&str, &str, String, &str) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (scheme, user, host, path)
}

/// The server's `host:port` in a PostgreSQL URL.
fn upstream_of(url: &str) -> String {
    url_parts(url).2
}

/// The same URL through a proxy on `127.0.0.1:port`.
fn through(url: &str, port: u16) -> String {
    let (scheme, user, _, path) = url_parts(url);
    format!("{scheme}://{user}127.0.0.1:{port}/{path}")
}

/// Every answer a client got, with how long it took.
#[derive(Default)]
struct Seen {
    ok: usize,
    unavailable: usize,
    slowest: Duration,
    /// Anything else: a 500, another status, another body, no answer in time.
    wrong: Vec<String>,
}

/// Refreshes in a loop until `stop`, keeping its token over a 503 (nothing was rotated) and
/// recording every answer.
async fn refresh_load(
    http: Http,
    base: String,
    mut token: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let reply = http.refresh(&base, &token).await;
        let took = started.elapsed();
        let mut seen = seen.lock().await;
        seen.slowest = seen.slowest.max(took);
        match reply {
            Ok(reply) if reply.status == 200 => {
                seen.ok += 1;
                token = reply.json["refresh"].as_str().unwrap().to_owned();
            }
            Ok(reply) if reply.status == 503 && reply.json == unavailable() => {
                seen.unavailable += 1;
                drop(seen);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => seen.wrong.push(format!("after {took:?}: {other:?}")),
        }
    }
}

/// Polls `path` until it answers `status`, for at most `limit`; returns how long it took.
async fn until_status(
    http: &Http,
    base: &str,
    path: &str,
    status: u16,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let reply = http.get(base, path).await;
        if matches!(&reply, Ok(reply) if reply.status == status) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{path} still answers {reply:?} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_outage_under_load_answers_503_and_service_resumes_by_itself() {
    let Some(deployment) = Deployment::postgres().await else {
        return;
    };
    let Deployment::Postgres(schema) = &deployment else {
        unreachable!()
    };
    let proxy = Proxy::start(upstream_of(&schema.url)).await;
    let proxied = through(&schema.url, proxy.port);
    // A refresh whose commit reached the server but whose answer was lost in the cut is
    // sent again by its client: the grace window answers it with the same successor.
    let server = deployment.start(&[
        ("JWTD_DATABASE_URL", proxied.as_str()),
        ("JWTD_DATABASE_ACQUIRE_TIMEOUT", "1"),
        ("JWTD_DATABASE_STATEMENT_TIMEOUT", "2"),
        ("JWTD_ROTATION_GRACE_SECONDS", "120"),
        // The load comes from one loopback address: no per-address refresh limit.
        ("JWTD_REFRESH_RATE_PER_MINUTE", "0"),
    ]);
    deployment.create_user("alice", "wonderland");

    // Every request gets an answer within this, or it counts as hung.
    let http = Http::new(Duration::from_secs(8));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut clients = Vec::new();
    for _ in 0..6 {
        let token = http.login(&server.base, "alice", "wonderland").await;
        clients.push(tokio::spawn(refresh_load(
            http.clone(),
            server.base.clone(),
            token,
            Arc::clone(&stop),
            Arc::clone(&seen),
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = seen.lock().await.ok;
    assert!(before > 0, "no refresh succeeded before the cut");

    proxy.cut();
    let red = until_status(&http, &server.base, "/readyz", 503, Duration::from_secs(10)).await;
    let readyz = http.get(&server.base, "/readyz").await.unwrap();
    assert_eq!(readyz.json, unavailable());
    let healthz = http.get(&server.base, "/healthz").await.unwrap();
    assert_eq!(healthz.status, 200, "{healthz:?}");
    // The load runs on against the cut database for a while.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (during, unavailable_answers) = {
        let seen = seen.lock().await;
        (seen.ok, seen.unavailable)
    };
    assert!(unavailable_answers > 0, "no 503 during the outage");

    proxy.restore();
    let green = until_status(&http, &server.base, "/readyz", 200, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.lock().await.ok < during + 20 {
        assert!(Instant::now() < deadline, "refreshes did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    let seen = seen.lock().await;
    assert!(
        seen.wrong.is_empty(),
        "answers other than 200 or 503: {:?}",
        seen.wrong
    );
    // A refused connection fails at once; none waits past the acquire timeout (1 s), plus
    // the slack of a machine busy with other tests.
    assert!(
        seen.slowest < Duration::from_secs(2),
        "slowest answer {:?}",
        seen.slowest
    );
    eprintln!(
        "outage: readyz red after {red:?}, green {green:?} after restore; {} refreshes ok, {} answered 503, slowest {:?}",
        seen.ok, seen.unavailable, seen.slowest
    );
}
