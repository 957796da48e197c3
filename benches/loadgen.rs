//! payrisk's load generator: a tonic client that measures a scoring server on this machine.
//!
//! ```sh
//! cargo build --release --bin payrisk-server
//! cargo bench --bench loadgen -- --spawn target/release/payrisk-server          # every phase
//! cargo bench --bench loadgen -- --addr 127.0.0.1:50051 --phases unary,max      # a running server
//! ```
//!
//! Phases (`--phases`, comma-separated; default all):
//! - `ready`: with `--spawn`, the time from starting the server binary to its health check
//!   answering SERVING, and its resident memory (VmRSS) at rest.
//! - `unary`: open-loop `Score` calls at a fixed `--rate` per second for `--seconds` (a
//!   comma-separated list runs one measurement per rate): each call is sent at its scheduled
//!   time whatever the earlier ones are doing, and its latency counts from that time (no
//!   coordinated omission). One thread sends the calls and handles their replies, on a
//!   single-threaded runtime, sleeping to each call's time on a `timerfd`: tokio's timer ticks
//!   in whole milliseconds, which would send bursts and add up to 1 ms to every latency, and
//!   handing each call to other threads costs a thread wake-up (`cargo bench --bench wakeup`).
//!   Reports p50/p90/p99/p99.9/max of the answered calls, errors, and the calls
//!   the server shed (`RESOURCE_EXHAUSTED`) with their own latencies: at a rate beyond the
//!   server's capacity this shows what load shedding buys (see BENCHMARKS.md, "Overload").
//!   With `--batch N` each call is a `ScoreBatch` of N accounts instead (work that is heavy
//!   beside the transport's).
//! - `max`: closed-loop `Score` with `--concurrency` calls in flight for `--seconds`: the most
//!   calls per second, with latency percentiles.
//! - `stream`: `ScoreStream` with `--streams` streams of `--chunk`-account messages for
//!   `--seconds`: accounts per second, every account with 12 cycles of history, asking for
//!   `--stream-reasons` reason codes (default 0, as a worklist ranking does: the batch path).
//!   The request body is encoded once and the results are counted without decoding them, so
//!   that the client's own CPU (about 2 µs per account) leaves the cores to the server.
//!
//! `unary` and `max` ask for the default 4 reason codes (exact TreeSHAP on every call). Every
//! request is encoded once up front and only the probability of each response is decoded (and
//! checked to be in [0, 1]): the client's own CPU is reported beside the server's.
//!
//! Connections report no vectored writes, as the server's do (`payrisk::grpc::layers::connection`), so that a
//! request leaves in two writes instead of three.
//!
//! `--client-threads N` sets this client's tokio workers for `max` and `stream` (default 2;
//! `unary` runs on one thread); `--server-threads N` and
//! `--server-max-in-flight N` pass `--worker-threads N` and `--max-in-flight N` to a
//! `--spawn`ed server.
//!
//! Bounded: at most 120 s per phase and 10 million requests in all; loopback addresses only.
//! `--h2load FILE` writes a pre-encoded `Score` request (gRPC length-prefixed) for Debian's
//! `h2load`, to cross-check `unary`/`max` with an independent client (see BENCHMARKS.md).
//! Results go to stdout as one JSON object per phase.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/pb_accounts.rs"]
mod pb_accounts;

use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use prost::Message;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const MAX_SECONDS: f64 = 120.0;
const MAX_REQUESTS: u64 = 10_000_000;
/// Distinct accounts cycled through by the requests.
const POOL: usize = 1024;

