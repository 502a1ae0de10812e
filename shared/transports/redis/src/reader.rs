//! The read loop's own connection: `XREADGROUP` encoded by the redis crate, its reply read
//! straight from the socket buffer into stream entries. A read of hundreds of entries is most of
//! the bytes a consumer receives; building the redis crate's value tree from it first (a vector
//! per entry and per field list, a string per field) was a fifth of the drain's CPU.
//!
//! One request at a time on a plain TCP, TLS (`rediss://`, with the process's [`RedisTls`]) or
//! Unix socket in RESP2 (the server's default), with the URL's user, password and database. The
//! socket is opened on first use and again after a failure; a server error (`NOGROUP`) leaves it
//! open. The kinds of socket are the variants of one enum, so a read on plain TCP goes straight
//! to the socket, through no boxed trait object.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::redis::{Cmd, ConnectionAddr, IntoConnectionInfo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::resp::{Frame, Reader, Short};
use super::tls::{self, RedisTls};
use super::wire::Entry;

/// What a read returned.
#[derive(Debug, Default)]
pub struct Read {
    /// The entries, over every stream.
    pub entries: Vec<Entry>,
    /// The errors the server answered to the commands sent before the read.
    pub refused: Vec<String>,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The URL does not name a server this reader can reach.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// The socket failed (the next read opens a new one).
    #[error("Redis connection: {0}")]
    Io(#[from] io::Error),
    /// No complete reply in time (the next read opens a new connection).
    #[error("no reply from Redis within {0:?}")]
    Timeout(Duration),
    /// The TLS handshake failed (the server's certificate, a client certificate it requires).
    #[error("{0}")]
    Tls(String),
    /// The server answered with an error, e.g. `NOGROUP ...`.
    #[error("Redis replied: {0}")]
    Server(String),
    /// The reply was not RESP2 of the expected shape.
    #[error("unexpected Redis reply: {0}")]
    Protocol(&'static str),
}

impl ReadError {
    /// Whether the server answered with error `code` (`NOGROUP`, `NOAUTH`, ...).
    #[must_use]
    pub fn has_code(&self, code: &str) -> bool {
        matches!(self, Self::Server(message) if message.split(' ').next() == Some(code))
    }
}

/// The reader's socket.
enum Socket {
    Tcp(TcpStream),
    /// Boxed: a TLS session is large, and only this variant pays for the pointer.
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// What a `rediss://` reader opens its sockets with.
struct TlsTarget {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// The server as errors name it (no credentials).
    server: String,
}

/// A connection for `XREADGROUP` and nothing else.
pub struct StreamReader {
    addr: ConnectionAddr,
    username: Option<String>,
    password: Option<String>,
    db: i64,
    tls: Option<TlsTarget>,
    socket: Option<Socket>,
    /// How many replies to checked commands come before the awaited read's reply.
    awaiting: Option<usize>,
    buf: Vec<u8>,
    /// The streams read, so entries share their names instead of a copy each.
    streams: Vec<Arc<str>>,
    timeout: Duration,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("addr", &self.addr)
            .field("db", &self.db)
            .field("tls", &self.tls.is_some())
            .field("connected", &self.socket.is_some())
            .finish_non_exhaustive()
    }
}

/// How much room a read asks for at least.
const READ_CHUNK: usize = 64 * 1024;

impl StreamReader {
    /// A reader of `streams` on the server of `url` (over TLS with `tls` for `rediss://`)
    /// whose replies may take up to `timeout`; connects at once.
    ///
    /// # Errors
    /// An invalid URL, or the server cannot be reached, fails the TLS handshake or refuses the
    /// credentials.
    pub async fn connect(
        url: &str,
        tls: &RedisTls,
        streams: &[String],
        timeout: Duration,
    ) -> Result<Self, ReadError> {
        tls.check(url).map_err(|e| ReadError::Url(e.to_string()))?;
        let info = url
            .into_connection_info()
            .map_err(|e| ReadError::Url(e.to_string()))?;
        let redis = info.redis_settings();
        let tls = match info.addr() {
            ConnectionAddr::TcpTls { host, .. } => Some(TlsTarget {
                connector: TlsConnector::from(tls.config()),
                name: ServerName::try_from(host.clone())
                    .map_err(|e| ReadError::Url(format!("{}: {e}", tls::server(url))))?,
                server: tls::server(url),
            }),
            _ => None,
        };
        let mut reader = Self {
            addr: info.addr().clone(),
            username: redis.username().map(str::to_owned),
            password: redis.password().map(str::to_owned),
            db: redis.db(),
            tls,
            socket: None,
            awaiting: None,
            buf: Vec::with_capacity(READ_CHUNK),
            streams: streams.iter().map(|s| Arc::from(s.as_str())).collect(),
            timeout,
        };
        reader.socket = Some(reader.open().await?);
        Ok(reader)
    }

    /// Sends `before` (commands whose replies are only checked, such as `XACK`) and `cmd` (an
    /// `XREADGROUP`) in one write, and returns the entries of `cmd`'s reply, over every stream
    /// (none when the block ran out), with the errors the server answered to `before`.
    ///
    /// # Errors
    /// See [`ReadError`]; `before` may then have run or not.
    pub async fn read(&mut self, before: &[Cmd], cmd: &Cmd) -> Result<Read, ReadError> {
        self.send(before, cmd).await?;
        self.receive().await
    }

    /// The first half of [`StreamReader::read`]: writes the commands, so the server works on
    /// them while the caller does something else; [`StreamReader::receive`] reads the replies.
    ///
    /// # Errors
    /// See [`ReadError`].
    pub async fn send(&mut self, before: &[Cmd], cmd: &Cmd) -> Result<(), ReadError> {
        let timeout = self.timeout;
        let sent = match tokio::time::timeout(timeout, self.write(before, cmd)).await {
            Ok(sent) => sent,
            Err(_) => Err(ReadError::Timeout(timeout)),
        };
        self.settle(sent)
    }

    /// The second half of [`StreamReader::read`].
    ///
    /// # Errors
    /// See [`ReadError`]; [`ReadError::Protocol`] without a [`StreamReader::send`] before.
    pub async fn receive(&mut self) -> Result<Read, ReadError> {
        let timeout = self.timeout;
        let received = match tokio::time::timeout(timeout, self.reply()).await {
            Ok(received) => received,
            Err(_) => Err(ReadError::Timeout(timeout)),
        };
        self.settle(received)
    }

    /// Drops the socket after a failure other than the server's answer: where the exchange
    /// stopped is unknown, so the next one starts over on a new socket.
    fn settle<T>(&mut self, result: Result<T, ReadError>) -> Result<T, ReadError> {
        if matches!(&result, Err(e) if !matches!(e, ReadError::Server(_))) {
            self.socket = None;
            self.awaiting = None;
        }
        result
    }

    async fn write(&mut self, before: &[Cmd], cmd: &Cmd) -> Result<(), ReadError> {
        if self.awaiting.is_some() {
            return Err(ReadError::Protocol("a reply is still awaited"));
        }
        if self.socket.is_none() {
            self.socket = Some(self.open().await?);
        }
        let Some(socket) = self.socket.as_mut() else {
            return Err(ReadError::Protocol("no connection"));
        };
        write(socket, &mut self.buf, before, cmd).await?;
        self.awaiting = Some(before.len());
        Ok(())
    }

    async fn reply(&mut self) -> Result<Read, ReadError> {
        let (Some(socket), Some(before)) = (self.socket.as_mut(), self.awaiting.take()) else {
            return Err(ReadError::Protocol("nothing was sent"));
        };
        let mut reply = Reply::new(before, &self.streams);
        receive(socket, &mut self.buf, |buf| reply.parse(buf)).await
    }

    async fn open(&mut self) -> Result<Socket, ReadError> {
        let mut socket = match (&self.addr, &self.tls) {
            (ConnectionAddr::Tcp(host, port), _) => {
                let tcp = TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                Socket::Tcp(tcp)
            }
            (ConnectionAddr::TcpTls { host, port, .. }, Some(target)) => {
                let tcp = TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                let stream = target
                    .connector
                    .connect(target.name.clone(), tcp)
                    .await
                    .map_err(|e| ReadError::Tls(tls::explain(&target.server, &e.to_string())))?;
                Socket::Tls(Box::new(stream))
            }
            (ConnectionAddr::Unix(path), _) => Socket::Unix(UnixStream::connect(path).await?),
            (other, _) => return Err(ReadError::Url(format!("unsupported address {other}"))),
        };
        if let Some(password) = &self.password {
            let mut auth = ::redis::cmd("AUTH");
            if let Some(user) = &self.username {
                auth.arg(user);
            }
            auth.arg(password);
            request(&mut socket, &mut self.buf, &auth, status).await?;
        }
        if self.db != 0 {
            let mut select = ::redis::cmd("SELECT");
            select.arg(self.db);
            request(&mut socket, &mut self.buf, &select, status).await?;
        }
        Ok(socket)
    }
}

/// Writes `cmd`, then reads until `parse` finds its complete reply in the buffer.
async fn request<T>(
    socket: &mut Socket,
    buf: &mut Vec<u8>,
    cmd: &Cmd,
    parse: impl Fn(&[u8]) -> Result<Result<T, ReadError>, Short>,
) -> Result<T, ReadError> {
    write(socket, buf, &[], cmd).await?;
    receive(socket, buf, parse).await
}

/// Writes `before` and `cmd` in one write (`buf` is scratch space).
async fn write(
    socket: &mut Socket,
    buf: &mut Vec<u8>,
    before: &[Cmd],
    cmd: &Cmd,
) -> Result<(), ReadError> {
    buf.clear();
    for command in before {
        command.write_packed_command(buf);
    }
    cmd.write_packed_command(buf);
    socket.write_all(buf).await?;
    // A no-op on plain sockets; on TLS, records the session could not send yet go out now.
    socket.flush().await?;
    Ok(())
}

/// Reads until `parse` finds a complete reply in `buf` (everything read since the call; a
/// parser with state of its own goes on from where its last call stopped).
async fn receive<T>(
    socket: &mut Socket,
    buf: &mut Vec<u8>,
    mut parse: impl FnMut(&[u8]) -> Result<Result<T, ReadError>, Short>,
) -> Result<T, ReadError> {
    buf.clear();
    loop {
        buf.reserve(READ_CHUNK);
        if socket.read_buf(buf).await? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        match parse(buf) {
            Ok(reply) => return reply,
            Err(Short::Incomplete) => {}
            Err(Short::Invalid(what)) => return Err(ReadError::Protocol(what)),
        }
    }
}

/// A `+OK`-style reply.
fn status(buf: &[u8]) -> Result<Result<(), ReadError>, Short> {
    let mut reader = Reader::new(buf);
    Ok(match reader.frame()? {
        Frame::Error(message) => Err(server_error(message)),
        _ => Ok(()),
    })
}

fn server_error(message: &[u8]) -> ReadError {
    ReadError::Server(String::from_utf8_lossy(message).into_owned())
}

/// The replies to the commands sent before an `XREADGROUP` (their errors kept), then its own:
/// `[[stream, [[id, [field, value, ...]], ...]], ...]`, or nil when the block ran out. An entry
/// deleted since it was delivered (nil fields) is skipped; fields are matched by name, in any
/// order.
///
/// A large reply arrives in several reads: [`Reply::parse`] keeps what it has parsed and goes on
/// after the last complete element, so each entry is built once however the bytes are cut.
struct Reply<'s> {
    streams: &'s [Arc<str>],
    /// Bytes of the buffer taken by complete elements.
    pos: usize,
    /// Replies to the commands sent before, not read yet.
    before: usize,
    refused: Vec<String>,
    stage: Stage,
    entries: Vec<Entry>,
}

/// Where [`Reply::parse`] is in the `XREADGROUP` reply.
enum Stage {
    /// Before its header.
    Header,
    /// Before a stream's name and entries, `left` streams to go.
    Stream { left: usize },
    /// Inside a stream's entries.
    Entries {
        stream: Arc<str>,
        left: usize,
        streams_left: usize,
    },
}

impl<'s> Reply<'s> {
    fn new(before: usize, streams: &'s [Arc<str>]) -> Self {
        Self {
            streams,
            pos: 0,
            before,
            refused: Vec::new(),
            stage: Stage::Header,
            entries: Vec::new(),
        }
    }

