use manouche::contrib::channels::Event;

#[derive(serde::Serialize, serde::Deserialize)]
struct ChatMessage {
    message: String,
}

fn main() {
    let _ = Event::of(&ChatMessage { message: "hi".into() });
}
