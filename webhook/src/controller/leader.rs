//! Leader election on a `coordination.k8s.io/v1` Lease, so that several controller replicas
//! can run and exactly one reconciles: the holder renews the Lease every `renew` interval; the
//! others take it over once it has not been renewed for `lease_duration`. Writes use the Lease's
//! `resourceVersion`, so two candidates can never both win the same round.
//!
//! A leader that cannot renew stops leading (the caller exits, and the pod restarts as a
//! candidate): never two leaders for longer than one lease duration.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::Client;

use super::{kube_error, Error};

/// A candidate for one Lease.
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
}

/// Whether this candidate leads after a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Round {
    /// This candidate holds the Lease (acquired or renewed).
    Leading,
    /// Another candidate holds a fresh Lease (its identity).
    Following(String),
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl LeaseLock {
    /// A candidate `identity` (the pod's name) for Lease `namespace/name`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        lease_duration: Duration,
    ) -> LeaseLock {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration,
        }
    }

    fn seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// One round at time `now`: create, renew or take over the Lease, or follow its holder.
    pub async fn try_acquire_or_renew(&self, now: Timestamp) -> Result<Round, Error> {
        let what = || format!("updating Lease {} (leader election)", self.name);
        let Some(mut lease) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(kube_error(what()))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.seconds()),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Round::Leading),
                Err(e) if is_conflict(&e) => Ok(Round::Following(String::new())),
                Err(e) => Err(kube_error(what())(e)),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != self.identity && !holder.is_empty() {
            let duration = SignedDuration::from_secs(i64::from(
                spec.lease_duration_seconds.unwrap_or(self.seconds()),
            ));
            let fresh = spec
                .renew_time
                .as_ref()
                .is_some_and(|renewed| renewed.0 + duration > now);
            if fresh {
                return Ok(Round::Following(holder));
            }
        }
        if holder != self.identity {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(self.seconds());
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Round::Leading),
            Err(e) if is_conflict(&e) => Ok(Round::Following(holder)),
            Err(e) => Err(kube_error(what())(e)),
        }
    }

    /// Waits until this candidate leads (rounds every `retry`).
    pub async fn acquire(&self, retry: Duration) -> Result<(), Error> {
        let mut announced = String::new();
        loop {
            match self.try_acquire_or_renew(Timestamp::now()).await {
                Ok(Round::Leading) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "leading");
                    return Ok(());
                }
                Ok(Round::Following(holder)) => {
                    if holder != announced {
                        tracing::info!(lease = %self.name, leader = %holder, "following");
                        announced = holder;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "leader election round failed; retrying"),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Renews every `renew` while leading; returns (an error) once leadership is lost or could
    /// not be renewed within the lease duration.
    pub async fn keep(&self, renew: Duration) -> Error {
        let mut last_renewed = std::time::Instant::now();
        loop {
            tokio::time::sleep(renew).await;
            match self.try_acquire_or_renew(Timestamp::now()).await {
                Ok(Round::Leading) => last_renewed = std::time::Instant::now(),
                Ok(Round::Following(holder)) => {
                    return Error::LostLease {
                        lease: self.name.clone(),
                        holder,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew the Lease");
                    if last_renewed.elapsed() >= self.lease_duration {
                        return e;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, Request, Response};
    use kube::client::Body;
    use serde_json::{json, Value};

    fn lock() -> (
        LeaseLock,
        tower_test::mock::Handle<Request<Body>, Response<Body>>,
    ) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        (
            LeaseLock::new(
                client,
                "meshka-system",
                "meshka-controller",
                "pod-a",
                Duration::from_secs(15),
            ),
            handle,
        )
    }

    fn now() -> Timestamp {
        "2026-01-02T03:04:05Z".parse().unwrap()
    }

    fn lease(holder: &str, renewed: &str, transitions: i32) -> Value {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "meshka-controller", "namespace": "meshka-system", "resourceVersion": "7"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                "acquireTime": "2026-01-02T03:00:00.000000Z", "renewTime": renewed, "leaseTransitions": transitions}})
    }

    async fn answer(
        handle: &mut tower_test::mock::Handle<Request<Body>, Response<Body>>,
        method: Method,
        path: &str,
        status: u16,
        reply: Value,
    ) -> Value {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), method);
        assert_eq!(request.uri().to_string(), path);
        let body = request.into_body().collect_bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        send.send_response(
            Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                .unwrap(),
        );
        body
    }

    const PATH: &str =
        "/apis/coordination.k8s.io/v1/namespaces/meshka-system/leases/meshka-controller";
    const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}"#;

    #[tokio::test]
    async fn creates_a_missing_lease() {
        let (lock, mut handle) = lock();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                Method::GET,
                PATH,
                404,
                serde_json::from_str(NOT_FOUND).unwrap(),
            )
            .await;
            let body = answer(
                &mut handle,
                Method::POST,
                "/apis/coordination.k8s.io/v1/namespaces/meshka-system/leases?",
                201,
                lease("pod-a", "2026-01-02T03:04:05.000000Z", 0),
            )
            .await;
            assert_eq!(
                body,
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "meshka-controller"},
                    "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15, "acquireTime": "2026-01-02T03:04:05.000000Z",
                        "renewTime": "2026-01-02T03:04:05.000000Z", "leaseTransitions": 0}})
            );
        });
        assert_eq!(
            lock.try_acquire_or_renew(now()).await.unwrap(),
            Round::Leading
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn follows_a_fresh_lease_of_another_holder() {
        let (lock, mut handle) = lock();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                Method::GET,
                PATH,
                200,
                lease("pod-b", "2026-01-02T03:04:00.000000Z", 3),
            )
            .await;
        });
        assert_eq!(
            lock.try_acquire_or_renew(now()).await.unwrap(),
            Round::Following("pod-b".into())
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn takes_over_an_expired_lease_with_its_resource_version() {
        let (lock, mut handle) = lock();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                Method::GET,
                PATH,
                200,
                lease("pod-b", "2026-01-02T03:03:00.000000Z", 3),
            )
            .await;
            let body = answer(
                &mut handle,
                Method::PUT,
                &format!("{PATH}?"),
                200,
                lease("pod-a", "2026-01-02T03:04:05.000000Z", 4),
            )
            .await;
            assert_eq!(body["metadata"]["resourceVersion"], "7");
            assert_eq!(body["spec"]["holderIdentity"], "pod-a");
            assert_eq!(body["spec"]["leaseTransitions"], 4);
            assert_eq!(body["spec"]["acquireTime"], "2026-01-02T03:04:05.000000Z");
            assert_eq!(body["spec"]["renewTime"], "2026-01-02T03:04:05.000000Z");
        });
        assert_eq!(
            lock.try_acquire_or_renew(now()).await.unwrap(),
            Round::Leading
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn renews_its_own_lease_and_loses_a_race() {
        let (lock, mut handle) = lock();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                Method::GET,
                PATH,
                200,
                lease("pod-a", "2026-01-02T03:04:00.000000Z", 1),
            )
            .await;
            let body = answer(
                &mut handle,
                Method::PUT,
                &format!("{PATH}?"),
                200,
                lease("pod-a", "2026-01-02T03:04:05.000000Z", 1),
            )
            .await;
            assert_eq!(
                body["spec"]["leaseTransitions"], 1,
                "a renewal is no transition"
            );
            assert_eq!(body["spec"]["acquireTime"], "2026-01-02T03:00:00.000000Z");
            // Next round: someone else wrote first.
            answer(
                &mut handle,
                Method::GET,
                PATH,
                200,
                lease("pod-a", "2026-01-02T03:04:00.000000Z", 1),
            )
            .await;
            answer(&mut handle, Method::PUT, &format!("{PATH}?"), 409,
                json!({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,"message":"conflict"})).await;
        });
        assert_eq!(
            lock.try_acquire_or_renew(now()).await.unwrap(),
            Round::Leading
        );
        assert_eq!(
            lock.try_acquire_or_renew(now()).await.unwrap(),
            Round::Following("pod-a".into())
        );
        server.await.unwrap();
    }
}
