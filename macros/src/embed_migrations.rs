//! `embed_migrations!("../migrations")`: the migration files of a project,
//! compiled into its binary, so that a deployed binary migrates without its
//! source tree.
//!
//! The folder is relative to the invoking crate's `Cargo.toml`. Each
//! `<app>/<name>.json` becomes an `include_str!`, so editing a file
//! rebuilds the binary; a newly added file is picked up by the next build
//! that recompiles the crate (which is why, when the folder exists at run
//! time, the commands read it from disk instead).

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

pub(crate) fn expand(input: &LitStr) -> TokenStream {
    match files(input) {
        Ok(files) => {
            let entries = files.iter().map(|(rel, abs)| {
                let abs = abs.to_string_lossy();
                quote! { (#rel, ::core::include_str!(#abs)) }
            });
            quote! {
                ::manouche::migrations::EmbeddedMigrations::new(&[#(#entries),*])
            }
        }
        Err(err) => err.into_compile_error(),
    }
}

/// `(app/name.json, absolute path)` for every migration file, sorted.
fn files(input: &LitStr) -> syn::Result<Vec<(String, PathBuf)>> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        syn::Error::new(
            input.span(),
            "CARGO_MANIFEST_DIR is not set: build with cargo",
        )
    })?;
    let dir = Path::new(&manifest).join(input.value());
    let mut out = Vec::new();
    if !dir.exists() {
        // No migrations yet: an empty set, not an error.
        return Ok(out);
    }
    let read = |path: &Path| {
        std::fs::read_dir(path).map_err(|e| {
            syn::Error::new(input.span(), format!("cannot read {}: {e}", path.display()))
        })
    };
    for app in read(&dir)? {
        let app = app
            .map_err(|e| syn::Error::new(input.span(), e.to_string()))?
            .path();
        if !app.is_dir() {
            continue;
        }
        let Some(app_name) = app.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        for file in read(&app)? {
            let file = file
                .map_err(|e| syn::Error::new(input.span(), e.to_string()))?
                .path();
            let is_json = file.extension().is_some_and(|e| e == "json");
            if let (true, Some(name)) = (is_json, file.file_name().and_then(|n| n.to_str())) {
                out.push((format!("{app_name}/{name}"), file.clone()));
            }
        }
    }
    out.sort();
    Ok(out)
}
