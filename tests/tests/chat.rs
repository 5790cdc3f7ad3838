//! The example site's chat end to end: the real binary, real websockets
//! (tokio-tungstenite), the Channels tutorial's protocol. Rooms fan out
//! to their members only; a signed-in sender's name travels with the
//! message; a foreign `Origin` is refused; an oversize message closes
//! with 1009; a client that stops reading does not delay the others;
//! SIGTERM closes the sockets with 1001 and exits 0; two processes share
//! rooms through the Redis layer (when `REDIS_URL` is set), also after
//! one of them restarts; open sockets hold their place under
//! `server.max_connections`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use manouche::db::testing::for_each_database_with_url;
use manouche_e2e::{Server, Site};
use reqwest::header::SET_COOKIE;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const PASSWORD: &str = "correct horse 42";

/// Opens `path` on `server` with extra request headers.
async fn open(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Socket, tungstenite::Error> {
    let mut request = format!("ws://{}{path}", server.addr)
        .into_client_request()
        .expect("a websocket URL");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            value.parse().expect("a header value"),
        );
    }
    // Without Nagle's delay, as browsers send.
    tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map(|(socket, _)| socket)
}

async fn join(server: &Server, room: &str) -> Socket {
    open(server, &format!("/ws/chat/{room}/"), &[])
        .await
        .unwrap_or_else(|e| panic!("cannot join {room}: {e}\n{}", server.output()))
}

async fn say(socket: &mut Socket, text: &str) {
    let message = serde_json::json!({ "message": text }).to_string();
    socket
        .send(Message::text(message))
        .await
        .expect("the message goes out");
}

/// The next chat message (pings skipped), within `limit`.
async fn heard_within(socket: &mut Socket, limit: Duration) -> Option<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(serde_json::from_str(&text).expect("JSON from the server"));
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("expected a chat message, got {other:?}"),
            Err(_) => return None,
        }
    }
}

async fn heard(socket: &mut Socket) -> serde_json::Value {
    heard_within(socket, Duration::from_secs(5))
        .await
        .expect("a message within 5 seconds")
}

/// The code of the close frame the server sends next.
async fn closed_with(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return None,
            Err(_) => panic!("the socket did not close within 10 seconds"),
        }
    }
}

