//! Writing the self-provisioned CA into the webhook's own MutatingWebhookConfiguration
//! (`clientConfig.caBundle`), so that the API server trusts the serving certificate.

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::ByteString;
use kube::api::PostParams;
use kube::Api;

use crate::Error;

/// Sets `caBundle` on the webhooks of `config` that call `service` (`name`, `namespace`), or on
/// all of them when `service` is `None`. Returns how many webhooks were changed (0 when they
/// already carried the bundle). Retries on write conflicts.
pub async fn inject_ca_bundle(
    client: kube::Client,
    config: &str,
    service: Option<(&str, &str)>,
    ca_pem: &str,
) -> Result<usize, Error> {
    let api: Api<MutatingWebhookConfiguration> = Api::all(client);
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut mwc = api.get(config).await.map_err(|e| Error::Kube {
            what: format!("reading MutatingWebhookConfiguration {config}"),
            source: Box::new(e),
        })?;
        let mut changed = 0;
        for hook in mwc.webhooks.iter_mut().flatten() {
            let ours = match (service, &hook.client_config.service) {
                (None, _) => true,
                (Some((name, namespace)), Some(s)) => s.name == name && s.namespace == namespace,
                (Some(_), None) => false,
            };
            if ours && hook.client_config.ca_bundle.as_ref() != Some(&bundle) {
                hook.client_config.ca_bundle = Some(bundle.clone());
                changed += 1;
            }
        }
        if changed == 0 {
            return Ok(0);
        }
        match api.replace(config, &PostParams::default(), &mwc).await {
            Ok(_) => return Ok(changed),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < 5 => continue,
            Err(e) => {
                return Err(Error::Kube {
                    what: format!("writing caBundle into MutatingWebhookConfiguration {config}"),
                    source: Box::new(e),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response, StatusCode};
    use kube::client::Body;
    use serde_json::json;
    use std::pin::pin;
    use tower_test::mock;

    fn mwc(bundle: Option<&str>) -> serde_json::Value {
        let ours = match bundle {
            Some(b) => {
                json!({"service": {"name": "meshka-webhook", "namespace": "meshka-system", "path": "/mutate"}, "caBundle": b})
            }
            None => {
                json!({"service": {"name": "meshka-webhook", "namespace": "meshka-system", "path": "/mutate"}})
            }
        };
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "0-meshka-kafka", "resourceVersion": "7"},
            "webhooks": [
                {"name": "kafka.meshka.io", "clientConfig": ours, "admissionReviewVersions": ["v1"], "sideEffects": "None"},
                {"name": "other.example.com", "clientConfig": {"url": "https://example.com/x"}, "admissionReviewVersions": ["v1"], "sideEffects": "None"}
            ]
        })
    }

    const PATH: &str =
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/0-meshka-kafka";

    #[tokio::test]
    async fn writes_the_bundle_into_our_webhook_only_and_retries_conflicts() {
        use base64::Engine as _;
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = pin!(handle);
            // First round: GET, then a PUT that conflicts.
            for round in 0..2 {
                let (req, send) = handle.next_request().await.expect("GET");
                assert_eq!(req.method(), http::Method::GET);
                assert_eq!(req.uri().path(), PATH);
                send.send_response(Response::new(Body::from(
                    serde_json::to_vec(&mwc(None)).unwrap(),
                )));
                let (req, send) = handle.next_request().await.expect("PUT");
                assert_eq!(req.method(), http::Method::PUT);
                assert_eq!(req.uri().path(), PATH);
                let body: serde_json::Value =
                    serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap())
                        .unwrap();
                let bundle = body["webhooks"][0]["clientConfig"]["caBundle"]
                    .as_str()
                    .unwrap();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(bundle)
                    .unwrap();
                assert_eq!(
                    decoded,
                    b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
                );
                assert!(
                    body["webhooks"][1]["clientConfig"]["caBundle"].is_null(),
                    "not ours"
                );
                assert_eq!(
                    body["metadata"]["resourceVersion"], "7",
                    "optimistic concurrency"
                );
                if round == 0 {
                    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "the object has been modified", "reason": "Conflict", "code": 409});
                    let mut resp = Response::new(Body::from(serde_json::to_vec(&status).unwrap()));
                    *resp.status_mut() = StatusCode::CONFLICT;
                    send.send_response(resp);
                } else {
                    send.send_response(Response::new(Body::from(
                        serde_json::to_vec(&body).unwrap(),
                    )));
                }
            }
        });
        let client = kube::Client::new(service, "default");
        let n = inject_ca_bundle(
            client,
            "0-meshka-kafka",
            Some(("meshka-webhook", "meshka-system")),
            "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
        )
        .await
        .unwrap();
        assert_eq!(n, 1);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_up_to_date_bundle_is_not_written_and_errors_say_what_to_check() {
        use base64::Engine as _;
        let ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(ca);
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = pin!(handle);
            let (_, send) = handle.next_request().await.expect("GET");
            send.send_response(Response::new(Body::from(
                serde_json::to_vec(&mwc(Some(&encoded))).unwrap(),
            )));
            let (_, send) = handle.next_request().await.expect("GET");
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "forbidden", "reason": "Forbidden", "code": 403});
            let mut resp = Response::new(Body::from(serde_json::to_vec(&status).unwrap()));
            *resp.status_mut() = StatusCode::FORBIDDEN;
            send.send_response(resp);
        });
        let client = kube::Client::new(service, "default");
        let n = inject_ca_bundle(
            client.clone(),
            "0-meshka-kafka",
            Some(("meshka-webhook", "meshka-system")),
            ca,
        )
        .await
        .unwrap();
        assert_eq!(n, 0);
        let err = inject_ca_bundle(client, "0-meshka-kafka", None, ca)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("RBAC"), "{err}");
        server.await.unwrap();
    }
}