#[derive(Debug, Clone)]
struct Args {
    addr: SocketAddr,
    spawn: Option<String>,
    phases: Vec<String>,
    rates: Vec<f64>,
    seconds: f64,
    client_threads: usize,
    server_threads: Option<usize>,
    server_max_in_flight: Option<usize>,
    batch: usize,
    concurrency: usize,
    connections: usize,
    streams: usize,
    chunk: usize,
    stream_reasons: u32,
    h2load: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:50071".parse().map_err(|e| format!("{e}"))?,
        spawn: None,
        phases: vec![
            "ready".into(),
            "unary".into(),
            "max".into(),
            "stream".into(),
        ],
        rates: vec![5000.0],
        seconds: 10.0,
        client_threads: 2,
        server_threads: None,
        server_max_in_flight: None,
        batch: 0,
        concurrency: 64,
        connections: 4,
        streams: 2,
        chunk: 1000,
        stream_reasons: 0,
        h2load: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--bench" {
            continue; // passed by `cargo bench`
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--addr" => args.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--spawn" => args.spawn = Some(value()?),
            "--phases" => args.phases = value()?.split(',').map(str::to_owned).collect(),
            "--rate" => {
                args.rates = value()?
                    .split(',')
                    .map(|r| number(r.to_owned()))
                    .collect::<Result<_, _>>()?
            }
            "--client-threads" => args.client_threads = number(value()?)? as usize,
            "--server-threads" => args.server_threads = Some(number(value()?)? as usize),
            "--server-max-in-flight" => {
                args.server_max_in_flight = Some(number(value()?)? as usize)
            }
            "--batch" => args.batch = number(value()?)? as usize,
            "--seconds" => args.seconds = number(value()?)?,
            "--concurrency" => args.concurrency = number(value()?)? as usize,
            "--connections" => args.connections = number(value()?)? as usize,
            "--streams" => args.streams = number(value()?)? as usize,
            "--chunk" => args.chunk = number(value()?)? as usize,
            "--stream-reasons" => args.stream_reasons = number(value()?)? as u32,
            "--h2load" => args.h2load = Some(value()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !args.addr.ip().is_loopback() {
        return Err(format!("{} is not a loopback address", args.addr));
    }
    if !(args.seconds > 0.0 && args.seconds <= MAX_SECONDS) {
        return Err(format!("--seconds must be in (0, {MAX_SECONDS}]"));
    }
    let requests: f64 = args.rates.iter().map(|r| r * args.seconds).sum();
    if args.rates.iter().any(|r| r.is_nan() || *r <= 0.0) || requests > MAX_REQUESTS as f64 {
        return Err(format!(
            "--rate must be positive and rates x --seconds at most {MAX_REQUESTS}"
        ));
    }
    if [
        args.concurrency,
        args.connections,
        args.streams,
        args.client_threads,
    ]
    .contains(&0)
    {
        return Err(
            "--concurrency, --connections, --streams and --client-threads must be at least 1"
                .into(),
        );
    }
    if args.chunk == 0 || args.chunk > 10_000 {
        return Err("--chunk must be in 1..=10000".into());
    }
    Ok(args)
}

/// Deterministic, varied accounts with 12 monthly cycles each.
fn accounts() -> Vec<pb::Account> {
    pb_accounts::accounts(POOL)
}

/// A server this run started, stopped (SIGTERM, then kill) when dropped.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU seconds (user + system) the process has used, from /proc (clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn channel(addr: SocketAddr) -> Result<Channel, String> {
    let endpoint = Channel::from_shared(format!("http://{addr}")).map_err(|e| e.to_string())?;
    endpoint
        .connect_with_connector(Connector(addr))
        .await
        .map_err(|e| e.to_string())
}

/// Opens connections whose socket reports no vectored writes, as the server's do
/// (`payrisk::grpc::layers::connection`): h2 then copies a request's message (about 530 bytes) into its write
/// buffer, and a call's frames leave in fewer writes, with fewer wake-ups of the server.
#[derive(Clone, Copy)]
struct Connector(SocketAddr);

impl tower_service::Service<tonic::codegen::http::Uri> for Connector {
    type Response = hyper_util::rt::TokioIo<payrisk::grpc::layers::connection::Connection>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = std::io::Result<Self::Response>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: tonic::codegen::http::Uri) -> Self::Future {
        let addr = self.0;
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(hyper_util::rt::TokioIo::new(
                payrisk::grpc::layers::connection::Connection(stream),
            ))
        })
    }
}

