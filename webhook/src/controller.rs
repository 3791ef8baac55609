//! The KafkaPolicy controller: for every policy it server-side-applies one Istio `WasmPlugin`
//! (field manager [`FIELD_MANAGER`], owner reference to the policy so that deleting the policy
//! deletes the plugin), and reports `status` (observedGeneration, `Ready`, `Invalid` and
//! `Overlapping` conditions) and Events on the policy.
//!
//! `Overlapping=True` (and a Warning event) says that another KafkaPolicy selects some of the
//! same pods on a common port: each policy is its own filter, so a request must pass both. A
//! change to one policy reconciles the others of its namespace, so that theirs follows.
//!
//! An invalid policy never reaches a WasmPlugin: the controller reports it (`Invalid=True`,
//! a Warning event naming every field) and leaves the WasmPlugin of the last valid generation,
//! if any, as it is — a typo never opens or closes a broker.
//!
//! [`reconcile`] and [`error_policy`] are plain functions of a [`Context`], tested against
//! kube's `tower-test` mock API server; [`run`] wires them into a `kube::runtime::Controller`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

pub mod leader;

use crate::crd::render::{wasm_plugin_name, MANAGED_BY};
use crate::crd::validate::{overlap_message, overlapping, Error as PolicyError};
use crate::crd::{wasm_plugin, Condition, FilterImage, KafkaPolicy, KafkaPolicyStatus};

/// The one field manager of everything the controller writes.
pub const FIELD_MANAGER: &str = "meshka-controller";
/// How often a healthy policy is reconciled again (repairs hand edits of its WasmPlugin).
pub const RESYNC: Duration = Duration::from_secs(600);
/// Retry delay after a failed reconciliation.
pub const RETRY: Duration = Duration::from_secs(15);

/// What can go wrong while reconciling. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("Kubernetes API call failed while {what}: {source}; check the controller's RBAC (deploy/helm/meshka/templates/rbac.yaml) and that Istio's WasmPlugin CRD is installed")]
    Kube {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The policy object lacks a namespace (a cluster-scoped copy cannot exist).
    #[error("KafkaPolicy {name} has no namespace: KafkaPolicy is namespaced; re-create it in a namespace")]
    NoNamespace {
        /// The policy's name.
        name: String,
    },
    /// The controller's filter image settings are unusable.
    #[error("controller configuration: {0}")]
    Config(#[source] PolicyError),
    /// Another replica took the leader Lease over.
    #[error("lost the leader Lease {lease} to {holder:?}: stopping so that only one replica reconciles (the pod restarts as a candidate)")]
    LostLease {
        /// The Lease.
        lease: String,
        /// Its new holder.
        holder: String,
    },
    /// Leader election needs this replica's identity.
    #[error("leader election needs an identity: set POD_NAME (or --instance) to the pod's name")]
    NoIdentity,
}

fn kube_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Kube {
        what,
        source: Box::new(source),
    }
}

/// Everything [`reconcile`] needs.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Where sidecars fetch the filter.
    pub image: FilterImage,
    /// Publishes Events on policies.
    pub recorder: Recorder,
    /// The current time as RFC 3339 (replaceable in tests).
    pub clock: Box<dyn Fn() -> String + Send + Sync>,
    /// Every KafkaPolicy the controller watches (to find policies that select the same pods).
    pub policies: Store<KafkaPolicy>,
}

impl Context {
    /// A context that reports as `meshka-controller` (instance: the pod's name, when known).
    pub fn new(client: Client, image: FilterImage, instance: Option<String>) -> Context {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance,
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            image,
            policies: reflector::store().0,
            clock: Box::new(|| {
                k8s_openapi::jiff::Timestamp::now()
                    .round(k8s_openapi::jiff::Unit::Second)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            }),
        }
    }
}

/// Istio's WasmPlugin as a dynamic resource (no Rust type for it here).
pub fn wasm_plugin_resource() -> ApiResource {
    ApiResource {
        group: "extensions.istio.io".into(),
        version: "v1alpha1".into(),
        api_version: "extensions.istio.io/v1alpha1".into(),
        kind: "WasmPlugin".into(),
        plural: "wasmplugins".into(),
    }
}

fn condition(type_: &str, status: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        last_transition_time: None,
        observed_generation: None,
    }
}

/// The status to write: `conditions` with transition times kept where the status did not change.
fn next_status(
    previous: &KafkaPolicyStatus,
    generation: Option<i64>,
    conditions: Vec<Condition>,
    wasm_plugin: Option<String>,
    now: &str,
) -> KafkaPolicyStatus {
    let conditions = conditions
        .into_iter()
        .map(|mut c| {
            c.observed_generation = generation;
            c.last_transition_time = match previous.condition(&c.type_) {
                Some(old) if old.status == c.status => old.last_transition_time.clone(),
                _ => Some(now.to_owned()),
            };
            c
        })
        .collect();
    KafkaPolicyStatus {
        observed_generation: generation,
        conditions,
        wasm_plugin,
    }
}

