//! The `meshka` binary: admission webhook (now), KafkaPolicy controller and command line (later).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use meshka_webhook::metrics::Metrics;
use meshka_webhook::server::tls::{self, CertFiles, CertStore};
use meshka_webhook::server::{self, webhook_config, AppState, Limits};
use meshka_webhook::Config;
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(
    name = "meshka",
    version,
    about = "Kafka as a first-class citizen of an Istio service mesh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the mutating admission webhook that makes Kafka pods mesh-ready.
    Webhook(WebhookArgs),
    /// Check KafkaPolicy manifests as the controller and the filter do (exit 0 valid, 1 invalid,
    /// 2 unreadable).
    Validate(meshka_webhook::cli::ValidateArgs),
    /// Print the decision of a policy for one request and the rule that made it (exit 0
    /// allowed, 3 denied, 1 invalid policy, 2 bad arguments).
    Explain(meshka_webhook::cli::ExplainArgs),
    /// Print the Istio WasmPlugin the controller would write for each policy (for GitOps).
    Render(meshka_webhook::cli::RenderArgs),
    /// Print the KafkaPolicy CustomResourceDefinition (YAML).
    Crd,
    /// Run the KafkaPolicy controller: one Istio WasmPlugin per policy, status and Events.
    Controller(ControllerArgs),
    /// Pack the filter's .wasm as an OCI image layout for `oci://` WasmPlugin URLs.
    Oci(OciArgs),
}

#[derive(Args, Debug)]
struct ControllerArgs {
    /// Where sidecars fetch the filter: oci://registry/repo:tag (or @sha256:…), https://….
    #[arg(long, env = "MESHKA_FILTER_URL")]
    filter_url: String,
    /// sha256 of the image manifest (oci://) or of the module (https://), as `make oci` prints.
    #[arg(long, env = "MESHKA_FILTER_SHA256")]
    filter_sha256: Option<String>,
    /// IfNotPresent or Always.
    #[arg(long, env = "MESHKA_FILTER_PULL_POLICY")]
    image_pull_policy: Option<String>,
    /// A Secret (in each policy's namespace) with registry credentials.
    #[arg(long, env = "MESHKA_FILTER_PULL_SECRET")]
    image_pull_secret: Option<String>,
    /// This replica's name, for Events (the pod's name).
    #[arg(long, env = "POD_NAME")]
    instance: Option<String>,
    /// Serve /healthz and /readyz (plain HTTP) on this address for the kubelet's probes.
    #[arg(long)]
    health_listen: Option<SocketAddr>,
    /// Elect a leader on this Lease (in --lease-namespace) so that several replicas are safe;
    /// needs POD_NAME. Without it, run a single replica.
    #[arg(long)]
    leader_lease: Option<String>,
    /// Namespace of --leader-lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "meshka-system")]
    lease_namespace: String,
}

#[derive(Args, Debug)]
struct OciArgs {
    /// The filter module (make filter builds target/wasm/wasm32-wasip1/release/meshka_filter.wasm).
    #[arg(long)]
    wasm: PathBuf,
    /// The OCI image layout directory to write (created; an existing layout is replaced).
    #[arg(long)]
    out: PathBuf,
    /// The tag (`org.opencontainers.image.ref.name`).
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    tag: String,
}