#[tokio::test]
async fn a_room_hears_its_own_messages_and_no_other_rooms() {
    let server = Server::serve(&[]);
    let mut ana = join(&server, "lobby").await;
    let mut bob = join(&server, "lobby").await;
    let mut eve = join(&server, "kitchen").await;
    for text in ["hello", "how are you?", "<b>not bold</b>"] {
        say(&mut ana, text).await;
        for socket in [&mut ana, &mut bob] {
            let got = heard(socket).await;
            assert_eq!(got["message"], text);
            // Visitors are anonymous: no username.
            assert!(got.get("username").is_none(), "{got}");
        }
    }
    say(&mut bob, "and back").await;
    assert_eq!(heard(&mut ana).await["message"], "and back");
    assert_eq!(heard(&mut bob).await["message"], "and back");
    assert_eq!(
        heard_within(&mut eve, Duration::from_millis(500)).await,
        None,
        "another room heard the lobby"
    );
    // The pages: the room list links the rooms, a room's page names its
    // socket.
    let http = reqwest::Client::new();
    let index = http.get(server.url("/chat/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let body = index.text().await.unwrap();
    assert!(body.contains("href=\"/chat/lobby/\""), "{body}");
    let room = http.get(server.url("/chat/lobby/")).send().await.unwrap();
    assert_eq!(room.status(), 200);
    let body = room.text().await.unwrap();
    assert!(body.contains("data-socket=\"/ws/chat/lobby/\""), "{body}");
    assert!(
        body.contains("site/chat.") && body.contains(".js"),
        "{body}"
    );
    // A name that is no room: a clear 400 with the rule, not a crash.
    let bad = http
        .get(server.url("/chat/?room=no%20way%21"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("A room name is 1 to 50"));
    let open_room = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/chat/?room=Tea%20Time"))
        .send()
        .await
        .unwrap();
    assert_eq!(open_room.headers()["location"], "/chat/tea-time/");
}

/// Signs in through the login form; returns the session cookie.
async fn sign_in(server: &Server, username: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(server.url("/accounts/login/"))
        .send()
        .await
        .unwrap();
    let mut cookies = BTreeMap::new();
    for value in page.headers().get_all(SET_COOKIE) {
        let pair = value.to_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        cookies.insert(name.to_owned(), value.to_owned());
    }
    let body = page.text().await.unwrap();
    const FIELD: &str = "name=\"csrfmiddlewaretoken\" value=\"";
    let rest = &body[body.find(FIELD).expect("a CSRF field") + FIELD.len()..];
    let token = &rest[..rest.find('"').unwrap()];
    let cookie: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let reply = http
        .post(server.url("/accounts/login/"))
        .header("cookie", cookie.join("; "))
        .form(&[
            ("csrfmiddlewaretoken", token),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 302, "login failed");
    let session = reply
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sessionid="))
        .expect("a session cookie");
    session.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_in_senders_name_travels_with_the_message() {
    for_each_database_with_url(|db, url| async move {
        let site = Site::migrated(&db, &url);
        site.superuser("ana", PASSWORD);
        let server = site.serve(&[]);
        let session = sign_in(&server, "ana").await;
        let mut ana = open(&server, "/ws/chat/lobby/", &[("cookie", &session)])
            .await
            .unwrap();
        let mut guest = join(&server, "lobby").await;
        say(&mut ana, "hi from ana").await;
        for socket in [&mut ana, &mut guest] {
            let got = heard(socket).await;
            assert_eq!(got["message"], "hi from ana");
            assert_eq!(got["username"], "ana");
        }
        say(&mut guest, "hi from a guest").await;
        let got = heard(&mut ana).await;
        assert_eq!(got["message"], "hi from a guest");
        assert!(got.get("username").is_none(), "{got}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let server = Server::serve(&[]);
    match open(
        &server,
        "/ws/chat/lobby/",
        &[("origin", "https://evil.example")],
    )
    .await
    {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign origin got in: {other:?}"),
    }
    // Logged as a security warning (read by another thread: wait for it).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.output().contains("websocket handshake refused") {
        assert!(
            Instant::now() < deadline,
            "not logged:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The site's own origin, and an allowed host's, get in.
    let own = format!("http://{}", server.addr);
    assert!(
        open(&server, "/ws/chat/lobby/", &[("origin", &own)])
            .await
            .is_ok()
    );
    assert!(
        open(
            &server,
            "/ws/chat/lobby/",
            &[("origin", "https://localhost:8443")]
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn an_oversize_message_closes_with_1009() {
    let server = Server::serve(&[("MANOUCHE_CHANNELS_MAX_MESSAGE_SIZE", "4096")]);
    let mut socket = join(&server, "lobby").await;
    let mut other = join(&server, "lobby").await;
    say(&mut socket, &"x".repeat(5000)).await;
    assert_eq!(closed_with(&mut socket).await, Some(1009));
    // The room goes on for the others.
    say(&mut other, "still here").await;
    assert_eq!(heard(&mut other).await["message"], "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_delay_the_others() {
    let metrics = format!("127.0.0.1:{}", manouche_e2e::free_port());
    let server = Server::serve(&[("MANOUCHE_METRICS", metrics.as_str())]);
    // The stalled client joins and never reads again: its socket buffers,
    // then its send buffer, then its channel fill up, and the layer drops
    // what does not fit.
    let stalled = join(&server, "busy").await;
    let reader = join(&server, "busy").await;
    let sender = join(&server, "busy").await;
    const COUNT: usize = 3_000;
    // The room's longest message is 2000 characters: 3000 of them are
    // about 6 MB for each member, more than the kernel buffers of the
    // stalled client's connection hold.
    let payload = "y".repeat(1_900);
    let (mut sink, mut echoes) = sender.split();
    // At most 50 messages ahead of the reader, so that a live member's
    // channel (100 events) never overflows: only the stalled one's may.
    let window = std::sync::Arc::new(tokio::sync::Semaphore::new(50));
    let permits = std::sync::Arc::clone(&window);
    // The sender is a member too: it reads its own echoes, or it would be
    // a stalled client itself.
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while n < COUNT {
            match tokio::time::timeout(Duration::from_secs(20), echoes.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => n += 1,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        n
    });
    let started = Instant::now();
    let listen = tokio::spawn(async move {
        let mut reader = reader;
        let mut worst = Duration::ZERO;
        for n in 0..COUNT {
            let got = heard_within(&mut reader, Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("message {n} did not reach the reader"));
            let text = got["message"].as_str().expect("a text message");
            let (number, rest) = text.split_once(' ').expect("number, time, payload");
            assert_eq!(number.parse::<usize>().ok(), Some(n), "out of order");
            let sent_at: u64 = rest.split_once(' ').expect("time").0.parse().expect("ms");
            let elapsed = started.elapsed();
            worst = worst.max(elapsed.saturating_sub(Duration::from_millis(sent_at)));
            permits.add_permits(1);
        }
        (worst, reader)
    });
    for n in 0..COUNT {
        window
            .acquire()
            .await
            .expect("the window stays open")
            .forget();
        let at = started.elapsed().as_millis();
        let message = serde_json::json!({ "message": format!("{n} {at} {payload}") }).to_string();
        sink.send(Message::text(message))
            .await
            .expect("the message goes out");
    }
    let (worst, _reader) = listen.await.expect("the reader got every message in order");
    let total = started.elapsed();
    eprintln!(
        "{COUNT} messages of 1.9 kB past a stalled member: {total:?} in all, worst latency {worst:?}"
    );
    assert_eq!(drain.await.unwrap(), COUNT, "the sender's echoes");
    // A generous bound: no message waited for the stalled client (its
    // write timeout is 20 s).
    assert!(
        worst < Duration::from_secs(3),
        "a message took {worst:?}: the stalled client held the room up"
    );
    // What did not fit in the stalled client's channel was dropped and
    // counted; the three sockets count as open connections.
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sample = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let dropped = sample(r#"manouche_channel_layer_dropped_total{reason="full"}"#)
        .unwrap_or_else(|| panic!("no drops counted:\n{text}"));
    assert!(dropped > 0.0, "{text}");
    assert_eq!(sample("manouche_websockets_open"), Some(3.0), "{text}");
    assert!(
        sample("manouche_open_connections").unwrap_or(0.0) >= 3.0,
        "{text}"
    );
    drop(stalled);
}

#[tokio::test]
async fn sigterm_closes_the_sockets_with_1001_and_exits_0() {
    let mut server = Server::serve(&[("MANOUCHE_DRAIN_TIMEOUT", "10s")]);
    let mut a = join(&server, "lobby").await;
    let mut b = join(&server, "kitchen").await;
    say(&mut a, "before").await;
    assert_eq!(heard(&mut a).await["message"], "before");
    let asked = Instant::now();
    server.signal("TERM");
    assert_eq!(closed_with(&mut a).await, Some(1001));
    assert_eq!(closed_with(&mut b).await, Some(1001));
    drop((a, b));
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait_exit(Duration::from_secs(15));
        (status, server.output())
    })
    .await
    .unwrap();
    let (status, output) = status;
    let status = status.unwrap_or_else(|| panic!("the server did not exit:\n{output}"));
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the drain waited for the sockets' timeout: {:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn two_processes_share_rooms_through_redis_also_after_a_restart() {
    let Ok(redis) = std::env::var("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipping the Redis layer");
        return;
    };
    let prefix = format!("e2e{}", std::process::id());
    let env = [
        ("MANOUCHE_CHANNELS_LAYER", "redis"),
        ("MANOUCHE_CHANNELS_REDIS_URL", redis.as_str()),
        ("MANOUCHE_CHANNELS_PREFIX", prefix.as_str()),
    ];
    let a = Server::serve(&env);
    let b = Server::serve(&env);
    let mut on_a = join(&a, "lobby").await;
    let mut on_b = join(&b, "lobby").await;
    say(&mut on_a, "from A").await;
    assert_eq!(heard(&mut on_b).await["message"], "from A");
    assert_eq!(heard(&mut on_a).await["message"], "from A");
    say(&mut on_b, "from B").await;
    assert_eq!(heard(&mut on_a).await["message"], "from B");
    assert_eq!(heard(&mut on_b).await["message"], "from B");

    // B stops and a new process takes its place: its clients join again
    // (as the page's script does) and the room spans both once more.
    drop(on_b);
    drop(b);
    let b = Server::serve(&env);
    let mut on_b = join(&b, "lobby").await;
    say(&mut on_a, "after the restart").await;
    assert_eq!(heard(&mut on_b).await["message"], "after the restart");
    assert_eq!(heard(&mut on_a).await["message"], "after the restart");
}

#[tokio::test]
async fn open_sockets_count_against_the_connection_cap() {
    let server = Server::serve(&[("MANOUCHE_MAX_CONNECTIONS", "2")]);
    let mut a = join(&server, "lobby").await;
    let b = join(&server, "lobby").await;
    // Both places are taken by the sockets (after their upgrade): a third
    // connection waits in the listen queue.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(1_500))
        .build()
        .unwrap();
    assert!(
        http.get(server.url("/")).send().await.is_err(),
        "a third connection was served while two sockets were open"
    );
    // One socket closes: its place frees and the waiting connection is served.
    a.close(None).await.unwrap();
    assert_eq!(closed_with(&mut a).await, None);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let served = http
        .get(server.url("/"))
        .send()
        .await
        .expect("served once a place freed");
    assert_eq!(served.status(), 200);
    drop(b);
}
