use manouche::forms::Form;

#[derive(Form)]
enum Choice {
    Yes,
    No,
}

#[derive(Form)]
struct Pair(String, String);

fn main() {}
