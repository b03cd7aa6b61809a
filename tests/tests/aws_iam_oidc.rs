//! `aws:iam:OpenIdConnectProvider` against moto in account B: create, update in place, replace,
//! delete, drift, re-plan, adoption of an existing provider, and plan-time checks.

use strake::plan::Action;
use strake::{Urn, format_output};
use strake_aws::iam::{OpenIdConnectProvider, Role};
use strake_aws::{AwsProvider, PolicyDocument, Statement};
use strake_tests::aws::{program_b, urn};
use strake_tests::check::{assert_mentions, render};
use strake_tests::rig::MotoRig;

const THUMB_A: &str = "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280";
const THUMB_B: &str = "0123456789abcdef0123456789abcdef01234567";

fn oidc_urn() -> Urn {
    urn("aws:iam:OpenIdConnectProvider", "eks")
}

/// What the program declares for the provider.
#[derive(Clone, Default)]
struct Spec {
    url: &'static str,
    client_ids: Option<Vec<&'static str>>,
    thumbprints: Option<Vec<&'static str>>,
    tags: Vec<(&'static str, &'static str)>,
    adopt: bool,
    /// Also declare a role trusting the provider (web identity), as EKS service accounts use it.
    with_role: bool,
}

impl Spec {
    fn url(url: &'static str) -> Spec {
        Spec { url, ..Default::default() }
    }
}

/// The program, with account B reached through `account_b` (moto directly, or the client-id shim).
fn oidc_program(account_b: &AwsProvider, spec: &Spec) -> strake::Program {
    let spec = spec.clone();
    program_b(account_b.clone(), |stack, b| {
        let mut p = OpenIdConnectProvider::new(stack, "eks", b, spec.url);
        if let Some(ids) = spec.client_ids {
            p = p.client_ids(ids);
        }
        if let Some(t) = spec.thumbprints {
            p = p.thumbprints(t);
        }
        if !spec.tags.is_empty() {
            p = p.tags(spec.tags);
        }
        if spec.adopt {
            p = p.adopt_existing();
        }
        if spec.with_role {
            let issuer = p.issuer();
            let trust = PolicyDocument::new().statement(
                Statement::allow()
                    .actions(["sts:AssumeRoleWithWebIdentity"])
                    .federated(p.arn())
                    .condition("StringEquals", format_output!("{}:aud", issuer), ["sts.amazonaws.com"])
                    .condition("StringEquals", format_output!("{}:sub", issuer), ["system:serviceaccount:default:web"]),
            );
            Role::new(stack, "web", b, trust).role_name("web-identity");
        }
        stack.export("arn", p.arn());
        stack.export("issuer", p.issuer());
    })
}

async fn get(iam: &aws_sdk_iam::Client, arn: &str) -> Option<aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput> {
    iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await.ok()
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut v = items.to_vec();
    v.sort();
    v
}

