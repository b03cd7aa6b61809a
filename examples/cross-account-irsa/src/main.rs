//! `cargo run -p cross-account-irsa -- plan | apply | verify | destroy | ...`
//!
//! `verify` is a command of the program's own, beside Strake's (`strake::run_with_commands`):
//! listed in `--help`, parsed with the same `--dir` and `--config`. It is the walkthrough's
//! Step 3 without a pod: it requests the service account's token from the cluster, checks the
//! role's trust against it, assumes the role in account B and reads `test.txt` from the bucket.

use std::process::ExitCode;

use cross_account_irsa::{STACK, Settings, declare};
use strake::clap::Command;
use strake::{Error, ProgramCommand, ProgramContext};
use strake_irsa::verify::{VerifyTarget, kube_client, verify};

fn main() -> ExitCode {
    let verify = ProgramCommand::new(
        Command::new("verify").about(
            "Prove the access without a pod: the service account's token, checked against the role's trust, \
             assumes the role in account B and reads test.txt from the bucket",
        ),
        |ctx, _| verify_command(ctx),
    );
    strake::run_with_commands(STACK, std::env::args_os(), declare, vec![verify])
}

/// `verify`: exit 0 when the whole chain holds; a failure names the broken link.
fn verify_command(ctx: &ProgramContext) -> Result<ExitCode, Error> {
    let settings = Settings::from_config(&ctx.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Program(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        let (account, _) = settings.account_b.caller_identity().await.map_err(|e| format!("account B's credentials do not work: {e}"))?;
        let kube = kube_client(None).await.map_err(|e| e.to_string())?;
        let role_arn = format!("arn:aws:iam::{account}:role/{}", settings.role_name);
        let target = VerifyTarget::new(&settings.namespace, &settings.service_account, &role_arn, &settings.bucket);
        verify(&target, &kube, &settings.account_b, &mut std::io::stdout()).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("\nverify failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
