//! File uploads end to end through the test client: multipart bodies read
//! as they stream, small files in memory and large ones in temporary files,
//! the per-file and body limits (413, no temporary file left behind, also
//! when the client goes away), `UploadedFile` form fields with Django's
//! messages, safe file names, and the file-system storage.

use std::path::Path;

use futures_util::stream;
use http::StatusCode;
use manouche::axum::response::{Html, IntoResponse, Response};
use manouche::axum::routing::post;
use manouche::forms::{BoundForm, Form, FormData, UploadedFile};
use manouche::prelude::*;
use manouche::storage::{FileSystemStorage, Storage};
use manouche::test::Client;
use tempfile::TempDir;

/// The memory threshold of these tests: files over it go to disk.
const IN_MEMORY: usize = 1000;
/// The per-file limit.
const MAX_FILE: usize = 20_000;
/// The body limit.
const BODY_LIMIT: usize = 50_000;

#[derive(Debug, Form)]
struct Document {
    #[form(max_length = 40)]
    title: String,
    attachment: UploadedFile,
    cover: Option<UploadedFile>,
}

async fn upload(
    storage: Service<FileSystemStorage>,
    form: BoundForm<Document>,
) -> Result<Response> {
    match form.into_cleaned() {
        Ok(doc) => {
            // While the view runs, a large file is on disk.
            let on_disk = doc.attachment.temporary_path().map(Path::exists);
            let saved = storage
                .save(&format!("docs/{}", doc.attachment.name()), &doc.attachment)
                .await?;
            let cover = doc.cover.map(|c| c.name().to_owned()).unwrap_or_default();
            Ok(format!(
                "{}|{}|{}|{saved}|{on_disk:?}|{cover}",
                doc.title,
                doc.attachment.name(),
                doc.attachment.size()
            )
            .into_response())
        }
        Err(form) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(format!(
                "multipart={}\n{}",
                form.is_multipart(),
                form.as_div()
            )),
        )
            .into_response()),
    }
}

/// `request.FILES` as a list: `field=name:size:memory|disk`.
async fn files(data: FormData) -> Result<String> {
    let mut out = Vec::new();
    for (field, file) in data.iter_files() {
        let content = file
            .read()
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        assert_eq!(content.len() as u64, file.size());
        out.push(format!(
            "{field}={}:{}:{}",
            file.name(),
            file.size(),
            if file.is_in_memory() {
                "memory"
            } else {
                "disk"
            }
        ));
    }
    let fields: Vec<String> = data.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(format!("{} / {}", fields.join(","), out.join(",")))
}

struct Site {
    client: Client,
    temp: TempDir,
    media: TempDir,
}

impl Site {
    fn new() -> Self {
        Self::build(false, false)
    }

    /// With the CSRF check on, as a deployed site has it.
    fn checked() -> Self {
        Self::build(true, false)
    }

    /// In debug: media files are served.
    fn debug() -> Self {
        Self::build(false, true)
    }

    fn build(enforce_csrf: bool, debug: bool) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let media = tempfile::tempdir().unwrap();
        let settings = Settings::from_toml_str(&format!(
            "debug = {debug}\n[server]\nbody_limit = {BODY_LIMIT}\n\
             [media]\nroot = {:?}\nurl = \"/media/\"\ntemp_dir = {:?}\n\
             file_upload_max_memory_size = {IN_MEMORY}\nmax_file_size = {MAX_FILE}\n",
            media.path().join("root"),
            temp.path()
        ))
        .unwrap();
        let urls = Urls::new().path("upload/", post(upload), "upload").path(
            "files/",
            post(files),
            "files",
        );
        let mut client = Client::new(Project::new(settings).urls(urls)).unwrap();
        if enforce_csrf {
            client = client.enforce_csrf_checks();
        }
        Self {
            client,
            temp,
            media,
        }
    }

    /// The temporary files left behind.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.temp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn stored(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.media.path().join("root").join(name)).unwrap()
    }
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn small_files_stay_in_memory_and_large_ones_go_to_disk() {
    let site = Site::new();
    let small = content(IN_MEMORY);
    let large = content(IN_MEMORY * 5 + 17);
    let r = site
        .client
        .post("/files/")
        .multipart(
            &[("title", "Hello"), ("tag", "a")],
            &[
                ("a", "small.bin", &small),
                ("b", "large.bin", &large),
                ("c", "", b""),
            ],
        )
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.text(),
        format!(
            "title=Hello,tag=a / a=small.bin:{}:memory,b=large.bin:{}:disk",
            small.len(),
            large.len()
        ),
        "an empty file input is no file"
    );
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
}

