//! The channel layer's promises, on the in-memory layer always and on the
//! Redis layer when `REDIS_URL` is set: delivery to channels and groups,
//! per-channel capacity (a full channel drops and counts, and never holds
//! up the others), message expiry, group membership expiry, at most once,
//! order per sender, and the errors for bad names and events. Then the
//! websocket side in process: routes, scope, `connect`'s answers, the
//! origin check and the size limit, over a real socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use manouche::contrib::channels::{
    self, ChannelLayer, ChannelReceiver, Connect, Consumer, ConsumerError, Event, EventType,
    InMemoryChannelLayer, LayerError, LayerLimits, Received, Socket,
};
use manouche::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_tungstenite::tungstenite;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Chat {
    message: String,
    n: u32,
}

impl EventType for Chat {
    const TYPE: &'static str = "chat.message";
}

fn chat(n: u32) -> Event {
    Event::of(&Chat {
        message: format!("m{n}"),
        n,
    })
    .unwrap()
}

fn limits(capacity: usize, expiry_ms: u64, group_expiry_ms: u64) -> LayerLimits {
    LayerLimits {
        capacity,
        expiry: Duration::from_millis(expiry_ms),
        group_expiry: Duration::from_millis(group_expiry_ms),
    }
}

/// A unique prefix per test, so that tests sharing one Redis do not hear
/// each other.
fn prefix(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

/// A layer under test: its name, the layer that sends, the layer whose
/// channels receive.
type Pair = (&'static str, Arc<dyn ChannelLayer>, Arc<dyn ChannelLayer>);

/// The layers to test: memory always, Redis (two instances on one server,
/// standing for two processes) when `REDIS_URL` is set. Each item is the
/// layer that sends and the layer whose channels receive.
fn layers(test: &str, limits: LayerLimits) -> Vec<Pair> {
    let memory: Arc<dyn ChannelLayer> = Arc::new(InMemoryChannelLayer::new(limits));
    let mut all = vec![("memory", Arc::clone(&memory), memory)];
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let prefix = prefix(test);
            let a = channels::RedisChannelLayer::new(&url, &prefix, limits).unwrap();
            let b = channels::RedisChannelLayer::new(&url, &prefix, limits).unwrap();
            assert_ne!(a.process_id(), b.process_id());
            all.push(("redis", Arc::new(a), Arc::new(b)));
        }
        Err(_) => eprintln!("REDIS_URL is not set: the Redis layer is not tested"),
    }
    all
}

async fn next(receiver: &mut ChannelReceiver) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(3), receiver.recv())
        .await
        .ok()
        .flatten()
}

/// Nothing more arrives within a while.
async fn quiet(receiver: &mut ChannelReceiver) -> bool {
    tokio::time::timeout(Duration::from_millis(300), receiver.recv())
        .await
        .is_err()
}