    /// Goes on parsing `buf`: what was parsed before and what arrived since.
    fn parse(&mut self, buf: &[u8]) -> Result<Result<Read, ReadError>, Short> {
        loop {
            let rest = buf
                .get(self.pos..)
                .ok_or(Short::Invalid("the buffer shrank"))?;
            let mut reader = Reader::new(rest);
            if self.before > 0 {
                if let Some(message) = reader.error_or_skip()? {
                    self.refused
                        .push(String::from_utf8_lossy(message).into_owned());
                }
                self.before -= 1;
                self.pos += reader.consumed();
                continue;
            }
            match &mut self.stage {
                Stage::Header => {
                    let left = match reader.frame()? {
                        Frame::Error(message) => return Ok(Err(server_error(message))),
                        Frame::Array(Some(n)) => n,
                        Frame::Array(None) | Frame::Bulk(None) => 0,
                        _ => return Err(Short::Invalid("an XREADGROUP reply is an array")),
                    };
                    self.stage = Stage::Stream { left };
                }
                Stage::Stream { left: 0 } => {
                    return Ok(Ok(Read {
                        entries: std::mem::take(&mut self.entries),
                        refused: std::mem::take(&mut self.refused),
                    }));
                }
                Stage::Stream { left } => {
                    reader.array_of(2)?;
                    let name = reader.string()?;
                    let Frame::Array(Some(entries)) = reader.frame()? else {
                        return Err(Short::Invalid("a stream's entries are an array"));
                    };
                    let stream = self
                        .streams
                        .iter()
                        .find(|s| s.as_bytes() == name)
                        .cloned()
                        .unwrap_or_else(|| Arc::from(String::from_utf8_lossy(name)));
                    self.entries.reserve(entries);
                    self.stage = Stage::Entries {
                        stream,
                        left: entries,
                        streams_left: *left - 1,
                    };
                }
                Stage::Entries {
                    left: 0,
                    streams_left,
                    ..
                } => {
                    self.stage = Stage::Stream {
                        left: *streams_left,
                    };
                }
                Stage::Entries { stream, left, .. } => {
                    if let Some(entry) = entry(&mut reader, stream)? {
                        self.entries.push(entry);
                    }
                    *left -= 1;
                }
            }
            self.pos += reader.consumed();
        }
    }
}

/// One `[id, [field, value, ...]]`.
fn entry(reader: &mut Reader<'_>, stream: &Arc<str>) -> Result<Option<Entry>, Short> {
    reader.array_of(2)?;
    let id = text(reader.string()?);
    let fields = match reader.frame()? {
        Frame::Array(Some(n)) => n,
        Frame::Array(None) | Frame::Bulk(None) => return Ok(None),
        _ => return Err(Short::Invalid("an entry's fields are an array")),
    };
    let mut entry = Entry {
        stream: Arc::clone(stream),
        id,
        data: None,
        topic: None,
    };
    for _ in 0..fields / 2 {
        let name = reader.string()?;
        match name {
            b"data" => entry.data = Some(reader.string()?.to_vec()),
            b"topic" => entry.topic = Some(text(reader.string()?)),
            _ => reader.skip()?,
        }
    }
    if fields % 2 == 1 {
        reader.skip()?;
    }
    Ok(Some(entry))
}

/// `bytes` as text: copied as it is when it is UTF-8 (an entry id always is), else lossily.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Frame;

