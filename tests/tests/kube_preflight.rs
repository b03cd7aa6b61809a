//! The cluster is checked at plan time, before anything is applied, against a real
//! kube-apiserver: a plan whose credentials may not make its changes fails naming them, a wrong
//! token and a server that is not there fail naming the server and the cause, quickly and
//! without retries, and nothing reaches any cloud.

use std::path::Path;

use strake::events::{Event, RecordingObserver};
use strake::{Engine, EngineOptions, Error, PlanOptions, Program, RetryPolicy};
use strake_kubernetes::{KubernetesProvider, Namespace, ServiceAccount};
use strake_state::MemoryStore;
use strake_tests::kube::Kube;

fn program(kubeconfig: &Path, ns: &str) -> Program {
    let (kubeconfig, ns) = (kubeconfig.display().to_string(), ns.to_string());
    strake_tests::aws::program(move |stack| {
        let k = stack.provider("cluster", KubernetesProvider::from_kubeconfig().kubeconfig_path(kubeconfig.as_str()));
        let namespace = Namespace::new(stack, &ns, &k);
        ServiceAccount::new(stack, "app", &k, &namespace);
        Ok(())
    })
}

fn engine() -> (Engine, std::sync::Arc<RecordingObserver>) {
    let observer = std::sync::Arc::new(RecordingObserver::default());
    let options = EngineOptions { retry: RetryPolicy::fast(), ..Default::default() };
    (Engine::new(std::sync::Arc::new(MemoryStore::new())).with_options(options).with_observer(observer.clone()), observer)
}

fn diagnostics(err: Error) -> Vec<String> {
    match err {
        Error::Diagnostics(d) => d.iter().map(|d| d.to_string()).collect(),
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_may_not_make_the_changes_fail_the_plan_naming_them() {
    let kube = Kube::get();
    let (engine, _) = engine();
    let err = engine.plan(&program(&kube.nobody_kubeconfig(), "preflight-nobody"), &PlanOptions::default()).await.unwrap_err();
    let d = diagnostics(err);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].contains("strake:provider:kubernetes::cluster") && d[0].contains("Forbidden"), "{d:?}");
    assert!(d[0].contains("may not patch namespaces (for preflight-nobody)"), "{d:?}");
    assert!(d[0].contains("nor patch serviceaccounts in namespace `preflight-nobody` (for app)"), "{d:?}");
    assert!(d[0].contains("context `strake-test`"), "names the context: {d:?}");
    assert!(kube.get_json(&["namespace", "preflight-nobody"]).is_none(), "nothing was created");

    // The admin may: the same plan goes through.
    let plan = engine.plan(&program(&kube.kubeconfig(), "preflight-admin"), &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.summary().create, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_and_a_missing_server_fail_at_once_naming_server_and_cause() {
    let kube = Kube::get();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(kube.kubeconfig()).unwrap();

    let token = text.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_string();
    let wrong_token = dir.path().join("wrong-token");
    std::fs::write(&wrong_token, text.replace(&token, "not-a-token")).unwrap();
    let (engine, observer) = engine();
    let d = diagnostics(engine.plan(&program(&wrong_token, "preflight-token"), &PlanOptions::default()).await.unwrap_err());
    assert!(d[0].contains("Unauthorized") && d[0].contains("refused the credentials") && d[0].contains("https://127.0.0.1:"), "{d:?}");

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = text.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap().to_string();
    let nowhere = dir.path().join("nowhere");
    std::fs::write(&nowhere, text.replace(&server, &format!("https://127.0.0.1:{closed}"))).unwrap();
    let d = diagnostics(engine.plan(&program(&nowhere, "preflight-nowhere"), &PlanOptions::default()).await.unwrap_err());
    assert!(d[0].contains("ConnectionRefused") && d[0].contains(&format!("https://127.0.0.1:{closed}")), "{d:?}");
    let retries: Vec<_> = observer.events.lock().unwrap().iter().filter(|e| matches!(e, Event::StepRetrying { .. })).cloned().collect();
    assert!(retries.is_empty(), "an unreachable server fails at once, without retries: {retries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve_and_a_certificate_not_trusted_are_named_as_such() {
    let kube = Kube::get();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(kube.kubeconfig()).unwrap();
    let server = text.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap().to_string();
    let (engine, _) = engine();

    // `.invalid` never resolves.
    let unresolvable = dir.path().join("unresolvable");
    std::fs::write(&unresolvable, text.replace(&server, "https://strake-preflight.invalid:6443")).unwrap();
    let d = diagnostics(engine.plan(&program(&unresolvable, "preflight-dns"), &PlanOptions::default()).await.unwrap_err());
    assert!(d[0].contains("NameNotResolved") && d[0].contains("does not resolve (DNS)") && d[0].contains("strake-preflight.invalid"), "{d:?}");

    // A certificate authority that did not sign the server's certificate.
    let ca_dir = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another-ca"])
        .arg("-keyout")
        .arg(ca_dir.path().join("key.pem"))
        .arg("-out")
        .arg(ca_dir.path().join("ca.pem"))
        .output()
        .expect("openssl is installed (tests/kube/build.sh installs it)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    use base64::Engine as _;
    let other_ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(ca_dir.path().join("ca.pem")).unwrap());
    let ca = text.lines().find_map(|l| l.trim().strip_prefix("certificate-authority-data: ")).unwrap().to_string();
    let untrusted = dir.path().join("untrusted");
    std::fs::write(&untrusted, text.replace(&ca, &other_ca)).unwrap();
    let d = diagnostics(engine.plan(&program(&untrusted, "preflight-tls"), &PlanOptions::default()).await.unwrap_err());
    assert!(d[0].contains("TlsError") && d[0].contains("TLS failed") && d[0].contains(&server.trim_end_matches('/').to_string()), "{d:?}");
}
