//! Packs the filter's `.wasm` as an OCI image layout (the directory format of the OCI image
//! spec: `oci-layout`, `index.json`, `blobs/sha256/…`) in the *compat* variant of the Wasm image
//! specification, the first format Istio's image fetcher tries for `oci://` WasmPlugin URLs: a
//! standard OCI image whose single layer ([`LAYER_MEDIA_TYPE`], a gzipped tar) holds the module
//! as `plugin.wasm`. Standard media types only, so every registry and tool accepts it.
//!
//! Istio checks a WasmPlugin's `sha256` against the image's *manifest digest* for `oci://` URLs
//! (and against the module's digest for `https://` URLs): [`Packed::summary`] prints both.
//! The output is deterministic (no timestamps): the same module always gives the same digests.
//! Push it with `oras cp --from-oci-layout DIR:TAG REGISTRY/REPO:TAG` or
//! `skopeo copy oci:DIR:TAG docker://REGISTRY/REPO:TAG`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

/// Media type of the image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the layout's index.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of the image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the single layer: a gzipped tar holding `plugin.wasm`.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The file Istio looks for in the layer.
pub const MODULE_FILE: &str = "plugin.wasm";

/// What went wrong while packing. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the module or writing the layout failed.
    #[error("could not {what} {path}: {source}; check the path and permissions")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not a Wasm module.
    #[error("{path} is not a WebAssembly module (no \\0asm header); build it with `make filter`")]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// Building the layer archive failed (should not happen in memory).
    #[error("could not build the image layer: {0}")]
    Archive(#[source] std::io::Error),
    /// A tag OCI does not allow.
    #[error("tag {tag:?} is not a valid OCI tag: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")]
    Tag {
        /// The tag.
        tag: String,
    },
}

/// A blob: its media type, `sha256:<hex>` digest and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// The media type.
    pub media_type: &'static str,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: usize,
}

/// The result of [`pack`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    /// The manifest (its digest is the image's digest, the WasmPlugin's `sha256` for `oci://`).
    pub manifest: Descriptor,
    /// The config blob.
    pub config: Descriptor,
    /// The layer (gzipped tar of `plugin.wasm`).
    pub layer: Descriptor,
    /// `sha256:<hex>` of the module itself (the WasmPlugin's `sha256` for `https://` URLs).
    pub module_digest: String,
    /// The tag.
    pub tag: String,
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl Packed {
    /// What `make oci` prints: where the layout is, the digests, how to push and what to put
    /// in a WasmPlugin (or the Helm values).
    pub fn summary(&self, out: &Path) -> String {
        let mut s = String::new();
        let manifest = hex_of(&self.manifest.digest);
        let _ = writeln!(s, "OCI image layout: {} (tag {})", out.display(), self.tag);
        let _ = writeln!(s, "image digest:     {}", self.manifest.digest);
        let _ = writeln!(s, "module sha256:    {}", hex_of(&self.module_digest));
        let _ = writeln!(
            s,
            "push:             oras cp --from-oci-layout {}:{} REGISTRY/meshka-filter:{}",
            out.display(),
            self.tag,
            self.tag
        );
        let _ = writeln!(
            s,
            "WasmPlugin:       url: oci://REGISTRY/meshka-filter:{}",
            self.tag
        );
        let _ = writeln!(s, "                  sha256: {manifest}");
        let _ = writeln!(s, "helm:             --set filter.url=oci://REGISTRY/meshka-filter:{} --set filter.sha256={manifest}", self.tag);
        s
    }
}

fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        what: "write",
        path: path.to_owned(),
        source,
    })
}

fn blob(dir: &Path, media_type: &'static str, bytes: &[u8]) -> Result<Descriptor, Error> {
    let digest = digest(bytes);
    write(&dir.join(hex_of(&digest)), bytes)?;
    Ok(Descriptor {
        media_type,
        digest,
        size: bytes.len(),
    })
}

fn descriptor_json(d: &Descriptor) -> serde_json::Value {
    json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size})
}

/// Writes the module at `wasm` as an OCI image layout in `out` (replacing any layout there).
pub fn pack(wasm: &Path, out: &Path, tag: &str) -> Result<Packed, Error> {
    if !is_valid_tag(tag) {
        return Err(Error::Tag {
            tag: tag.to_owned(),
        });
    }
    let module = std::fs::read(wasm).map_err(|source| Error::Io {
        what: "read",
        path: wasm.to_owned(),
        source,
    })?;
    if !module.starts_with(b"\0asm") {
        return Err(Error::NotWasm {
            path: wasm.to_owned(),
        });
    }
    if out.join("oci-layout").exists() {
        std::fs::remove_dir_all(out).map_err(|source| Error::Io {
            what: "replace",
            path: out.to_owned(),
            source,
        })?;
    }
    let blobs = out.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|source| Error::Io {
        what: "create",
        path: blobs.clone(),
        source,
    })?;

    let tar = module_tar(&module).map_err(Error::Archive)?;
    let layer_bytes = gzip(&tar).map_err(Error::Archive)?;
    let layer = blob(&blobs, LAYER_MEDIA_TYPE, &layer_bytes)?;
    let config_json = json!({
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest(&tar)]},
        "history": [{"created_by": "meshka oci", "comment": "meshka's Kafka proxy-wasm network filter"}],
    });
    let config = blob(
        &blobs,
        CONFIG_MEDIA_TYPE,
        config_json.to_string().as_bytes(),
    )?;
    let layer_json = json!({
        "mediaType": layer.media_type,
        "digest": layer.digest,
        "size": layer.size,
    });
    let manifest_json = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": descriptor_json(&config),
        "layers": [layer_json],
        "annotations": {
            "org.opencontainers.image.title": "meshka-filter",
            "org.opencontainers.image.description": "meshka's Kafka proxy-wasm network filter for Istio",
            "org.opencontainers.image.version": tag,
            "org.opencontainers.image.source": "https://github.com/meshka/meshka",
        },
    });
    let manifest = blob(
        &blobs,
        MANIFEST_MEDIA_TYPE,
        manifest_json.to_string().as_bytes(),
    )?;
    let manifest_ref = json!({
        "mediaType": manifest.media_type,
        "digest": manifest.digest,
        "size": manifest.size,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    });
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [manifest_ref],
    });
    write(&out.join("index.json"), index.to_string().as_bytes())?;
    write(
        &out.join("oci-layout"),
        json!({"imageLayoutVersion": "1.0.0"})
            .to_string()
            .as_bytes(),
    )?;
    Ok(Packed {
        manifest,
        config,
        layer,
        module_digest: digest(&module),
        tag: tag.to_owned(),
    })
}