async fn serving(addr: SocketAddr) -> bool {
    let Ok(ch) = channel(addr).await else {
        return false;
    };
    let mut health = HealthClient::new(ch);
    health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
}

/// Latency percentiles in milliseconds.
fn percentiles(mut micros: Vec<u64>) -> serde_json::Value {
    micros.sort_unstable();
    let at = |q: f64| {
        if micros.is_empty() {
            return 0.0;
        }
        let i = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len()) - 1;
        micros[i] as f64 / 1000.0
    };
    serde_json::json!({
        "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99),
        "p999_ms": at(0.999), "max_ms": at(1.0),
    })
}

fn score_request(pool: &[pb::Account], i: usize) -> pb::ScoreRequest {
    pb::ScoreRequest {
        account: Some(pool[i % pool.len()].clone()),
        decision_time: pb_accounts::decision_time(),
        ..Default::default()
    }
}

/// A `ScoreResponse` read for its probability only (the rest is skipped undecoded).
#[derive(Clone, PartialEq, prost::Message)]
struct RawScore {
    #[prost(double, tag = "2")]
    repayment_probability: f64,
}

/// A `Score` client that sends pre-encoded requests and checks only the probability, so that
/// the load generator's own CPU stays small beside the server's.
#[derive(Clone)]
struct RawClient(tonic::client::Grpc<Channel>);

impl RawClient {
    async fn connect(addr: SocketAddr) -> Result<RawClient, String> {
        Ok(RawClient(tonic::client::Grpc::new(channel(addr).await?)))
    }

    /// One call; true when it returned a probability in [0, 1].
    async fn score(&mut self, body: bytes::Bytes) -> bool {
        self.call(body).await == Outcome::Scored
    }

    /// One `Score` call and how it ended.
    async fn call(&mut self, body: bytes::Bytes) -> Outcome {
        self.call_at::<RawScore>("/payrisk.v1.ScoringService/Score", body, |r| {
            (0.0..=1.0).contains(&r.repayment_probability)
        })
        .await
    }

    /// One `ScoreBatch` call of `accounts` accounts and how it ended.
    async fn call_batch(&mut self, body: bytes::Bytes, accounts: usize) -> Outcome {
        self.call_at::<RawBatch>("/payrisk.v1.ScoringService/ScoreBatch", body, |r| {
            r.results.len() == accounts
        })
        .await
    }

    /// One unary call to `path`; `Scored` when its response passes `check`.
    async fn call_at<R: prost::Message + Default + Send + 'static>(
        &mut self,
        path: &'static str,
        body: bytes::Bytes,
        check: impl FnOnce(&R) -> bool,
    ) -> Outcome {
        if self.0.ready().await.is_err() {
            return Outcome::Failed;
        }
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        let codec = tonic_prost::ProstCodec::<PreEncoded, R>::default();
        match self
            .0
            .unary(tonic::Request::new(PreEncoded(body)), path, codec)
            .await
        {
            Ok(r) if check(r.get_ref()) => Outcome::Scored,
            Err(s) if s.code() == tonic::Code::ResourceExhausted => Outcome::Shed,
            _ => Outcome::Failed,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Answered with a probability in [0, 1].
    Scored,
    /// Refused by the server's load shedding (`RESOURCE_EXHAUSTED`).
    Shed,
    /// Anything else.
    Failed,
}

/// The pool's `Score` requests, encoded once.
fn encoded_requests(pool: &[pb::Account]) -> Arc<Vec<bytes::Bytes>> {
    Arc::new(
        (0..pool.len())
            .map(|i| bytes::Bytes::from(score_request(pool, i).encode_to_vec()))
            .collect(),
    )
}

/// The unary phase at one rate, on a thread of its own with a single-threaded runtime: see
/// [`unary`].
async fn unary_phase(
    args: &Args,
    rate: f64,
    pool: Arc<Vec<pb::Account>>,
) -> Result<serde_json::Value, String> {
    let args = args.clone();
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(unary(&args, rate, pool))
    })
    .await
    .map_err(|e| format!("the unary phase failed: {e}"))?
}

