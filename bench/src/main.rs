//! TechEmpower-style endpoints served by an ordinary Manouche project, with
//! the framework's full default middleware stack, for load tests against
//! the peers in the shared bench folder (see BENCHMARKS.md).
//!
//! `bench serve --bind 127.0.0.1:8000`

use manouche::prelude::*;
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

fn urls() -> Urls {
    Urls::new()
        .path("plaintext", get(plaintext), "plaintext")
        .path("json", get(json), "json")
}

#[tokio::main]
async fn main() -> manouche::Result<()> {
    // The settings are compiled in, so the binary runs from any folder;
    // environment variables still override them.
    let mut settings = Settings::from_toml_str(include_str!("../settings.toml"))?;
    settings.apply_env(std::env::vars())?;
    Project::new(settings).urls(urls()).manage().await
}