#[tokio::test]
async fn a_valid_upload_is_stored_without_overwriting() {
    let site = Site::new();
    let large = content(IN_MEMORY * 3);
    let send = |body: Vec<u8>, name: &'static str| {
        let client = site.client.clone();
        async move {
            client
                .post("/upload/")
                .multipart(&[("title", "Report")], &[("attachment", name, &body)])
                .send()
                .await
        }
    };
    let r = send(large.clone(), "../../report final.pdf").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.text(),
        format!(
            "Report|report_final.pdf|{}|docs/report_final.pdf|Some(true)|",
            large.len()
        )
    );
    assert_eq!(site.stored("docs/report_final.pdf"), large);

    // The same name again: a free name, the first file untouched.
    let r = send(b"second".to_vec(), "report final.pdf").await;
    let text = r.text();
    let saved = text.split('|').nth(3).unwrap();
    assert_ne!(saved, "docs/report_final.pdf");
    assert!(
        saved.starts_with("docs/report_final_") && saved.ends_with(".pdf"),
        "{saved}"
    );
    assert_eq!(text.split('|').nth(4), Some("None"), "small: in memory");
    assert_eq!(site.stored(saved), b"second");
    assert_eq!(site.stored("docs/report_final.pdf"), large);
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
}

#[tokio::test]
async fn file_fields_clean_with_djangos_messages() {
    let site = Site::new();
    // No file at all.
    let r = site
        .client
        .post("/upload/")
        .multipart(&[("title", "T")], &[])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text();
    assert!(page.starts_with("multipart=true"), "{page}");
    assert!(page.contains("<li>This field is required.</li>"), "{page}");
    assert!(
        page.contains(r#"value="T""#),
        "what was typed is shown again"
    );
    assert!(page.contains(r#"type="file" name="attachment""#), "{page}");
    assert!(page.contains(r#"type="file" name="cover""#), "{page}");

    // An empty file.
    let r = site
        .client
        .post("/upload/")
        .multipart(&[("title", "T")], &[("attachment", "empty.txt", b"")])
        .send()
        .await;
    assert!(
        r.text().contains("<li>The submitted file is empty.</li>"),
        "{}",
        r.text()
    );

    // A URL-encoded form: the file field gets text.
    let r = site
        .client
        .post("/upload/")
        .form(&[("title", "T"), ("attachment", "C:\\photo.png")])
        .send()
        .await;
    let page = r.text();
    assert!(
        page.contains("<li>No file was submitted. Check the encoding type on the form.</li>"),
        "{page}"
    );
    // A file input is never filled in again.
    assert!(!page.contains("photo.png"), "{page}");

    // A valid file with an optional second one, and an over-long title:
    // the file is not shown again either.
    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[("title", &"x".repeat(41))],
            &[("attachment", "a.txt", b"A"), ("cover", "c.png", b"C")],
        )
        .send()
        .await;
    let page = r.text();
    assert!(
        page.contains("Ensure this value has at most 40 characters (it has 41)."),
        "{page}"
    );
    assert!(!page.contains("a.txt") && !page.contains("c.png"), "{page}");

    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[("title", "Both")],
            &[("attachment", "a.txt", b"A"), ("cover", ".c.png", b"C")],
        )
        .send()
        .await;
    assert_eq!(r.text(), "Both|a.txt|1|docs/a.txt|None|c.png");
    assert!(site.leftovers().is_empty());
}

#[tokio::test]
async fn dangerous_file_names_are_made_safe() {
    let site = Site::new();
    for (given, expected) in [
        ("../../x", "x"),
        ("..\\x", "x"),
        ("..\\\\..\\\\y", "y"),
        (".htaccess", "htaccess"),
        ("..", "file"),
        ("/", "file"),
        (
            "<img src=x onerror=alert(1)>.png",
            "img_srcx_onerroralert1.png",
        ),
    ] {
        let r = site
            .client
            .post("/files/")
            .multipart(&[], &[("f", given, b"data")])
            .send()
            .await;
        assert_eq!(r.text(), format!(" / f={expected}:4:memory"), "{given:?}");
    }
    // A NUL byte cannot even reach the name: the part's headers are refused
    // (the name sanitiser drops it too, see `get_valid_filename`).
    let r = site
        .client
        .post("/files/")
        .multipart(&[], &[("f", "a\0b.txt", b"data")])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(manouche::forms::get_valid_filename("a\0b.txt"), "ab.txt");
    // Stored under the safe name, inside the media root.
    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[("title", "T")],
            &[("attachment", "../../../etc/passwd", b"x")],
        )
        .send()
        .await;
    assert_eq!(r.text(), "T|passwd|1|docs/passwd|None|");
    assert_eq!(site.stored("docs/passwd"), b"x");
}

#[tokio::test]
async fn a_file_over_the_limit_gets_413_and_leaves_nothing_behind() {
    let site = Site::new();
    let big = content(MAX_FILE + 1);
    let r = site
        .client
        .post("/upload/")
        .multipart(&[("title", "T")], &[("attachment", "big.bin", &big)])
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
    // Exactly at the limit is fine.
    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[("title", "T")],
            &[("attachment", "ok.bin", &content(MAX_FILE))],
        )
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_leaves_nothing_behind() {
    let site = Site::new();
    // Three files under the per-file limit, over the body limit together.
    let part = content(MAX_FILE - 10);
    let files = [
        ("a", "a.bin", &part[..]),
        ("b", "b.bin", &part[..]),
        ("c", "c.bin", &part[..]),
    ];
    // Without Content-Length the limit stops the stream half way, after the
    // first files went to disk.
    let r = site
        .client
        .post("/files/")
        .multipart(&[], &files)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
    // With a Content-Length over the limit it is refused before reading.
    let r = site
        .client
        .post("/files/")
        .multipart(&[], &files)
        .header("content-length", &(BODY_LIMIT + 1).to_string())
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_nothing_behind() {
    let site = Site::new();
    let boundary = "cut";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.bin\"\r\n\r\n"
    );
    let chunks: Vec<std::io::Result<Bytes>> = vec![
        Ok(Bytes::from(head)),
        Ok(Bytes::from(content(IN_MEMORY * 4))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let r = site
        .client
        .post("/files/")
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body_stream(stream::iter(chunks))
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());

    // A body that simply ends before the closing boundary: 400 too.
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.bin\"\r\n\r\n{}",
        "x".repeat(IN_MEMORY * 2)
    );
    let r = site
        .client
        .post("/files/")
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
}

#[tokio::test]
async fn urlencoded_forms_still_bind_as_before() {
    let site = Site::new();
    let r = site
        .client
        .post("/files/")
        .form(&[("a", "1"), ("a", "2"), ("b", "x y")])
        .send()
        .await;
    assert_eq!(r.text(), "a=1,a=2,b=x y / ");
}

#[tokio::test]
async fn storage_never_writes_outside_its_root() {
    let site = Site::new();
    let storage = FileSystemStorage::new(site.media.path().join("root"), "/media/");
    let file = UploadedFile::from_bytes("x.txt", "text/plain", "x");
    for bad in ["../x.txt", "a/../../x.txt", "/tmp/x.txt", "", "a//b.txt"] {
        assert!(storage.save(bad, &file).await.is_err(), "{bad:?}");
    }
    let name = storage.save("a b/c d.txt", &file).await.unwrap();
    assert_eq!(name, "a_b/c_d.txt");
    assert!(storage.exists(&name).await.unwrap());
    assert_eq!(storage.url(&name).unwrap(), "/media/a_b/c_d.txt");
    storage.delete(&name).await.unwrap();
    assert!(!storage.exists(&name).await.unwrap());
    // Deleting what is not there is no error.
    storage.delete(&name).await.unwrap();
    // Many saves under one name: each gets its own file.
    let mut names = std::collections::HashSet::new();
    for i in 0..5 {
        let file = UploadedFile::from_bytes("same.txt", "text/plain", i.to_string());
        names.insert(storage.save("same.txt", &file).await.unwrap());
    }
    assert_eq!(names.len(), 5);
    for name in &names {
        assert_eq!(site.stored(name).len(), 1);
    }
}

/// A CSRF secret, sent bare as the token too.
const SECRET: &str = "abcdefghijklmnopqrstuvwxyz012345";

#[tokio::test]
async fn the_csrf_check_streams_uploads_too() {
    let site = Site::checked();
    site.client.set_cookie("csrftoken", SECRET);
    let large = content(IN_MEMORY * 4);
    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[("csrfmiddlewaretoken", SECRET), ("title", "Checked")],
            &[("attachment", "big.bin", &large)],
        )
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    // On disk while the view ran: the check did not buffer the body.
    assert_eq!(
        r.text(),
        format!("Checked|big.bin|{}|docs/big.bin|Some(true)|", large.len())
    );
    assert_eq!(site.stored("docs/big.bin"), large);
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());

    // A wrong token: 403, and the parsed files are gone.
    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[
                ("title", "Checked"),
                ("csrfmiddlewaretoken", "x".repeat(32).as_str()),
            ],
            &[("attachment", "big.bin", &large)],
        )
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());

    // Over the file limit: 413 from the check, nothing left.
    let r = site
        .client
        .post("/upload/")
        .multipart(
            &[("csrfmiddlewaretoken", SECRET)],
            &[("attachment", "big.bin", &content(MAX_FILE + 1))],
        )
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(site.leftovers().is_empty(), "{:?}", site.leftovers());
}