/// Open-loop calls at `rate` per second.
///
/// One thread does everything, on a single-threaded runtime: it sleeps to each call's scheduled
/// time on a `timerfd` (tokio's own timer ticks in whole milliseconds, which would send bursts
/// and add up to a millisecond to each latency), sends the calls that are due, and handles the
/// replies in between. A client thread handing calls to a runtime on other threads pays a
/// thread wake-up per call, and a wake-up costs 50–90 µs of CPU in this VM (BENCHMARKS.md):
/// that was more than the server's own work, on the cores the server needs.
async fn unary(
    args: &Args,
    rate: f64,
    pool: Arc<Vec<pb::Account>>,
) -> Result<serde_json::Value, String> {
    let batch = args.batch;
    let bodies = if batch > 0 {
        let request = pb::ScoreBatchRequest {
            accounts: (0..batch).map(|i| pool[i % pool.len()].clone()).collect(),
            decision_time: pb_accounts::decision_time(),
            ..Default::default()
        };
        Arc::new(vec![bytes::Bytes::from(request.encode_to_vec())])
    } else {
        encoded_requests(&pool)
    };
    let mut clients = Vec::new();
    for _ in 0..args.connections {
        clients.push(RawClient::connect(args.addr).await?);
    }
    let total = (rate * args.seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let timer = Pacer::new().map_err(|e| format!("timerfd: {e}"))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Outcome, u64)>();
    let start = Instant::now() + Duration::from_millis(50);
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        timer
            .sleep_until(scheduled)
            .await
            .map_err(|e| format!("timerfd: {e}"))?;
        let mut client = clients[i % clients.len()].clone();
        let body = bodies[i % bodies.len()].clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let outcome = if batch > 0 {
                client.call_batch(body, batch).await
            } else {
                client.call(body).await
            };
            let _ = tx.send((outcome, scheduled.elapsed().as_micros() as u64));
        });
    }
    drop(tx);
    let (mut latencies, mut shed, mut errors) = (Vec::with_capacity(total), Vec::new(), 0u64);
    while let Some((outcome, l)) = rx.recv().await {
        match outcome {
            Outcome::Scored => latencies.push(l),
            Outcome::Shed => shed.push(l),
            Outcome::Failed => errors += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut out = percentiles(latencies);
    out["phase"] = "unary".into();
    if batch > 0 {
        out["batch"] = batch.into();
    }
    out["target_rate"] = rate.into();
    out["requests"] = total.into();
    out["achieved_rate"] = (total as f64 / elapsed).round().into();
    out["errors"] = errors.into();
    out["shed"] = shed.len().into();
    if !shed.is_empty() {
        out["shed_latency"] = percentiles(shed);
    }
    Ok(out)
}

/// A one-shot `timerfd` on the runtime's event loop: sleeps to within microseconds of a
/// deadline.
struct Pacer(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>);

impl Pacer {
    fn new() -> std::io::Result<Pacer> {
        use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: an `OwnedFd` stays open, and is the same descriptor, for as long as it is owned.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        };
        Ok(Pacer(fd.map_err(std::io::Error::from)?))
    }

    /// Returns at `deadline`, or at once when it has passed.
    async fn sleep_until(&self, deadline: Instant) -> std::io::Result<()> {
        use rustix::time::{timerfd_settime, Itimerspec, TimerfdTimerFlags, Timespec};
        let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
            return Ok(());
        };
        if wait.is_zero() {
            return Ok(());
        }
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let value = Itimerspec {
            it_interval: zero,
            it_value: Timespec {
                tv_sec: wait.as_secs() as _,
                tv_nsec: wait.subsec_nanos() as _,
            },
        };
        timerfd_settime(self.0.get_ref(), TimerfdTimerFlags::empty(), &value)?;
        loop {
            let mut ready = self.0.readable().await?;
            let mut expirations = [0u8; 8];
            // Readiness is cleared either way: the expiration is read, so the next sleep waits
            // for the timer instead of trying a read that would fail.
            let read = rustix::io::read(self.0.get_ref(), &mut expirations);
            ready.clear_ready();
            match read {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

async fn max(args: &Args, pool: Arc<Vec<pb::Account>>) -> Result<serde_json::Value, String> {
    let bodies = encoded_requests(&pool);
    let mut clients = Vec::new();
    for _ in 0..args.connections {
        clients.push(RawClient::connect(args.addr).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let mut client = clients[w % clients.len()].clone();
        let (bodies, stop, issued, errors) =
            (bodies.clone(), stop.clone(), issued.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= MAX_REQUESTS {
                    break;
                }
                let t = Instant::now();
                if !client
                    .score(bodies[i as usize % bodies.len()].clone())
                    .await
                {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = latencies.len();
    let mut out = percentiles(latencies);
    out["phase"] = "max".into();
    out["concurrency"] = args.concurrency.into();
    out["requests"] = n.into();
    out["requests_per_s"] = (n as f64 / elapsed).round().into();
    out["errors"] = errors.load(Ordering::Relaxed).into();
    Ok(out)
}

/// A request body encoded once and sent as it is, so that the client spends its time on the
/// transport rather than on re-encoding the same accounts.
#[derive(Debug, Clone, Default)]
struct PreEncoded(bytes::Bytes);

impl prost::Message for PreEncoded {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// A `ScoreBatchResponse` read without decoding its results' contents.
#[derive(Clone, PartialEq, prost::Message)]
struct RawBatch {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    results: Vec<bytes::Bytes>,
}

/// A `ScoreResult`'s outcome, left encoded.
#[derive(Clone, PartialEq, prost::Message)]
struct RawResult {
    #[prost(bytes = "bytes", optional, tag = "3")]
    score: Option<bytes::Bytes>,
    #[prost(bytes = "bytes", optional, tag = "4")]
    error: Option<bytes::Bytes>,
}

async fn stream(args: &Args, pool: Arc<Vec<pb::Account>>) -> Result<serde_json::Value, String> {
    let chunk: Vec<pb::Account> = (0..args.chunk)
        .map(|i| pool[i % pool.len()].clone())
        .collect();
    let body = bytes::Bytes::from(
        pb::ScoreBatchRequest {
            accounts: chunk,
            max_reasons: Some(args.stream_reasons),
            decision_time: pb_accounts::decision_time(),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.streams {
        let ch = channel(args.addr).await?;
        let mut grpc = tonic::client::Grpc::new(ch)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let (body, stop) = (body.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            // Requests are produced as the transport takes them: HTTP/2 flow control and the
            // server's bounded buffer pace this side.
            let outgoing = tokio_stream::iter(0u64..)
                .take_while(move |_| !stop.load(Ordering::Relaxed))
                .map(move |_| PreEncoded(body.clone()));
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                "/payrisk.v1.ScoringService/ScoreStream",
            );
            let codec = tonic_prost::ProstCodec::<PreEncoded, RawBatch>::default();
            let mut responses = grpc
                .streaming(tonic::Request::new(outgoing), path, codec)
                .await?
                .into_inner();
            let (mut accounts, mut errors) = (0u64, 0u64);
            while let Some(r) = responses.message().await? {
                for result in &r.results {
                    match RawResult::decode(result.clone()) {
                        Ok(RawResult {
                            score: Some(_),
                            error: None,
                        }) => accounts += 1,
                        _ => errors += 1,
                    }
                }
            }
            Ok::<_, tonic::Status>((accounts, errors))
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut accounts, mut errors) = (0, 0);
    for t in tasks {
        let (a, e) = t
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        accounts += a;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "phase": "stream",
        "streams": args.streams,
        "accounts_per_message": args.chunk,
        "reasons": args.stream_reasons,
        "cycles_per_account": 12,
        "accounts": accounts,
        "account_errors": errors,
        "accounts_per_s": (accounts as f64 / elapsed).round(),
    }))
}

use tokio_stream::StreamExt as _;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs benches without `--bench`: nothing to measure then.
        println!("loadgen: run with `cargo bench --bench loadgen -- --spawn target/release/payrisk-server`");
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(args)) {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let pool = Arc::new(accounts());
    if let Some(path) = &args.h2load {
        // gRPC framing: 0 (uncompressed), big-endian length, then the message.
        let body = score_request(&pool, 0).encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend((body.len() as u32).to_be_bytes());
        framed.extend(body);
        std::fs::write(path, framed).map_err(|e| format!("{path}: {e}"))?;
        eprintln!("wrote a framed Score request to {path}");
    }
    let mut spawned = None;
    let mut pid = None;
    if let Some(binary) = &args.spawn {
        let started = Instant::now();
        let mut command = Command::new(binary);
        // Metrics on, as in production, on a port of their own.
        command.args([
            "--addr",
            &args.addr.to_string(),
            "--metrics-addr",
            "127.0.0.1:0",
        ]);
        if let Some(n) = args.server_threads {
            command.args(["--worker-threads", &n.to_string()]);
        }
        if let Some(n) = args.server_max_in_flight {
            command.args(["--max-in-flight", &n.to_string()]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        pid = Some(child.id());
        spawned = Some(Spawned(child));
        let deadline = started + Duration::from_secs(30);
        while !serving(args.addr).await {
            if Instant::now() > deadline {
                return Err("the server did not become ready in 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if args.phases.iter().any(|p| p == "ready") {
            println!(
                "{}",
                serde_json::json!({
                    "phase": "ready",
                    "ready_s": (ready * 1000.0).round() / 1000.0,
                    "rss_at_rest_mb": pid.and_then(rss_kb).map(|kb| kb as f64 / 1024.0),
                })
            );
        }
    } else if !serving(args.addr).await {
        return Err(format!(
            "nothing serving at {} (start a server or pass --spawn)",
            args.addr
        ));
    }
    // Warm up connections and the server's allocator.
    {
        let ch = channel(args.addr).await?;
        let mut client = ScoringServiceClient::new(ch);
        for i in 0..200 {
            client
                .score(score_request(&pool, i))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    // One run per phase, and one unary run per rate.
    let runs = args.phases.iter().flat_map(|phase| match phase.as_str() {
        "unary" => args.rates.iter().map(|r| (phase.as_str(), *r)).collect(),
        _ => vec![(phase.as_str(), 0.0)],
    });
    for (phase, rate) in runs {
        let cpu_before = pid.and_then(cpu_seconds);
        let own_before = cpu_seconds(std::process::id());
        let result = match phase {
            "ready" => continue,
            "unary" => unary_phase(&args, rate, pool.clone()).await?,
            "max" => max(&args, pool.clone()).await?,
            "stream" => stream(&args, pool.clone()).await?,
            other => return Err(format!("unknown phase {other}")),
        };
        let mut result = result;
        if let Some(kb) = pid.and_then(rss_kb) {
            result["server_rss_mb"] = (kb as f64 / 1024.0).into();
        }
        // CPU per request (unary) or per account (stream), server and this client, in µs to
        // a tenth (a streamed account takes a few µs).
        let per_item = |seconds: f64, work: f64| (seconds / work * 1e7).round() / 10.0;
        let work = result["requests"]
            .as_u64()
            .or(result["accounts"].as_u64())
            .unwrap_or(0)
            .max(1) as f64;
        if let (Some(a), Some(b)) = (cpu_before, pid.and_then(cpu_seconds)) {
            result["server_cpu_us_per_item"] = per_item(b - a, work).into();
        }
        if let (Some(a), Some(b)) = (own_before, cpu_seconds(std::process::id())) {
            result["client_cpu_us_per_item"] = per_item(b - a, work).into();
        }
        println!("{result}");
    }
    drop(spawned);
    Ok(())
}