/// A tar with `plugin.wasm` only, with fixed metadata (mode 0444, owner 0, mtime 0).
fn module_tar(module: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(module.len() as u64);
    header.set_mode(0o444);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, MODULE_FILE, module)?;
    builder.into_inner()
}

/// Gzip without a timestamp or file name, so the output depends on the input only.
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn read_json(path: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn sha(path: &Path) -> String {
        digest(&std::fs::read(path).unwrap())
    }

    #[test]
    fn layout_has_the_media_types_and_digests_istio_reads() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("filter.wasm");
        let module = b"\0asm\x01\0\0\0 a tiny module body".to_vec();
        std::fs::write(&wasm, &module).unwrap();
        let out = dir.path().join("oci");
        let packed = pack(&wasm, &out, "0.1.0").unwrap();

        assert_eq!(
            read_json(&out.join("oci-layout")),
            json!({"imageLayoutVersion": "1.0.0"})
        );
        let index = read_json(&out.join("index.json"));
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(index["mediaType"], INDEX_MEDIA_TYPE);
        let entries = index["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert_eq!(entry["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(
            entry["annotations"]["org.opencontainers.image.ref.name"],
            "0.1.0"
        );

        // Every blob is stored under its own digest, with the size its descriptor says.
        let blob_path = |d: &Value| {
            out.join("blobs/sha256")
                .join(hex_of(d["digest"].as_str().unwrap()))
        };
        let check = |d: &Value| {
            let p = blob_path(d);
            assert_eq!(sha(&p), d["digest"].as_str().unwrap());
            assert_eq!(
                std::fs::metadata(&p).unwrap().len(),
                d["size"].as_u64().unwrap()
            );
        };
        check(entry);
        let manifest = read_json(&blob_path(entry));
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        check(&manifest["config"]);
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(
            layers.len(),
            1,
            "Istio's compat variant is a single-layer image"
        );
        assert_eq!(layers[0]["mediaType"], LAYER_MEDIA_TYPE);
        check(&layers[0]);
        // The layer is a gzipped tar whose only file is plugin.wasm, the module itself; the
        // config's diff_id is the digest of the uncompressed tar.
        let gz = std::fs::read(blob_path(&layers[0])).unwrap();
        let mut tar_bytes = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar_bytes)
            .unwrap();
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let mut entries = archive.entries().unwrap();
        let mut file = entries.next().unwrap().unwrap();
        assert_eq!(file.path().unwrap().to_str(), Some("plugin.wasm"));
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).unwrap();
        assert_eq!(content, module);
        drop(file);
        assert!(entries.next().is_none(), "plugin.wasm only");
        let config = read_json(&blob_path(&manifest["config"]));
        assert_eq!(config["rootfs"]["diff_ids"], json!([digest(&tar_bytes)]));
        assert_eq!(config["os"], "wasip1");
        assert_eq!(
            packed.module_digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&module)))
        );
        assert_eq!(packed.manifest.digest, entry["digest"]);
        assert_eq!(
            std::fs::read_dir(out.join("blobs/sha256")).unwrap().count(),
            3
        );

        // Deterministic: packing again (over the old layout) gives the same digests.
        let again = pack(&wasm, &out, "0.1.0").unwrap();
        assert_eq!(again, packed);
        let summary = packed.summary(&out);
        assert!(
            summary.contains(&format!("sha256: {}", hex_of(&packed.manifest.digest))),
            "{summary}"
        );
    }

    #[test]
    fn refuses_what_is_not_a_module_or_a_tag() {
        let dir = tempfile::tempdir().unwrap();
        let not_wasm = dir.path().join("x.wasm");
        std::fs::write(&not_wasm, b"ELF").unwrap();
        let out = dir.path().join("oci");
        assert!(matches!(
            pack(&not_wasm, &out, "1"),
            Err(Error::NotWasm { .. })
        ));
        assert!(matches!(
            pack(&not_wasm, &out, "-bad"),
            Err(Error::Tag { .. })
        ));
        let e = pack(&dir.path().join("missing.wasm"), &out, "1").unwrap_err();
        assert!(e.to_string().contains("could not read"), "{e}");
    }
}
