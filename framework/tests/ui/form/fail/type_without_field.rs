use manouche::forms::Form;

struct Colour(u8, u8, u8);

#[derive(Form)]
struct Paint {
    colour: Colour,
}

fn main() {}