#[derive(Args, Debug)]
struct WebhookArgs {
    /// Configuration file (YAML or JSON); see webhook/README.md. Defaults apply without one.
    #[arg(long, env = "MESHKA_WEBHOOK_CONFIG")]
    config: Option<PathBuf>,
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// PEM certificate chain (reloaded when it changes).
    #[arg(long, requires = "tls_key", conflicts_with = "self_provision")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds between checks of --tls-cert/--tls-key for changes.
    #[arg(long, default_value_t = 10)]
    reload_interval_seconds: u64,
    /// Create a CA and a serving certificate at startup instead of reading files.
    #[arg(long)]
    self_provision: bool,
    /// Name of the webhook's Service (DNS names of the self-provisioned certificate).
    #[arg(long, default_value = "meshka-webhook")]
    service: String,
    /// Namespace of the webhook's Service.
    #[arg(long, env = "POD_NAMESPACE", default_value = "meshka-system")]
    namespace: String,
    /// MutatingWebhookConfiguration to write the self-provisioned CA bundle into (needs RBAC:
    /// get, update on mutatingwebhookconfigurations).
    #[arg(long)]
    webhook_config: Option<String>,
    /// Also write the self-provisioned CA certificate to this file.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Override drainDurationSeconds from the configuration.
    #[arg(long)]
    drain_duration_seconds: Option<u32>,
    /// Override nativeSidecar from the configuration.
    #[arg(long)]
    native_sidecar: Option<bool>,
    /// On SIGTERM, keep serving (with /readyz failing) this long, so that the API server stops
    /// sending admissions here before the listener closes.
    #[arg(long, default_value_t = 3)]
    shutdown_delay_seconds: u64,
    /// Print the effective configuration as YAML and exit.
    #[arg(long)]
    print_config: bool,
    /// Seconds allowed for a client's TLS handshake.
    #[arg(long, default_value_t = 10)]
    handshake_timeout_seconds: u64,
    /// Seconds allowed for a request's headers; also how long an idle keep-alive connection
    /// stays open.
    #[arg(long, default_value_t = 30)]
    header_timeout_seconds: u64,
    /// Seconds allowed for a request's body.
    #[arg(long, default_value_t = 10)]
    body_timeout_seconds: u64,
    /// Most simultaneous connections; further ones are closed at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Most request-body bytes held at once over all requests (at least 3 MiB).
    #[arg(long, default_value_t = 8 * server::MAX_BODY_BYTES)]
    max_buffered_bytes: usize,
    /// Most reviews running at once.
    #[arg(long, default_value_t = 4)]
    max_concurrent_reviews: usize,
    /// Seconds a request waits for buffer space or a review slot before it gets 503.
    #[arg(long, default_value_t = 5)]
    queue_timeout_seconds: u64,
}

impl WebhookArgs {
    fn limits(&self) -> Limits {
        Limits {
            handshake_timeout: Duration::from_secs(self.handshake_timeout_seconds),
            header_timeout: Duration::from_secs(self.header_timeout_seconds),
            body_timeout: Duration::from_secs(self.body_timeout_seconds),
            max_connections: self.max_connections,
            max_buffered_bytes: self.max_buffered_bytes,
            max_concurrent_reviews: self.max_concurrent_reviews,
            queue_timeout: Duration::from_secs(self.queue_timeout_seconds),
            ..Limits::default()
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Validate(args) => finish(meshka_webhook::cli::run_validate(&args)),
        Command::Explain(args) => finish(meshka_webhook::cli::run_explain(&args)),
        Command::Render(args) => finish(meshka_webhook::cli::run_render(&args)),
        Command::Crd => {
            print!(
                "{}",
                meshka_webhook::crd::crd_yaml().context("generating the CRD")?
            );
            Ok(())
        }
        Command::Controller(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(controller(args))
        }
        Command::Oci(args) => {
            let packed = meshka_webhook::oci::pack(&args.wasm, &args.out, &args.tag)?;
            print!("{}", packed.summary(&args.out));
            Ok(())
        }
        Command::Webhook(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(webhook(args))
        }
    }
}

async fn controller(args: ControllerArgs) -> anyhow::Result<()> {
    let image = meshka_webhook::crd::FilterImage {
        url: args.filter_url,
        sha256: args.filter_sha256.filter(|s| !s.is_empty()),
        pull_policy: args.image_pull_policy.filter(|s| !s.is_empty()),
        pull_secret: args.image_pull_secret.filter(|s| !s.is_empty()),
    };
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster config or KUBECONFIG)")?;
    let health = match args.health_listen {
        Some(addr) => Some(
            meshka_webhook::server::listen(addr)
                .with_context(|| format!("listening on {addr} for health probes"))?,
        ),
        None => None,
    };
    tracing::info!(url = %image.url, "running the KafkaPolicy controller");
    let options = meshka_webhook::controller::Options {
        instance: args.instance,
        health,
        leader_lease: args.leader_lease.map(|name| (args.lease_namespace, name)),
    };
    meshka_webhook::controller::run(client, image, options).await?;
    Ok(())
}

