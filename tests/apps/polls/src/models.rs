//! The app's models; their tables come from the migrations this crate
//! ships (`migrations/polls/`).

use manouche::db::{Auto, DateTime, ForeignKey, Model, Reverse};

/// A question people vote on.
#[derive(Debug, Clone, Model)]
#[model(app = "polls", ordering = "-pub_date")]
pub struct Question {
    /// The key.
    pub id: Auto<i64>,
    /// What is asked.
    #[model(max_length = 200)]
    pub question_text: String,
    /// When it was published.
    #[model(auto_now_add)]
    pub pub_date: DateTime,
    /// Its choices.
    #[model(related_field = "question")]
    pub choices: Reverse<Choice>,
}

/// One answer to a question, with its votes.
#[derive(Debug, Clone, Model)]
#[model(app = "polls", ordering = "id")]
pub struct Choice {
    /// The key.
    pub id: Auto<i64>,
    /// The question.
    pub question: ForeignKey<Question>,
    /// The answer.
    #[model(max_length = 200)]
    pub choice_text: String,
    /// Votes so far.
    #[model(default = 0)]
    pub votes: i32,
}
