//! The smallest Strake program: a few `Data` resources wired together by outputs.
//!
//! ```text
//! cargo run -p hello -- plan
//! cargo run -p hello -- apply --yes
//! cargo run -p hello -- plan --config greeting=hi   # an update in place
//! cargo run -p hello -- destroy --yes
//! ```

use strake::prelude::*;

fn main() -> std::process::ExitCode {
    strake::run("hello", |stack| {
        let config = stack.config();
        let greeting = config.get_or("greeting", "hello");
        let audience = config.get_or("audience", "world");

        // A value known at plan time: its output shows in the plan.
        let message = Data::new(stack, "message", value!({ "greeting": greeting, "audience": audience }));

        // Derived values flow through outputs; the graph follows them.
        let words = message.output().map(|m| {
            let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            format!("{}, {}!", field("greeting"), field("audience"))
        });
        let banner = Data::new(stack, "banner", format_output!("[{}] {}", stack.name(), words));

        // Replaced (not updated) whenever the release changes.
        let release = config.get_or("release", "1");
        let deployment = Data::new(stack, "deployment", banner.output()).triggers_replace(Value::from(release)).depends_on(&message);

        stack.export("banner", banner.output());
        stack.export("deployment_id", deployment.id());
        Ok(())
    })
}
