//! The least a websocket chat server can do, for telling how much of a
//! `ws_fanout.py` figure is the server's: every text frame a client sends
//! to `/ws/chat/<room>/` is written back, unchanged, to every socket in
//! that room, each socket with its own queue and writer. No JSON, sessions, origin check, limits or
//! layer: what is left of a delivery is the client's work.
//!
//! `cargo run --release -p bench --example ws_floor -- 127.0.0.1:8020`,
//! then `ws_fanout.py ws://127.0.0.1:8020/ws/chat/lobby/ --clients 100`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;

type Rooms = Arc<Mutex<HashMap<String, Vec<mpsc::UnboundedSender<Message>>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8020".to_owned());
    let rooms: Rooms = Arc::default();
    let app = Router::new()
        .route("/ws/chat/{room}/", get(upgrade))
        .with_state(rooms);
    // Frames go out as written (as the framework's server sends them).
    let listener = tokio::net::TcpListener::bind(&bind).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("ws_floor on {bind}");
    axum::serve(listener, app).await
}

async fn upgrade(
    ws: WebSocketUpgrade,
    Path(room): Path<String>,
    State(rooms): State<Rooms>,
) -> Response {
    ws.on_upgrade(move |socket| member(socket, room, rooms))
}

async fn member(socket: WebSocket, room: String, rooms: Rooms) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    rooms
        .lock()
        .expect("not poisoned")
        .entry(room.clone())
        .or_default()
        .push(tx);
    // One write per frame, as the framework's writer does (written
    // together, a burst fills the Python client's 16-message queue, which
    // then pauses reading).
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(frame).await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        if let Message::Text(text) = message {
            let members = rooms.lock().expect("not poisoned");
            for member in members.get(&room).into_iter().flatten() {
                let _ = member.send(Message::Text(text.clone()));
            }
        }
    }
    rooms
        .lock()
        .expect("not poisoned")
        .entry(room)
        .or_default()
        .retain(|m| !m.is_closed());
    writer.abort();
}