/// Prints a command's output and exits with its code.
fn finish(outcome: meshka_webhook::cli::Outcome) -> anyhow::Result<()> {
    use std::io::Write;
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    let _ = std::io::stdout().flush();
    std::process::exit(outcome.code as i32)
}

fn effective_config(args: &WebhookArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(d) = args.drain_duration_seconds {
        config.drain_duration_seconds = d;
    }
    if let Some(n) = args.native_sidecar {
        config.native_sidecar = n;
    }
    config.validate()?;
    Ok(config)
}

async fn webhook(args: WebhookArgs) -> anyhow::Result<()> {
    let config = effective_config(&args)?;
    if args.print_config {
        print!(
            "{}",
            serde_yaml::to_string(&config).context("writing the configuration")?
        );
        return Ok(());
    }
    let metrics = Arc::new(Metrics::default());
    let state = AppState::new(config, Arc::clone(&metrics), args.limits());

    let (store, ca_to_inject) = if args.self_provision {
        let p = tls::provision(tls::service_dns_names(&args.service, &args.namespace))?;
        if let Some(path) = &args.ca_out {
            std::fs::write(path, &p.ca_pem)
                .with_context(|| format!("writing the CA to {}", path.display()))?;
        }
        let key = tls::certified_key_from_pem(p.cert_pem.as_bytes(), p.key_pem.as_bytes())?;
        tracing::info!(service = %args.service, namespace = %args.namespace, "self-provisioned a CA and a serving certificate");
        (CertStore::new(key), Some(p.ca_pem))
    } else {
        let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
            bail!("give --tls-cert and --tls-key (e.g. from a cert-manager Secret), or --self-provision");
        };
        let files = CertFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        let store = CertStore::new(files.load()?);
        let interval = Duration::from_secs(args.reload_interval_seconds.max(1));
        tokio::spawn(files.watch(Arc::clone(&store), interval, Arc::clone(&metrics)));
        (store, None)
    };
    let tls_config = tls::server_config(Arc::clone(&store))?;

    match (ca_to_inject, &args.webhook_config) {
        (Some(ca), Some(name)) => {
            let state = Arc::clone(&state);
            let name = name.clone();
            let service = args.service.clone();
            let namespace = args.namespace.clone();
            tokio::spawn(async move {
                let mut backoff = Duration::from_secs(1);
                loop {
                    let result = match kube::Client::try_default().await {
                        Ok(client) => webhook_config::inject_ca_bundle(
                            client,
                            &name,
                            Some((&service, &namespace)),
                            &ca,
                        )
                        .await
                        .map_err(anyhow::Error::from),
                        Err(e) => {
                            Err(anyhow::Error::from(e).context("connecting to the Kubernetes API"))
                        }
                    };
                    match result {
                        Ok(n) => {
                            tracing::info!(webhooks = n, config = %name, "CA bundle written");
                            state.set_ready(true);
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "could not write the CA bundle; retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(60));
                        }
                    }
                }
            });
        }
        _ => state.set_ready(true),
    }

    let listener = meshka_webhook::server::listen(args.listen)
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr().unwrap_or(args.listen), "serving the admission webhook");
    let (stop_tx, stop_rx) = watch::channel(false);
    let delay = Duration::from_secs(args.shutdown_delay_seconds);
    let signal_state = Arc::clone(&state);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(delay_seconds = delay.as_secs(), "shutting down");
        signal_state.set_ready(false);
        tokio::time::sleep(delay).await;
        let _ = stop_tx.send(true);
    });
    let limits = state.limits.clone();
    server::serve(
        listener,
        tls_config,
        server::router(state),
        limits,
        metrics,
        stop_rx,
    )
    .await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
