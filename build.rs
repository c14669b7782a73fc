//! Build script: provides the self-hosted GraphiQL assets embedded by `src/http/graphiql.rs`.
//!
//! GraphiQL must render without internet access, so its JavaScript and CSS are served by the
//! server itself. They are not committed to git: they come from pinned npm packages.
//!
//! Sources, in order:
//! 1. `LEADGRAPH_GRAPHIQL_DIR` (relative paths are relative to the crate root): a directory
//!    holding the asset files, e.g. made by `scripts/fetch-graphiql`. Useful where npm is absent.
//! 2. Otherwise `npm pack <name>@<exact version>` of each pinned package (npm registry only, no
//!    CDN), integrity-checked, extracted with `tar`, into `$OUT_DIR/graphiql/`. Reused while the
//!    pins are unchanged, so the network is only hit when the pins change or `target/` is cleaned.
//!
//! If neither works the build does NOT fail: a `cargo:warning` is printed, empty placeholder
//! files are written, and `LEADGRAPH_GRAPHIQL_AVAILABLE=0` makes `GET /graphiql` serve a page that
//! explains what happened and how to fix it. To retry after fixing npm, rebuild with
//! `LEADGRAPH_GRAPHIQL_REFETCH` set to a new value (e.g. `LEADGRAPH_GRAPHIQL_REFETCH=1`).
//!
//! Env vars exported to the crate:
//! - `LEADGRAPH_GRAPHIQL_AVAILABLE`: `1` when real assets were embedded, else `0`.
//! - `LEADGRAPH_GRAPHIQL_ASSET_VERSION`: content hash of the assets (cache-busting query string).
//! - `LEADGRAPH_GRAPHIQL_SOURCE`: one line saying where the assets came from (pinned versions).
//! - `LEADGRAPH_GRAPHIQL_BUILD_ERROR`: one line with the reason when unavailable, else empty.
//!
//! Std only: no build-dependencies.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One pinned npm package and the files taken from it.
struct Pkg {
    name: &'static str,
    /// Exact version: never a range.
    version: &'static str,
    /// `dist.integrity` from the npm registry (`npm view <name>@<version> dist.integrity`).
    integrity: &'static str,
    /// (path inside the tarball's `package/` dir, asset file name served under `/graphiql/assets/`).
    files: &'static [(&'static str, &'static str)],
}

// One entry per line: `scripts/fetch-graphiql` parses these lines, keep the format.
// graphiql 3.x is the last line with a UMD bundle (`window.GraphiQL`, needs the React 18 UMD
// globals `React`/`ReactDOM`; React 19 ships no UMD). Its bundle already includes graphql-ws, so
// `GraphiQL.createFetcher({ subscriptionUrl })` works without a separate graphql-ws script.
#[rustfmt::skip]
const PACKAGES: &[Pkg] = &[
    Pkg { name: "react", version: "18.3.1", integrity: "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==", files: &[("umd/react.production.min.js", "react.production.min.js")] },
    Pkg { name: "react-dom", version: "18.3.1", integrity: "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==", files: &[("umd/react-dom.production.min.js", "react-dom.production.min.js")] },
    Pkg { name: "graphiql", version: "3.9.0", integrity: "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==", files: &[("graphiql.min.js", "graphiql.min.js"), ("graphiql.min.css", "graphiql.min.css")] },
];

/// Name of the stamp file recording which pins the cached assets came from.
const STAMP: &str = ".pins";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LEADGRAPH_GRAPHIQL_DIR");
    println!("cargo:rerun-if-env-changed=LEADGRAPH_GRAPHIQL_REFETCH");

    let Some(out_dir) = env::var_os("OUT_DIR") else {
        // Cargo always sets OUT_DIR; without it include_bytes! cannot work anyway.
        println!("cargo:warning=OUT_DIR is not set; cannot prepare GraphiQL assets");
        return;
    };
    let dest = PathBuf::from(out_dir).join("graphiql");

    let outcome = match env::var_os("LEADGRAPH_GRAPHIQL_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => copy_from_dir(&PathBuf::from(&dir), &dest)
            .map(|()| format!("LEADGRAPH_GRAPHIQL_DIR={}", Path::new(&dir).display())),
        None => fetch_with_npm(&dest).map(|()| pins_summary()),
    };

    let (available, source, error) = match outcome {
        Ok(source) => (true, source, String::new()),
        Err(err) => {
            let err = one_line(&err);
            println!("cargo:warning=GraphiQL assets unavailable, /graphiql will serve an explanation page instead: {err}");
            println!("cargo:warning=Fix: make `npm` work (it only needs the npm registry) and rebuild with LEADGRAPH_GRAPHIQL_REFETCH=1, or set LEADGRAPH_GRAPHIQL_DIR to a directory made by scripts/fetch-graphiql");
            if let Err(e) = write_placeholders(&dest) {
                println!(
                    "cargo:warning=could not write GraphiQL placeholder files: {}",
                    one_line(&e)
                );
            }
            (false, pins_summary(), err)
        }
    };

    println!(
        "cargo:rustc-env=LEADGRAPH_GRAPHIQL_AVAILABLE={}",
        if available { "1" } else { "0" }
    );
    println!(
        "cargo:rustc-env=LEADGRAPH_GRAPHIQL_ASSET_VERSION={}",
        assets_hash(&dest)
    );
    println!(
        "cargo:rustc-env=LEADGRAPH_GRAPHIQL_SOURCE={}",
        one_line(&source)
    );
    println!("cargo:rustc-env=LEADGRAPH_GRAPHIQL_BUILD_ERROR={error}");
}

