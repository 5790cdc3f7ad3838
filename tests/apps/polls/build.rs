// Rebuild when a migration file is added: `embed_migrations!` compiles the
// files in, and cargo does not watch the folder by itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
