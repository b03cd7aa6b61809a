//! The fault proxy's own behaviour, against moto with the plain AWS SDK (retries off, so each
//! fault reaches the test as is): answers lost or cut short after moto acted, connections held
//! mid-request until released, faults on a seeded fraction of the requests, and the
//! mutating-request matcher.

use std::time::Duration;

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use strake_tests::fault_proxy::{Exchange, Fault, FaultProxy, Match, ProxiedRequest, Rule};
use strake_tests::rig::MotoRig;
use tokio::task::JoinHandle;

/// How long a test waits for an observable fact before failing.
const WAIT: Duration = Duration::from_secs(20);

const TRUST: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

/// An IAM client for account A through the proxy, with retries off.
async fn iam_via(proxy: &FaultProxy) -> aws_sdk_iam::Client {
    let sdk = proxy.account_a().sdk_config().await;
    aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(&sdk).retry_config(aws_config::retry::RetryConfig::disabled()).build())
}

type CreateRoleError = SdkError<aws_sdk_iam::operation::create_role::CreateRoleError>;
type CreateRoleResult = Result<aws_sdk_iam::operation::create_role::CreateRoleOutput, CreateRoleError>;

async fn create_role(iam: &aws_sdk_iam::Client, name: &str) -> CreateRoleResult {
    iam.create_role().role_name(name).assume_role_policy_document(TRUST).send().await
}

/// Whether moto has role `name` in account A.
async fn moto_has_role(rig: &MotoRig, name: &str) -> bool {
    match rig.iam_a().get_role().role_name(name).send().await {
        Ok(_) => true,
        Err(e) if e.code() == Some("NoSuchEntity") => false,
        Err(e) => panic!("GetRole {name} straight to moto: {e:?}"),
    }
}

/// The proxy's exchanges with `Action=<action>`.
fn exchanges(proxy: &FaultProxy, action: &str) -> Vec<Exchange> {
    proxy.log().into_iter().filter(|e| e.action.as_deref() == Some(action)).collect()
}