/// All asset file names, in a stable order.
fn asset_names() -> impl Iterator<Item = &'static str> {
    PACKAGES
        .iter()
        .flat_map(|p| p.files.iter().map(|&(_, name)| name))
}

/// `graphiql@3.9.0 react@18.3.1 ...`: also the content of the cache stamp.
fn pins_summary() -> String {
    PACKAGES
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Uses the assets in a user-provided directory (flat: one file per asset name).
fn copy_from_dir(src: &Path, dest: &Path) -> Result<(), String> {
    for name in asset_names() {
        // Re-embed when the user replaces a file in that directory.
        println!("cargo:rerun-if-changed={}", src.join(name).display());
    }
    reset_dir(dest)?;
    for name in asset_names() {
        let from = src.join(name);
        let bytes = fs::read(&from).map_err(|e| {
            format!(
                "LEADGRAPH_GRAPHIQL_DIR: cannot read {}: {e}",
                from.display()
            )
        })?;
        if bytes.is_empty() {
            return Err(format!(
                "LEADGRAPH_GRAPHIQL_DIR: {} is empty",
                from.display()
            ));
        }
        write(&dest.join(name), &bytes)?;
    }
    Ok(())
}

/// Fetches the pinned packages with `npm pack`, unless `dest` already holds them.
fn fetch_with_npm(dest: &Path) -> Result<(), String> {
    if cache_is_valid(dest) {
        return Ok(());
    }
    reset_dir(dest)?;
    let work = dest.with_file_name("graphiql-npm");
    reset_dir(&work)?;
    let result = fetch_into(&work, dest);
    // The tarballs stay in npm's own cache; no need to keep copies in target/.
    let _ = fs::remove_dir_all(&work);
    result?;
    write(&dest.join(STAMP), pins_summary().as_bytes())
}

fn cache_is_valid(dest: &Path) -> bool {
    let stamp_ok = fs::read_to_string(dest.join(STAMP)).is_ok_and(|s| s == pins_summary());
    stamp_ok && asset_names().all(|name| fs::metadata(dest.join(name)).is_ok_and(|m| m.len() > 0))
}

fn fetch_into(work: &Path, dest: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    for pkg in PACKAGES {
        let spec = format!("{}@{}", pkg.name, pkg.version);
        let mut npm_pack = Command::new(npm);
        npm_pack
            .current_dir(work)
            .args([
                "pack",
                &spec,
                "--json",
                "--prefer-offline",
                "--loglevel=error",
            ])
            .arg("--pack-destination")
            .arg(work);
        let stdout = run(&mut npm_pack, &format!("npm pack {spec}"))?;
        // `npm pack --json` reports the integrity of the tarball it fetched.
        if !stdout.contains(pkg.integrity) {
            return Err(format!(
                "npm pack {spec}: integrity mismatch (expected {})",
                pkg.integrity
            ));
        }
        let tarball = work.join(format!("{}-{}.tgz", pkg.name, pkg.version));
        if !tarball.is_file() {
            return Err(format!(
                "npm pack {spec}: {} was not created",
                tarball.display()
            ));
        }

        let unpack = work.join(pkg.name);
        reset_dir(&unpack)?;
        let mut tar = Command::new("tar");
        tar.arg("-xzf").arg(&tarball).arg("-C").arg(&unpack);
        tar.args(
            pkg.files
                .iter()
                .map(|&(inner, _)| format!("package/{inner}")),
        );
        run(&mut tar, &format!("tar -xzf {}", tarball.display()))?;

        for &(inner, name) in pkg.files {
            let from = unpack.join("package").join(inner);
            let bytes = fs::read(&from)
                .map_err(|e| format!("{spec}: cannot read {inner} from the tarball: {e}"))?;
            if bytes.is_empty() {
                return Err(format!("{spec}: {inner} is empty"));
            }
            write(&dest.join(name), strip_source_map(&bytes))?;
        }
    }
    Ok(())
}

/// Runs a command; returns its stdout, or an error with its stderr.
fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let output = cmd
        .output()
        .map_err(|e| format!("{what}: could not run: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{what}: {} ({})", output.status, stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Drops a trailing `//# sourceMappingURL=` / `/*# sourceMappingURL=... */` line: the maps are
/// not served, so browsers' dev tools would only request a 404.
fn strip_source_map(bytes: &[u8]) -> &[u8] {
    let trimmed = bytes.trim_ascii_end();
    let line_start = trimmed
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let last = &trimmed[line_start..];
    if last.starts_with(b"//# sourceMappingURL=") || last.starts_with(b"/*# sourceMappingURL=") {
        &bytes[..line_start]
    } else {
        bytes
    }
}

/// Empty files so `include_bytes!` compiles; the server treats them as missing.
fn write_placeholders(dest: &Path) -> Result<(), String> {
    reset_dir(dest)?;
    for name in asset_names() {
        write(&dest.join(name), b"")?;
    }
    Ok(())
}

/// FNV-1a 64 over the asset files: changes whenever their content does.
fn assets_hash(dest: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in asset_names() {
        let bytes = fs::read(dest.join(name)).unwrap_or_default();
        for &b in name.as_bytes().iter().chain(&[0u8]).chain(&bytes) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn reset_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `cargo:` directives are line-based: keep messages on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
