//! The moto test rig every AWS suite starts from: a moto server (its accounts A and B checked),
//! optionally a fault proxy in front of it, an engine with in-memory state and a recording
//! observer, and SDK clients that look at moto directly, for checking what Strake did.
//!
//! ```no_run
//! # async fn demo() {
//! use strake_tests::rig::MotoRig;
//! let rig = MotoRig::start().await;
//! let p = rig.program(|stack, b| drop(strake_aws::s3::Bucket::new(stack, "data", b, "my-bucket")));
//! rig.up(&p).await;
//! assert!(rig.s3.head_bucket().bucket("my-bucket").send().await.is_ok());
//! rig.assert_no_changes(&p).await;
//! # }
//! ```

use std::sync::Arc;

use aws_config::SdkConfig;
use strake::events::RecordingObserver;
use strake::plan::Action;
use strake::{ApplyReport, Engine, Error, Plan, PlanOptions, Program, ProviderRef, RefreshReport, Stack, Urn};
use strake_state::{RecordKind, Snapshot};

use crate::aws::{STACK, assert_identities, engine, program_b, s3_client};
use crate::check::{render, step_of};
use crate::cloud_view::{CloudView, assert_state_is_cloud};
use crate::fault_proxy::FaultProxy;
use crate::moto::Moto;

/// moto, an engine over it, and clients to look at moto with. The engine's failures panic with
/// the error (and the proxy's log, if there is a proxy) unless a `try_` method is used.
pub struct MotoRig {
    proxy: Option<FaultProxy>,
    /// The moto server (its recorder, `reset`, its accounts' providers).
    pub moto: Moto,
    /// Quick retries, in-memory state, [`MotoRig::observer`] watching.
    pub engine: Engine,
    /// Every event of [`MotoRig::engine`]; read it through [`crate::events::Observed`].
    pub observer: Arc<RecordingObserver>,
    /// Account A (moto's default account), straight to moto.
    pub sdk_a: SdkConfig,
    /// Account B (through the assumed role), straight to moto.
    pub sdk_b: SdkConfig,
    /// IAM in account B, straight to moto.
    pub iam: aws_sdk_iam::Client,
    /// S3 in account B (path-style), straight to moto.
    pub s3: aws_sdk_s3::Client,
}

impl MotoRig {
    /// Starts moto and checks that accounts A and B resolve as they should.
    pub async fn start() -> MotoRig {
        let moto = Moto::start();
        assert_identities(&moto).await;
        let observer = Arc::new(RecordingObserver::default());
        let engine = engine().with_observer(observer.clone());
        let (sdk_a, sdk_b) = (moto.account_a().sdk_config().await, moto.account_b().sdk_config().await);
        let (iam, s3) = (aws_sdk_iam::Client::new(&sdk_b), s3_client(&sdk_b));
        MotoRig { proxy: None, moto, engine, observer, sdk_a, sdk_b, iam, s3 }
    }

    /// [`MotoRig::start`], then a fault proxy in front of moto, its accounts checked too and its
    /// log cleared.
    pub async fn with_proxy() -> MotoRig {
        let mut rig = MotoRig::start().await;
        let proxy = FaultProxy::start(&rig.moto);
        proxy.assert_identities().await;
        proxy.clear_log();
        rig.proxy = Some(proxy);
        rig
    }