async fn write_status(
    policy: &KafkaPolicy,
    ctx: &Context,
    ns: &str,
    status: &KafkaPolicyStatus,
) -> Result<(), Error> {
    let api: Api<KafkaPolicy> = Api::namespaced(ctx.client.clone(), ns);
    let body = json!({
        "apiVersion": crate::crd::API_VERSION,
        "kind": "KafkaPolicy",
        "status": status,
    });
    api.patch_status(
        &policy.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(kube_error(format!(
        "writing the status of KafkaPolicy {ns}/{}",
        policy.name_any()
    )))?;
    Ok(())
}

async fn publish(
    ctx: &Context,
    policy: &KafkaPolicy,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(truncate(note, 1024)),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &policy.object_ref(&())).await {
        // An Event is a courtesy: never fail a reconciliation for it.
        tracing::warn!(error = %e, policy = %policy.name_any(), "could not publish an Event; check RBAC for events.k8s.io events: create, patch");
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max.saturating_sub(3);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Brings one policy's WasmPlugin and status in line with its spec.
pub async fn reconcile(policy: Arc<KafkaPolicy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = policy.name_any();
    let ns = policy
        .namespace()
        .ok_or_else(|| Error::NoNamespace { name: name.clone() })?;
    if policy.metadata.deletion_timestamp.is_some() {
        // The garbage collector removes the WasmPlugin with its owner: nothing to write.
        return Ok(Action::await_change());
    }
    let generation = policy.metadata.generation;
    let previous = policy.status.clone().unwrap_or_default();
    let plugin_name = wasm_plugin_name(&name);
    let now = (ctx.clock)();

    let plugin = match wasm_plugin(&policy, &ctx.image) {
        Ok(plugin) => plugin,
        Err(e @ PolicyError::Image { .. }) => return Err(Error::Config(e)),
        Err(e) => {
            let message = e.to_string();
            let status = next_status(
                &previous,
                generation,
                vec![
                    condition("Ready", false, "InvalidPolicy", "not applied: the WasmPlugin of the last valid generation, if any, is left unchanged; fix the fields named in the Invalid condition".to_owned()),
                    condition("Invalid", true, "InvalidPolicy", message.clone()),
                ],
                previous.wasm_plugin.clone(),
                &now,
            );
            if status != previous {
                write_status(&policy, &ctx, &ns, &status).await?;
                publish(
                    &ctx,
                    &policy,
                    EventType::Warning,
                    "InvalidPolicy",
                    "Validate",
                    message,
                )
                .await;
            }
            return Ok(Action::await_change());
        }
    };

    let plugins: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ns, &wasm_plugin_resource());
    let applied = plugins
        .patch(
            &plugin_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&plugin),
        )
        .await;
    if let Err(e) = applied {
        let error = kube_error(format!("applying WasmPlugin {ns}/{plugin_name}"))(e);
        let status = next_status(
            &previous,
            generation,
            vec![
                condition("Ready", false, "ApplyFailed", error.to_string()),
                condition("Invalid", false, "Valid", "the policy is valid".into()),
            ],
            previous.wasm_plugin.clone(),
            &now,
        );
        if status != previous {
            write_status(&policy, &ctx, &ns, &status).await?;
            publish(
                &ctx,
                &policy,
                EventType::Warning,
                "ApplyFailed",
                "Apply",
                error.to_string(),
            )
            .await;
        }
        return Err(error);
    }

    let others = ctx.policies.state();
    let overlaps = overlapping(&policy, others.iter().map(|p| p.as_ref()));
    let overlap = if overlaps.is_empty() {
        condition(
            "Overlapping",
            false,
            "Disjoint",
            "no other KafkaPolicy selects these pods on these ports".into(),
        )
    } else {
        condition(
            "Overlapping",
            true,
            "SharedPods",
            overlap_message(&overlaps),
        )
    };
    let status = next_status(
        &previous,
        generation,
        vec![
            condition(
                "Ready",
                true,
                "Applied",
                format!(
                    "WasmPlugin {plugin_name} carries generation {}",
                    generation.unwrap_or_default()
                ),
            ),
            condition("Invalid", false, "Valid", "the policy is valid".into()),
            overlap,
        ],
        Some(plugin_name.clone()),
        &now,
    );
    if status != previous {
        write_status(&policy, &ctx, &ns, &status).await?;
        publish(
            &ctx,
            &policy,
            EventType::Normal,
            "Applied",
            "Apply",
            format!(
                "WasmPlugin {plugin_name} applied for generation {}",
                generation.unwrap_or_default()
            ),
        )
        .await;
        let was_overlapping = previous
            .condition("Overlapping")
            .is_some_and(|c| c.status == "True" && c.message == overlap_message(&overlaps));
        if !overlaps.is_empty() && !was_overlapping {
            publish(
                &ctx,
                &policy,
                EventType::Warning,
                "Overlapping",
                "Validate",
                overlap_message(&overlaps),
            )
            .await;
        }
    }
    Ok(Action::requeue(RESYNC))
}

