//! Where a real cloud differs from a calm emulator: answers lost or cut short after the cloud
//! acted, outages right after a create went through, and storms of 5xx, 409 and lost answers over
//! a few hundred resources. Every scenario runs against moto through the fault proxy and is
//! judged by moto's own view: nothing orphaned (in the cloud, not in state), nothing lost,
//! nothing duplicated, no interrupted operation left over, and a second plan has nothing to do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strake::{Error, Program, ResourceHandle, StepError, Urn};
use strake_aws::AwsProvider;
use strake_aws::iam::{OpenIdConnectProvider, Policy, Role, RolePolicy, RolePolicyAttachment};
use strake_aws::s3::{Bucket, BucketVersioning, Object};
use strake_state::{PendingKind, RecordKind};
use strake_tests::aws::{allow as doc, allow_on as doc_on, program_b, trust_service as trust, urn};
use strake_tests::cloud_view::{CloudView, assert_state_is_cloud};
use strake_tests::events::Observed;
use strake_tests::fault_proxy::{Exchange, Fault, FaultProxy, Match, Rule, RuleId};
use strake_tests::rig::MotoRig;

const BUCKET: &str = "strake-faults-bucket";

/// A role (`faults-role`, trusting `service`), a managed policy (`faults-policy`), their
/// attachment and, if `with_bucket`, a bucket ([`BUCKET`]), all in account B.
fn small_program(b: AwsProvider, service: &str, with_bucket: bool) -> Program {
    program_b(b, |stack, b| {
        let role = Role::new(stack, "role", b, trust(service)).role_name("faults-role");
        let policy = Policy::new(stack, "policy", b, doc("s3:GetObject")).policy_name("faults-policy");
        RolePolicyAttachment::new(stack, "attachment", b, role.name(), policy.arn());
        if with_bucket {
            Bucket::new(stack, "bucket", b, BUCKET);
        }
    })
}

fn is_create_bucket(e: &Exchange) -> bool {
    e.service.as_deref() == Some("s3")
        && e.method == "PUT"
        && e.target.split('?').next().map(|p| p.trim_end_matches('/')) == Some(&format!("/{BUCKET}"))
}