/// A rig with a proxy, and an IAM client through it: creates role `name` with `fault` on its
/// CreateRole, which must fail (`why` says why) after moto acted: the fault fired once, moto has the
/// role, and the proxy logged that one CreateRole. The rig, the client, the error and that exchange.
async fn create_role_after_moto_acted(fault: Fault, name: &str, why: &str) -> (MotoRig, aws_sdk_iam::Client, CreateRoleError, Exchange) {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let iam = iam_via(proxy).await;
    let rule = proxy.inject(Rule::new(Match::action("CreateRole"), fault).times(1));
    let err = create_role(&iam, name).await.expect_err(why);
    assert_eq!(proxy.fired(rule), 1);
    assert!(moto_has_role(&rig, name).await, "moto should have created the role\n{}", proxy.log_text());
    let log = exchanges(proxy, "CreateRole");
    assert_eq!(log.len(), 1, "{}", proxy.log_text());
    let exchange = log[0].clone();
    (rig, iam, err, exchange)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_dropped_after_forwarding_fails_the_call_but_moto_acted() {
    let (rig, iam, err, exchange) = create_role_after_moto_acted(Fault::drop_after_forwarding(), "dropped", "the answer was dropped").await;
    assert!(matches!(err, SdkError::DispatchFailure(_)), "expected a dispatch failure, got {err:?}");
    let log = rig.proxy().log_text();
    assert!(exchange.forwarded, "{log}");
    assert_eq!(exchange.status, None, "{log}");
    assert_eq!(exchange.fault.as_deref(), Some("answer dropped after forwarding"));

    // Exhausted: the next create goes through and meets the role moto already has.
    let again = create_role(&iam, "dropped").await.expect_err("the role exists");
    assert_eq!(again.code(), Some("EntityAlreadyExists"), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_short_after_forwarding_is_a_response_error_with_moto_s_status() {
    let (rig, _, err, exchange) = create_role_after_moto_acted(Fault::truncate_after_forwarding(), "truncated", "the answer was cut short").await;
    assert!(matches!(err, SdkError::ResponseError(_)), "expected a response error, got {err:?}");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(200), "{err:?}");
    assert!(exchange.forwarded && exchange.status == Some(200), "{}", rig.proxy().log_text());
    assert_eq!(exchange.fault.as_deref(), Some("answer cut short after forwarding"));
}

/// A rig with a proxy, an IAM client through it, and a CreateRole of `name` in flight that the
/// proxy holds (having forwarded it to moto first if `forward`) until released. The rig, the
/// client and the call.
async fn held_create_role(forward: bool, name: &'static str) -> (MotoRig, aws_sdk_iam::Client, JoinHandle<CreateRoleResult>) {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let iam = iam_via(proxy).await;
    let rule = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::hold(forward)).times(1));
    let call = tokio::spawn({
        let iam = iam.clone();
        async move { create_role(&iam, name).await }
    });
    assert!(proxy.wait_fired(rule, 1, WAIT), "the hold never took effect\n{}", proxy.log_text());
    (rig, iam, call)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_held_request_stays_in_flight_after_moto_acted_until_released() {
    let (rig, iam, call) = held_create_role(true, "held").await;
    let proxy = rig.proxy();
    assert!(moto_has_role(&rig, "held").await, "moto should have the role while the call is held\n{}", proxy.log_text());
    assert_eq!(proxy.held(), 1);
    let log = exchanges(proxy, "CreateRole");
    assert!(log.len() == 1 && log[0].forwarded && log[0].status.is_none(), "{}", proxy.log_text());
    assert_eq!(log[0].fault.as_deref(), Some("held (forwarded)"));

    // Other connections are served meanwhile (the held one is busy, so this takes another).
    iam.list_roles().send().await.expect("ListRoles while another request is held");
    assert!(!call.is_finished(), "the held call returned before the release");

    proxy.release_held();
    let result = tokio::time::timeout(WAIT, call).await.expect("the call ends once released").expect("the task");
    let err = result.expect_err("a released call has no answer");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "expected a dispatch failure, got {err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_held_without_forwarding_never_reaches_moto() {
    let (rig, _, call) = held_create_role(false, "never").await;
    let proxy = rig.proxy();
    assert!(!moto_has_role(&rig, "never").await, "moto got a request that was held unforwarded");
    assert!(!call.is_finished(), "the held call returned before the release");
    let log = exchanges(proxy, "CreateRole");
    assert!(log.len() == 1 && !log[0].forwarded && log[0].status.is_none(), "{}", proxy.log_text());
    assert_eq!(log[0].fault.as_deref(), Some("held"));

    proxy.release_held();
    let result = tokio::time::timeout(WAIT, call).await.expect("the call ends once released").expect("the task");
    assert!(result.is_err(), "a released call has no answer: {result:?}");
    assert!(!moto_has_role(&rig, "never").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_proxy_ends_held_requests_without_hanging() {
    let mut rig = MotoRig::with_proxy().await;
    let proxy = rig.take_proxy();
    let iam = iam_via(&proxy).await;
    let rule = proxy.inject(Rule::new(Match::action("CreateRole"), Fault::hold(true)));

    let call = tokio::spawn(async move { create_role(&iam, "orphan").await });
    assert!(proxy.wait_fired(rule, 1, WAIT), "the hold never took effect\n{}", proxy.log_text());
    tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || drop(proxy)))
        .await
        .expect("dropping the proxy hangs on a held connection")
        .expect("the drop");
    let result = tokio::time::timeout(WAIT, call).await.expect("the call ends once the proxy is gone").expect("the task");
    assert!(result.is_err(), "the held call got an answer: {result:?}");
}

/// Sends `n` ListRoles one after the other: whether each got the injected `ServiceUnavailable`.
async fn list_roles_outcomes(iam: &aws_sdk_iam::Client, n: usize) -> Vec<bool> {
    let mut outcomes = Vec::with_capacity(n);
    for i in 0..n {
        match iam.list_roles().send().await {
            Ok(_) => outcomes.push(false),
            Err(e) if e.code() == Some("ServiceUnavailable") => outcomes.push(true),
            Err(e) => panic!("ListRoles #{i}: unexpected {e:?}"),
        }
    }
    outcomes
}

/// A 503 on ListRoles at `probability` from `seed`; the outcomes of 200 requests, checked against
/// the rule's count.
async fn rated_outcomes(proxy: &FaultProxy, probability: f64, seed: u64) -> Vec<bool> {
    proxy.clear_faults();
    let rule = proxy.inject(Rule::new(Match::action("ListRoles"), Fault::service_unavailable()).rate(probability, seed));
    let outcomes = list_roles_outcomes(&iam_via(proxy).await, 200).await;
    assert_eq!(outcomes.iter().filter(|o| **o).count(), proxy.fired(rule), "{}", proxy.log_text());
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rated_rule_fires_on_a_seeded_fraction_and_the_same_seed_repeats_it() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let first = rated_outcomes(proxy, 0.3, 42).await;
    let injected = first.iter().filter(|o| **o).count();
    assert!((40..=80).contains(&injected), "0.3 of 200 gave {injected}");
    assert_eq!(proxy.injected("ListRoles"), injected);
    assert_eq!(proxy.forwarded("ListRoles"), 200 - injected);

    let other = FaultProxy::start(&rig.moto);
    assert_eq!(rated_outcomes(&other, 0.3, 42).await, first, "the same seed gave another sequence");
    assert_ne!(rated_outcomes(&other, 0.3, 43).await, first, "another seed gave the same sequence");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_combines_with_after_times_and_every() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let iam = iam_via(proxy).await;
    let unavailable = || Rule::new(Match::action("ListRoles"), Fault::service_unavailable());

    // Never at 0; the first 10 let through; at most 5.
    let never = proxy.inject(unavailable().rate(0.0, 1));
    assert!(!list_roles_outcomes(&iam, 10).await.contains(&true));
    assert_eq!(proxy.fired(never), 0);
    proxy.clear_faults();
    let limited = proxy.inject(unavailable().rate(0.5, 7).after(10).times(5));
    let outcomes = list_roles_outcomes(&iam, 60).await;
    assert!(!outcomes[..10].contains(&true), "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o).count(), 5, "{outcomes:?}");
    assert_eq!(proxy.fired(limited), 5);

    // Always at 1, but only where `every` allows.
    proxy.clear_faults();
    proxy.inject(unavailable().rate(1.0, 3).every(3));
    let every_third: Vec<bool> = (1..=9).map(|i| i % 3 == 0).collect();
    assert_eq!(list_roles_outcomes(&iam, 9).await, every_third);
}

/// A query-protocol (IAM) request as the SDK sends it.
fn query_request(action: &str) -> ProxiedRequest {
    ProxiedRequest {
        method: "POST".into(),
        target: "/".into(),
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
        body: format!("Action={action}&Version=2010-05-08").into_bytes(),
    }
}

/// A REST (S3) request without a body.
fn rest_request(method: &str, target: &str) -> ProxiedRequest {
    ProxiedRequest { method: method.into(), target: target.into(), headers: Vec::new(), body: Vec::new() }
}

#[test]
fn mutating_matches_changes_and_not_reads() {
    let mutating = Match::mutating();
    for action in ["CreateRole", "DeleteRole", "PutRolePolicy", "TagRole"] {
        assert!(mutating.matches(&query_request(action)), "{action} is mutating");
    }
    for action in ["GetRole", "ListRoles", "GetCallerIdentity", "AssumeRole", "DescribeRegions"] {
        assert!(!mutating.matches(&query_request(action)), "{action} is not mutating");
    }
    for (method, target) in [("PUT", "/bucket"), ("DELETE", "/bucket/key"), ("POST", "/bucket?delete")] {
        assert!(mutating.matches(&rest_request(method, target)), "{method} {target} is mutating");
    }
    for (method, target) in [("GET", "/bucket?tagging"), ("HEAD", "/bucket")] {
        assert!(!mutating.matches(&rest_request(method, target)), "{method} {target} is not mutating");
    }
    let reads = !Match::mutating();
    assert!(reads.matches(&query_request("GetRole")) && !reads.matches(&query_request("CreateRole")));
    assert_eq!(format!("{reads:?}"), "not (mutating requests)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_mutating_requests_spares_reads() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let iam = iam_via(proxy).await;
    let rule = proxy.inject(Rule::new(Match::mutating(), Fault::access_denied("no writes today")));

    iam.list_roles().send().await.expect("ListRoles is a read");
    let err = create_role(&iam, "denied").await.expect_err("CreateRole is a write");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    let get = iam.get_role().role_name("denied").send().await.expect_err("no such role");
    assert_eq!(get.code(), Some("NoSuchEntity"), "GetRole reached moto: {get:?}");
    assert_eq!(proxy.fired(rule), 1, "{}", proxy.log_text());
    assert!(!moto_has_role(&rig, "denied").await);
}