    fn streams() -> Vec<Arc<str>> {
        vec![Arc::from("t")]
    }

    fn parse(reply: &[u8]) -> Result<Result<Vec<Entry>, ReadError>, Short> {
        let streams = streams();
        Reply::new(0, &streams)
            .parse(reply)
            .map(|read| read.map(|r| r.entries))
    }

    const REPLY: &[u8] = b"*1\r\n*2\r\n$1\r\nt\r\n*3\r\n\
        *2\r\n$3\r\n1-0\r\n*4\r\n$8\r\nmetadata\r\n$2\r\n{}\r\n$4\r\ndata\r\n$2\r\n{}\r\n\
        *2\r\n$3\r\n2-0\r\n*4\r\n$5\r\ntopic\r\n+x.y\r\n$4\r\ndata\r\n+x\r\n\
        *2\r\n$3\r\n3-0\r\n*-1\r\n";

    #[test]
    fn reads_fields_by_name_in_any_order_and_skips_deleted_entries() {
        let got = parse(REPLY).unwrap().unwrap();
        assert_eq!(got.len(), 2, "the deleted entry is skipped");
        assert_eq!(got[0].id, "1-0");
        assert_eq!(got[0].data.as_deref(), Some(&b"{}"[..]));
        assert_eq!(got[0].topic, None);
        assert_eq!(got[1].data.as_deref(), Some(&b"x"[..]));
        assert_eq!(got[1].topic.as_deref(), Some("x.y"));
        assert_eq!(&*got[1].stream, "t");
    }

