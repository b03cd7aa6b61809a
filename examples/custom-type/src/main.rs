//! A resource type written in the program itself (`file.rs`, a local file), declared and managed
//! like any provider's: planned, diffed, applied, drift put back, destroyed.
//!
//! ```text
//! cargo run -p custom-type -- apply --yes
//! cargo run -p custom-type -- plan --config greeting=hi   # an update in place
//! cargo run -p custom-type -- destroy --yes
//! ```

mod file;

use strake::typed::{ProgramProvider, Registry};

use crate::file::{File, FileType};

/// The configuration keys.
#[derive(serde::Deserialize)]
struct Settings {
    /// Where the files go.
    #[serde(default = "default_dir")]
    dir: String,
    #[serde(default = "default_greeting")]
    greeting: String,
}

fn default_dir() -> String {
    "out".into()
}

fn default_greeting() -> String {
    "hello".into()
}

fn main() -> std::process::ExitCode {
    strake::run("custom-type", |stack| {
        let settings: Settings = stack.config().parse()?;
        // The program's own provider: its types, listed as data, and their context (none here).
        let local = stack.provider("local", ProgramProvider::new(Registry::new("local").resource(FileType), ()));
        let greeting = File::new(stack, "greeting", &local, format!("{}/greeting.txt", settings.dir), format!("{}, world\n", settings.greeting));
        // A file made from another's output: the graph follows it.
        let checksum = File::new(
            stack,
            "checksum",
            &local,
            format!("{}/greeting.sha256", settings.dir),
            greeting.sha256().map(|s| format!("{s}  greeting.txt\n")),
        );
        stack.export("greeting_sha256", greeting.sha256());
        stack.export("checksum_id", strake::ResourceHandle::id(&checksum));
        Ok(())
    })
}
