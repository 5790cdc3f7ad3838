use manouche::mail::EmailMessage;

fn main() {
    let _ = EmailMessage::builder().to(42).build();
}
