//! `cargo run -p cross-account-irsa -- plan | apply | verify | destroy | ...`
//!
//! Every command but `verify` is Strake's CLI (`strake::run`). `verify` is the walkthrough's
//! Step 3 without a pod: it requests the service account's token from the cluster, checks the
//! role's trust against it, assumes the role in account B and reads `test.txt` from the bucket.

use std::path::PathBuf;
use std::process::ExitCode;

use cross_account_irsa::{STACK, Settings, declare};
use strake::Config;
use strake_irsa::verify::{VerifyTarget, kube_client, verify};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("verify") {
        return verify_command(&args[2..]);
    }
    strake::run(STACK, declare)
}

/// `verify [--dir DIR] [--config key=value]...`: exit 0 when the whole chain holds.
fn verify_command(args: &[String]) -> ExitCode {
    let mut dir = std::env::var_os("STRAKE_DIR").map(PathBuf::from);
    let mut overrides = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--dir" => dir = it.next().map(PathBuf::from),
            "--config" | "-c" => overrides.extend(it.next().cloned()),
            other if other.starts_with("--config=") => overrides.push(other["--config=".len()..].to_string()),
            other => {
                eprintln!("Error: verify takes --dir DIR and --config key=value, not `{other}`");
                return ExitCode::from(1);
            }
        }
    }
    let dir = dir
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let settings = match Config::load(&dir, &overrides).and_then(|c| Settings::from_config(&c)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let (account, _) = settings
            .account_b
            .caller_identity()
            .await
            .map_err(|e| format!("account B's credentials do not work: {e}"))?;
        let kube = kube_client(None).await.map_err(|e| e.to_string())?;
        let role_arn = format!("arn:aws:iam::{account}:role/{}", settings.role_name);
        let target = VerifyTarget::new(&settings.namespace, &settings.service_account, &role_arn, &settings.bucket);
        verify(&target, &kube, &settings.account_b, &mut std::io::stdout()).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nverify failed: {e}");
            ExitCode::from(1)
        }
    }
}
