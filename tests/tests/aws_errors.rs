//! AWS errors on the wire, through a fault-injecting proxy in front of moto: throttling, 5xx,
//! dropped connections and latency are retried until the apply succeeds; permanent errors fail
//! the step with the service's code and message; IAM propagation is waited for, within bounds.

use std::time::{Duration, Instant};

use strake::events::Outcome;
use strake::{Action, Error, Program, ResourceHandle, RetryPolicy, StepError, Timeouts, Urn};
use strake_aws::PolicyDocument;
use strake_aws::iam::Role;
use strake_tests::aws::{trust_aws, urn};
use strake_tests::check::{actions, steps_failed};
use strake_tests::events::Observed;
use strake_tests::fault_proxy::{Fault, Match, Rule};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B};
use strake_tests::rig::MotoRig;

fn trust_a() -> PolicyDocument {
    trust_aws(format!("arn:aws:iam::{ACCOUNT_A}:root"))
}

fn role_urn(name: &str) -> Urn {
    urn("aws:iam:Role", name)
}

/// One role `reader` (IAM name `reader`) in account B, through the proxy.
fn one_role(rig: &MotoRig) -> Program {
    rig.proxied_program(|stack, b| {
        let role = Role::new(stack, "reader", b, trust_a()).role_name("reader");
        stack.export("arn", role.arn());
    })
}

/// IAM role names in account B, read straight from moto.
async fn role_names_in_b(rig: &MotoRig) -> Vec<String> {
    let out = rig.iam.list_roles().send().await.expect("ListRoles");
    let mut names: Vec<String> = out.roles().iter().map(|r| r.role_name().to_string()).collect();
    names.sort();
    names
}

fn count_action(recorded: &[strake_tests::moto::Recorded], action: &str) -> usize {
    recorded.iter().filter(|r| r.action().as_deref() == Some(action)).count()
}