fn tags_of(p: &aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = p.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    t.sort();
    t
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_create_update_replace_delete_in_account_b() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    let b = shim::account_b(&rig);

    // Create, with a trailing slash in the URL and a role trusting the provider.
    let first = Spec { with_role: true, ..Spec::url("https://oidc.example.com/id/ONE/") };
    let report = rig.up(&oidc_program(&b, &first)).await;
    let arn_one = "arn:aws:iam::222222222222:oidc-provider/oidc.example.com/id/ONE";
    assert_eq!(report.outputs["arn"].as_str(), Some(arn_one));
    assert_eq!(report.outputs["issuer"].as_str(), Some("oidc.example.com/id/ONE"));
    let p = get(iam, arn_one).await.expect("the provider exists in account B");
    assert_eq!(p.url(), Some("oidc.example.com/id/ONE"));
    assert_eq!(p.client_id_list(), ["sts.amazonaws.com"], "the default audience");
    assert!(p.thumbprint_list().is_empty(), "no thumbprint is sent unless the program sets one");
    let role = iam.get_role().role_name("web-identity").send().await.unwrap().role.unwrap();
    let trust = strake_aws::policy::url_decode(role.assume_role_policy_document().unwrap());
    assert!(trust.contains(arn_one) && trust.contains("oidc.example.com/id/ONE:aud"), "{trust}");

    // Re-plan is empty, with or without the trailing slash.
    for url in ["https://oidc.example.com/id/ONE/", "https://oidc.example.com/id/ONE"] {
        let plan = rig.plan(&oidc_program(&b, &Spec { url, ..first.clone() })).await;
        assert!(!plan.has_changes(), "{url}: {}", render(&plan));
    }

    // Client ids, thumbprints and tags change in place.
    let second = Spec {
        client_ids: Some(vec!["sts.amazonaws.com", "my-app"]),
        thumbprints: Some(vec![THUMB_A]),
        tags: vec![("team", "platform")],
        ..first.clone()
    };
    let plan = rig.plan(&oidc_program(&b, &second)).await;
    let step = plan.step(&oidc_urn()).unwrap();
    assert_eq!(step.action, Action::Update, "{}", render(&plan));
    assert_eq!(step.changes, vec!["client_ids", "tags", "thumbprints"]);
    rig.up(&oidc_program(&b, &second)).await;
    let p = get(iam, arn_one).await.unwrap();
    assert_eq!(sorted(p.client_id_list()), ["my-app", "sts.amazonaws.com"]);
    assert_eq!(p.thumbprint_list(), [THUMB_A.to_ascii_lowercase()]);
    assert_eq!(tags_of(&p), pairs(&[("team", "platform")]));
    rig.assert_no_changes(&oidc_program(&b, &second)).await;

    // Removing a client id and a tag, and another thumbprint.
    let third = Spec { client_ids: Some(vec!["my-app"]), thumbprints: Some(vec![THUMB_B]), tags: vec![], ..second.clone() };
    let plan = rig.plan(&oidc_program(&b, &third)).await;
    assert_eq!(plan.step(&oidc_urn()).unwrap().action, Action::Update, "{}", render(&plan));
    rig.up(&oidc_program(&b, &third)).await;
    let p = get(iam, arn_one).await.unwrap();
    assert_eq!(p.client_id_list(), ["my-app"]);
    assert_eq!(p.thumbprint_list(), [THUMB_B]);
    assert!(p.tags().is_empty());

    // A new URL replaces the provider; the role's trust policy follows in place.
    let fourth = Spec { url: "https://oidc.example.com/id/TWO", ..third.clone() };
    let plan = rig.plan(&oidc_program(&b, &fourth)).await;
    let step = plan.step(&oidc_urn()).unwrap();
    assert!(matches!(step.action, Action::Replace(_)), "{}", render(&plan));
    assert_eq!(step.replace_paths, vec!["url"]);
    assert_eq!(plan.step(&urn("aws:iam:Role", "web")).unwrap().action, Action::Update, "{}", render(&plan));
    let report = rig.up(&oidc_program(&b, &fourth)).await;
    let arn_two = "arn:aws:iam::222222222222:oidc-provider/oidc.example.com/id/TWO";
    assert_eq!(report.outputs["arn"].as_str(), Some(arn_two));
    assert!(get(iam, arn_one).await.is_none(), "the old provider is gone");
    let p = get(iam, arn_two).await.expect("the new provider exists");
    assert_eq!(p.client_id_list(), ["my-app"]);
    assert_eq!(p.thumbprint_list(), [THUMB_B]);
    let role = iam.get_role().role_name("web-identity").send().await.unwrap().role.unwrap();
    let trust = strake_aws::policy::url_decode(role.assume_role_policy_document().unwrap());
    assert!(trust.contains(arn_two) && trust.contains("oidc.example.com/id/TWO:aud"), "{trust}");

    // Destroy.
    rig.destroy(&oidc_program(&b, &fourth)).await;
    assert!(get(iam, arn_two).await.is_none());
    let left = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(left.open_id_connect_provider_list().is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_drift_is_shown_and_repaired() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    let b = rig.moto.account_b();
    let spec = Spec { thumbprints: Some(vec![THUMB_A]), tags: vec![("team", "data")], ..Spec::url("https://token.example.org/issuer") };
    let p = oidc_program(&b, &spec);
    rig.up(&p).await;
    let arn = "arn:aws:iam::222222222222:oidc-provider/token.example.org/issuer";

    // The same thumbprints in other case and order, with a duplicate: no change.
    let same = [THUMB_A.to_ascii_lowercase(), THUMB_A.to_string()];
    iam.update_open_id_connect_provider_thumbprint().open_id_connect_provider_arn(arn).set_thumbprint_list(Some(same.to_vec())).send().await.unwrap();
    rig.assert_no_changes(&p).await;

    // Real changes outside Strake: shown, then repaired.
    iam.update_open_id_connect_provider_thumbprint().open_id_connect_provider_arn(arn).thumbprint_list(THUMB_B).send().await.unwrap();
    let extra = aws_sdk_iam::types::Tag::builder().key("owner").value("someone").build().unwrap();
    iam.tag_open_id_connect_provider().open_id_connect_provider_arn(arn).tags(extra).send().await.unwrap();
    rig.repair_drift(&p, "eks", &["tags", "thumbprints"]).await;
    let now = get(iam, arn).await.unwrap();
    assert_eq!(now.thumbprint_list(), [THUMB_A.to_ascii_lowercase()]);
    assert_eq!(tags_of(&now), pairs(&[("team", "data")]));
    rig.assert_no_changes(&p).await;

    // Deleted outside Strake: refresh forgets it, apply creates it again.
    iam.delete_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await.unwrap();
    rig.recreate_deleted(&p, &oidc_urn()).await;
    assert!(get(iam, arn).await.is_some());
    rig.destroy(&p).await;
    assert!(get(iam, arn).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_that_exists_is_imported_or_adopted_never_taken_silently() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    let b = shim::account_b(&rig);
    // Registered by someone else, with a trailing slash, another audience, a thumbprint and a tag.
    let precreate = || async {
        let owner = aws_sdk_iam::types::Tag::builder().key("owner").value("someone").build().unwrap();
        let out = iam
            .create_open_id_connect_provider()
            .url("https://oidc.example.com/id/ADOPT/")
            .client_id_list("legacy")
            .thumbprint_list(THUMB_B)
            .tags(owner)
            .send()
            .await
            .unwrap();
        out.open_id_connect_provider_arn().unwrap().to_string()
    };
    let existing = precreate().await;
    assert_eq!(existing, "arn:aws:iam::222222222222:oidc-provider/oidc.example.com/id/ADOPT/", "moto keeps the slash in the ARN");

    // Without consent: a clear error naming the provider and both ways forward; nothing changed.
    let plain = oidc_program(&b, &Spec::url("https://oidc.example.com/id/ADOPT"));
    let err = rig.try_up(&plain).await.unwrap_err().to_string();
    assert!(err.contains(&existing), "{err}");
    assert!(err.contains(&format!("import {} {existing}", oidc_urn())), "{err}");
    assert!(err.contains(".adopt_existing()"), "{err}");
    let p = get(iam, &existing).await.unwrap();
    assert_eq!(p.client_id_list(), ["legacy"]);
    assert_eq!(tags_of(&p), pairs(&[("owner", "someone")]));

    // Importing it as the error says: the plan then updates it in place.
    rig.engine.session(&plain, "import").unwrap().import(&oidc_urn(), &existing).await.unwrap();
    let plan = rig.plan(&plain).await;
    let step = plan.step(&oidc_urn()).unwrap();
    assert_eq!(step.action, Action::Update, "{}", render(&plan));
    assert_eq!(step.changes, vec!["client_ids", "tags"]);
    rig.up(&plain).await;
    let p = get(iam, &existing).await.unwrap();
    assert_eq!(p.client_id_list(), ["sts.amazonaws.com"]);
    assert!(p.tags().is_empty());
    assert_eq!(p.thumbprint_list(), [THUMB_B], "thumbprints the program leaves out are left alone");
    rig.assert_no_changes(&plain).await;
    rig.destroy(&plain).await;
    assert!(get(iam, &existing).await.is_none());

    // With `.adopt_existing()`, create takes it over and makes it match the program.
    let existing = precreate().await;
    let adopting = Spec {
        client_ids: Some(vec!["sts.amazonaws.com", "my-app"]),
        thumbprints: Some(vec![THUMB_A]),
        tags: vec![("team", "platform")],
        adopt: true,
        ..Spec::url("https://oidc.example.com/id/ADOPT")
    };
    let report = rig.up(&oidc_program(&b, &adopting)).await;
    assert_eq!(report.outputs["arn"].as_str(), Some(existing.as_str()), "the existing provider is the resource");
    assert_eq!(report.outputs["issuer"].as_str(), Some("oidc.example.com/id/ADOPT"));
    let p = get(iam, &existing).await.unwrap();
    assert_eq!(sorted(p.client_id_list()), ["my-app", "sts.amazonaws.com"]);
    assert_eq!(p.thumbprint_list(), [THUMB_A.to_ascii_lowercase()]);
    assert_eq!(tags_of(&p), pairs(&[("team", "platform")]));
    assert_eq!(iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list().len(), 1, "no second provider");
    rig.assert_no_changes(&oidc_program(&b, &adopting)).await;
    // An update keeps the ARN IAM gave it (with its slash), so dependents see no change.
    let retag = Spec { tags: vec![("team", "infra")], ..adopting.clone() };
    let plan = rig.plan(&oidc_program(&b, &retag)).await;
    assert_eq!(plan.step(&oidc_urn()).unwrap().action, Action::Update, "{}", render(&plan));
    assert_eq!(plan.outputs["arn"].as_str(), Some(existing.as_str()));
    // Dropping the flag later changes nothing.
    rig.assert_no_changes(&oidc_program(&b, &Spec { adopt: false, ..adopting.clone() })).await;
    rig.destroy(&oidc_program(&b, &adopting)).await;
    assert!(get(iam, &existing).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_inputs_are_checked_at_plan_time() {
    let rig = MotoRig::start().await;
    let bad = rig.program(|stack, b| {
        OpenIdConnectProvider::new(stack, "eks", b, "http://oidc.example.com/id/1").thumbprints(["AB:CD"]).client_ids([""]);
    });
    let err = rig.try_plan(&bad).await.unwrap_err().to_string();
    assert_mentions(&err, &["url", "must begin with `https://`", "thumbprints", "40 hex digits", "client_ids", "1 to 255"]);
    assert!(rig.iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list().is_empty(), "nothing was created");
}

/// moto 5.2.1 does not implement `AddClientIDToOpenIDConnectProvider` and
/// `RemoveClientIDFromOpenIDConnectProvider` (it answers HTTP 500). This loopback proxy passes every
/// request through to moto unchanged, and carries out those two actions itself with calls moto has
/// (get the provider, then delete it and create it again under the same URL, which keeps its ARN),
/// so Strake's in-place client-id changes run end to end. Everything else is moto's own answer.
mod shim {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};

    use strake_aws::AwsProvider;
    use strake_aws::policy::url_decode;
    use strake_tests::moto::account_b_at;
    use strake_tests::rig::MotoRig;

    /// Account B as `Moto::account_b`, through a new shim in front of `rig`'s moto; the rig's IAM
    /// client (account B, talking to moto directly) does the emulated calls.
    pub fn account_b(rig: &MotoRig) -> AwsProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the shim");
        let endpoint = format!("http://{}", listener.local_addr().expect("shim address"));
        let (upstream, iam) = (rig.moto.addr.clone(), rig.iam.clone());
        let rt = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (upstream, iam, rt) = (upstream.clone(), iam.clone(), rt.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &upstream, &iam, &rt);
                });
            }
        });
        account_b_at(endpoint)
    }

    fn read_request(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
        let (mut buf, mut chunk) = (Vec::new(), [0u8; 8192]);
        let split = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let len = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = buf[split + 4..].to_vec();
        while body.len() < len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Ok((head, body))
    }

    fn serve(mut client: TcpStream, upstream: &str, iam: &aws_sdk_iam::Client, rt: &tokio::runtime::Handle) -> std::io::Result<()> {
        let (head, body) = read_request(&mut client)?;
        let form = String::from_utf8_lossy(&body).into_owned();
        let param = |key: &str| form.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(url_decode));
        let action = param("Action").unwrap_or_default();
        let add = match action.as_str() {
            "AddClientIDToOpenIDConnectProvider" => Some(true),
            "RemoveClientIDFromOpenIDConnectProvider" => Some(false),
            _ => None,
        };
        if let Some(add) = add {
            let (arn, id) = (param("OpenIDConnectProviderArn").unwrap_or_default(), param("ClientID").unwrap_or_default());
            let (status, xml) = match rt.block_on(set_client_id(iam, &arn, &id, add)) {
                Ok(()) => (
                    "200 OK",
                    format!(
                        "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata><RequestId>shim</RequestId></ResponseMetadata></{action}Response>"
                    ),
                ),
                Err(()) => (
                    "404 Not Found",
                    format!(
                        "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>OpenIDConnect Provider not found for arn {arn}</Message></Error><RequestId>shim</RequestId></ErrorResponse>"
                    ),
                ),
            };
            let response = format!("HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}", xml.len());
            return client.write_all(response.as_bytes());
        }
        let mut up = TcpStream::connect(upstream)?;
        let head: String = head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).map(|l| format!("{l}\r\n")).collect();
        up.write_all(head.as_bytes())?;
        up.write_all(b"Connection: close\r\n\r\n")?;
        up.write_all(&body)?;
        let mut response = Vec::new();
        up.read_to_end(&mut response)?;
        client.write_all(&response)
    }

    async fn set_client_id(iam: &aws_sdk_iam::Client, arn: &str, id: &str, add: bool) -> Result<(), ()> {
        let p = iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await.map_err(drop)?;
        let mut ids = p.client_id_list().to_vec();
        if add && !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
        if !add {
            ids.retain(|i| i != id);
        }
        iam.delete_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await.map_err(drop)?;
        iam.create_open_id_connect_provider()
            .url(format!("https://{}", p.url().unwrap_or_default()))
            .set_client_id_list(Some(ids))
            .set_thumbprint_list(Some(p.thumbprint_list().to_vec()))
            .set_tags(Some(p.tags().to_vec()).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(drop)?;
        Ok(())
    }
}
