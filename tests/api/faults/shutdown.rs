//! `SIGTERM`: jwtd stops accepting connections, finishes the requests in flight (for at
//! most `JWTD_SHUTDOWN_TIMEOUT`) and exits 0.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{Deployment, Http, assert_exits_0, create_user};

/// argon2id settings that make one login take about a second here: long enough to be in
/// flight when the signal comes.
const COSTLY_HASH: [(&str, &str); 2] = [
    ("JWTD_ARGON2_MEMORY_KIB", "65536"),
    ("JWTD_ARGON2_ITERATIONS", "16"),
];

/// Whether a TCP connection to `base` (`http://host:port`) is refused.
async fn refused(base: &str) -> bool {
    let address = base.trim_start_matches("http://");
    tokio::net::TcpStream::connect(address).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_a_login_in_flight_refuses_new_connections_and_exits_0() {
    let deployment = Deployment::sqlite();
    let mut server = deployment.start(&COSTLY_HASH);
    let started = Instant::now();
    create_user(
        deployment.dir(),
        &deployment.env(&COSTLY_HASH),
        "alice",
        "wonderland",
    );
    let hash_time = started.elapsed();

    let http = Http::new(Duration::from_secs(60));
    let base = server.base.clone();
    let login = tokio::spawn(async move { http.login(&base, "alice", "wonderland").await });
    // The request is on the server, hashing, when the signal comes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.terminate();
    let signalled = Instant::now();
    while !refused(&server.base).await {
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still accepting connections 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !login.is_finished(),
        "the login ended before the listener closed (one hash took {hash_time:?}): the test proves nothing"
    );

    let refresh = login.await.unwrap();
    assert_eq!(refresh.split('.').count(), 3, "a JWT: {refresh}");
    assert_exits_0(&mut server, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_holds_the_shutdown_no_longer_than_the_shutdown_timeout() {
    let deployment = Deployment::sqlite();
    let mut server = deployment.start(&[("JWTD_SHUTDOWN_TIMEOUT", "1")]);
    // A request whose body never arrives: in flight until someone gives up on it.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    stalled
        .write_all(
            b"POST /token HTTP/1.1\r\nHost: jwtd\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"username\": ",
        )
        .await
        .unwrap();
    stalled.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.terminate();
    let signalled = Instant::now();
    assert_exits_0(&mut server, Duration::from_secs(20)).await;
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(10), "exit took {took:?}");
    assert!(
        server.log().contains("JWTD_SHUTDOWN_TIMEOUT"),
        "{}",
        server.log()
    );
    drop(stalled);
}