    /// The fault proxy (panics unless started [`MotoRig::with_proxy`]).
    pub fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().expect("the rig was started without a proxy")
    }

    /// Takes the fault proxy out of the rig (to drop it early).
    pub fn take_proxy(&mut self) -> FaultProxy {
        self.proxy.take().expect("the rig was started without a proxy")
    }

    /// A program with provider `account-b` straight to moto, declared by `f` with it.
    pub fn program(&self, f: impl FnOnce(&Stack, &ProviderRef)) -> Program {
        program_b(self.moto.account_b(), f)
    }

    /// A program with provider `account-b` through the fault proxy, declared by `f` with it.
    pub fn proxied_program(&self, f: impl FnOnce(&Stack, &ProviderRef)) -> Program {
        program_b(self.proxy().account_b(), f)
    }

    /// IAM in account A, straight to moto.
    pub fn iam_a(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_a)
    }

    /// S3 in account A (path-style), straight to moto.
    pub fn s3_a(&self) -> aws_sdk_s3::Client {
        s3_client(&self.sdk_a)
    }

    /// What moto holds in account B now (take it first as the baseline of a test).
    pub async fn cloud_b(&self) -> CloudView {
        CloudView::read(&self.sdk_b).await
    }

    /// Asserts that account B, less `baseline`, holds exactly what state records, and that no
    /// interrupted operation is left.
    pub async fn assert_state_is_cloud(&self, baseline: &CloudView, context: &str) {
        assert_state_is_cloud(&self.sdk_b, baseline, &self.state_or_empty(), context).await;
    }

    fn failed(&self, what: &str, e: &Error) -> ! {
        let log = self.proxy.as_ref().map(|p| format!("\nthe proxy's log:\n{}", p.log_text())).unwrap_or_default();
        panic!("{what} failed: {e}{log}")
    }

    /// Plans `p` (with refresh).
    pub async fn try_plan(&self, p: &Program) -> Result<Plan, Error> {
        self.engine.plan(p, &PlanOptions::default()).await
    }

    /// Plans `p`, which must succeed.
    pub async fn plan(&self, p: &Program) -> Plan {
        self.try_plan(p).await.unwrap_or_else(|e| self.failed("the plan", &e))
    }

    /// Plans `p` and asserts that it has no changes; returns the plan.
    pub async fn assert_no_changes(&self, p: &Program) -> Plan {
        let plan = self.plan(p).await;
        assert!(!plan.has_changes(), "the plan has changes:\n{}", render(&plan));
        plan
    }

    /// Plans and applies `p`.
    pub async fn try_up(&self, p: &Program) -> Result<ApplyReport, Error> {
        self.engine.up(p, &PlanOptions::default()).await
    }

    /// Plans and applies `p`, which must succeed.
    pub async fn up(&self, p: &Program) -> ApplyReport {
        self.try_up(p).await.unwrap_or_else(|e| self.failed("the apply", &e))
    }

    /// Destroys what `p`'s stack holds.
    pub async fn try_destroy(&self, p: &Program) -> Result<ApplyReport, Error> {
        self.engine.destroy(p).await
    }

    /// Destroys what `p`'s stack holds, which must succeed.
    pub async fn destroy(&self, p: &Program) -> ApplyReport {
        self.try_destroy(p).await.unwrap_or_else(|e| self.failed("the destroy", &e))
    }

    /// Plans `p`, which must show that the resource named `name` drifted: an update of exactly
    /// `changes`, with a note that it was changed outside Strake; then applies it (the repair).
    pub async fn repair_drift(&self, p: &Program, name: &str, changes: &[&str]) {
        let plan = self.plan(p).await;
        let step = step_of(&plan, name);
        assert_eq!((step.action, &step.changes), (Action::Update, &changes.iter().map(|c| c.to_string()).collect()), "{}", render(&plan));
        let note = format!("{} was changed outside Strake", step.urn);
        assert!(plan.notes.iter().any(|n| n.contains(&note)), "no note `{note}`: {:?}", plan.notes);
        self.up(p).await;
    }

    /// After the resource `urn` of `p` was deleted outside Strake: a refresh finds it gone (and only
    /// it), the plan creates it again, and so does the apply.
    pub async fn recreate_deleted(&self, p: &Program, urn: &Urn) {
        assert_eq!(self.refresh(p).await.gone, vec![urn.clone()], "what the refresh found gone");
        let plan = self.plan(p).await;
        let step = plan.step(urn).unwrap_or_else(|| panic!("no step for {urn}:\n{}", render(&plan)));
        assert_eq!(step.action, Action::Create, "{}", render(&plan));
        self.up(p).await;
    }

    /// Refreshes `p`'s state from moto, which must succeed.
    pub async fn refresh(&self, p: &Program) -> RefreshReport {
        self.engine.refresh(p).await.unwrap_or_else(|e| self.failed("the refresh", &e))
    }

    /// Forgets `urn` in state, then imports it again by `id`; the import's result.
    pub async fn reimport(&self, p: &Program, urn: &Urn, id: &str) -> Result<(), Error> {
        let mut session = self.engine.session(p, "import").unwrap_or_else(|e| self.failed("opening a session", &e));
        session.forget(urn.as_str()).unwrap_or_else(|e| self.failed("forgetting", &e));
        session.import(urn, id).await
    }

    /// The stack's state (panics if it was never written).
    pub fn state(&self) -> Snapshot {
        self.engine.store().load(STACK).expect("loading state").expect("the stack has state")
    }

    /// The stack's state, empty if it was never written.
    pub fn state_or_empty(&self) -> Snapshot {
        self.engine.store().load(STACK).expect("loading state").unwrap_or_else(|| Snapshot::empty(STACK))
    }

    /// `(resource name, id)` of the managed resources in state, sorted.
    pub fn in_state(&self) -> Vec<(String, String)> {
        let snapshot = self.state_or_empty();
        let mut out: Vec<(String, String)> = snapshot
            .resources
            .iter()
            .filter(|r| r.kind == RecordKind::Resource)
            .map(|r| (Urn::parse(&r.urn).expect("a URN").name().to_string(), r.id.clone()))
            .collect();
        out.sort();
        out
    }

    /// How many interrupted operations state records.
    pub fn pending(&self) -> usize {
        self.state_or_empty().pending.len()
    }
}