/// Redis delivers asynchronously: wait until `n` events reached the
/// receiving layer's channels (counted by the layer), or 3 seconds.
async fn settle(layer: &dyn ChannelLayer, delivered: u64) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while layer.stats().delivered + layer.stats().dropped_full < delivered
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn send_reaches_the_channel_and_group_send_every_member() {
    for (name, sender, layer) in layers("basic", LayerLimits::default()) {
        let mut alice = layer.new_channel().await.unwrap();
        let mut bob = layer.new_channel().await.unwrap();
        let mut carol = layer.new_channel().await.unwrap();
        assert_ne!(alice.name(), bob.name());

        sender.send(alice.name(), chat(1)).await.unwrap();
        let got = next(&mut alice).await.expect(name);
        assert_eq!(got.parse::<Chat>().unwrap().unwrap().n, 1, "{name}");
        assert!(quiet(&mut bob).await, "{name}: bob got alice's event");

        layer.group_add("room-1", alice.name()).await.unwrap();
        layer.group_add("room-1", bob.name()).await.unwrap();
        layer.group_add("room-2", carol.name()).await.unwrap();
        sender.group_send("room-1", chat(2)).await.unwrap();
        assert_eq!(
            next(&mut alice).await.unwrap().get("n"),
            Some(&json!(2)),
            "{name}"
        );
        assert_eq!(
            next(&mut bob).await.unwrap().get("n"),
            Some(&json!(2)),
            "{name}"
        );
        assert!(
            quiet(&mut carol).await,
            "{name}: another room's member got it"
        );

        layer.group_discard("room-1", bob.name()).await.unwrap();
        sender.group_send("room-1", chat(3)).await.unwrap();
        assert_eq!(
            next(&mut alice).await.unwrap().get("n"),
            Some(&json!(3)),
            "{name}"
        );
        assert!(
            quiet(&mut bob).await,
            "{name}: a discarded member still gets events"
        );
        // Discarding twice, or from a group that never existed, is fine.
        layer.group_discard("room-1", bob.name()).await.unwrap();
        layer
            .group_discard("nobody-here", bob.name())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_full_channel_drops_and_counts_without_holding_up_the_others() {
    for (name, sender, layer) in layers("capacity", limits(3, 60_000, 86_400_000)) {
        let mut slow = layer.new_channel().await.unwrap();
        let mut fast = layer.new_channel().await.unwrap();
        layer.group_add("room", slow.name()).await.unwrap();
        layer.group_add("room", fast.name()).await.unwrap();
        let before = layer.stats();
        let mut fast_got = Vec::new();
        for n in 0..10 {
            let started = Instant::now();
            sender.group_send("room", chat(n)).await.unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{name}: a send waited"
            );
            // The fast member reads as it goes; the slow one never does.
            fast_got.push(
                next(&mut fast)
                    .await
                    .expect(name)
                    .parse::<Chat>()
                    .unwrap()
                    .unwrap()
                    .n,
            );
        }
        assert_eq!(fast_got, (0..10).collect::<Vec<_>>(), "{name}");
        settle(&*layer, before.delivered + before.dropped_full + 20).await;
        let stats = layer.stats();
        assert_eq!(
            stats.dropped_full - before.dropped_full,
            7,
            "{name}: {stats:?}"
        );
        // The slow member keeps the first three: what was queued stays.
        for n in 0..3 {
            assert_eq!(
                next(&mut slow).await.unwrap().get("n"),
                Some(&json!(n)),
                "{name}"
            );
        }
        assert!(quiet(&mut slow).await, "{name}");
    }
}

#[tokio::test]
async fn events_that_wait_past_the_expiry_are_dropped() {
    for (name, sender, layer) in layers("expiry", limits(100, 200, 86_400_000)) {
        let mut channel = layer.new_channel().await.unwrap();
        let before = layer.stats();
        sender.send(channel.name(), chat(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(450)).await;
        sender.send(channel.name(), chat(2)).await.unwrap();
        let got = next(&mut channel).await.expect(name);
        assert_eq!(
            got.get("n"),
            Some(&json!(2)),
            "{name}: the stale event came through"
        );
        assert_eq!(layer.stats().expired - before.expired, 1, "{name}");
    }
}

#[tokio::test]
async fn memberships_expire_unless_renewed() {
    for (name, sender, layer) in layers("group-expiry", limits(100, 60_000, 400)) {
        let mut stale = layer.new_channel().await.unwrap();
        let mut renewed = layer.new_channel().await.unwrap();
        layer.group_add("room", stale.name()).await.unwrap();
        layer.group_add("room", renewed.name()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        layer.group_add("room", renewed.name()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        sender.group_send("room", chat(1)).await.unwrap();
        assert_eq!(
            next(&mut renewed).await.unwrap().get("n"),
            Some(&json!(1)),
            "{name}"
        );
        assert!(
            quiet(&mut stale).await,
            "{name}: an expired member got the event"
        );
        assert!(layer.stats().expired_memberships >= 1, "{name}");
    }
}

#[tokio::test]
async fn at_most_once_and_in_order_per_sender() {
    for (name, sender, layer) in layers("order", limits(2_000, 60_000, 86_400_000)) {
        let mut members = Vec::new();
        for _ in 0..3 {
            let channel = layer.new_channel().await.unwrap();
            layer.group_add("room", channel.name()).await.unwrap();
            members.push(channel);
        }
        let direct = layer.new_channel().await.unwrap();
        let mut direct = direct;
        // Two senders interleave; each one's events stay in order.
        let other = Arc::clone(&sender);
        let direct_name = direct.name().to_owned();
        let second = tokio::spawn(async move {
            for n in 0..500 {
                other
                    .group_send("room", Event::new("chat.other", json!({"n": n})).unwrap())
                    .await
                    .unwrap();
                other.send(&direct_name, chat(n)).await.unwrap();
            }
        });
        for n in 0..500 {
            sender.group_send("room", chat(n)).await.unwrap();
        }
        second.await.unwrap();
        for member in &mut members {
            let (mut mine, mut others) = (Vec::new(), Vec::new());
            while mine.len() + others.len() < 1_000 {
                let event = next(member)
                    .await
                    .unwrap_or_else(|| panic!("{name}: lost events"));
                let n = event.get("n").and_then(serde_json::Value::as_u64).unwrap();
                if event.is::<Chat>() {
                    mine.push(n)
                } else {
                    others.push(n)
                }
            }
            assert_eq!(mine, (0..500).collect::<Vec<_>>(), "{name}");
            assert_eq!(others, (0..500).collect::<Vec<_>>(), "{name}");
            assert!(quiet(member).await, "{name}: an event came twice");
        }
        let mut got = Vec::new();
        while got.len() < 500 {
            got.push(
                next(&mut direct)
                    .await
                    .unwrap()
                    .get("n")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap(),
            );
        }
        assert_eq!(got, (0..500).collect::<Vec<_>>(), "{name}");
    }
}

#[tokio::test]
async fn a_closed_channel_gets_nothing_and_leaves_its_groups() {
    for (name, sender, layer) in layers("closed", LayerLimits::default()) {
        let gone = layer.new_channel().await.unwrap();
        let mut kept = layer.new_channel().await.unwrap();
        let gone_name = gone.name().to_owned();
        layer.group_add("room", &gone_name).await.unwrap();
        layer.group_add("room", kept.name()).await.unwrap();
        drop(gone);
        let before = layer.stats();
        sender.send(&gone_name, chat(1)).await.unwrap();
        sender.group_send("room", chat(2)).await.unwrap();
        assert_eq!(
            next(&mut kept).await.unwrap().get("n"),
            Some(&json!(2)),
            "{name}"
        );
        settle(&*layer, before.delivered + 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            layer.stats().dropped_closed > before.dropped_closed,
            "{name}"
        );
    }
}

#[tokio::test]
async fn bad_names_and_events_are_refused_with_the_rule() {
    for (name, _, layer) in layers("names", LayerLimits::default()) {
        let channel = layer.new_channel().await.unwrap();
        for bad in ["", "has space", "café", &"x".repeat(100), "a:b"] {
            let err = layer.group_add(bad, channel.name()).await.unwrap_err();
            assert!(
                matches!(err, LayerError::InvalidName(_)),
                "{name} {bad:?}: {err}"
            );
            assert!(err.to_string().contains("not a group name"), "{err}");
            assert!(
                layer.group_send(bad, chat(1)).await.is_err(),
                "{name} {bad:?}"
            );
        }
        let err = layer.send("no spaces please", chat(1)).await.unwrap_err();
        assert!(err.to_string().contains("not a channel name"), "{err}");
        // A channel of another layer cannot join this one's groups.
        let foreign = InMemoryChannelLayer::new(LayerLimits::default());
        let stranger = foreign.new_channel().await.unwrap();
        let err = layer.group_add("room", stranger.name()).await.unwrap_err();
        assert!(matches!(err, LayerError::NotLocal(_)), "{name}: {err}");
    }
    for (kind, fields, why) in [
        ("", json!({}), "not an event type"),
        ("chat message", json!({}), "not an event type"),
        ("chat.message", json!([1, 2]), "must be a JSON object"),
        ("chat.message", json!({"type": "x"}), "their own \"type\""),
    ] {
        let err = Event::new(kind, fields).unwrap_err();
        assert!(err.to_string().contains(why), "{kind:?}: {err}");
    }
    assert!(
        Event::from_json(br#"{"message": "no type"}"#)
            .unwrap_err()
            .to_string()
            .contains("\"type\"")
    );
    let wrong = Event::new("chat.message", json!({"message": 5})).unwrap();
    let err = wrong.parse::<Chat>().unwrap_err();
    assert!(err.to_string().contains("wrong fields"), "{err}");
    assert_eq!(
        Event::new("other", json!(null))
            .unwrap()
            .parse::<Chat>()
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_process_that_restarts_rejoins_its_groups() {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipping");
        return;
    };
    let prefix = prefix("restart");
    let a = channels::RedisChannelLayer::new(&url, &prefix, LayerLimits::default()).unwrap();
    let b = channels::RedisChannelLayer::new(&url, &prefix, LayerLimits::default()).unwrap();
    let mut on_b = b.new_channel().await.unwrap();
    b.group_add("room", on_b.name()).await.unwrap();
    a.group_send("room", chat(1)).await.unwrap();
    assert_eq!(next(&mut on_b).await.unwrap().get("n"), Some(&json!(1)));
    // B goes away; a new process takes its place and its consumers join
    // again.
    drop(on_b);
    drop(b);
    let b2 = channels::RedisChannelLayer::new(&url, &prefix, LayerLimits::default()).unwrap();
    let mut on_b2 = b2.new_channel().await.unwrap();
    b2.group_add("room", on_b2.name()).await.unwrap();
    a.group_send("room", chat(2)).await.unwrap();
    assert_eq!(next(&mut on_b2).await.unwrap().get("n"), Some(&json!(2)));
    // A direct send from A reaches B2's channel.
    a.send(on_b2.name(), chat(3)).await.unwrap();
    assert_eq!(next(&mut on_b2).await.unwrap().get("n"), Some(&json!(3)));
}

#[test]
fn settings_are_checked() {
    let bad = |section: &str| {
        let mut settings = Settings::default();
        settings.set_section("channels", section).unwrap();
        Project::new(settings)
            .app(channels::app())
            .build()
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert!(bad("capacity = 0").contains("capacity must be at least 1"));
    assert!(bad("expiry = \"soon\"").contains("not a duration"));
    assert!(bad("layer = \"carrier-pigeon\"").contains("layer"));
    assert!(bad("prefix = \"a:b\"").contains("prefix"));
    assert!(bad("colour = \"blue\"").contains("colour"));
    assert!(bad("write_delay = \"2s\"").contains("write_delay"));
}

// ---- Websockets in process: the site served on a loopback port ----

#[derive(Default)]
struct Room {
    group: String,
}

#[manouche::async_trait]
impl Consumer for Room {
    async fn connect(&mut self, socket: &Socket) -> Result<Connect, ConsumerError> {
        let room = socket.scope().param("room").unwrap_or_default().to_owned();
        match room.as_str() {
            "closed" => return Ok(Connect::reject()),
            "full" => return Ok(Connect::close(4000, "room is full")),
            // A code no endpoint may send: logged, sent as 1011.
            "odd" => return Ok(Connect::close(1005, "no status")),
            _ => {}
        }
        self.group = format!("room-{room}");
        socket.group_add(&self.group).await?;
        if socket.scope().subprotocols.iter().any(|p| p == "chat.v2") {
            return Ok(Connect::accept_subprotocol("chat.v2"));
        }
        Ok(Connect::accept())
    }

    async fn receive(&mut self, socket: &Socket, message: Received) -> Result<(), ConsumerError> {
        #[derive(Deserialize)]
        struct Incoming {
            message: String,
        }
        let Incoming { message } = message.json()?;
        if message == "who" {
            return socket
                .send_json(&json!({"channel": socket.channel_name(), "path": socket.scope().path}))
                .await;
        }
        socket
            .group_send(&self.group, Event::of(&Chat { message, n: 0 })?)
            .await
    }

    async fn event(&mut self, socket: &Socket, event: Event) -> Result<(), ConsumerError> {
        match event.parse::<Chat>()? {
            Some(chat) => socket.send_json(&json!({"message": chat.message})).await,
            None => Err(ConsumerError::NoHandler(event.kind().to_owned())),
        }
    }
}

/// The project served by hyper on a loopback port (as the server does,
/// with upgrades), for the lifetime of the test.
async fn serve(project: Project) -> std::net::SocketAddr {
    let service = project.build().unwrap().into_service();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let _ = builder
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn chat_project(section: &str) -> Project {
    let mut settings = Settings::default();
    settings.debug = true;
    settings.set_section("channels", section).unwrap();
    Project::new(settings)
        .app(channels::app())
        .urls(Urls::new().websocket("ws/room/<slug:room>/", Room::default, "room-ws"))
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(Client, http::Response<Option<Vec<u8>>>), tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    tokio_tungstenite::connect_async(request).await
}

async fn next_text(client: &mut Client) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), client.next()).await {
            Ok(Some(Ok(tungstenite::Message::Text(text)))) => return text.to_string(),
            Ok(Some(Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

async fn close_code(client: &mut Client) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), client.next()).await {
            Ok(Some(Ok(tungstenite::Message::Close(frame)))) => {
                return frame.map(|f| u16::from(f.code));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return None,
            Err(_) => panic!("the socket did not close"),
        }
    }
}

#[tokio::test]
async fn websocket_routes_reverse_and_carry_the_scope() {
    let addr = serve(chat_project("")).await;
    let project = chat_project("");
    let site = project.build().unwrap();
    assert_eq!(
        site.urls().reverse("room-ws", &[&"lobby"]).unwrap(),
        "/ws/room/lobby/"
    );

    let (mut a, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let (mut b, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let (mut c, _) = connect(addr, "/ws/room/kitchen/", &[]).await.unwrap();
    a.send(tungstenite::Message::text(r#"{"message": "who"}"#))
        .await
        .unwrap();
    let who: serde_json::Value = serde_json::from_str(&next_text(&mut a).await).unwrap();
    assert_eq!(who["path"], "/ws/room/lobby/");
    assert!(who["channel"].as_str().unwrap().starts_with("specific."));

    a.send(tungstenite::Message::text(r#"{"message": "hello"}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut a).await, r#"{"message":"hello"}"#);
    assert_eq!(next_text(&mut b).await, r#"{"message":"hello"}"#);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), c.next())
            .await
            .is_err(),
        "another room heard it"
    );

    // Bad JSON closes with 1007; the others stay.
    b.send(tungstenite::Message::text("not json"))
        .await
        .unwrap();
    assert_eq!(close_code(&mut b).await, Some(1007));
    a.send(tungstenite::Message::text(r#"{"message": "still here"}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut a).await, r#"{"message":"still here"}"#);
}

#[tokio::test]
async fn connect_accepts_with_a_subprotocol_refuses_or_closes_with_a_code() {
    let addr = serve(chat_project("")).await;
    let (_, response) = connect(
        addr,
        "/ws/room/lobby/",
        &[("sec-websocket-protocol", "chat.v1, chat.v2")],
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");

    match connect(addr, "/ws/room/closed/", &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let (mut full, _) = connect(addr, "/ws/room/full/", &[]).await.unwrap();
    assert_eq!(close_code(&mut full).await, Some(4000));
    let (mut odd, _) = connect(addr, "/ws/room/odd/", &[]).await.unwrap();
    assert_eq!(close_code(&mut odd).await, Some(1011));
    // A plain GET on a websocket route is told to upgrade.
    let response = reqwest_like_get(addr, "/ws/room/lobby/").await;
    assert!(
        response.starts_with("HTTP/1.1 426") || response.starts_with("HTTP/1.1 400"),
        "{response}"
    );
}

async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_string(&mut out)).await;
    out
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_the_sites_own_accepted() {
    let addr = serve(chat_project("")).await;
    match connect(
        addr,
        "/ws/room/lobby/",
        &[("origin", "https://evil.example")],
    )
    .await
    {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let own = format!("http://{addr}");
    assert!(
        connect(addr, "/ws/room/lobby/", &[("origin", &own)])
            .await
            .is_ok()
    );
    assert!(
        connect(
            addr,
            "/ws/room/lobby/",
            &[("origin", "http://localhost:9999")]
        )
        .await
        .is_ok()
    );
    // Off when the settings say so.
    let open = serve(chat_project("check_origin = false")).await;
    assert!(
        connect(
            open,
            "/ws/room/lobby/",
            &[("origin", "https://evil.example")]
        )
        .await
        .is_ok()
    );
    // Without Origin: accepted unless required.
    let strict = serve(chat_project("require_origin = true")).await;
    assert!(connect(strict, "/ws/room/lobby/", &[]).await.is_err());
}

/// A websocket opened by hand on a plain TCP stream, to see how the
/// server's frames arrive: the bytes of each read.
async fn raw_socket(addr: std::net::SocketAddr, path: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// The text frames in `bytes` (unmasked, short, as the server sends a
/// chat message), which must hold only whole frames.
fn text_frames(mut bytes: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    while !bytes.is_empty() {
        assert_eq!(bytes[0], 0x81, "a final text frame");
        let len = usize::from(bytes[1]);
        assert!(len < 126, "a short frame");
        texts.push(String::from_utf8(bytes[2..2 + len].to_vec()).unwrap());
        bytes = &bytes[2 + len..];
    }
    texts
}

/// Sends `messages` to the room through `sender`, and returns what the
/// raw socket's first read holds, with the time it took to come.
async fn burst(
    sender: &mut Client,
    listener: &mut tokio::net::TcpStream,
    messages: usize,
) -> (Vec<String>, Duration) {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    for n in 0..messages {
        sender
            .send(tungstenite::Message::text(format!(
                r#"{{"message": "m{n}"}}"#
            )))
            .await
            .unwrap();
    }
    let mut buffer = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), listener.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    (text_frames(&buffer[..read]), start.elapsed())
}

#[tokio::test]
async fn write_delay_gathers_a_sockets_frames_into_one_write_in_order() {
    let expected: Vec<String> = (0..20)
        .map(|n| format!(r#"{{"message":"m{n}"}}"#))
        .collect();

    // 400 ms: the twenty messages, sent at once, wait for the first one's
    // delay and arrive in the socket's first read, in order.
    let addr = serve(chat_project("write_delay = \"400ms\"")).await;
    let (mut sender, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let mut listener = raw_socket(addr, "/ws/room/lobby/").await;
    let (texts, waited) = burst(&mut sender, &mut listener, 20).await;
    assert_eq!(texts, expected, "one write, every frame, in order");
    assert!(
        waited >= Duration::from_millis(390),
        "the first frame waited {waited:?}"
    );
    // The sender's own copies came the same way.
    for message in &expected {
        assert_eq!(&next_text(&mut sender).await, message);
    }

    // Without a delay the first message goes out at once, before the
    // rest have been sent.
    let addr = serve(chat_project("")).await;
    let (mut sender, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let mut listener = raw_socket(addr, "/ws/room/lobby/").await;
    let (texts, waited) = burst(&mut sender, &mut listener, 1).await;
    assert_eq!(texts, expected[..1]);
    assert!(
        waited < Duration::from_millis(390),
        "a lone frame waited {waited:?}"
    );
}

#[tokio::test]
async fn a_close_ends_the_write_delay_after_the_frames_before_it() {
    // A consumer error closes the socket (1007) at once, not after the
    // delay, and the frames queued before it arrive first.
    let addr = serve(chat_project("write_delay = \"1s\"")).await;
    let (mut client, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let start = std::time::Instant::now();
    for message in [r#"{"message": "a"}"#, r#"{"message": "b"}"#, "not json"] {
        client
            .send(tungstenite::Message::text(message))
            .await
            .unwrap();
    }
    assert_eq!(next_text(&mut client).await, r#"{"message":"a"}"#);
    assert_eq!(next_text(&mut client).await, r#"{"message":"b"}"#);
    assert_eq!(close_code(&mut client).await, Some(1007));
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "the close waited for the delay: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let addr = serve(chat_project("max_message_size = 1000")).await;
    let (mut client, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let big = format!(r#"{{"message": "{}"}}"#, "x".repeat(2000));
    client.send(tungstenite::Message::text(big)).await.unwrap();
    assert_eq!(close_code(&mut client).await, Some(1009));
}

#[tokio::test]
async fn the_server_pings_and_drops_a_silent_peer() {
    let addr = serve(chat_project(
        "ping_interval = \"100ms\"\nping_timeout = \"200ms\"",
    ))
    .await;
    let (mut alive, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    let (mut silent, _) = connect(addr, "/ws/room/lobby/", &[]).await.unwrap();
    // A client that reads answers the pings (tungstenite does it as it
    // reads) and stays.
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(1_000);
    while Instant::now() < until {
        if let Ok(Some(Ok(tungstenite::Message::Ping(_)))) =
            tokio::time::timeout(Duration::from_millis(50), alive.next()).await
        {
            pings += 1;
        }
    }
    assert!(pings >= 3, "{pings} pings in a second");
    alive
        .send(tungstenite::Message::text(r#"{"message": "still on"}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut alive).await, r#"{"message":"still on"}"#);
    // The one that read nothing for a second was dropped: what it finds
    // now ends without a close frame (none can be sent to a dead peer).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let dropped = loop {
        match tokio::time::timeout_at(deadline, silent.next()).await {
            // Pings queued before the server gave up.
            Ok(Some(Ok(tungstenite::Message::Ping(_)))) => {}
            Ok(Some(Ok(tungstenite::Message::Close(_)) | Err(_)) | None) => break true,
            Ok(Some(Ok(other))) => panic!("unexpected {other:?}"),
            Err(_) => break false,
        }
    };
    assert!(dropped, "the silent client is still connected");
    // Its group membership went with it: the room's sends reach the live
    // one only, and nothing fails.
    alive
        .send(tungstenite::Message::text(r#"{"message": "alone"}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut alive).await, r#"{"message":"alone"}"#);
}

#[tokio::test]
async fn the_handshake_goes_through_the_host_check_and_head_limits() {
    let addr = serve(chat_project("")).await;
    match connect(addr, "/ws/room/lobby/", &[("host", "evil.example")]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("a foreign Host got in: {other:?}"),
    }
    let huge = "x".repeat(20_000);
    match connect(addr, "/ws/room/lobby/", &[("x-padding", &huge)]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 431),
        other => panic!("an oversize head got in: {other:?}"),
    }
    // An unknown websocket path is a 404 like any other.
    match connect(addr, "/ws/nowhere/", &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected 404, got {other:?}"),
    }
}
