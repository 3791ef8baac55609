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
