//! The chat app (the Channels tutorial's): `/chat/` lists rooms and opens
//! one by name, `/chat/<room>/` is a room whose page talks to
//! `ws/chat/<room>/`, where [`ChatConsumer`] relays every message to the
//! room's group.
//!
//! The protocol is the tutorial's: the page sends `{"message": text}` and
//! every socket in the room receives `{"message": text}`, plus
//! `"username"` when the sender is signed in.

use manouche::contrib::channels::{
    Connect, Consumer, ConsumerError, Event, EventType, Received, Socket,
};
use manouche::prelude::*;
use serde::{Deserialize, Serialize};

use crate::nav::Nav;

/// The rooms the index suggests.
const ROOMS: [&str; 3] = ["lobby", "rust", "django"];
/// The longest room name (the group is `chat_<room>`, at most 99 bytes).
const MAX_ROOM: usize = 50;
/// The longest message, in characters.
const MAX_MESSAGE: usize = 2000;

/// The app: the pages and the websocket route.
pub(crate) fn app() -> App {
    App::new("chat").urls(
        "",
        Urls::new()
            .path("chat/", get(index), "index")
            .path("chat/<slug:room>/", get(room), "room")
            .websocket("ws/chat/<slug:room>/", ChatConsumer::default, "ws"),
    )
}

#[derive(Template, TemplateResponse)]
#[template(path = "chat/index.html")]
struct Index {
    nav: Nav,
    rooms: &'static [&'static str],
    /// The name typed, when it was no good.
    error: Option<String>,
    typed: String,
}

#[derive(Deserialize)]
struct Open {
    room: Option<String>,
}

/// The rooms, and a form to open one by name (a GET form: it changes
/// nothing).
async fn index(nav: Nav, Query(open): Query<Open>) -> Result<Response> {
    let typed = open.room.unwrap_or_default();
    let name = typed.trim().to_lowercase().replace(' ', "-");
    if typed.is_empty() {
        return Ok(Index {
            nav,
            rooms: &ROOMS,
            error: None,
            typed,
        }
        .into_response());
    }
    if let Err(error) = check_room(&name) {
        return Ok((
            StatusCode::BAD_REQUEST,
            Index {
                nav,
                rooms: &ROOMS,
                error: Some(error),
                typed,
            },
        )
            .into_response());
    }
    Ok(Redirect::to(&manouche::reverse!("chat:room", room = name.as_str())?).into_response())
}

fn check_room(name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_ROOM
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "A room name is 1 to {MAX_ROOM} letters, digits, hyphens or underscores."
        ));
    }
    Ok(())
}

#[derive(Template, TemplateResponse)]
#[template(path = "chat/room.html")]
struct Room {
    nav: Nav,
    room: String,
}

async fn room(nav: Nav, Path(room): Path<String>) -> Result<Room> {
    check_room(&room).map_err(Error::not_found)?;
    Ok(Room { nav, room })
}

/// What a room's members get (Channels' `"type": "chat.message"`).
#[derive(Serialize, Deserialize)]
struct ChatMessage {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

impl EventType for ChatMessage {
    const TYPE: &'static str = "chat.message";
}

/// What the page sends.
#[derive(Deserialize)]
struct Incoming {
    message: String,
}

/// One socket in a room.
#[derive(Default)]
pub(crate) struct ChatConsumer {
    group: String,
    username: Option<String>,
}

#[manouche::async_trait]
impl Consumer for ChatConsumer {
    async fn connect(&mut self, socket: &Socket) -> std::result::Result<Connect, ConsumerError> {
        let room = socket.scope().param("room").unwrap_or_default();
        if check_room(room).is_err() {
            return Ok(Connect::reject());
        }
        self.group = format!("chat_{room}");
        self.username = socket.user().map(|u| u.username.clone());
        socket.group_add(&self.group).await?;
        Ok(Connect::accept())
    }

    async fn receive(
        &mut self,
        socket: &Socket,
        message: Received,
    ) -> std::result::Result<(), ConsumerError> {
        let Incoming { message } = message.json()?;
        if message.chars().count() > MAX_MESSAGE {
            return Err(ConsumerError::BadMessage(format!(
                "a message is at most {MAX_MESSAGE} characters"
            )));
        }
        let event = Event::of(&ChatMessage {
            message,
            username: self.username.clone(),
        })?;
        socket.group_send(&self.group, event).await
    }

    async fn event(
        &mut self,
        socket: &Socket,
        event: Event,
    ) -> std::result::Result<(), ConsumerError> {
        match event.parse::<ChatMessage>()? {
            Some(chat) => socket.send_json(&chat).await,
            None => Err(ConsumerError::NoHandler(event.kind().to_owned())),
        }
    }
}
