//! One keep-alive HTTP/1.1 connection to jwtd, and the requests the scenarios send on it.

use std::net::SocketAddr;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;

/// A user the virtual clients log in as.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// A keep-alive connection: requests go one after another, as from one browser tab.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

/// A response's status and whole body.
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The body, read to the end.
    pub body: Bytes,
}

/// What `/token` and `/token/refresh` answer.
#[derive(Debug, Deserialize)]
struct TokenPair {
    access: String,
    refresh: String,
}

/// A logged-in client's tokens, with the request parts that carry them prepared once, so
/// the load generator spends as little of the shared CPU as it can.
pub struct Session {
    /// `Bearer <access>`.
    pub bearer: HeaderValue,
    /// `{"token": <access>}`.
    pub verify_body: Bytes,
    /// `{"refresh": <refresh>}`.
    pub refresh_body: Bytes,
}

impl Session {
    /// Parses a `/token` or `/token/refresh` reply.
    ///
    /// # Errors
    /// When the body is not a token pair.
    pub fn from_reply(reply: &Reply) -> anyhow::Result<Self> {
        let pair: TokenPair = serde_json::from_slice(&reply.body).with_context(|| {
            format!("not a token pair: {}", String::from_utf8_lossy(&reply.body))
        })?;
        Ok(Self {
            bearer: HeaderValue::from_str(&format!("Bearer {}", pair.access))?,
            verify_body: json_body(&json!({ "token": pair.access }))?,
            refresh_body: json_body(&json!({ "refresh": pair.refresh }))?,
        })
    }
}

/// A JSON request body.
///
/// # Errors
/// When the value cannot be serialized.
pub fn json_body(value: &serde_json::Value) -> anyhow::Result<Bytes> {
    Ok(Bytes::from(serde_json::to_vec(value)?))
}

impl Connection {
    /// Connects with `TCP_NODELAY`, as browsers and proxies do.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn open(address: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when `sender` is dropped or the server hangs up; a
        // failure shows up as an error of the next request, which is where it is counted.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&address.to_string())?,
        })
    }

    /// `GET path`, with an `Authorization` header when given.
    ///
    /// # Errors
    /// On a transport error.
    pub async fn get(
        &mut self,
        path: &str,
        authorization: Option<&HeaderValue>,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        self.send(request.body(Full::new(Bytes::new()))?).await
    }

    /// `POST path` with a JSON body.
    ///
    /// # Errors
    /// On a transport error.
    pub async fn post_json(&mut self, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(body))?;
        self.send(request).await
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<Reply> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }
}