    #[test]
    fn every_cut_of_a_reply_is_incomplete_until_its_last_byte() {
        for end in 0..REPLY.len() {
            assert!(
                matches!(parse(&REPLY[..end]), Err(Short::Incomplete)),
                "cut at {end}"
            );
        }
    }

    #[test]
    fn a_reply_fed_a_byte_at_a_time_parses_as_a_whole_one_does() {
        let streams = streams();
        let whole = parse(REPLY).unwrap().unwrap();
        let mut reply = Reply::new(1, &streams);
        let mut sent = b"-NOGROUP the ack\r\n".to_vec();
        sent.extend_from_slice(REPLY);
        for end in 1..sent.len() {
            assert!(
                matches!(reply.parse(&sent[..end]), Err(Short::Incomplete)),
                "cut at {end}"
            );
        }
        let read = reply.parse(&sent).unwrap().unwrap();
        assert_eq!(read.entries, whole);
        assert_eq!(read.refused, ["NOGROUP the ack"]);
    }

    #[test]
    fn nil_is_no_entries_and_an_error_is_the_servers() {
        assert!(parse(b"*-1\r\n").unwrap().unwrap().is_empty());
        let error = parse(b"-NOGROUP No such key 't' or consumer group 'f'\r\n")
            .unwrap()
            .unwrap_err();
        assert!(error.has_code("NOGROUP"), "{error}");
        assert!(!error.has_code("NOAUTH"));
        assert!(matches!(parse(b":1\r\n"), Err(Short::Invalid(_))));
    }