/// The other policies of `changed`'s namespace, to reconcile when `changed` changes.
pub fn peers_of(
    changed: &KafkaPolicy,
    all: &[Arc<KafkaPolicy>],
) -> Vec<kube::runtime::reflector::ObjectRef<KafkaPolicy>> {
    all.iter()
        .filter(|p| p.metadata.namespace == changed.metadata.namespace)
        .filter(|p| p.metadata.name != changed.metadata.name)
        .map(|p| kube::runtime::reflector::ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// After a failed reconciliation: log it and retry later.
pub fn error_policy(policy: Arc<KafkaPolicy>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(policy = %policy.name_any(), namespace = ?policy.namespace(), error = %error, "reconciliation failed; retrying");
    Action::requeue(RETRY)
}

/// Serves `GET /healthz` (the process runs) and `GET /readyz` (the controller watches) over
/// plain HTTP for the kubelet's probes.
pub async fn serve_health(
    listener: tokio::net::TcpListener,
    ready: Arc<std::sync::atomic::AtomicBool>,
) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = Arc::clone(&ready);
                async move {
                    if ready.load(std::sync::atomic::Ordering::SeqCst) {
                        (StatusCode::OK, "ready")
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "not ready: checking the KafkaPolicy CRD",
                        )
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "health endpoint stopped");
    }
}

/// How [`run`] runs besides the image.
#[derive(Debug, Default)]
pub struct Options {
    /// This replica's name (Events, leader identity).
    pub instance: Option<String>,
    /// Where to serve the probes.
    pub health: Option<tokio::net::TcpListener>,
    /// `(namespace, name)` of the leader Lease; `None` runs without leader election (one
    /// replica only).
    pub leader_lease: Option<(String, String)>,
}

/// Lease duration of the leader election; the leader renews every third of it.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);

/// Runs the controller until SIGTERM/SIGINT. Fails early, saying what to install, when the
/// KafkaPolicy CRD is missing or the image settings are unusable. With a leader Lease, only
/// the replica that holds it reconciles; losing it ends `run` with [`Error::LostLease`].
pub async fn run(client: Client, image: FilterImage, options: Options) -> Result<(), Error> {
    image.validate().map_err(Error::Config)?;
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(listener) = options.health {
        tokio::spawn(serve_health(listener, Arc::clone(&ready)));
    }
    let policies: Api<KafkaPolicy> = Api::all(client.clone());
    policies
        .list(&ListParams::default().limit(1))
        .await
        .map_err(kube_error(
            "listing KafkaPolicies (install the CRD: kubectl apply -f deploy/crds/)",
        ))?;
    // Followers are ready too: readiness gates rollouts, not leadership.
    ready.store(true, std::sync::atomic::Ordering::SeqCst);
    let lock = match &options.leader_lease {
        Some((namespace, name)) => {
            let identity = options.instance.clone().ok_or(Error::NoIdentity)?;
            let lock =
                leader::LeaseLock::new(client.clone(), namespace, name, &identity, LEASE_DURATION);
            lock.acquire(LEASE_DURATION / 3).await?;
            Some(lock)
        }
        None => None,
    };
    let resource = wasm_plugin_resource();
    let plugins: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let controller = Controller::new(policies, watcher::Config::default());
    let store = controller.store();
    let peers = store.clone();
    let controller = controller
        .owns_with(
            plugins,
            resource,
            watcher::Config::default()
                .labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}")),
        )
        // A policy that appears, changes or goes away may start or stop overlapping the
        // others of its namespace: reconcile them too, so their Overlapping condition follows.
        .watches(
            Api::<KafkaPolicy>::all(client.clone()),
            watcher::Config::default(),
            move |changed: KafkaPolicy| peers_of(&changed, &peers.state()),
        );
    let mut context = Context::new(client, image, options.instance);
    context.policies = store;
    let ctx = Arc::new(context);
    let controller = controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => {
                    tracing::info!(policy = %object.name, namespace = ?object.namespace, "reconciled")
                }
                Err(e) => tracing::warn!(error = %e, "controller error"),
            }
        });
    match lock {
        Some(lock) => {
            tokio::select! {
                () = controller => Ok(()),
                lost = lock.keep(LEASE_DURATION / 3) => Err(lost),
            }
        }
        None => {
            controller.await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
