//! Serving a router over HTTP/1 (and websockets) with bounds no client can get around: at most
//! [`Limits::max_connections`] connections at once, websockets included, and a deadline for each request's
//! headers, so slow or silent clients (slowloris) cannot hold the service's sockets and memory.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::env;

/// How long open requests may take to finish once the service stops.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The bounds of a service's HTTP server.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once, websockets included; further clients wait to be accepted until one closes.
    #[arg(long, env = env::MAX_CONNECTIONS, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Milliseconds a client may take to send a request's headers (the first and every later one on the
    /// connection); a slower client is disconnected.
    #[arg(long, env = env::HEADER_TIMEOUT_MS, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_connections: 4096, header_timeout_ms: 10_000 }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown`; then open requests get [`DRAIN`] to finish.
///
/// # Errors
/// None today; the result is kept for the listeners' sake.
pub async fn serve<L>(
    mut listener: L,
    router: axum::Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: Listener,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let header_timeout = Duration::from_millis(limits.header_timeout_ms);
    let (stopping, stop) = watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&mut listener, &slots) => accepted,
        };
        let Some((io, slot)) = accepted else { break };
        let service = TowerToHyperService::new(router.clone());
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(Held { io, _slot: slot }), service)
            .with_upgrades();
        let mut stop = stop.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.changed() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
        // Finished connections are reaped as we go, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stopping.send(());
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("{} connections still open {DRAIN:?} after stopping; closing them", connections.len());
    }
    Ok(())
}

/// The next connection, once a slot is free; `None` only if the slots are gone.
async fn accept<L: Listener>(listener: &mut L, slots: &Arc<Semaphore>) -> Option<(L::Io, OwnedSemaphorePermit)> {
    let slot = slots.clone().acquire_owned().await.ok()?;
    let (io, _peer) = listener.accept().await;
    Some((io, slot))
}

/// A connection and its slot: the slot is given back when the connection closes, also after it became a
/// websocket (the upgrade takes the connection, and the slot with it).
struct Held<Io> {
    io: Io,
    _slot: OwnedSemaphorePermit,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Held<Io> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Held<Io> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn server(limits: Limits) -> (u16, tokio::task::JoinHandle<std::io::Result<()>>) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let router = crate::service::health_router();
        (port, tokio::spawn(async move { serve(tcp, router, &limits, std::future::pending()).await }))
    }

    async fn health(port: u16) -> Result<String, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        client.get(format!("http://127.0.0.1:{port}/health")).send().await?.text().await
    }

    /// Reads until the server closes the connection; the time it took.
    async fn closed_after(stream: &mut TcpStream) -> Duration {
        let start = tokio::time::Instant::now();
        let mut sink = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "the server kept a slow client for 10 s");
        start.elapsed()
    }

    #[tokio::test]
    async fn a_client_slower_than_the_header_timeout_is_disconnected() {
        let (port, _server) = server(Limits { max_connections: 100, header_timeout_ms: 500 }).await;
        let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut dribbling = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        dribbling.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let took = closed_after(&mut silent).await;
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(closed_after(&mut dribbling).await < Duration::from_secs(3));
        assert_eq!(health(port).await.unwrap(), "ok", "others are served throughout");
    }

    #[tokio::test]
    async fn beyond_the_connection_cap_clients_wait_until_one_closes() {
        let (port, _server) = server(Limits { max_connections: 2, header_timeout_ms: 60_000 }).await;
        let held: Vec<TcpStream> = vec![
            TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
            TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
        ];
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(health(port).await.is_err(), "a third connection is not served while two are held");
        drop(held);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(health(port).await.unwrap(), "ok", "served once a slot is free");
    }

    #[tokio::test]
    async fn stopping_drains_within_its_bound() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(tcp, crate::service::health_router(), &Limits::default(), async { stopped.await.unwrap_or(()) }).await
        });
        assert_eq!(health(port).await.unwrap(), "ok");
        let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = stop.send(());
        let ended = tokio::time::timeout(DRAIN + Duration::from_secs(5), server).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    }
}
