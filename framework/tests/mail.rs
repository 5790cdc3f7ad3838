//! E-mail from a project: the mailer the `[email]` settings describe is a
//! service that views and commands reach, tests swap in the memory backend
//! and read its outbox, bad settings stop startup, and `check --deploy`
//! warns about a backend that sends nothing.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use manouche::app::CommandContext;
use manouche::mail::{EmailMessage, Mailbox, Mailer, MemoryBackend, Outbox};
use manouche::prelude::*;
use manouche::settings::EmailBackendKind;
use tower::ServiceExt;

#[derive(serde::Deserialize)]
struct Contact {
    name: String,
}

/// Sends the visitor's name in the subject: a name with a newline must not
/// become a header.
async fn contact(mailer: Service<Mailer>, Query(form): Query<Contact>) -> Result<&'static str> {
    let message = EmailMessage::builder()
        .subject(format!("Message from {}", form.name))
        .body("See the site.")
        .to("staff@example.com")
        .build()?;
    mailer.send(message).await?;
    Ok("sent")
}

fn project() -> Project {
    Project::new(Settings::default())
        .configure(|s| {
            s.allowed_hosts = vec!["example.com".into()];
            s.database_url = String::new();
            s.email.backend = Some(EmailBackendKind::Memory);
            s.email.default_from = "Site <site@example.com>".into();
        })
        .urls(Urls::new().path("contact/", get(contact), "contact"))
}

async fn get_status(site: manouche::Site, uri: &str) -> StatusCode {
    let request = http::Request::get(uri)
        .header("host", "example.com")
        .body(Body::empty())
        .unwrap();
    site.into_service().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn a_view_sends_through_the_project_mailer_and_a_test_reads_the_outbox() {
    let site = project().build().unwrap();
    let outbox = site
        .services()
        .get::<Mailer>()
        .expect("the project registers its mailer")
        .outbox()
        .expect("the memory backend has an outbox");
    assert_eq!(get_status(site, "/contact/?name=Ana").await, StatusCode::OK);
    let sent = outbox.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject(), "Message from Ana");
    assert_eq!(
        sent[0].from().unwrap().to_string(),
        "Site <site@example.com>"
    );
    assert_eq!(sent[0].to()[0].email(), "staff@example.com");
}

#[tokio::test]
async fn header_injection_from_a_visitor_is_refused_and_nothing_is_sent() {
    let site = project().build().unwrap();
    let outbox = site.services().get::<Mailer>().unwrap().outbox().unwrap();
    let status = get_status(site, "/contact/?name=Ana%0ABcc:%20victim@example.com").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(outbox.is_empty());
}

#[tokio::test]
async fn an_app_can_replace_the_mailer_in_its_ready_hook() {
    let backend = MemoryBackend::new();
    let outbox = backend.outbox();
    let mailer = Arc::new(Mutex::new(Some(Mailer::new(
        backend,
        Mailbox::parse("app@example.com").unwrap(),
    ))));
    let site = project()
        .app(App::new("mailing").ready(move |ready| {
            let mailer = mailer.lock().unwrap().take().expect("one build");
            ready.services_mut().insert(mailer);
            Ok(())
        }))
        .build()
        .unwrap();
    assert_eq!(get_status(site, "/contact/?name=Bo").await, StatusCode::OK);
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        outbox.messages()[0].from().unwrap().email(),
        "app@example.com"
    );
}

#[tokio::test]
async fn a_command_gets_the_mailer_as_a_service() {
    let seen: Arc<Mutex<Option<Outbox>>> = Arc::default();
    let keep = Arc::clone(&seen);
    let app = App::new("news").command(
        clap::Command::new("sendnews").about("Send the newsletter"),
        move |ctx: CommandContext| {
            let keep = Arc::clone(&keep);
            async move {
                let mailer = ctx.service::<Mailer>()?;
                mailer
                    .send_mail("News", "All is well.", ["reader@example.com"])
                    .await
                    .map_err(|e| manouche::StartupError::improperly_configured(e.to_string()))?;
                *keep.lock().unwrap() = mailer.outbox();
                Ok::<(), manouche::StartupError>(())
            }
        },
    );
    project()
        .app(app)
        .manage_from(["site", "sendnews"])
        .await
        .unwrap();
    let outbox = seen.lock().unwrap().take().expect("the command ran");
    assert_eq!(outbox.messages()[0].subject(), "News");
}

#[test]
fn settings_that_cannot_send_stop_startup_naming_the_key() {
    let err = project()
        .configure(|s| s.email.backend = Some(EmailBackendKind::File))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("email.file_path"), "{err}");
    let err = project()
        .configure(|s| s.email.default_from = "webmaster".into())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("email.default_from"), "{err}");
    let err = project()
        .configure(|s| {
            s.email.use_tls = true;
            s.email.use_ssl = true;
        })
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("email.use_tls"), "{err}");
    if !cfg!(feature = "smtp") {
        let err = project()
            .configure(|s| s.email.backend = Some(EmailBackendKind::Smtp))
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`smtp` cargo feature"), "{err}");
    }
}

#[test]
fn check_deploy_warns_about_a_backend_that_sends_nothing() {
    let ids = |project: Project| -> Vec<String> {
        project
            .check(true)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert!(ids(project()).contains(&"email.W001".to_owned()));
    let dir = std::env::temp_dir().join("manouche-mail-check");
    let with_files = project().configure(move |s| {
        s.email.backend = Some(EmailBackendKind::File);
        s.email.file_path = Some(dir);
    });
    assert!(!ids(with_files).contains(&"email.W001".to_owned()));
    let debug = project().configure(|s| s.debug = true);
    assert!(!ids(debug).contains(&"email.W001".to_owned()));
}
