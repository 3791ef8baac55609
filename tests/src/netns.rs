//! Network namespaces as pods: each client workload gets its own loopback, so its sidecar can
//! listen on the very address the broker advertises — as in Kubernetes, where every pod's
//! sidecar captures the broker's address for that pod alone.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace joined to the root namespace by a veth pair on a /30.
pub struct Pod {
    pub name: String,
    /// The root namespace's end of the link (where the broker sidecar is reached).
    pub host_ip: String,
    /// The pod's end of the link.
    pub pod_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("run ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Pod {
    /// Creates a pod network; needs root (CAP_NET_ADMIN) and iproute2.
    pub fn create() -> Pod {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = (std::process::id() % 40) * 6 + n % 6;
        let name = format!("meshka-{}-{n}", std::process::id());
        let (host_if, pod_if) = (format!("mkh{id}x{n}"), format!("mkp{id}x{n}"));
        let (host_ip, pod_ip) = (
            format!("10.213.{id}.{}", 1 + 4 * (n % 60)),
            format!("10.213.{id}.{}", 2 + 4 * (n % 60)),
        );
        let _ = ip(&["netns", "del", &name]);
        let setup = || -> Result<(), String> {
            ip(&["netns", "add", &name])?;
            ip(&[
                "link", "add", &host_if, "type", "veth", "peer", "name", &pod_if,
            ])?;
            ip(&["link", "set", &pod_if, "netns", &name])?;
            ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if])?;
            ip(&["link", "set", &host_if, "up"])?;
            ip(&[
                "netns",
                "exec",
                &name,
                "ip",
                "addr",
                "add",
                &format!("{pod_ip}/30"),
                "dev",
                &pod_if,
            ])?;
            ip(&["netns", "exec", &name, "ip", "link", "set", &pod_if, "up"])?;
            ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"])
        };
        if let Err(e) = setup() {
            let _ = ip(&["netns", "del", &name]);
            panic!("cannot create a pod network namespace (the multi-workload test bed needs root and iproute2): {e}");
        }
        Pod {
            name,
            host_ip,
            pod_ip,
        }
    }

    /// Names that resolve inside the pod only, as a Kubernetes DNS name resolves to a pod's
    /// sidecar: `ip netns exec` mounts `/etc/netns/<name>/hosts` over `/etc/hosts`.
    pub fn add_hosts(&self, entries: &[(&str, &str)]) -> std::io::Result<()> {
        let dir = std::path::Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir)?;
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (ip, name) in entries {
            hosts.push_str(&format!("{ip} {name}\n"));
        }
        std::fs::write(dir.join("hosts"), hosts)
    }

    /// `cmd` run inside the pod.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = std::fs::remove_dir_all(std::path::Path::new("/etc/netns").join(&self.name));
    }
}
