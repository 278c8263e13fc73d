// `sqlx::migrate!` embeds `migrations/` at compile time, but on stable Rust
// cargo is not told to watch the folder: without this line an added
// migration would not rebuild the crate, and a binary could ship without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
