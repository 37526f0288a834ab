//! Embeds the console's built assets (see the crate doc for where they
//! come from): writes `$OUT_DIR/assets.rs`, a table of
//! `(path, content type, include_bytes!(file))`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let console = manifest.join("../../console");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    // Only paths that exist: cargo reruns the script at every build for a
    // missing one.
    for watched in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "dist",
    ] {
        let path = console.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=VOXDIAL_CONSOLE_NO_NPM");

    let built = out.join("console-dist");
    let root = if npm_build(&console, &built) {
        built
    } else if console.join("dist/index.html").is_file() {
        println!(
            "cargo:warning=voxdial-console: npm did not build the console; embedding console/dist as it is"
        );
        console.join("dist")
    } else {
        println!(
            "cargo:warning=voxdial-console: no console assets (npm missing or failed, no console/dist); embedding a page that says how to build them"
        );
        let placeholder = out.join("console-placeholder");
        fs::create_dir_all(&placeholder).expect("OUT_DIR is writable");
        fs::write(placeholder.join("index.html"), PLACEHOLDER).expect("OUT_DIR is writable");
        placeholder
    };

    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut table = String::from(
        "/// Every embedded file: URL path, content type, bytes.\npub(crate) static ASSETS: &[(&str, &str, &[u8])] = &[\n",
    );
    for (url, file) in files {
        let kind = content_type(&url);
        table.push_str(&format!(
            "    ({url:?}, {kind:?}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    table.push_str("];\n");
    fs::write(out.join("assets.rs"), table).expect("OUT_DIR is writable");
}

/// Runs `npm ci` (when `node_modules` is missing) and `npm run build` into
/// `dest`; false when npm is absent, switched off, or fails.
fn npm_build(console: &Path, dest: &Path) -> bool {
    if env::var_os("VOXDIAL_CONSOLE_NO_NPM").is_some() || !console.join("package.json").is_file() {
        return false;
    }
    let npm = |args: &[&str]| {
        Command::new("npm")
            .args(args)
            .current_dir(console)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !console.join("node_modules").is_dir() && !npm(&["ci", "--no-audit", "--no-fund"]) {
        return false;
    }
    let dest = dest.display().to_string();
    npm(&["run", "build", "--", "--outDir", &dest, "--emptyOutDir"])
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
            let absolute = path.canonicalize().unwrap_or(path);
            files.push((url, absolute));
        }
    }
}

fn content_type(url: &str) -> &'static str {
    match url.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>voxdial console</title></head>\
<body><main><h1>The console was not built</h1><p>This binary was compiled without the console's assets \
(npm was missing or failed). Build them and compile again:</p>\
<pre>cd console &amp;&amp; npm ci &amp;&amp; npm run build\ncargo build -p voxdial</pre>\
<p>The API under <code>/v1</code> works without them.</p></main></body></html>";
