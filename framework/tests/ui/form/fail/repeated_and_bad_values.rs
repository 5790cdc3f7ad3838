use manouche::forms::Form;

#[derive(Form)]
struct Poll {
    #[form(label = "Question", label = "Q")]
    question: String,
    #[form(max_length = 0)]
    answer: String,
    #[form(choices = [("a", "A"), ("a", "Again")])]
    pick: String,
    #[form(min_value = true)]
    weight: i32,
}

fn main() {}
