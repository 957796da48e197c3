//! Shared helpers for the end-to-end tests: a real server on 127.0.0.1 with an ephemeral port,
//! a generated client, and sample accounts.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use payrisk::grpc::server::{self, ServerConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A path inside the repository.
pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The shipped defaults, with absolute paths, without the file poll and the metrics port
/// (tests run many servers at once).
pub fn default_config() -> ServerConfig {
    ServerConfig {
        model: repo(payrisk::serve::DEFAULT_MODEL),
        policy: repo(payrisk::serve::DEFAULT_POLICY),
        reload_poll_secs: 0,
        metrics_addr: None,
        ..ServerConfig::default()
    }
}

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), server::ServeError>>,
}

impl TestServer {
    /// Starts the server on the shipped model and policy.
    pub async fn start() -> TestServer {
        TestServer::start_with(default_config()).await
    }

    /// Starts the server with `config` (its `addr` is ignored: the port is ephemeral).
    pub async fn start_with(config: ServerConfig) -> TestServer {
        let live = config.load().expect("shipped model and policy load");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            server::run(listener, live, &config, async {
                let _ = rx.await;
            })
            .await
        });
        TestServer {
            addr,
            shutdown: Some(tx),
            handle,
        }
    }

    /// A channel to the server.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// A scoring client.
    pub async fn client(&self) -> ScoringServiceClient<Channel> {
        ScoringServiceClient::new(self.channel().await)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Starts the graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Shuts down and waits for the server to return.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        self.handle
            .await
            .expect("server task")
            .expect("server exits cleanly");
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Option<pb::Date> {
    Some(pb::Date { year, month, day })
}

/// An account with `months` monthly cycles (2024-01 onward, statement on the 28th) whose
/// payment behaviour is set by `paid_share` (of the previous statement) and `dpd`.
pub fn account(id: &str, months: usize, paid_share: f64, dpd: u32) -> pb::Account {
    let history: Vec<pb::PaymentCycle> = (0..months)
        .map(|i| {
            let due = 2_000.0 + 100.0 * i as f64;
            pb::PaymentCycle {
                statement_date: date(2024 + (i / 12) as i32, (i % 12) as i32 + 1, 28),
                amount_due: due,
                minimum_due: due * 0.1,
                amount_paid: if i == 0 {
                    0.0
                } else {
                    (due - 100.0) * paid_share
                },
                days_past_due: if i + 3 >= months { dpd } else { 0 },
            }
        })
        .collect();
    pb::Account {
        account_id: id.to_owned(),
        as_of: date(2024 + (months / 12) as i32, (months % 12) as i32 + 1, 1),
        profile: Some(pb::CreditProfile {
            credit_limit: 5_000.0,
            current_balance: 2_000.0 + 100.0 * months as f64,
            months_on_book: 36,
            open_credit_lines: 2,
            prior_delinquencies: 0,
            bureau_score: None,
            annual_income: None,
            hardship: false,
            ..Default::default()
        }),
        history,
        attributes: Default::default(),
        ..Default::default()
    }
}

/// A customer who pays in full and on time.
pub fn good_account(id: &str) -> pb::Account {
    account(id, 12, 1.0, 0)
}

/// A customer who pays little and is 90 days past due.
pub fn risky_account(id: &str) -> pb::Account {
    account(id, 12, 0.02, 90)
}

/// A free loopback port (the OS may hand it out again; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The `payrisk-server` binary, started from the repository root on a free port with `args`
/// (and metrics on an ephemeral port), once it accepts connections.
pub struct Binary {
    pub child: std::process::Child,
    pub channel: Channel,
    pub addr: std::net::SocketAddr,
}

impl Binary {
    pub async fn start(args: &[&std::ffi::OsStr], stderr: std::process::Stdio) -> Binary {
        use std::time::{Duration, Instant};
        let port = free_port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_payrisk-server"))
            .current_dir(repo(""))
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start payrisk-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        let channel = loop {
            let attempt = Channel::from_shared(format!("http://127.0.0.1:{port}"))
                .expect("uri")
                .connect()
                .await;
            if let Ok(channel) = attempt {
                break channel;
            }
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Binary {
            child,
            channel,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Sends `signal` (for example `-HUP`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

/// `GET path` over HTTP/1.1: (status line, body).
pub async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// Sample lines as `name{labels}` → value.
pub fn samples(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Xorshift64: the tests' one small generator of reproducible random inputs.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits (the state must not be 0).
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Writes the three canonical tables as CSV into `dir` (`accounts.csv`, `payment_history.csv`,
/// `outcomes.csv`) and returns their paths.
#[cfg(feature = "train")]
pub fn write_tables(
    dir: &std::path::Path,
    accounts: &str,
    history: &str,
    outcomes: &str,
) -> payrisk::train::tables::TablePaths {
    let paths = payrisk::train::tables::TablePaths {
        accounts: dir.join("accounts.csv"),
        history: dir.join("payment_history.csv"),
        outcomes: dir.join("outcomes.csv"),
        read: Default::default(),
    };
    std::fs::write(&paths.accounts, accounts).expect("write");
    std::fs::write(&paths.history, history).expect("write");
    std::fs::write(&paths.outcomes, outcomes).expect("write");
    paths
}

/// Request bodies sent as they are, to reach the server's decoder with bytes no client library
/// would write.
#[derive(Debug, Default, Clone)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

/// A raw HTTP/2 connection to `addr`, driven in the background: for requests no gRPC client
/// library would send (stalled bodies, resets, compressed frames).
pub async fn raw_h2(addr: std::net::SocketAddr) -> h2::client::SendRequest<bytes::Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (h2, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(connection);
    h2
}

/// A gRPC request head for `path` on `addr`, with `headers` added.
pub fn grpc_head(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Request<()> {
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).expect("request")
}

/// A domain account as the wire sends it.
pub fn to_proto(a: &payrisk::domain::Account) -> pb::Account {
    let date = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        Some(pb::Date {
            year: d.year(),
            month: d.month() as i32,
            day: d.day() as i32,
        })
    };
    pb::Account {
        account_id: a.account_id.clone(),
        as_of: date(a.as_of),
        profile: Some(pb::CreditProfile {
            credit_limit: a.profile.credit_limit.unwrap_or(0.0),
            credit_limit_unknown: a.profile.credit_limit.is_none(),
            current_balance: a.profile.current_balance.unwrap_or(0.0),
            current_balance_unknown: a.profile.current_balance.is_none(),
            months_on_book: a.profile.months_on_book.unwrap_or(0),
            months_on_book_unknown: a.profile.months_on_book.is_none(),
            open_credit_lines: a.profile.open_credit_lines,
            prior_delinquencies: a.profile.prior_delinquencies,
            bureau_score: a.profile.bureau_score,
            annual_income: a.profile.annual_income,
            hardship: a.profile.hardship.unwrap_or(false),
            hardship_unknown: a.profile.hardship.is_none(),
        }),
        history: a
            .history
            .iter()
            .map(|c| pb::PaymentCycle {
                statement_date: date(c.statement_date),
                amount_due: c.amount_due,
                minimum_due: c.minimum_due,
                amount_paid: c.amount_paid,
                days_past_due: c.days_past_due,
            })
            .collect(),
        attributes: a.attributes.clone(),
        ..Default::default()
    }
}

/// Checks every figure of a report page against its JSON: each element carrying
/// `data-json="<pointer>" data-value="<v>"` must name a value of the JSON equal to `v`, and the
/// page must carry some. Returns how many were checked.
pub fn assert_page_matches_json(html: &std::path::Path, json: &std::path::Path) -> usize {
    let page = std::fs::read_to_string(html).expect("page");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("json")).expect("valid json");
    let mut checked = 0;
    let mut rest = page.as_str();
    while let Some(i) = rest.find("data-json=\"") {
        rest = &rest[i + 11..];
        let end = rest.find('"').expect("closing quote");
        let pointer = rest[..end].replace("&amp;", "&");
        let value_at = rest
            .find("data-value=\"")
            .expect("a value beside the pointer")
            + 12;
        let value_end = value_at + rest[value_at..].find('"').expect("closing quote");
        let shown = &rest[value_at..value_end];
        let expected = json
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{pointer} is not in the JSON"));
        let expected = expected
            .as_f64()
            .unwrap_or_else(|| panic!("{pointer} is {expected}, not a number"));
        let shown: f64 = shown.parse().expect("a number");
        assert_eq!(shown, expected, "{pointer}");
        checked += 1;
        rest = &rest[value_end..];
    }
    assert!(checked > 0, "the page carries no figure to check");
    checked
}