#[tokio::test]
async fn media_is_served_in_debug_only() {
    for debug in [true, false] {
        let site = if debug { Site::debug() } else { Site::new() };
        let r = site
            .client
            .post("/upload/")
            .multipart(
                &[("title", "T")],
                &[("attachment", "photo of me.png", b"\x89PNG")],
            )
            .send()
            .await;
        assert_eq!(r.text(), "T|photo_of_me.png|4|docs/photo_of_me.png|None|");
        // Next to the media root, not in it.
        std::fs::write(site.media.path().join("secret.txt"), "secret").unwrap();
        let r = site.client.get("/media/docs/photo_of_me.png").send().await;
        if !debug {
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            continue;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("image/png"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.bytes().as_ref(), b"\x89PNG");
        for bad in [
            "/media/docs/missing.png",
            "/media/%2e%2e/secret.txt",
            "/media/docs/%2e%2e/%2e%2e/secret.txt",
            "/media/.hidden",
            "/media/",
        ] {
            let r = site.client.get(bad).send().await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }
}

/// Django's `FileFieldTest.test_filefield_1`, through a bound form.
#[test]
fn file_fields_clean_as_djangos_file_field() {
    #[derive(Debug, Form)]
    struct Upload {
        file: UploadedFile,
        maybe: Option<UploadedFile>,
    }
    let errors = |data: FormData| {
        let form = BoundForm::<Upload>::bind(data);
        form.errors()
            .field("file")
            .iter()
            .map(|e| format!("{}:{}", e.code(), e.message()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errors(FormData::new()),
        ["required:This field is required."]
    );
    assert_eq!(
        errors(FormData::from_pairs([("file", "")])),
        ["required:This field is required."]
    );
    assert_eq!(
        errors(FormData::from_pairs([(
            "file",
            "some content that is not a file"
        )])),
        ["invalid:No file was submitted. Check the encoding type on the form."]
    );
    let mut data = FormData::new();
    data.append_file("file", UploadedFile::from_bytes("name", "text/plain", ""));
    assert_eq!(errors(data), ["empty:The submitted file is empty."]);

    let mut data = FormData::new();
    let content = "मेरी मँडराने वाली नाव सर्पमीनों से भरी ह".as_bytes();
    let file = UploadedFile::from_bytes("我隻氣墊船裝滿晒鱔.txt", "text/plain", content);
    data.append_file("file", file.clone());
    let form = BoundForm::<Upload>::bind(data);
    let cleaned = form.cleaned().expect("valid");
    assert_eq!(cleaned.file, file);
    assert_eq!(cleaned.file.name(), "我隻氣墊船裝滿晒鱔.txt");
    assert_eq!(cleaned.file.size(), content.len() as u64);
    assert_eq!(cleaned.maybe, None);
    // The last file sent under a name wins, as the last value does.
    let mut data = FormData::new();
    data.append_file("file", UploadedFile::from_bytes("a", "", "1"));
    data.append_file("file", UploadedFile::from_bytes("b", "", "2"));
    let form = BoundForm::<Upload>::bind(data);
    assert_eq!(form.cleaned().unwrap().file.name(), "b");
    assert_eq!(form.cleaned().unwrap().file.content_type(), "");
    // Never drawn with a value.
    let html = BoundForm::<Upload>::new().as_div().to_string();
    assert!(
        html.contains(r#"<input type="file" name="file" required id="id_file">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="file" name="maybe" id="id_maybe">"#),
        "{html}"
    );
}

#[test]
fn several_files_in_one_field() {
    // `<input type="file" multiple>`: a Vec of uploads.
    #[derive(Debug, Form)]
    struct Gallery {
        photos: Vec<UploadedFile>,
        #[form(required = false)]
        extras: Vec<UploadedFile>,
    }
    let html = BoundForm::<Gallery>::new().as_div().to_string();
    assert!(
        html.contains(r#"<input type="file" name="photos" multiple required id="id_photos">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="file" name="extras" multiple id="id_extras">"#),
        "{html}"
    );
    assert!(BoundForm::<Gallery>::new().is_multipart());

    let mut data = FormData::new();
    for (name, content) in [("a.jpg", "1"), ("../b.jpg", "22"), ("c.jpg", "333")] {
        data.append_file(
            "photos",
            UploadedFile::from_bytes(name, "image/jpeg", content),
        );
    }
    let form = BoundForm::<Gallery>::bind(data);
    let gallery = form.cleaned().expect("valid");
    let names: Vec<(&str, u64)> = gallery
        .photos
        .iter()
        .map(|f| (f.name(), f.size()))
        .collect();
    assert_eq!(names, [("a.jpg", 1), ("b.jpg", 2), ("c.jpg", 3)]);
    assert!(gallery.extras.is_empty());

    let errors = |data: FormData| {
        BoundForm::<Gallery>::bind(data)
            .errors()
            .field("photos")
            .iter()
            .map(|e| e.message().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(errors(FormData::new()), ["This field is required."]);
    // One empty file among several fails the field, as one alone does.
    let mut data = FormData::new();
    data.append_file(
        "photos",
        UploadedFile::from_bytes("a.jpg", "image/jpeg", "1"),
    );
    data.append_file(
        "photos",
        UploadedFile::from_bytes("b.jpg", "image/jpeg", ""),
    );
    assert_eq!(errors(data), ["The submitted file is empty."]);
    assert_eq!(
        errors(FormData::from_pairs([
            ("photos", "a.jpg"),
            ("photos", "b.jpg")
        ])),
        ["No file was submitted. Check the encoding type on the form."]
    );
}

#[test]
fn media_settings_are_read_and_checked() {
    let s = Settings::from_toml_str(
        "[media]\nroot = \"/srv/media\"\nurl = \"https://cdn.example/m/\"\n",
    )
    .unwrap();
    assert_eq!(s.media.root, Path::new("/srv/media"));
    assert_eq!(s.media.url, "https://cdn.example/m/");
    assert_eq!(s.media.file_upload_max_memory_size, 2_621_440);
    assert_eq!(s.media.temp_dir, None);
    let err = Settings::from_toml_str("[media]\nurl = \"/media\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("media.url") && err.contains("end with `/`"),
        "{err}"
    );
    let err = Settings::from_toml_str("[media]\nmax_file_size = 0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("media.max_file_size"), "{err}");
    let err = Settings::from_toml_str("[media]\nroot_dir = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("root_dir"), "{err}");
    let mut s = Settings::default();
    s.apply_env([
        ("MANOUCHE_MEDIA_ROOT", "/data/media"),
        ("MANOUCHE_MEDIA_URL", "/files/"),
        ("MANOUCHE_MEDIA_TEMP_DIR", "/data/tmp"),
        ("MANOUCHE_MEDIA_MAX_FILE_SIZE", "1000"),
    ])
    .unwrap();
    assert_eq!(s.media.root, Path::new("/data/media"));
    assert_eq!(s.media.url, "/files/");
    assert_eq!(s.media.temp_dir.as_deref(), Some(Path::new("/data/tmp")));
    assert_eq!(s.media.max_file_size, 1000);
    assert!(s.apply_env([("MANOUCHE_MEDIA_URL", "/files")]).is_err());
    assert_eq!(s.media.url, "/files/", "a bad variable changes nothing");
}

#[test]
fn the_storage_backend_is_chosen_by_the_settings() {
    use manouche::settings::StorageKind;
    use manouche::storage::DefaultStorage;

    let s = Settings::from_toml_str(
        "[media]\nstorage = \"s3\"\n[media.s3]\nbucket = \"site\"\nregion = \"eu-west-3\"\n\
         endpoint = \"http://127.0.0.1:9000\"\npath_style = true\n\
         public_url = \"https://cdn.example/m/\"\n",
    )
    .unwrap();
    assert_eq!(s.media.storage, StorageKind::S3);
    assert_eq!(s.media.s3.bucket, "site");
    assert_eq!(
        s.media.s3.endpoint.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert!(s.media.s3.path_style);
    for (toml, key) in [
        ("[media]\nstorage = \"s3\"\n", "media.s3.bucket"),
        (
            "[media]\nstorage = \"s3\"\n[media.s3]\nbucket = \"b\"\npublic_url = \"https://x\"\n",
            "media.s3.public_url",
        ),
        ("[media]\nstorage = \"ftp\"\n", "ftp"),
        ("[media.s3]\nbukcet = \"b\"\n", "bukcet"),
    ] {
        let err = Settings::from_toml_str(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }

    // The key from the environment: the specific names win over AWS's,
    // in whichever order they come; the secret is never shown.
    for order in [false, true] {
        let mut vars = vec![
            ("MANOUCHE_MEDIA_STORAGE", "s3"),
            ("MANOUCHE_MEDIA_S3_BUCKET", "site"),
            ("MANOUCHE_MEDIA_S3_ACCESS_KEY_ID", "AKIAMANOUCHE"),
            ("AWS_ACCESS_KEY_ID", "AKIAAWS"),
            ("AWS_SECRET_ACCESS_KEY", "the secret"),
        ];
        if order {
            vars.reverse();
        }
        let mut s = Settings::default();
        s.apply_env(vars).unwrap();
        assert_eq!(s.media.storage, StorageKind::S3);
        assert_eq!(s.media.s3.access_key_id, "AKIAMANOUCHE");
        assert_eq!(s.media.s3.secret_access_key, "the secret");
        assert!(!format!("{s:?}").contains("the secret"));
    }
    let mut s = Settings::default();
    assert!(s.apply_env([("MANOUCHE_MEDIA_STORAGE", "cloud")]).is_err());
    assert_eq!(s.media.storage, StorageKind::FileSystem);

    // Without the cargo feature, s3 is refused at startup with the fix.
    let mut media = Settings::default().media;
    media.storage = StorageKind::S3;
    media.s3.bucket = "site".into();
    let built = DefaultStorage::from_settings(&media);
    if cfg!(feature = "s3") {
        let storage = built.unwrap();
        assert_eq!(
            storage.url("a.png").unwrap(),
            "https://site.s3.us-east-1.amazonaws.com/a.png"
        );
    } else {
        let err = built.unwrap_err().to_string();
        assert!(err.contains("`s3` cargo feature"), "{err}");
    }
    let storage = DefaultStorage::from_settings(&Settings::default().media).unwrap();
    assert_eq!(storage.url("a b.png").unwrap(), "/media/a%20b.png");
}
