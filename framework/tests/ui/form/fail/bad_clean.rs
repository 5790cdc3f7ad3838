use manouche::forms::Form;

#[derive(Form)]
#[form(clean = Self::check)]
struct Range {
    low: i32,
    high: i32,
}

impl Range {
    fn check(&self) -> bool {
        self.low <= self.high
    }
}

fn main() {}
