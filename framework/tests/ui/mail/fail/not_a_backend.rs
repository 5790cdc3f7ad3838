use manouche::mail::{Mailbox, Mailer};

struct Pigeon;

fn main() {
    let from = Mailbox::parse("site@example.com").unwrap();
    let _ = Mailer::new(Pigeon, from);
}