/// One apply of [`small_program`] with `fault` injected once on each kind of create; it must
/// succeed, each object must exist once in moto, and state must equal moto's view.
async fn each_create_faulted_once(fault: Fault, context: &str) {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let baseline = rig.cloud_b().await;
    let rules: Vec<(&str, RuleId)> = vec![
        ("CreateRole", proxy.inject(Rule::new(Match::action("CreateRole"), fault.clone()).times(1))),
        ("CreatePolicy", proxy.inject(Rule::new(Match::action("CreatePolicy"), fault.clone()).times(1))),
        ("AttachRolePolicy", proxy.inject(Rule::new(Match::action("AttachRolePolicy"), fault.clone()).times(1))),
        ("CreateBucket", proxy.inject(Rule::new(Match::s3("PUT", &format!("/{BUCKET}")), fault).times(1))),
    ];
    let p = small_program(proxy.account_b(), "ec2.amazonaws.com", true);
    rig.try_up(&p).await.unwrap_or_else(|e| panic!("{context}: the apply failed: {e}\n{}", proxy.log_text()));

    for (what, id) in &rules {
        assert_eq!(proxy.fired(*id), 1, "{context}: the fault on {what} fired once:\n{}", proxy.log_text());
    }
    for action in ["CreateRole", "CreatePolicy", "AttachRolePolicy"] {
        assert!(proxy.forwarded(action) >= 1, "{context}: {action} reached moto:\n{}", proxy.log_text());
    }
    assert!(proxy.log().iter().any(|e| is_create_bucket(e) && e.forwarded), "{context}: CreateBucket reached moto:\n{}", proxy.log_text());

    // moto holds each object exactly once.
    let cloud = rig.cloud_b().await.without(&baseline);
    assert_eq!(cloud.roles.keys().collect::<Vec<_>>(), vec!["faults-role"], "{context}: {cloud:?}");
    assert_eq!(cloud.policies.iter().map(|a| a.rsplit('/').next().unwrap_or(a)).collect::<Vec<_>>(), vec!["faults-policy"], "{context}: {cloud:?}");
    assert_eq!(cloud.attachments.len(), 1, "{context}: {cloud:?}");
    assert_eq!(cloud.buckets.iter().collect::<Vec<_>>(), vec![BUCKET], "{context}: {cloud:?}");
    assert_eq!(cloud.len(), 4, "{context}: {cloud:?}");

    // The role and the policy met `EntityAlreadyExists` on the retry of their create: the
    // objects their first attempts made were read back and adopted.
    let notes = rig.observer.notes();
    for name in ["role", "policy"] {
        let urn = urn(if name == "role" { "aws:iam:Role" } else { "aws:iam:Policy" }, name);
        assert!(
            notes.iter().any(|n| n.contains(urn.as_str()) && n.contains("adopted")),
            "{context}: the {name} was adopted after its lost answer: {notes:?}"
        );
    }

    let snapshot = rig.state_or_empty();
    assert_eq!(snapshot.resources.iter().filter(|r| r.kind == RecordKind::Resource).count(), 4, "{context}: {:?}", snapshot.resources);
    rig.assert_state_is_cloud(&baseline, context).await;
    rig.assert_no_changes(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_on_every_kind_of_create_are_adopted_not_duplicated() {
    each_create_faulted_once(Fault::drop_after_forwarding(), "answers dropped after forwarding").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_cut_short_after_the_cloud_acted_are_adopted() {
    each_create_faulted_once(Fault::truncate_after_forwarding(), "answers cut short after forwarding").await;
}

/// The kinds of create [`each_create_faulted_once`] leaves out: an OIDC provider (found by its
/// URL), an inline role policy, a bucket setting and an object (puts, which a retry repeats).
/// Each answer is lost once after moto acted; each object must exist once and state must equal
/// moto's view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_on_the_other_kinds_of_create_are_adopted_not_duplicated() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let baseline = rig.cloud_b().await;
    let lost = |m: Match| proxy.inject(Rule::new(m, Fault::drop_after_forwarding()).times(1));
    let rules = [
        ("CreateOpenIDConnectProvider", lost(Match::action("CreateOpenIDConnectProvider"))),
        ("PutRolePolicy", lost(Match::action("PutRolePolicy"))),
        ("PutBucketVersioning", lost(Match::s3("PUT", &format!("/{BUCKET}")).and(Match::when("?versioning", |r| r.target.contains("?versioning"))))),
        ("PutObject", lost(Match::s3("PUT", &format!("/{BUCKET}/hello.txt")))),
    ];
    let p = program_b(proxy.account_b(), |stack, b| {
        OpenIdConnectProvider::new(stack, "issuer", b, "https://oidc.eks.us-east-1.amazonaws.com/id/FAULTS");
        let role = Role::new(stack, "role", b, trust("ec2.amazonaws.com")).role_name("faults-role");
        RolePolicy::new(stack, "inline", b, role.name(), doc("s3:GetObject")).policy_name("reads");
        let bucket = Bucket::new(stack, "bucket", b, BUCKET).force_destroy(true);
        let versioning = BucketVersioning::new(stack, "versioning", b, bucket.name());
        Object::new(stack, "hello", b, bucket.name(), "hello.txt").content("hello").depends_on(&versioning);
    });
    rig.try_up(&p).await.unwrap_or_else(|e| panic!("the apply failed: {e}\n{}", proxy.log_text()));
    for (what, id) in &rules {
        assert_eq!(proxy.fired(*id), 1, "the fault on {what} fired once:\n{}", proxy.log_text());
    }

    // The provider's retried create met `EntityAlreadyExists` for the provider its first attempt
    // made, which was read back and adopted.
    let issuer = urn("aws:iam:OpenIdConnectProvider", "issuer");
    let notes = rig.observer.notes();
    assert!(notes.iter().any(|n| n.contains(issuer.as_str()) && n.contains("adopted")), "the provider was adopted: {notes:?}");

    // moto holds each object once.
    let cloud = rig.cloud_b().await.without(&baseline);
    assert_eq!(cloud.oidc_providers.len(), 1, "{cloud:?}");
    assert_eq!(cloud.inline_policies.iter().collect::<Vec<_>>(), ["faults-role:reads"], "{cloud:?}");
    assert_eq!((cloud.roles.len(), cloud.buckets.len(), cloud.len()), (1, 1, 4), "{cloud:?}");
    let versioning = rig.s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    // A put repeated after its lost answer may leave two versions of one object (as it would
    // in S3): the object is the newest, which state records.
    let objects = rig.s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(objects.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["hello.txt"]);
    let newest = rig.s3.head_object().bucket(BUCKET).key("hello.txt").send().await.unwrap();
    let recorded = rig.state().resources.iter().find(|r| r.type_token == "aws:s3:Object").map(|r| r.outputs.to_value()).unwrap();
    assert_eq!(recorded.get("version_id").and_then(|v| v.as_str()), newest.version_id(), "state records the newest version");

    rig.assert_state_is_cloud(&baseline, "lost answers on the other creates").await;
    assert_eq!(rig.state().resources.iter().filter(|r| r.kind == RecordKind::Resource).count(), 6);
    rig.assert_no_changes(&p).await;
}

/// Rules making the first request `first` matches reach moto with its answer lost, and every
/// later request `outage` matches answer 503 until the faults are cleared. The first rule's
/// matcher starts the outage as it takes its request, so the order is exact whatever else is in
/// flight (and no request count has to be guessed).
fn lost_then_outage(proxy: &FaultProxy, first: Match, outage: Match) -> (RuleId, RuleId) {
    let started = Arc::new(AtomicBool::new(false));
    let start = started.clone();
    let label = format!("the first of {first:?} (starts the outage)");
    let lost = proxy.inject(
        Rule::new(
            Match::when(label, move |r| {
                let hit = first.matches(r);
                if hit {
                    start.store(true, Ordering::SeqCst);
                }
                hit
            }),
            Fault::drop_after_forwarding(),
        )
        .times(1),
    );
    let label = format!("{outage:?} during the outage");
    let unavailable =
        proxy.inject(Rule::new(Match::when(label, move |r| started.load(Ordering::SeqCst) && outage.matches(r)), Fault::service_unavailable()));
    (lost, unavailable)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sustained_outage_after_a_forwarded_create_keeps_the_pending_record_then_adopts() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let baseline = rig.cloud_b().await;
    // The first CreateRole reaches moto and its answer is lost; from the next request on,
    // everything answers 503.
    let (lost, unavailable) = lost_then_outage(proxy, Match::action("CreateRole"), Match::any());
    let p = rig.proxied_program(|stack, b| {
        Role::new(stack, "role", b, trust("ec2.amazonaws.com")).role_name("outage-role");
    });

    let err = rig.try_up(&p).await.expect_err("the create's outcome cannot be known during the outage");
    assert_eq!(proxy.fired(lost), 1, "{}", proxy.log_text());
    assert!(proxy.fired(unavailable) >= 2, "the retries and the read back met the outage:\n{}", proxy.log_text());
    let urn = urn("aws:iam:Role", "role");
    let errors = match &err {
        Error::StepsFailed(errors) => errors,
        other => panic!("expected a failed step, got {other:?}"),
    };
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!((&errors[0].urn, errors[0].operation.as_str()), (&urn, "create"), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("may have succeeded"), "the error says the create may have succeeded: {shown}");
    assert!(shown.contains("the next run looks it up"), "the error says the next run looks it up: {shown}");

    // moto has the role (asked directly), state has no record of it but one pending create.
    let in_moto = rig.iam.get_role().role_name("outage-role").send().await;
    assert!(in_moto.is_ok(), "the forwarded CreateRole made the role: {in_moto:?}");
    let snapshot = rig.state_or_empty();
    assert!(
        !snapshot.resources.iter().any(|r| r.kind == RecordKind::Resource && r.urn == urn.as_str()),
        "no record of the role yet: {:?}",
        snapshot.resources
    );
    assert_eq!(snapshot.pending.len(), 1, "{:?}", snapshot.pending);
    assert_eq!((snapshot.pending[0].urn.as_str(), snapshot.pending[0].kind), (urn.as_str(), PendingKind::Create), "{:?}", snapshot.pending);

    // The outage ends: the next run looks the role up and adopts it.
    proxy.clear_faults();
    let report = rig.up(&p).await;
    assert_eq!(report.changed, 0, "adopted, not created again");
    assert_eq!(proxy.forwarded("CreateRole"), 1, "one CreateRole reached moto in the whole test:\n{}", proxy.log_text());
    assert!(rig.observer.notes().iter().any(|n| n.contains(urn.as_str()) && n.contains("adopted")), "{:?}", rig.observer.notes());
    let cloud = rig.cloud_b().await.without(&baseline);
    assert_eq!(cloud.roles.keys().collect::<Vec<_>>(), vec!["outage-role"]);
    rig.assert_state_is_cloud(&baseline, "after the outage").await;
    rig.assert_no_changes(&p).await;
}

// ---------------------------------------------------------------------------------------------
// Storms over a few hundred resources.

/// Roles, policies and attachments in the storm stack (each).
const STORM: usize = 100;
/// How many roles the second phase renames.
const RENAMED: usize = 50;

/// `STORM` roles, `STORM` managed policies and one attachment of policy `i` to role `i`; the
/// first `renamed` roles have new IAM names (replaced, with their attachments).
fn storm_program(b: AwsProvider, renamed: usize) -> Program {
    program_b(b, |stack, b| {
        for i in 0..STORM {
            let name = if i < renamed { format!("storm-role-{i:03}-v2") } else { format!("storm-role-{i:03}") };
            let role = Role::new(stack, &format!("role-{i:03}"), b, trust("ec2.amazonaws.com")).role_name(name);
            let policy = Policy::new(stack, &format!("policy-{i:03}"), b, doc_on("s3:GetObject", &format!("arn:aws:s3:::storm-data-{i:03}/*")))
                .policy_name(format!("storm-policy-{i:03}"));
            RolePolicyAttachment::new(stack, &format!("attachment-{i:03}"), b, role.name(), policy.arn());
        }
    })
}

/// The storm: faults on a seeded fraction of the mutating requests (some after moto acted on
/// them), throttling on a fraction of the reads.
fn start_storm(proxy: &FaultProxy, seed: u64) {
    let mutating = [
        (Fault::service_unavailable(), 0.1),
        (Fault::internal_error(), 0.05),
        (Fault::query_error(409, "ConcurrentModification", "Rate of change exceeded"), 0.05),
        (Fault::drop_after_forwarding(), 0.05),
        (Fault::truncate_after_forwarding(), 0.05),
    ];
    for (i, (fault, p)) in mutating.into_iter().enumerate() {
        proxy.inject(Rule::new(Match::mutating(), fault).rate(p, seed.wrapping_add(i as u64)));
    }
    proxy.inject(Rule::new(!Match::mutating(), Fault::throttling()).rate(0.1, seed.wrapping_add(100)));
}

/// Error codes (and message fragments) a storm may leave on a failed step that another run
/// under the same storm may get past: the service's refusals, not verdicts on the program.
const RETRYABLE: &[&str] = &[
    "ServiceUnavailable",
    "InternalFailure",
    "ConcurrentModification",
    "Throttling",
    "HTTP 5",
    "connector error",
    "cut short",
    "may have succeeded",
];

fn retryable_looking(e: &StepError) -> bool {
    let text = format!("{} {}", e.code.as_deref().unwrap_or_default(), e.message);
    RETRYABLE.iter().any(|r| text.contains(r))
}

/// Runs `up` (or `destroy`) once.
async fn run_once(rig: &MotoRig, p: &Program, destroy: bool) -> Result<(), Error> {
    if destroy { rig.try_destroy(p).await.map(drop) } else { rig.try_up(p).await.map(drop) }
}

/// Runs `up` (or `destroy`) under the storm: once, and a second time only if the first failed
/// with nothing but retryable-looking step errors (said on stderr). The number of runs.
async fn storm_run(rig: &MotoRig, p: &Program, destroy: bool, phase: &str) -> usize {
    for run in 1..=2 {
        let err = match run_once(rig, p, destroy).await {
            Ok(()) => return run,
            Err(e) => e,
        };
        let retryable = matches!(&err, Error::StepsFailed(errors) if errors.iter().all(retryable_looking));
        assert!(run == 1 && retryable, "{phase}: run {run} failed (retryable-looking: {retryable}): {err}");
        eprintln!("{phase}: run 1 failed with retryable-looking errors only, running once more under the storm: {err}");
    }
    unreachable!("the loop returns or panics")
}

/// The phase's line: requests, injected, forwarded, runs, orphans, lost and duplicates (objects
/// beyond one per declared resource). Asserts there are none, and that state equals the cloud.
async fn storm_check(rig: &MotoRig, baseline: &CloudView, phase: &str, runs: usize, declared: [usize; 3]) {
    let log = rig.proxy().log();
    let injected = log.iter().filter(|e| e.is_injected()).count();
    let forwarded = log.iter().filter(|e| e.forwarded).count();
    // Answers lost or cut short after moto acted, and how many of them were to creates (an
    // attachment's create is AttachRolePolicy).
    let after_acting = |e: &&Exchange| e.forwarded && e.is_injected();
    let lost_answers = log.iter().filter(after_acting).count();
    let lost_creates =
        log.iter().filter(after_acting).filter(|e| e.action.as_deref().is_some_and(|a| a.starts_with("Create") || a == "AttachRolePolicy")).count();
    let adopted = rig.observer.notes().iter().filter(|n| n.contains("adopted")).count();
    let snapshot = rig.state_or_empty();
    let cloud = rig.cloud_b().await.without(baseline);
    let state = CloudView::of_state(&snapshot);
    let orphans = cloud.without(&state).len();
    let lost = state.without(&cloud).len();
    let ids: Vec<&str> = snapshot.resources.iter().filter(|r| r.kind == RecordKind::Resource).map(|r| r.id.as_str()).collect();
    let distinct: BTreeSet<&str> = ids.iter().copied().collect();
    let [roles, policies, attachments] = declared;
    let duplicates = (ids.len() - distinct.len())
        + cloud.roles.len().saturating_sub(roles)
        + cloud.policies.len().saturating_sub(policies)
        + cloud.attachments.len().saturating_sub(attachments);
    eprintln!(
        "{phase}: {} requests, {injected} injected ({lost_answers} answers lost or cut short after moto acted, {lost_creates} of them \
         creates; {adopted} objects adopted), {forwarded} forwarded, converged in {runs} {}, {orphans} orphans, {lost} lost, \
         {duplicates} duplicates",
        log.len(),
        if runs == 1 { "run" } else { "runs" }
    );
    assert!(injected > 0, "{phase}: the storm injected faults");
    assert_eq!(
        (orphans, lost, duplicates),
        (0, 0, 0),
        "{phase}: orphans, lost, duplicates\n  in the cloud, not in state: {:?}\n  in state, not in the cloud: {:?}",
        cloud.without(&state),
        state.without(&cloud)
    );
    let held = [cloud.roles.len(), cloud.policies.len(), cloud.attachments.len()];
    assert_eq!(held, declared, "{phase}: roles, policies and attachments in moto, against those declared");
    rig.assert_state_is_cloud(baseline, phase).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_of_5xx_409_and_lost_answers_over_a_few_hundred_resources_converge() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let baseline = rig.cloud_b().await;
    let first = storm_program(proxy.account_b(), 0);

    rig.observer.clear_events();
    start_storm(proxy, 1);
    let runs = storm_run(&rig, &first, false, "storm apply").await;
    storm_check(&rig, &baseline, "storm apply", runs, [STORM; 3]).await;
    let names: BTreeSet<String> = rig.cloud_b().await.without(&baseline).roles.into_keys().collect();
    assert!(names.contains("storm-role-000") && !names.contains("storm-role-000-v2"), "{names:?}");
    proxy.clear_faults();
    rig.assert_no_changes(&first).await;

    // Rename half the roles: each is replaced (create first, the new name is free), and so is
    // its attachment; the old attachments go before the old roles.
    proxy.clear_log();
    let renamed = storm_program(proxy.account_b(), RENAMED);
    rig.observer.clear_events();
    start_storm(proxy, 2);
    let runs = storm_run(&rig, &renamed, false, "storm rename").await;
    storm_check(&rig, &baseline, "storm rename", runs, [STORM; 3]).await;
    let names: BTreeSet<String> = rig.cloud_b().await.without(&baseline).roles.into_keys().collect();
    let expected: BTreeSet<String> =
        (0..STORM).map(|i| if i < RENAMED { format!("storm-role-{i:03}-v2") } else { format!("storm-role-{i:03}") }).collect();
    assert_eq!(names, expected, "the cloud holds the renamed roles and only them");
    proxy.clear_faults();
    rig.assert_no_changes(&renamed).await;

    proxy.clear_log();
    rig.observer.clear_events();
    start_storm(proxy, 3);
    let runs = storm_run(&rig, &renamed, true, "storm destroy").await;
    storm_check(&rig, &baseline, "storm destroy", runs, [0; 3]).await;
    assert!(rig.cloud_b().await.without(&baseline).is_empty(), "moto holds nothing the stack made");
    let snapshot = rig.state_or_empty();
    assert!(!snapshot.resources.iter().any(|r| r.kind == RecordKind::Resource), "no resources left in state: {:?}", snapshot.resources);
}

// ---------------------------------------------------------------------------------------------
// Updates and deletes whose answers are lost.

/// Runs `up` (or `destroy`) until it succeeds, at most twice (the faults are one-shot, so a
/// second run meets none); the number of runs.
async fn converge(rig: &MotoRig, p: &Program, destroy: bool, context: &str) -> usize {
    for run in 1..=2 {
        match run_once(rig, p, destroy).await {
            Ok(()) => return run,
            Err(e) if run == 1 => eprintln!("{context}: run 1 failed, running once more: {e}"),
            Err(e) => panic!("{context}: run 2 failed too: {e}\n{}", rig.proxy().log_text()),
        }
    }
    unreachable!("the loop returns or panics")
}

/// The trust policy of `role` as moto holds it.
async fn trust_in_moto(rig: &MotoRig, role: &str) -> String {
    let out = rig.iam.get_role().role_name(role).send().await.expect("GetRole on moto");
    out.role().and_then(|r| r.assume_role_policy_document()).map(strake_aws::policy::url_decode).unwrap_or_default()
}

/// After a run that failed with `kind` of the role uncertain: either that operation is still
/// recorded as pending (the next run reads the role back), or the run itself already read the
/// role back and settled it, and then state equals the cloud. Which of the two, for the report.
async fn uncertain_role_operation(rig: &MotoRig, baseline: &CloudView, kind: PendingKind, context: &str) -> &'static str {
    let snapshot = rig.state_or_empty();
    match snapshot.pending.as_slice() {
        [] => {
            assert_state_is_cloud(&rig.sdk_b, baseline, &snapshot, context).await;
            "settled by the failed run itself"
        }
        [op] => {
            let name = Urn::parse(&op.urn).expect("a URN").name().to_string();
            assert_eq!((name.as_str(), op.kind), ("role", kind), "{context}: the interrupted operation: {op:?}");
            "left pending for the next run"
        }
        more => panic!("{context}: one interrupted operation at most: {more:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_deletes_and_updates_converge() {
    let rig = MotoRig::with_proxy().await;
    let proxy = rig.proxy();
    let baseline = rig.cloud_b().await;
    let ec2 = small_program(proxy.account_b(), "ec2.amazonaws.com", false);
    rig.up(&ec2).await;
    rig.assert_state_is_cloud(&baseline, "before the faults").await;

    // The trust changes; UpdateAssumeRolePolicy acts but its answer is lost (the call is retried).
    let context = "lost UpdateAssumeRolePolicy answer";
    let update = proxy.inject(Rule::new(Match::action("UpdateAssumeRolePolicy"), Fault::drop_after_forwarding()).times(1));
    let lambda = small_program(proxy.account_b(), "lambda.amazonaws.com", false);
    let runs = converge(&rig, &lambda, false, context).await;
    eprintln!("{context}: converged in {runs} run(s)");
    assert_eq!(proxy.fired(update), 1, "{}", proxy.log_text());
    assert!(proxy.forwarded("UpdateAssumeRolePolicy") >= 1, "{}", proxy.log_text());
    let trust = trust_in_moto(&rig, "faults-role").await;
    assert!(trust.contains("lambda.amazonaws.com") && !trust.contains("ec2.amazonaws.com"), "{context}: the new trust is in moto: {trust}");
    rig.assert_state_is_cloud(&baseline, context).await;
    rig.assert_no_changes(&lambda).await;

    // Again, but UpdateAssumeRolePolicy then answers 503 for good: the update's outcome is
    // unknown, its pending record stays; once the outage ends the next run records what is there.
    let context = "lost UpdateAssumeRolePolicy answer, then an outage";
    proxy.clear_faults();
    let (lost, unavailable) = lost_then_outage(proxy, Match::action("UpdateAssumeRolePolicy"), Match::action("UpdateAssumeRolePolicy"));
    let ecs = small_program(proxy.account_b(), "ecs-tasks.amazonaws.com", false);
    let err = rig.try_up(&ecs).await.expect_err("the update cannot succeed during the outage");
    assert_eq!((proxy.fired(lost), proxy.fired(unavailable) >= 1), (1, true), "{}", proxy.log_text());
    let trust = trust_in_moto(&rig, "faults-role").await;
    assert!(trust.contains("ecs-tasks.amazonaws.com"), "{context}: the forwarded update acted: {trust}");
    let settled = uncertain_role_operation(&rig, &baseline, PendingKind::Update, context).await;
    eprintln!("{context}: run 1 failed ({}), the update {settled}", err.to_string().lines().last().unwrap_or_default().trim());
    proxy.clear_faults();
    rig.try_up(&ecs).await.unwrap_or_else(|e| panic!("{context}: run 2: {e}\n{}", proxy.log_text()));
    eprintln!("{context}: converged in 2 runs");
    rig.assert_state_is_cloud(&baseline, context).await;
    rig.assert_no_changes(&ecs).await;

    // Destroy: DetachRolePolicy, DeleteRole and DeletePolicy act but their answers are lost.
    let context = "lost DetachRolePolicy, DeleteRole and DeletePolicy answers";
    let rules: Vec<(&str, RuleId)> = ["DetachRolePolicy", "DeleteRole", "DeletePolicy"]
        .into_iter()
        .map(|a| (a, proxy.inject(Rule::new(Match::action(a), Fault::drop_after_forwarding()).times(1))))
        .collect();
    let runs = converge(&rig, &ecs, true, context).await;
    eprintln!("{context}: converged in {runs} run(s)");
    for (action, id) in &rules {
        assert_eq!(proxy.fired(*id), 1, "{context}: the fault on {action} fired:\n{}", proxy.log_text());
        assert!(proxy.forwarded(action) >= 1, "{context}: {action} reached moto:\n{}", proxy.log_text());
    }
    assert!(rig.cloud_b().await.without(&baseline).is_empty(), "{context}: moto holds nothing the stack made");
    rig.assert_state_is_cloud(&baseline, context).await;

    // Once more from the start, and DeleteRole then answers 503 for good: the delete stays
    // pending; once the outage ends the next destroy finds the role gone and forgets it.
    let context = "lost DeleteRole answer, then an outage";
    proxy.clear_faults();
    rig.up(&ecs).await;
    let (lost, unavailable) = lost_then_outage(proxy, Match::action("DeleteRole"), Match::action("DeleteRole"));
    let err = rig.try_destroy(&ecs).await.expect_err("the delete cannot succeed during the outage");
    assert_eq!((proxy.fired(lost), proxy.fired(unavailable) >= 1), (1, true), "{}", proxy.log_text());
    assert!(rig.cloud_b().await.without(&baseline).is_empty(), "{context}: everything is gone from moto already");
    let settled = uncertain_role_operation(&rig, &baseline, PendingKind::Delete, context).await;
    eprintln!("{context}: run 1 failed ({}), the delete {settled}", err.to_string().lines().last().unwrap_or_default().trim());
    proxy.clear_faults();
    rig.try_destroy(&ecs).await.unwrap_or_else(|e| panic!("{context}: run 2: {e}\n{}", proxy.log_text()));
    eprintln!("{context}: converged in 2 runs");
    assert!(rig.cloud_b().await.without(&baseline).is_empty(), "{context}: moto holds nothing the stack made");
    let snapshot = rig.state_or_empty();
    rig.assert_state_is_cloud(&baseline, context).await;
    assert!(!snapshot.resources.iter().any(|r| r.kind == RecordKind::Resource), "{context}: {:?}", snapshot.resources);
}
