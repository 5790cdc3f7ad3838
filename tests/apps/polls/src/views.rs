//! The app's pages and its `pollstats` command. The pages are public
//! types returned as templates (`TemplateResponse`), so that a project can
//! replace one with its own template (`Project::override_template`).

use manouche::StartupError;
use manouche::app::CommandContext;
use manouche::axum::Extension;
use manouche::prelude::*;

use crate::models::{Choice, Question};
use crate::{PollsSettings, Visitor};

/// The list of questions (`polls:index`).
#[derive(Template, TemplateResponse)]
#[template(path = "polls/index.html")]
pub struct IndexPage {
    /// `[polls] title`.
    pub title: String,
    /// `[polls] extra_css`, as URLs.
    pub extra_css: Vec<String>,
    /// Who is visiting.
    pub visitor: String,
    /// The newest questions.
    pub questions: Vec<Question>,
}

/// One question and its choices (`polls:detail`).
#[derive(Template, TemplateResponse)]
#[template(path = "polls/detail.html")]
pub struct DetailPage {
    /// `[polls] title`.
    pub title: String,
    /// `[polls] extra_css`, as URLs.
    pub extra_css: Vec<String>,
    /// The question, its choices prefetched.
    pub question: Question,
}

fn stylesheets(settings: &PollsSettings) -> Vec<String> {
    settings
        .extra_css
        .iter()
        .map(|path| manouche::templates::static_url(path))
        .collect()
}

async fn index(
    db: Db,
    settings: Service<PollsSettings>,
    Extension(visitor): Extension<Visitor>,
) -> Result<IndexPage> {
    let questions = Question::objects()
        .limit(u64::from(settings.per_page))
        .all(&db)
        .await?;
    Ok(IndexPage {
        title: settings.title.clone(),
        extra_css: stylesheets(&settings),
        visitor: visitor.0,
        questions,
    })
}

async fn detail(
    db: Db,
    settings: Service<PollsSettings>,
    Path(id): Path<i64>,
) -> Result<DetailPage> {
    let question = Question::objects()
        .filter(Question::id.eq(id))
        .prefetch_related(Question::choices)
        .get(&db)
        .await?;
    Ok(DetailPage {
        title: settings.title.clone(),
        extra_css: stylesheets(&settings),
        question,
    })
}

pub(crate) fn urls() -> Urls {
    Urls::new()
        .path("", get(index), "index")
        .path("<int:id>/", get(detail), "detail")
}

/// `manage pollstats`: the questions, choices and votes in the database.
pub(crate) async fn pollstats(ctx: CommandContext) -> Result<(), StartupError> {
    let db = ctx.database()?;
    let questions = Question::objects().count(&db).await?;
    let choices = Choice::objects().all(&db).await?;
    let votes: i64 = choices.iter().map(|c| i64::from(c.votes)).sum();
    println!(
        "{questions} question(s), {} choice(s), {votes} vote(s)",
        choices.len()
    );
    Ok(())
}