    /// The arguments of the next command a client sends on `socket`.
    async fn command(socket: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Vec<String> {
        loop {
            let mut reader = Reader::new(buf);
            if reader.skip().is_ok() {
                let mut reader = Reader::new(buf);
                let Ok(Frame::Array(Some(n))) = reader.frame() else {
                    panic!("a command is an array")
                };
                let args = (0..n)
                    .map(|_| String::from_utf8(reader.string().unwrap().to_vec()).unwrap())
                    .collect();
                buf.drain(..reader.consumed());
                return args;
            }
            assert!(socket.read_buf(buf).await.unwrap() > 0, "client hung up");
        }
    }

    /// A loopback server that checks the handshake and answers reads in small pieces, then with
    /// an error, then hangs up; the reader's second connection gets the reply again.
    #[tokio::test]
    async fn authenticates_selects_reads_replies_in_pieces_and_reconnects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for connection in 0..2 {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                seen.push(command(&mut socket, &mut buf).await);
                socket.write_all(b"+OK\r\n").await.unwrap();
                seen.push(command(&mut socket, &mut buf).await);
                socket.write_all(b"+OK\r\n").await.unwrap();
                seen.push(command(&mut socket, &mut buf).await);
                for piece in REPLY.chunks(7) {
                    socket.write_all(piece).await.unwrap();
                    socket.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                if connection == 0 {
                    // An acknowledgement sent with the next read, refused; the read is nil.
                    seen.push(command(&mut socket, &mut buf).await);
                    seen.push(command(&mut socket, &mut buf).await);
                    socket
                        .write_all(b"-NOGROUP for the ack\r\n*-1\r\n")
                        .await
                        .unwrap();
                    command(&mut socket, &mut buf).await;
                    socket.write_all(b"-NOGROUP no group\r\n").await.unwrap();
                    command(&mut socket, &mut buf).await;
                }
            }
            seen
        });
        let url = format!("redis://reader:s3cret@127.0.0.1:{port}/4");
        let mut reader = StreamReader::connect(
            &url,
            &RedisTls::default(),
            &["t".to_owned()],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let mut xread = ::redis::cmd("XREADGROUP");
        xread
            .arg("GROUP")
            .arg("f")
            .arg("c")
            .arg("STREAMS")
            .arg("t")
            .arg(">");
        let first = reader.read(&[], &xread).await.unwrap();
        assert_eq!(first.entries.len(), 2);
        assert!(first.refused.is_empty());
        let mut xack = ::redis::cmd("XACK");
        xack.arg("t").arg("f").arg("1-0");
        let acked = reader.read(&[xack], &xread).await.unwrap();
        assert!(acked.entries.is_empty(), "nil: the block ran out");
        assert_eq!(acked.refused, ["NOGROUP for the ack"]);
        let error = reader.read(&[], &xread).await.unwrap_err();
        assert!(error.has_code("NOGROUP"), "{error}");
        assert!(
            matches!(reader.read(&[], &xread).await, Err(ReadError::Io(_))),
            "the server hung up"
        );
        let again = reader.read(&[], &xread).await.unwrap();
        assert_eq!(again.entries.len(), 2, "reconnected");
        let mut seen = server.await.unwrap();
        assert_eq!(
            seen.remove(3),
            ["XACK", "t", "f", "1-0"],
            "in the read's write"
        );
        assert_eq!(seen.remove(3), seen[2]);
        assert_eq!(seen[0], ["AUTH", "reader", "s3cret"]);
        assert_eq!(seen[1], ["SELECT", "4"]);
        assert_eq!(
            seen[2],
            ["XREADGROUP", "GROUP", "f", "c", "STREAMS", "t", ">"]
        );
        assert_eq!(
            seen[3..6],
            seen[0..3],
            "the same handshake on the new connection"
        );
    }

    #[test]
    fn an_unknown_stream_name_and_binary_data_are_kept() {
        let reply = b"*1\r\n*2\r\n$2\r\nuv\r\n*1\r\n*2\r\n$3\r\n9-1\r\n*2\r\n$4\r\ndata\r\n$3\r\n\x00\r\n\r\n";
        let got = parse(reply).unwrap().unwrap();
        assert_eq!(&*got[0].stream, "uv");
        assert_eq!(got[0].data.as_deref(), Some(&b"\x00\r\n"[..]));
    }
}
