//! A TCP relay put between the broker sidecar and the broker: it records what crosses it (the
//! fuzz seeds are captured here) and it makes the faults the broker side can have — the broker
//! going away with every connection reset and its port refusing connections, responses held
//! back, and coming back.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One relayed connection: both sockets, and whether it was reset.
struct Conn {
    id: usize,
    client: TcpStream,
    server: TcpStream,
    reset: Arc<AtomicBool>,
}

#[derive(Default)]
struct Shared {
    /// Stops the accept loop.
    stop: AtomicBool,
    /// Broker → client bytes wait while set.
    hold_responses: AtomicBool,
    /// Every open connection, both sockets, to reset them all at once.
    open: Mutex<Vec<Conn>>,
    accepted: AtomicUsize,
    to_broker: AtomicU64,
    to_client: AtomicU64,
}

/// A running relay on `127.0.0.1:<port>` to `upstream`.
pub struct Relay {
    pub port: u16,
    pub upstream: SocketAddr,
    capture: Option<PathBuf>,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens on `port` and relays every connection to `upstream`. With `capture`, each
    /// connection's bytes go to `<capture>/conn-<n>.c2s` (to the broker) and `.s2c` (back).
    pub fn start(port: u16, upstream: SocketAddr, capture: Option<PathBuf>) -> Relay {
        if let Some(dir) = &capture {
            std::fs::create_dir_all(dir).expect("create the capture directory");
        }
        let mut relay = Relay {
            port,
            upstream,
            capture,
            shared: Arc::new(Shared::default()),
            acceptor: None,
        };
        relay.up();
        relay
    }

    /// Accepts connections again (after [`Relay::down`]).
    pub fn up(&mut self) {
        if self.acceptor.is_some() {
            return;
        }
        // The port was just closed by `down`: retry while the kernel lets go of it.
        let mut listener = None;
        for _ in 0..100 {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let listener =
            listener.unwrap_or_else(|| panic!("the relay cannot listen on {}", self.port));
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        self.shared.stop.store(false, Ordering::SeqCst);
        let shared = Arc::clone(&self.shared);
        let (upstream, capture) = (self.upstream, self.capture.clone());
        self.acceptor = Some(std::thread::spawn(move || {
            accept_loop(&listener, upstream, capture.as_ref(), &shared)
        }));
    }

    /// The broker goes away: the port stops listening (connections are refused) and every open
    /// connection is reset (RST, both sides).
    pub fn down(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.reset_all();
    }

    /// Resets every open connection (RST to both sides); new ones are still accepted.
    pub fn reset_all(&self) {
        let open = std::mem::take(&mut *self.shared.open.lock().expect("relay lock"));
        for conn in open {
            conn.reset.store(true, Ordering::SeqCst);
            for s in [&conn.client, &conn.server] {
                // Closed with a zero linger, a socket sends RST. Shutting its read side wakes the
                // pumps (without sending anything), which then drop their handles: the last
                // close resets the connection.
                let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
                let _ = s.shutdown(Shutdown::Read);
            }
        }
    }

    /// Holds broker → client bytes back (`true`) or lets them flow again.
    pub fn hold_responses(&self, hold: bool) {
        self.shared.hold_responses.store(hold, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.shared.open.lock().map_or(0, |o| o.len())
    }

    /// Bytes relayed to the broker so far.
    pub fn bytes_to_broker(&self) -> u64 {
        self.shared.to_broker.load(Ordering::SeqCst)
    }

    /// Bytes relayed back to the clients so far.
    pub fn bytes_to_client(&self) -> u64 {
        self.shared.to_client.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.hold_responses(false);
        self.down();
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: SocketAddr,
    capture: Option<&PathBuf>,
    shared: &Arc<Shared>,
) {
    while !shared.stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => continue,
        };
        let n = shared.accepted.fetch_add(1, Ordering::SeqCst);
        let _ = client.set_nonblocking(false);
        let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = (client.set_nodelay(true), server.set_nodelay(true));
        let reset = Arc::new(AtomicBool::new(false));
        let conn = match (client.try_clone(), server.try_clone()) {
            (Ok(client), Ok(server)) => Conn {
                id: n,
                client,
                server,
                reset: Arc::clone(&reset),
            },
            _ => continue,
        };
        if let Ok(mut open) = shared.open.lock() {
            open.push(conn);
        }
        let file = |suffix: &str| {
            capture.and_then(|dir| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("conn-{n:04}.{suffix}")))
                    .ok()
            })
        };
        let (c2s, s2c) = (file("c2s"), file("s2c"));
        let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        let (s, r) = (Arc::clone(shared), Arc::clone(&reset));
        std::thread::spawn(move || pump(n, client, server, c2s, &s, &r, false));
        let s = Arc::clone(shared);
        std::thread::spawn(move || pump(n, server2, client2, s2c, &s, &reset, true));
    }
}

/// Copies `from` → `to` until either side ends, recording into `capture`.
fn pump(
    id: usize,
    mut from: TcpStream,
    mut to: TcpStream,
    mut capture: Option<std::fs::File>,
    shared: &Shared,
    reset: &AtomicBool,
    responses: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while responses && shared.hold_responses.load(Ordering::SeqCst) {
            if reset.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let chunk = &buf[..n];
        if let Some(f) = capture.as_mut() {
            let _ = f.write_all(chunk);
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        let counter = if responses {
            &shared.to_client
        } else {
            &shared.to_broker
        };
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
    if reset.load(Ordering::SeqCst) {
        return;
    }
    let _ = to.shutdown(Shutdown::Write);
    if let Ok(mut open) = shared.open.lock() {
        open.retain(|c| c.id != id);
    }
}
