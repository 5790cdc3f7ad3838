use manouche::App;

struct Logger;

fn main() {
    let _ = App::new("audit").middleware(Logger);
}
