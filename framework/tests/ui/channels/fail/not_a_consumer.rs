use manouche::urls::Urls;

#[derive(Default)]
struct Chat;

fn main() {
    let _ = Urls::new().websocket("ws/chat/<room>/", Chat::default, "chat-ws");
}