/// The rendered error carries everything a user needs, and never only the SDK's generic text.
fn assert_rendered(err: &Error, e: &StepError, code: &str, service_message: &str) {
    let shown = err.to_string();
    for part in [e.urn.as_str(), e.operation.as_str(), code, service_message] {
        assert!(shown.contains(part), "`{part}` missing from the rendered error:\n{shown}");
    }
    assert!(!shown.to_lowercase().contains("service error"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_on_create_role_are_retried_and_the_role_is_created_once() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let throttled = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::throttling()).times(2));
    let internal = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::internal_error()).times(1));
    let bare = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::bare_status(503)).times(1));
    let dropped = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::disconnect()).times(1));
    rig.moto.start_recording();

    let report = rig.up(&one_role(&rig)).await;
    assert_eq!(report.outputs["arn"].as_str(), Some("arn:aws:iam::222222222222:role/reader"));

    // On the wire: five CreateRole attempts, four answered by the proxy, one reached moto.
    assert_eq!([proxy.fired(throttled), proxy.fired(internal), proxy.fired(bare), proxy.fired(dropped)], [2, 1, 1, 1]);
    assert_eq!(proxy.injected("CreateRole"), 5, "{}", proxy.log_text());
    assert_eq!(proxy.forwarded("CreateRole"), 1, "{}", proxy.log_text());
    assert_eq!(count_action(&rig.moto.recorded(), "CreateRole"), 1, "moto saw exactly one CreateRole");

    // The role exists exactly once, and state has it.
    assert_eq!(role_names_in_b(&rig).await.iter().filter(|n| *n == "reader").count(), 1);
    assert_eq!(rig.in_state(), vec![("reader".to_string(), "reader".to_string())]);
    assert_eq!(rig.pending(), 0);

    // The observer saw each retry, with the service's reason.
    let retries = rig.observer.retries();
    let urn = role_urn("reader");
    assert_eq!(retries.len(), 5, "{retries:?}");
    assert!(retries.iter().all(|(u, op, _, _)| *u == urn && op == "create"), "{retries:?}");
    assert_eq!(retries.iter().map(|r| r.2).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    for (_, _, _, reason) in &retries[..2] {
        assert_eq!(reason, "Throttling: iam:CreateRole: Rate exceeded");
    }
    assert!(retries[2].3.starts_with("InternalFailure: iam:CreateRole: We encountered an internal error"), "{:?}", retries[2]);
    assert!(
        retries[3].3.starts_with("HTTP 503: iam:CreateRole: the service answered HTTP 503 without an AWS error code or message ("),
        "{:?}",
        retries[3]
    );
    assert!(retries[4].3.starts_with("iam:CreateRole: connector error"), "{:?}", retries[4]);
    assert!(retries[4].3.contains("connection closed before message completed"), "{:?}", retries[4]);
    for (_, _, _, reason) in &retries {
        assert!(!reason.contains("service error") && !reason.contains("raw: Response"), "no SDK debug dumps: {reason}");
    }
    assert_eq!(rig.observer.finished(), vec![("reader".to_string(), Outcome::Succeeded)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_get_role_during_plan_time_refresh_is_retried() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let p = one_role(&rig);
    rig.up(&p).await;

    proxy.clear_log();
    let throttled = proxy.inject(Rule::new(Match::action("GetRole"), Fault::throttling()).times(2));
    let unavailable = proxy.inject(Rule::new(Match::action("GetRole"), Fault::service_unavailable()).times(1));
    rig.moto.start_recording();
    rig.assert_no_changes(&p).await;
    assert_eq!((proxy.fired(throttled), proxy.fired(unavailable)), (2, 1));
    assert_eq!(proxy.injected("GetRole"), 3);
    assert_eq!(proxy.forwarded("GetRole"), 1, "{}", proxy.log_text());

    // Once more within `up`: the refresh is retried and nothing changes.
    proxy.clear_faults();
    proxy.inject(Rule::new(Match::action("GetRole"), Fault::throttling()).times(2));
    let report = rig.up(&p).await;
    assert_eq!(report.changed, 0);
    let recorded = rig.moto.recorded();
    assert!(recorded.iter().all(|r| !r.is_mutating()), "{recorded:?}");
    assert_eq!(rig.in_state(), vec![("reader".to_string(), "reader".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_third_iam_request_failing_still_converges_through_create_refresh_and_destroy() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let every_third = proxy.inject(Rule::new(Match::service("iam"), Fault::service_unavailable()).every(3));
    let p = rig.proxied_program(|stack, b| {
        let first = Role::new(stack, "first", b, trust_a()).role_name("first");
        // Trusts `first`: created after it.
        let trust_first = trust_aws(first.arn());
        Role::new(stack, "second", b, trust_first).role_name("second");
        Role::new(stack, "third", b, trust_a()).role_name("third").description("independent");
    });
    rig.up(&p).await;
    assert!(proxy.fired(every_third) >= 1, "{}", proxy.log_text());
    assert_eq!(role_names_in_b(&rig).await, vec!["first", "second", "third"]);
    assert_eq!(proxy.forwarded("CreateRole"), 3, "each role created once:\n{}", proxy.log_text());
    assert!(proxy.log().iter().filter(|e| e.service.as_deref() == Some("sts")).all(|e| !e.is_injected()));

    rig.assert_no_changes(&p).await;

    rig.destroy(&p).await;
    assert_eq!(role_names_in_b(&rig).await, Vec::<String>::new());
    assert_eq!(rig.in_state(), vec![]);
    let retries = rig.observer.retries();
    assert!(!retries.is_empty() && retries.iter().all(|r| r.3.starts_with("ServiceUnavailable: iam:")), "{retries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_latency_is_tolerated() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    proxy.inject(Rule::new(Match::any(), Fault::latency(Duration::from_millis(150))));
    proxy.inject(Rule::new(Match::action("CreateRole"), Fault::latency(Duration::from_millis(1500))).times(1));

    let (account, _) = proxy.account_b().caller_identity().await.expect("identity through a slow proxy");
    assert_eq!(account, ACCOUNT_B);
    let started = Instant::now();
    rig.up(&one_role(&rig)).await;
    assert!(started.elapsed() >= Duration::from_millis(1650), "the latency was added: {:?}", started.elapsed());
    assert!(rig.observer.retries().is_empty(), "slow is not failed: {:?}", rig.observer.retries());
    let create = proxy.log().into_iter().find(|e| e.action.as_deref() == Some("CreateRole")).expect("a CreateRole");
    assert_eq!((create.delay, create.forwarded, create.status), (Duration::from_millis(1650), true, Some(200)));
    assert_eq!(role_names_in_b(&rig).await, vec!["reader"]);
    rig.assert_no_changes(&one_role(&rig)).await;
}

/// A create slower than its time limit: the call is abandoned but reaches moto anyway, as a slow
/// cloud would carry it out. The pending operation stays recorded; the next run reads the role
/// back and adopts it instead of creating it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_abandoned_after_its_timeout_is_adopted_by_the_next_run() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    proxy.inject(Rule::new(Match::action("CreateRole"), Fault::latency(Duration::from_secs(2))).times(1));
    let p = rig.proxied_program(|stack, b| {
        Role::new(stack, "slow", b, trust_a())
            .role_name("slow")
            .timeouts(Timeouts { create: Some(Duration::from_millis(500)), ..Default::default() });
    });
    let err = rig.try_up(&p).await.unwrap_err();
    let e = &steps_failed(&err)[0];
    assert_eq!((e.urn.clone(), e.operation.as_str()), (role_urn("slow"), "create"));
    assert!(e.message.contains("timed out"), "{err}");
    assert_eq!(rig.pending(), 1, "the outcome is unknown, so the create stays recorded as pending");

    // The proxy forwards the request once its latency is over.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.forwarded("CreateRole") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(role_names_in_b(&rig).await, vec!["slow"]);

    rig.observer.clear_events();
    let report = rig.up(&p).await;
    assert_eq!(report.changed, 0, "adopted, not created again");
    assert_eq!(proxy.log().iter().filter(|e| e.action.as_deref() == Some("CreateRole")).count(), 1, "{}", proxy.log_text());
    assert_eq!(rig.in_state(), vec![("slow".to_string(), "slow".to_string())]);
    assert_eq!(rig.pending(), 0);
    assert!(rig.observer.notes().iter().any(|n| n.contains("adopted")), "{:?}", rig.observer.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_fails_the_step_with_code_message_urn_and_operation_and_skips_dependents() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let message = "User: arn:aws:sts::222222222222:assumed-role/strake-deployer/strake-tests is not authorized to perform: iam:CreateRole";
    let denied = proxy.inject(Rule::new(
        Match::action("CreateRole").and(Match::when("RoleName=denied", |r| r.param("RoleName").as_deref() == Some("denied"))),
        Fault::access_denied(message),
    ));
    let p = rig.proxied_program(|stack, b| {
        let denied = Role::new(stack, "denied", b, trust_a()).role_name("denied");
        let trust_denied = trust_aws(denied.arn());
        Role::new(stack, "dependent", b, trust_denied).role_name("dependent");
        Role::new(stack, "independent", b, trust_a()).role_name("independent");
    });

    let err = rig.try_up(&p).await.unwrap_err();
    let errors = steps_failed(&err);
    assert_eq!(errors.len(), 1, "{err}");
    let e = &errors[0];
    assert_eq!(e.urn, role_urn("denied"));
    assert_eq!(e.operation, "create");
    assert_eq!(e.code.as_deref(), Some("AccessDenied"));
    assert!(e.message.contains(message), "{e:?}");
    assert_rendered(&err, e, "AccessDenied", message);
    assert_eq!(proxy.fired(denied), 1, "a permanent error is not retried");
    assert!(rig.observer.retries().is_empty(), "{:?}", rig.observer.retries());

    // Nothing half-applied: the dependent was skipped, the independent role is recorded.
    assert_eq!(proxy.forwarded("CreateRole"), 1, "{}", proxy.log_text());
    assert_eq!(role_names_in_b(&rig).await, vec!["independent"]);
    assert_eq!(rig.in_state(), vec![("independent".to_string(), "independent".to_string())]);
    assert_eq!(rig.pending(), 0);
    let mut finished = rig.observer.finished();
    finished.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        finished,
        vec![("denied".into(), Outcome::Failed), ("dependent".into(), Outcome::Skipped), ("independent".into(), Outcome::Succeeded)]
    );

    // Without the fault, a re-apply converges.
    proxy.clear_faults();
    let plan = rig.plan(&p).await;
    assert_eq!(actions(&plan), vec![("denied".into(), Action::Create), ("dependent".into(), Action::Create), ("independent".into(), Action::NoOp)]);
    rig.up(&p).await;
    assert_eq!(role_names_in_b(&rig).await, vec!["denied", "dependent", "independent"]);
    assert_eq!(rig.in_state().len(), 3);
    rig.assert_no_changes(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_outside_strake_fails_with_entity_already_exists_from_moto() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let iam = &rig.iam;
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_A}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    iam.create_role().role_name("reader").assume_role_policy_document(&doc).send().await.expect("creating the role outside Strake");

    let err = rig.try_up(&one_role(&rig)).await.unwrap_err();
    let errors = steps_failed(&err);
    assert_eq!(errors.len(), 1, "{err}");
    let e = &errors[0];
    assert_eq!((e.urn.clone(), e.operation.as_str(), e.code.as_deref()), (role_urn("reader"), "create", Some("EntityAlreadyExists")));
    assert!(e.message.contains("iam:CreateRole") && e.message.contains("reader"), "{e:?}");
    assert_rendered(&err, e, "EntityAlreadyExists", "already exists");
    assert_eq!(proxy.forwarded("CreateRole"), 1, "not retried:\n{}", proxy.log_text());
    assert!(rig.in_state().is_empty(), "the role belongs to someone else: not recorded");
    assert_eq!(rig.pending(), 0);

    // Once the other role is gone, a re-apply converges.
    iam.delete_role().role_name("reader").send().await.unwrap();
    rig.up(&one_role(&rig)).await;
    assert_eq!(rig.in_state(), vec![("reader".to_string(), "reader".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_propagation_errors_are_waited_for_then_succeed() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let propagation = proxy.inject(
        Rule::new(
            Match::action("CreateRole"),
            Fault::query_error(400, "MalformedPolicyDocument", "Invalid principal in policy: \"AWS\":\"arn:aws:iam::123456789012:role/new\""),
        )
        .times(2),
    );
    rig.up(&one_role(&rig)).await;
    assert_eq!(proxy.fired(propagation), 2);
    assert_eq!(proxy.forwarded("CreateRole"), 1);
    let retries = rig.observer.retries();
    assert_eq!(retries.len(), 2, "{retries:?}");
    for (urn, op, _, reason) in &retries {
        assert_eq!((urn, op.as_str(), reason.as_str()), (&role_urn("reader"), "create", "waiting for IAM propagation"));
    }
    assert_eq!(role_names_in_b(&rig).await, vec!["reader"]);
    assert_eq!(rig.in_state().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propagation_is_waited_for_only_within_the_window_and_other_malformed_policies_fail_at_once() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();

    // A syntax error is final: one attempt.
    let syntax = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::query_error(400, "MalformedPolicyDocument", "Syntax errors in policy.")));
    let err = rig.try_up(&one_role(&rig)).await.unwrap_err();
    let e = &steps_failed(&err)[0];
    assert_eq!(e.code.as_deref(), Some("MalformedPolicyDocument"));
    assert_rendered(&err, e, "MalformedPolicyDocument", "Syntax errors in policy.");
    assert_eq!(proxy.fired(syntax), 1);
    assert!(rig.observer.retries().is_empty());

    // A principal that never propagates: waited for until the window closes, then reported.
    proxy.clear_faults();
    rig.observer.clear_events();
    let message = "Invalid principal in policy: \"AWS\":\"arn:aws:iam::123456789012:role/never\"";
    proxy.inject(Rule::new(Match::action("CreateRole"), Fault::query_error(400, "MalformedPolicyDocument", message)));
    let window = RetryPolicy::fast().consistency_window;
    let started = Instant::now();
    let err = rig.try_up(&one_role(&rig)).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed <= window + Duration::from_secs(3), "bounded by the window: {elapsed:?}");
    let e = &steps_failed(&err)[0];
    assert_eq!((e.operation.as_str(), e.code.as_deref()), ("create", Some("MalformedPolicyDocument")));
    assert_rendered(&err, e, "MalformedPolicyDocument", "Invalid principal in policy");
    let retries = rig.observer.retries();
    assert!(retries.len() >= 3, "{retries:?}");
    assert!(retries.iter().all(|r| r.3 == "waiting for IAM propagation"));
    assert_eq!(proxy.forwarded("CreateRole"), 0);
    assert!(role_names_in_b(&rig).await.is_empty());
    assert_eq!(rig.pending(), 0);
}

/// CreateRole reached IAM and created the role, but its answer was lost (a 500 after the fact).
/// The retry then meets `EntityAlreadyExists` for the role it created itself: the engine reads the
/// role back by name and adopts it instead of orphaning it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_adopted_not_orphaned() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    proxy.inject(Rule::new(Match::action("CreateRole"), Fault::internal_error().after_forwarding()).times(1));
    let result = rig.try_up(&one_role(&rig)).await;
    assert_eq!(role_names_in_b(&rig).await, vec!["reader"]);
    if result.is_err() {
        // At the latest, the next run must find and adopt it.
        proxy.clear_faults();
        rig.up(&one_role(&rig)).await;
    }
    assert_eq!(rig.in_state(), vec![("reader".to_string(), "reader".to_string())]);
    assert_eq!(role_names_in_b(&rig).await, vec!["reader"]);
}

/// The proxy itself with S3's REST protocol (path-style, streaming bodies, HEAD): bodies and
/// lengths come through intact, and an injected `SlowDown` reaches the SDK as S3 would send it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_carries_s3_traffic_and_injects_slow_down() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let sdk = proxy.account_a().sdk_config().await;
    // Without retries, so the injected answer reaches the caller as it was made.
    let config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).retry_config(aws_config::retry::RetryConfig::disabled());
    let s3 = aws_sdk_s3::Client::from_conf(config.build());
    s3.create_bucket().bucket("proxied").send().await.expect("CreateBucket through the proxy");
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_object()
        .bucket("proxied")
        .key("big")
        .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()))
        .send()
        .await
        .expect("PutObject through the proxy");
    let head = s3.head_object().bucket("proxied").key("big").send().await.expect("HeadObject");
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let got = s3.get_object().bucket("proxied").key("big").send().await.expect("GetObject").body.collect().await.unwrap().into_bytes();
    assert!(got.as_ref() == body.as_slice(), "the object came back intact ({} bytes)", got.len());

    let slow = proxy.inject(Rule::new(Match::s3("PUT", "/proxied/"), Fault::s3_slow_down()).times(1));
    let err = s3.put_object().bucket("proxied").key("k").body(b"x".to_vec().into()).send().await.expect_err("SlowDown");
    let raw = err.raw_response().map(|r| r.status().as_u16());
    let err = err.into_service_error();
    assert_eq!((aws_sdk_s3::error::ProvideErrorMetadata::code(&err), raw), (Some("SlowDown"), Some(503)));
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::message(&err), Some("Please reduce your request rate."));
    assert_eq!(proxy.fired(slow), 1);
    s3.put_object().bucket("proxied").key("k").body(b"x".to_vec().into()).send().await.expect("the next PutObject goes through");
    let s3_exchanges: Vec<_> = proxy.log().into_iter().filter(|e| e.service.as_deref() == Some("s3")).collect();
    assert_eq!(s3_exchanges.len(), 6, "{}", proxy.log_text());
}

/// Provider configuration (sts:GetCallerIdentity, and AssumeRole behind it) is retried like any
/// other call, so one throttled identity check does not fail the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_identity_check_while_configuring_the_provider_is_retried() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    proxy.inject(Rule::new(Match::action("GetCallerIdentity"), Fault::throttling()).times(1));
    proxy.inject(Rule::new(Match::action("AssumeRole"), Fault::throttling()).times(1));
    rig.up(&one_role(&rig)).await;
}

/// Retries of plan-time refresh reads are reported to observers like apply's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_time_refresh_retries_are_reported() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    rig.up(&one_role(&rig)).await;
    rig.observer.clear_events();
    proxy.inject(Rule::new(Match::action("GetRole"), Fault::throttling()).times(2));
    rig.plan(&one_role(&rig)).await;
    let retries = rig.observer.retries();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries.iter().all(|r| r.0 == role_urn("reader") && r.1 == "read" && r.3 == "Throttling: iam:GetRole: Rate exceeded"), "{retries:?}");
}
