//! Cache keys: the one place that decides what makes two builds "the same".
//!
//! A change here changes what BuildKit may serve from cache, so every input is listed with the
//! reason it is there, and a key change is a reviewed change (the golden tests pin the ids, and
//! [`KEY_SCHEMA`] is bumped whenever an input changes meaning).
//!
//! BuildKit keys every op on its definition and the content of its inputs; Cachet decides what
//! goes into those definitions and names the cache mounts, which BuildKit does *not* key on
//! content. Everything below is about making those two things complete.
//!
//! # SDK identity — in every exec's environment and in every cache mount id
//! The SDK *image*'s identity ([`sdk_identity`]) is its manifest digest for the target platform,
//! as resolved at build time; when dockerd serves the image from its local store it reports no
//! manifest digest, and the image id (the digest of its config) stands in. The `[sdk] digest`
//! lock is checked against this, the image as resolved, before any setup. A `docker-image://`
//! named context of the SDK's name (`--build-context cachet-sdk:rustup=docker-image://…`,
//! `compile::named_image`) replaces the image: the identity is then the replacement's, as
//! resolved, so the keys move with it (test: `a_named_context_replaces_the_sdk_image_and_moves_
//! the_key` in `compile/tests.rs`).
//!
//! When the spec extends the SDK (`[sdk] packages` / `setup`), one setup step runs on that image
//! with the network, and its root filesystem is the SDK every other step runs in (see
//! `compile/sdk_setup.rs`). The build's SDK identity is then [`extended_sdk_identity`]:
//! `sha256:` of the canonical JSON of
//! * `schema` — [`SDK_SETUP_SCHEMA`], bumped when the setup exec changes in a way its script
//!   does not show (user, mounts, environment);
//! * `image` — the image identity above: a new base image is a new SDK;
//! * `packages` — sorted and deduplicated by the loader (apt installs a set, so reordering
//!   the list is no change);
//! * `setup` — the commands, in order;
//! * `script` — the setup step's whole script as Cachet writes it around the two, so a change to
//!   how Cachet installs packages is a new SDK even for an unchanged spec.
//!
//! Without packages or setup the identity is the image identity, exactly as before these
//! settings existed: no existing key moves.
//!
//! Deliberately **not** in it: what the apt repositories (or anything a setup command
//! downloads) served when the step ran. BuildKit caches the setup step like a Dockerfile `RUN`,
//! keyed on the image and the script, not on the mirror's state. It runs again only with
//! `--no-cache` (or `--no-cache-filter sdk`), a changed `packages` or `setup` list, a new image,
//! or once its cache record is pruned — and then it may install newer versions under the *same*
//! identity, so target caches warmed against the old ones are reused (cargo does not notice a
//! changed C library or tool either). `name=version` pins make the setup reproducible; changing
//! the list (a pin, a package, a `true` command) is how to force a new identity. Nor is the
//! setup step's network mode in it: `--network=host` changes the setup op, so BuildKit runs it
//! and everything after it again, but not what it installs.
//!
//! The identity is
//! * pinned into the image source (`docker-image://…@sha256:…`), so a moved tag is a new graph;
//!   the setup step also carries the image identity as `CACHET_SDK`, so an image dockerd
//!   serves unpinned from its store keys it too;
//! * put into every other exec's environment as `CACHET_SDK=<identity>`, so every exec — and
//!   everything downstream of it — has a different BuildKit cache key when the SDK changes,
//!   even if the new image has the same rustc (a re-tagged SDK must rebuild);
//! * hashed into every target cache mount id, so a new SDK never starts from another SDK's
//!   `target/` (cargo's fingerprints do not see a changed linker or libc);
//! * written at the root of every sources snapshot and into the `dev.cachet.sdk` label.
//!
//! # SDK setup step — keyed by BuildKit on content, no mount id of its own
//! Its op holds the pinned image, `CACHET_SDK=<image identity>`, the script (packages
//! included) with the commands as arguments, the root user, the platform and the network
//! mode; nothing else reaches it, so BuildKit's key for it is complete. It has no cache mount:
//! what it installs lives only in its root filesystem, which every later step runs on.
//!
//! # Target cache mount id — `cachet/<project>/<triple>/<profile>/<hash>`
//! In **strict** mode (the default) the hash covers, in this order:
//! * `schema` — bumps invalidate every mount when the key model changes meaning;
//! * `mode` — a fast-mode mount may hold output built under other flags, so the two modes never
//!   share a mount;
//! * `project` — two projects never share a `target/`, even with equal settings;
//! * `sdk` — the SDK identity above;
//! * `platform` and `triple` — objects for one architecture must never be linked into another;
//!   the triple is also what every cargo step passes as `--target`;
//! * `profile` — cargo keeps profiles apart, but a separate mount keeps their caches from
//!   evicting each other and makes "switch back" warm;
//! * `features` (sorted, deduplicated) and `default_features` — feature unification changes the
//!   compiled code of shared dependencies;
//! * `rustflags` — cargo does not rebuild everything on a RUSTFLAGS change in every version and
//!   never for flags smuggled through config; a separate mount is correct and makes reverting a
//!   flag a warm build;
//! * `env` — every variable the spec passes to cargo, its build scripts and C compilers:
//!   CFLAGS, CXXFLAGS, LDFLAGS, CC, CXX, AR and their `_<triple>` forms, `CARGO_PROFILE_*`, or
//!   anything a build script reads without declaring `rerun-if-env-changed`: cargo cannot see
//!   undeclared reads, so the mount must. Only the spec's env reaches cargo (the SDK's own env
//!   is covered by `sdk`, and undeclared `--build-arg`s never reach a step), so this map is
//!   complete. The variables Cachet sets itself (`CARGO_TARGET_DIR`, `CARGO_HOME`, the
//!   RUSTFLAGS family, `CACHET_SDK`, …) are refused in the spec's env (`spec/env.rs`), so no
//!   env entry can move the target directory off this mount or override a keyed input;
//! * `toolchain_files` — content digests of `rust-toolchain` / `rust-toolchain.toml` in the
//!   context: they select the compiler inside the SDK;
//! * `cargo_config` — content digests of `.cargo/config` / `.cargo/config.toml` in the context:
//!   they can set flags, linkers and profiles that no environment variable shows;
//! * `network` — compile steps run without network unless `--network=host` is forced; a build
//!   script that reached the network may have cached what it fetched in `target/`, so a
//!   networked build must never warm the mount a hermetic build trusts;
//! * `cargo_args` — the step's own cargo arguments that can change what it produces, in order
//!   (cargo lets a later `--config` win), as `spec/cargo_args.rs` classifies them (table
//!   below). Always present, empty when the step passes none, so adding the field moved every
//!   strict id once: mounts shared before by targets that differed only in such arguments may
//!   hold each other's output, and none of them is reused;
//! * `volatile_env` — the *names* of `[cargo] volatile-env` (only when there are any, so other
//!   specs keep their ids). Their *values* are deliberately not in `env`: a commit id or build
//!   number that changes every build would otherwise start a cold mount every build. That is
//!   safe because the value is in the exec's environment (BuildKit runs the step again when
//!   it changes) and every reader of it is rebuilt on the warm mount: cargo rebuilds the
//!   declared readers itself (`env!`/`option_env!` are `# env-dep:` lines in dep-info,
//!   `rerun-if-env-changed` in build-script output), and the step finds the undeclared ones —
//!   build scripts and proc macros whose code holds the name while no output of theirs
//!   declares it — and rebuilds them whenever the value changes, saying so
//!   (`compile/volatile_env.rs`, with the limits of that proof). The dependency layers leave
//!   the variables out of their environment altogether, so a new value never re-runs a layer;
//!   a third-party reader seeded from one is found and rebuilt by the cargo step.
//!
//! * `build_platform` — only for a step that cross-compiles (`compile/cross.rs`): the platform
//!   it runs on, whose SDK (and so host code: build scripts, proc-macros) it builds with. Absent
//!   for native and emulated steps, so their ids did not move when cross builds came;
//! * `emulated` — only when true: the step runs on the target platform under emulation
//!   (`[cross] emulate`), so an emulated target cache never serves a cross build of the same
//!   triple, whose host code is of another architecture;
//! * `cross_env` — only for a cross step: the linker, `CC_`/`CXX_`/`AR_<triple>` and
//!   pkg-config settings for the target triple (Debian defaults overridden by
//!   `[cross.<triple>] env`). Cargo does not fingerprint a changed linker or C compiler.
//!
//! The SDK identity of a cross step is the SDK's as resolved for the build platform (the one
//! it runs); the target platform and triple still name what it builds for. Every platform of a
//! multi-platform build thus gets its own target cache, and one fetch step.
//! * `rustflags` includes the flags Cachet adds itself: the platform's CPU level, and under
//!   `[cargo] reproducible = true` the `--remap-path-prefix` flags for the sources, vendored
//!   dependencies, target directory and cargo home (`compile::remap_rustflags`). They change
//!   every binary's debug info and panic locations, so switching the setting is a new mount
//!   (and, through CARGO_ENCODED_RUSTFLAGS, a new exec);
//! * `source_date_epoch` — the `SOURCE_DATE_EPOCH` build argument, which every cargo step
//!   (and its dependency layers) gets in its environment: build scripts and `env!` may embed
//!   it, and cargo fingerprints only the declared reads. Present only when the build passes
//!   it, so other builds keep their ids. A value that moves every build (a commit time) is a
//!   new target cache each time: pass a fixed one (the release's) where warm caches matter.
//!   The image side (config `created`, history, file times of copies) is not a cache key of
//!   Cachet's; BuildKit keys those ops on their definitions, which hold the value.
//! * `contexts` — `[contexts]`, each directory named context's name and the path cargo sees
//!   it at (only when there are any, so other specs keep their ids): a path dependency moved
//!   to another directory is other absolute paths in every unit built from it. The context's
//!   *content* is not in the id, like the main context's: it reaches BuildKit's key for each
//!   step through the step's mount of the context's snapshot (its own local, transferred
//!   afresh per session as the main context is, `compile/named_contexts.rs`), and cargo's
//!   fingerprints on the warm mount through the freshness pass, which covers each context's
//!   directory with a manifest of its own.
//!
//! In **fast** mode the hash covers only `schema`, `mode`, `project`, `sdk`, `platform`,
//! `triple`, `profile` and the three cross inputs above (toolchain choices cargo cannot see), and the id ends in `fast-<hash>`: one warm `target/` per toolchain
//! and profile, and cargo's own fingerprints decide the rest (they see RUSTFLAGS, features and
//! sources, but not undeclared env reads or C flags). Both keys are computed for every build
//! and recorded on its outputs, so an artifact always says which inputs it was built under.
//!
//! Distinct inputs give distinct mounts, so flipping an input and flipping it back returns to
//! a warm mount. The readable prefix lets a user find the mount in `docker buildx du`.
//!
//! ## A cargo step's own arguments
//! Cargo fingerprints every unit it compiles (package, target, mode, features, profile,
//! RUSTFLAGS, the compiler), so an argument that only selects units or changes how cargo
//! reports never makes a unit's output wrong for another build; splitting the mount on it would
//! only make `build` and `test` targets cold for each other. What cargo cannot see — a build
//! script's undeclared env reads, `[env]` and profile settings given on the command line, what
//! an unstable flag does, what an argument Cachet does not know does — keys the mount.
//!
//! | argument | class | why |
//! | --- | --- | --- |
//! | the subcommand `build` `b` `check` `c` `test` `t` `bench` `run` `r` `doc` `d` `clippy` `rustc` `rustdoc` `fix` | not keyed | cargo keeps unit modes apart (check metadata, test harnesses, docs, clippy's workspace wrapper are all in its fingerprints) |
//! | `-p` `--package` `--workspace` `--all` `--exclude` `--lib` `--bin(s)` `--example(s)` `--test(s)` `--bench(es)` `--all-targets` `--doc` `--no-deps` `--no-run` | not keyed: selection | which units are built; each is fingerprinted on its own (the sources snapshot follows `-p`/`--workspace`, see `project`) |
//! | `-v` `-q` `--color` `--message-format` `-j` `--jobs` `--keep-going` `--no-fail-fast` `--timings` | not keyed: reporting | how cargo reports or schedules; `--timings` writes a report beside the units, never into them |
//! | test and bench filters, everything after `--` for `test`, `bench`, `run` | not keyed: run time | arguments of the programs the step runs, never of a compile |
//! | `--locked` | not keyed | Cachet passes it anyway |
//! | `--config KEY=VALUE` (`--config=…`) | **keyed**, and passed to the dependency layer | `[env]` values build scripts read undeclared, `profile.*`, `target.*` linkers and flags, `build.rustflags` (when the spec sets none): cargo does not fingerprint all of it |
//! | `-Z FLAG` (`-ZFLAG`, in a cluster) | **keyed**, and passed to the dependency layer | unstable behaviour cargo may not fingerprint (`build-std`, …) |
//! | after `--` for `rustc`, `rustdoc`, `clippy`, `fix` (and for `build`, `check`, `doc`, which refuse it) | **keyed**, after the canonical subcommand and `--` | compiler arguments (`--cfg`, `-C`, lint levels that turn a pass into a failure) |
//! | any other flag (`--crate-type`, `--ignore-rust-version`, `-x`, …) with what may be its value, and free arguments of a compiling subcommand | **keyed** | the safe default for what Cachet does not know |
//! | every argument of any other subcommand (`nextest run …`, `tree`, an alias from `.cargo/config`) | **keyed**, the subcommand first | it may do anything with them |
//! | `--release` `-r` `--profile` `--features` `-F` `--all-features` `--no-default-features` | refused | key inputs the spec owns (`[cargo] profile`, `features`, `default-features`) |
//! | `--target` `--target-dir` `--offline` `--frozen` | refused | Cachet passes or places them itself |
//! | `--manifest-path` `-C` | refused | Cachet runs cargo at the context root and plans each step's sources from `-p`/`--workspace`: a manifest chosen otherwise could be built from an empty stand-in; use `-p` |
//! | `--config <file>` (no `=`) | refused | a file named on the command line keys nothing; write `KEY=VALUE`, or put it in `.cargo/config.toml` (keyed by content) |
//! | `+toolchain` as the subcommand | refused | the toolchain is the SDK's or a keyed `rust-toolchain.toml`'s |
//!
//! Fast mode keys none of them: like RUSTFLAGS and the spec env, cargo's fingerprints decide
//! (and they miss undeclared reads of `--config env.…`, which is what strict mode is for).
//!
//! # Why mount id — `cachet/<project>/why/<target>`: never decides an output
//! The why step after each cargo step (`compile/why_step.rs`) keeps, in this small cache mount,
//! the record of what the target's last build ran from (its key inputs and other inputs, the
//! target cache it used, the list of source hashes) and prints what differs on the next one.
//! It is keyed on the project and the target only, deliberately not on any key input: every
//! build of the target, whatever its keys, compares with the last one on this builder. Nothing
//! built reads it: the cargo step never mounts it, and the why step's only contribution to a
//! result is a copy of nothing, so an empty, pruned or shared mount changes what is printed,
//! never what is built or cached.
//!
//! # Toolchain probe and provenance facts — keyed by BuildKit on content, in no mount id
//! `[cachet] rustc -vV of the SDK` (`compile/attest.rs`) is an exec on the build's SDK state
//! (pinned image plus setup) that writes `rustc -vV`; nothing else reaches it, so BuildKit
//! runs it once per SDK. Its output is not a key input: it is a function of the SDK identity,
//! which already keys everything. It reaches only each cargo step's `cachet-provenance.json`
//! `mkfile` and the image labels, as do the `Cargo.lock` digest (the lockfile already reaches
//! every step that reads it by content) and the env values; changing them re-runs that
//! `mkfile` (a file op), never a cargo exec or a target cache. The SBOM (`--sbom`) is a
//! separate one-file state outside the result's graph.
//!
//! # `--no-cache` and `--no-cache-filter T` — a fresh target cache, not a pruned builder
//! The selected targets' ops are marked ignore-cache, and their cargo steps' script empties the
//! target cache mount first (inside the locked mount, before the freshness pass), so the step
//! is a clean build and the mount afterwards holds that clean build; its dependency layers, if
//! planned, run again from nothing too. BuildKit itself also drops the cache mounts of an
//! ignore-cache exec (both engines tested do), but that is engine behaviour users have asked to
//! change (moby/buildkit#1213, #4250), so Cachet does not rely on it. Unlike pruning the builder
//! (`docker buildx prune`), nothing else is thrown away: other targets' steps stay cached, and
//! their mounts stay warm, unless they share the selected target's mount (equal keys: e.g. the
//! workspace example's `build` and `test`), which then holds the clean build. The mount id is
//! the same as without the option (the selected step's definition differs only in its script
//! and progress name), so the next ordinary build continues from the clean `target/`.
//!
//! # Dependency layer — keyed by BuildKit on content, no mount id of its own
//! A cargo step's third-party crates are compiled by a step whose inputs are the SDK, the
//! manifests-only snapshot (masked as for the fetch step, below), the fetch step's layer and *exactly* the cargo step's environment,
//! profile, feature and `--target` flags and its `--config` and `-Z` arguments (so every strict-key input that reaches cargo is in it,
//! and its fingerprints match the cargo step's). Source edits never change those inputs; a new
//! dependency, lockfile change or flag always does. Its output is a layer, so it is exported
//! with the build cache; it only ever seeds an *empty* target cache mount.
//!
//! Whether the layer exists at all is decided by `[cache] layers` (`spec::LayerPolicy`): with
//! `auto` (the default) only where it pays, when the build's cache travels (below) or a `.deps`
//! target asks for it. A local developer loop's target cache mount is warm anyway, and a layer
//! step of its own would only serialise the build (no overlap of the last third-party and first
//! workspace crates) and make a lockfile bump recompile the whole layer from nothing. `always`
//! plans it on every build, `never` on none. The layer never changes what the cargo step
//! produces (it only seeds an empty mount, and the mount id is the same either way), so this
//! choice is not a key input; it changes the LLB, which is deliberate.
//!
//! # Dependency cache — mount id [`dependency_cache_id`]
//! A third-party dependency layer does not start from nothing on a builder that built one
//! before: its step copies the warm target directory of a cache mount of its own into the
//! layer, runs cargo there (so a lockfile bump recompiles the bumped crates and what depends on
//! them, not every crate), and copies the result back. The id is keyed like the target cache
//! minus what only the workspace changes: SDK, platform, triple, profile, the layer's cargo
//! command (features, flags, `--config`, `-Z`, packages) and exact environment (RUSTFLAGS,
//! spec env; volatile values never reach a layer), toolchain files and cargo config. Not
//! keyed: the masked manifests, the lockfile and the vendored sources (what changes between two
//! runs of the step; cargo's fingerprints decide what they rebuild, as on a target cache), and
//! the project: the layer is shared by content across projects (a fork, a CI job's copy), and
//! BuildKit v0.8 keys an exec on its cache mount ids, so a project name in the id would make
//! each project rebuild a layer another one already has. Current BuildKit ignores the id in
//! the exec's key; the step's own inputs decide whether it runs.
//! On a fresh runner the mount is empty and the layer is built from nothing, as before;
//! `--no-cache` for the target empties it first. The layer may then hold artifacts of versions
//! the lockfile no longer names (cargo keeps them, as on any target directory); they are never
//! linked into an output.
//!
//! # Workspace dependency layer — keyed by BuildKit on content, planned when the cache travels
//! (or with `[cache] layers = "always"`)
//! When the build imports a cache or writes inline cache, a second step compiles, on top of the
//! dependency layer (an input, so everything keying it keys this too), the workspace members
//! the cargo step builds only as dependencies. Its further input is a sources snapshot with the
//! full sources of exactly those members and stand-ins for the rest: an edit to one of them
//! re-runs it, an edit to the step's own packages never does. Same command and environment as
//! the layer below; it too only ever seeds an empty target cache mount. Whether the cache
//! travels is the one request input that decides whether the step exists at all, so the LLB of
//! a build with `--cache-from` differs from the same build without it (deliberately: a local
//! developer loop never pays for the layer).
//!
//! # The mount id is not the exec's cache key
//! Current BuildKit drops cache mount ids from an exec's cache key (only Dockerfile-style
//! default ids are kept), so the mount id can only choose *which warm `target/`* a step runs
//! against; it cannot make BuildKit re-run a step. Every input above that can change the
//! output is therefore also in the exec's own definition: the SDK identity, RUSTFLAGS and the
//! spec env in its environment, profile, features and the step's own cargo arguments in its
//! arguments, platform and network
//! in the op, and the toolchain files and cargo config in the sources snapshot (BuildKit keys
//! that by content). Only `project` and `mode` live in the mount id alone — neither changes
//! what cargo produces. The compile tests check this op by op.
//!
//! # cachet-helper — keyed by BuildKit on content, deliberately not in the mount id
//! Every cargo step and dependency-layer step runs `cachet-helper` (the freshness pass, and
//! after a cargo step the build-script watch check; see `compile/freshness.rs`), mounted
//! read-only from the frontend's own image (opt `source`, resolved and pinned like the SDK)
//! with a selector on its `/helper` directory. BuildKit keys a read-only mount with a selector
//! on the content of the selected path, as well as on the image source itself: a new helper
//! re-runs every step that uses it (its freshness logic may stamp the sources differently),
//! while a frontend image rebuilt around the same helper still finds the steps' cache. The
//! helper is **not** hashed into the target cache mount id: it decides which mtimes cargo
//! sees, never what cargo produces from a given source tree, and it treats a freshness
//! manifest of an older or unknown format as "every entry new" (one full rebuild on a warm
//! mount, never a stale one). So upgrading Cachet keeps every warm `target/`.
//!
//! # Vendored crates — a local keyed on the checksum files, a check keyed on content
//! When the cargo config vendors crates into a `directory` source in the context and some of
//! their `.cargo-checksum.json` list files (`project/vendored.rs`, `compile/vendored.rs`):
//! * the **listed crates' local** has shared key hint `cachet-<local>-vendored-<digest>`, the
//!   digest of every checksum file of those directories (paths and bytes) — no session id, so
//!   BuildKit re-uses the previous transfer and only re-sends files whose size or mtime changed.
//!   Correct because cargo refuses a listed file that does not match its sum, so the only edit
//!   that can build is one that updates a checksum file, and that moves the hint: the whole
//!   directory travels afresh. Test: `listed_vendored_crates_travel_incrementally_everything_
//!   else_afresh` (`compile/vendored_tests.rs`) moves the key with one checksum;
//! * the checksum files, the crates' manifests and the unlisted crates (`"files": {}`) travel in
//!   a session-keyed local like every source snapshot;
//! * both are copied into one tree (every mtime fixed at 1980-01-01, the SDK marker at its root);
//!   BuildKit keys the copy, and so every step that mounts the tree, on its content;
//! * the **check** (`cachet-helper vendored`) is an exec on the SDK with the helper and the tree
//!   read-only, no network: keyed on their content alone. Its output (the tree's fingerprints)
//!   is mounted read-only at `/cachet/vendored` in cargo and dependency-layer steps, the tree at
//!   `/cachet/src/<dir>`. No mount id moves: the content of both is in every such step's key, as
//!   the vendor directory was when it travelled inside the sources snapshot. Golden digests of
//!   projects whose vendored crates list their files changed when this came (new ops and
//!   mounts); others are byte for byte as before.
//!
//! # Fetch step — keyed by BuildKit on content, no mount id of its own
//! It runs where the cargo steps run (the build platform unless emulated) and takes no
//! `--target`, so it does not move with the target platform: every platform of a cross build
//! shares one fetch vertex.
//! Dependencies are vendored by a step whose only inputs are the SDK and a snapshot of the
//! *masked* manifests and `Cargo.lock`, the `.cargo/` config and toolchain files (plus empty
//! stand-ins for target sources), so source edits never re-run it and a lockfile change that
//! touches a third-party crate always does. Masked (`project::masked`, written into the LLB by
//! the frontend): comments and layout, the descriptive `[package]` fields (description,
//! authors, license, links, keywords, `metadata`…), `[badges]`, and the versions of the
//! workspace's own packages (in manifests, lockfile and path requirements). None of them can
//! change what is fetched, and a one-word description edit re-vendored everything. Kept:
//! everything that decides resolution and third-party compilation (dependencies, features,
//! `[patch]`, `[profile]`, edition, `rust-version`, resolver, target tables), and the patched
//! crates' manifests untouched. Deliberately not keyed, then: the masked fields. The cargo
//! steps see the real files, so those fields still reach the workspace's own crates. Its
//! download cache is the shared mount [`CARGO_DOWNLOAD_CACHE_ID`]: cargo verifies everything
//! in it against `Cargo.lock` checksums, so sharing it across projects and SDKs is safe. Its
//! output is an ordinary layer, so it travels with `--cache-to`.
//!
//! A fetch that uses secrets or SSH (a private registry or git host) gets **no** shared
//! download cache: a cache mount id is a name any build on the builder can mount, so keying it
//! on the registry or the secret id would still let another repository on a shared CI builder
//! read crates only the first one's token could download. Deliberately not keyed: the secret
//! values themselves (BuildKit never shows them to a frontend, and they must never reach a key,
//! a layer or the LLB). The fetch layer of a private build is keyed on the manifests and the
//! lockfile, whose checksums already name the private crates exactly.
//!
//! Also deliberately not keyed: the proxy build arguments (`HTTP_PROXY` …), which reach the
//! fetch step as the exec's proxy env, a field BuildKit leaves out of its cache key (they are in
//! the LLB, as BuildKit needs them there), and the content of the `[fetch] ca-bundle` secret;
//! only its id is (as a mount option), as for every secret. Neither changes what is fetched:
//! cargo checks every download against `Cargo.lock`, whichever proxy carried it and whichever
//! CA vouched for the connection. So moving behind a proxy, or to a new CA, keeps the fetch.

use std::collections::BTreeMap;

use serde::Serialize;

/// Bump when the meaning of any key input changes.
pub const KEY_SCHEMA: &str = "cachet-key-v2";

/// Cache mount id of the shared cargo download cache (registry and git), used by fetch steps.
pub const CARGO_DOWNLOAD_CACHE_ID: &str = "cachet/cargo-download";

/// Cache mount id of the why step of `target` (see the module docs): keyed on the project and
/// the target only, so every build of a target compares with the last one, whatever its keys.
pub fn why_mount_id(project: &str, target: &str) -> String {
    format!("cachet/{project}/why/{target}")
}

/// What the dependency layer's own warm target directory is keyed on (see the module docs,
/// "Dependency cache"): everything that reaches the layer's cargo except the workspace's
/// sources and the masked manifests, which cargo's fingerprints sort out the way they do on a
/// target cache.
#[derive(Debug, Clone, Serialize)]
pub struct DependencyCacheInputs<'a> {
    pub sdk: &'a str,
    pub platform: &'a str,
    pub triple: &'a str,
    pub profile: &'a str,
    /// The layer's cargo command: subcommand, `--config`/`-Z`, profile, feature and target
    /// flags, the packages it builds for.
    pub command: &'a [String],
    /// The layer's exact environment (RUSTFLAGS, the spec env; never volatile values).
    pub env: &'a [(String, String)],
    /// Toolchain file path → content digest.
    pub toolchain_files: &'a BTreeMap<String, String>,
    /// Cargo config path → content digest.
    pub cargo_config: &'a BTreeMap<String, String>,
}

/// Cache mount id of the warm target directory a third-party dependency layer starts from:
/// `cachet/deps/<triple>/<profile>/<hash>`. Not per project: the layer is keyed on content,
/// so two projects with the same inputs share it (a fork, a CI job's copy of the sources), and
/// on BuildKit v0.8, which keys an exec on its cache mount ids, a project name in the id would
/// make them rebuild it.
pub fn dependency_cache_id(inputs: &DependencyCacheInputs<'_>) -> Result<String, KeyError> {
    #[derive(Serialize)]
    struct Hashed<'a> {
        schema: &'static str,
        what: &'static str,
        inputs: &'a DependencyCacheInputs<'a>,
    }
    let hash = crate::llb::Digest::of(&canonical_json(&Hashed {
        schema: KEY_SCHEMA,
        what: "dependency-cache",
        inputs,
    })?)
    .hex()
    .to_string();
    Ok(format!(
        "cachet/deps/{}/{}/{}",
        inputs.triple,
        inputs.profile,
        &hash[..SHORT_HASH]
    ))
}

/// How many hex digits of a hash appear in ids and progress names.
const SHORT_HASH: usize = 12;

/// Which inputs key the target cache mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// Every input that can change the output: the default, and what releases should use.
    #[default]
    Strict,
    /// SDK, platform and profile only; cargo decides the rest. For developer loops.
    Fast,
}

impl KeyMode {
    pub fn parse(s: &str) -> Option<KeyMode> {
        match s {
            "strict" => Some(KeyMode::Strict),
            "fast" => Some(KeyMode::Fast),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Strict => "strict",
            KeyMode::Fast => "fast",
        }
    }
}

/// Everything a target cache mount is keyed on. See the module docs for why each is here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetKeyInputs {
    pub project: String,
    pub sdk: String,
    pub platform: String,
    pub triple: String,
    pub profile: String,
    pub features: Vec<String>,
    pub default_features: bool,
    pub rustflags: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Context path → `sha256:` of its content.
    pub toolchain_files: BTreeMap<String, String>,
    /// Context path → `sha256:` of its content.
    pub cargo_config: BTreeMap<String, String>,
    /// The compile step's network mode (`none` unless forced to `host`).
    pub network: String,
    /// `[cargo] volatile-env`: names whose values `env` leaves out (sorted). Absent from the
    /// hash when empty, so specs without it keep their mount ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volatile_env: Vec<String>,
    /// The step's own cargo arguments that can change its output, in order
    /// ([`crate::spec::cargo_args::keyed_args`]; see the module docs for the table).
    pub cargo_args: Vec<String>,
    /// The platform the step runs on when it cross-compiles (`compile/cross.rs`); empty when
    /// it runs on the target platform, so native builds keep their mount ids.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub build_platform: String,
    /// The step runs on the target platform under emulation (`[cross] emulate`); absent when
    /// false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub emulated: bool,
    /// The cross environment (linker, C compilers, pkg-config for the target triple) a cross
    /// step passes to cargo; empty, and absent, for steps that do not cross-compile.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cross_env: BTreeMap<String, String>,
    /// The `SOURCE_DATE_EPOCH` build argument cargo runs with. Absent from the hash when not
    /// given, so builds without it keep their mount ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
    /// `[contexts]`: named context → the path cargo sees it at. Absent from the hash when
    /// empty, so specs without it keep their mount ids.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, String>,
}

/// A computed target cache key: the full hash and the mount id built from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetKey {
    pub hash: String,
    pub mount_id: String,
}

/// Both keys of a cargo step, and which one names its mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetKeys {
    pub mode: KeyMode,
    pub strict: TargetKey,
    pub fast: TargetKey,
}

impl TargetKeys {
    /// The key whose mount the step runs against.
    pub fn selected(&self) -> &TargetKey {
        match self.mode {
            KeyMode::Strict => &self.strict,
            KeyMode::Fast => &self.fast,
        }
    }
}

impl TargetKeyInputs {
    pub fn keys(&self, mode: KeyMode) -> Result<TargetKeys, KeyError> {
        Ok(TargetKeys {
            mode,
            strict: self.strict_key()?,
            fast: self.fast_key()?,
        })
    }

    pub fn strict_key(&self) -> Result<TargetKey, KeyError> {
        #[derive(Serialize)]
        struct Hashed<'a> {
            schema: &'a str,
            mode: KeyMode,
            #[serde(flatten)]
            inputs: &'a TargetKeyInputs,
        }
        let mut normalized = self.clone();
        normalized.features.sort();
        normalized.features.dedup();
        let hash = crate::llb::Digest::of(&canonical_json(&Hashed {
            schema: KEY_SCHEMA,
            mode: KeyMode::Strict,
            inputs: &normalized,
        })?)
        .hex()
        .to_string();
        Ok(self.key_with(hash, ""))
    }

    pub fn fast_key(&self) -> Result<TargetKey, KeyError> {
        #[derive(Serialize)]
        struct Hashed<'a> {
            schema: &'a str,
            mode: KeyMode,
            project: &'a str,
            sdk: &'a str,
            platform: &'a str,
            triple: &'a str,
            profile: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            build_platform: &'a str,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            emulated: bool,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            cross_env: &'a BTreeMap<String, String>,
        }
        let hash = crate::llb::Digest::of(&canonical_json(&Hashed {
            schema: KEY_SCHEMA,
            mode: KeyMode::Fast,
            project: &self.project,
            sdk: &self.sdk,
            platform: &self.platform,
            triple: &self.triple,
            profile: &self.profile,
            build_platform: &self.build_platform,
            emulated: self.emulated,
            cross_env: &self.cross_env,
        })?)
        .hex()
        .to_string();
        Ok(self.key_with(hash, "fast-"))
    }

    fn key_with(&self, hash: String, prefix: &str) -> TargetKey {
        let mount_id = format!(
            "cachet/{}/{}/{}/{prefix}{}",
            self.project,
            self.triple,
            self.profile,
            &hash[..SHORT_HASH]
        );
        TargetKey { hash, mount_id }
    }
}

/// The short hash shown in a step's progress name: the step's own arguments plus the key it
/// runs under (a target cache key's hash; the SDK identity for the fetch step).
pub fn step_tag(key: &str, args: &[String]) -> Result<String, KeyError> {
    let hash = crate::llb::Digest::of(&canonical_json(&(key, args))?)
        .hex()
        .to_string();
    Ok(hash[..6].to_string())
}

/// The SDK identity: the manifest digest when the engine reported one, otherwise the image id
/// (digest of the config bytes), which is what dockerd's local store knows the image by.
pub fn sdk_identity(manifest_digest: &str, config: &[u8]) -> String {
    if manifest_digest.is_empty() {
        crate::llb::Digest::of(config).into_string()
    } else {
        manifest_digest.to_string()
    }
}

/// Bump when the SDK setup exec changes in a way its script does not show.
pub const SDK_SETUP_SCHEMA: &str = "cachet-sdk-setup-v1";

/// What an extended SDK is made from besides the image (see the module docs).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SdkSetupInputs<'a> {
    /// `[sdk] packages`, as the loader normalised them (sorted, deduplicated).
    pub packages: &'a [String],
    /// `[sdk] setup`, in order.
    pub setup: &'a [String],
    /// The setup step's script, exactly as it runs.
    pub script: &'a str,
}

/// The identity of the SDK the spec's `[sdk] packages` / `setup` make of the image identified
/// by `image` ([`sdk_identity`]): `sha256:` of the canonical JSON of all of them.
pub fn extended_sdk_identity(image: &str, setup: &SdkSetupInputs<'_>) -> Result<String, KeyError> {
    #[derive(Serialize)]
    struct Hashed<'a> {
        schema: &'a str,
        image: &'a str,
        #[serde(flatten)]
        setup: &'a SdkSetupInputs<'a>,
    }
    Ok(crate::llb::Digest::of(&canonical_json(&Hashed {
        schema: SDK_SETUP_SCHEMA,
        image,
        setup,
    })?)
    .into_string())
}

/// Key inputs that could not be encoded. Every input is strings, booleans, lists and
/// string-keyed maps, which always encode; the error exists so that a key is never computed
/// from a partial or empty encoding (two different inputs must never hash alike).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not encode the cache-key inputs: {0}")]
pub struct KeyError(String);

fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, KeyError> {
    // serde_json::Value objects are sorted maps; struct fields keep declaration order.
    serde_json::to_vec(value).map_err(|e| KeyError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key functions' encodings cannot fail on these inputs; a test unwraps them.
    fn extended_sdk_identity(image: &str, setup: &SdkSetupInputs<'_>) -> String {
        super::extended_sdk_identity(image, setup).unwrap()
    }

    fn inputs() -> TargetKeyInputs {
        TargetKeyInputs {
            project: "hello".into(),
            sdk: "sha256:1111".into(),
            platform: "linux/amd64".into(),
            triple: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            features: vec!["tls".into()],
            default_features: true,
            rustflags: vec!["-C".into(), "target-cpu=x86-64-v2".into()],
            env: BTreeMap::from([("CFLAGS".into(), "-O2".into())]),
            toolchain_files: BTreeMap::from([("rust-toolchain.toml".into(), "sha256:aaaa".into())]),
            cargo_config: BTreeMap::new(),
            network: "none".into(),
            volatile_env: Vec::new(),
            cargo_args: Vec::new(),
            build_platform: String::new(),
            emulated: false,
            cross_env: BTreeMap::new(),
            source_date_epoch: None,
            contexts: BTreeMap::new(),
        }
    }

    fn strict(i: &TargetKeyInputs) -> TargetKey {
        i.keys(KeyMode::Strict).unwrap().selected().clone()
    }

    #[test]
    fn the_dependency_cache_id_moves_with_what_reaches_the_layer_only() {
        let (command, env) = (
            vec!["cargo".to_string(), "build".into()],
            vec![("RUSTFLAGS".to_string(), "-O".to_string())],
        );
        let empty = BTreeMap::new();
        let toolchain = BTreeMap::from([("rust-toolchain".to_string(), "sha256:1".to_string())]);
        let base = DependencyCacheInputs {
            sdk: "sha256:sdk",
            platform: "linux/amd64",
            triple: "x86_64-unknown-linux-gnu",
            profile: "release",
            command: &command,
            env: &env,
            toolchain_files: &empty,
            cargo_config: &empty,
        };
        let id = dependency_cache_id(&base).unwrap();
        assert!(
            id.starts_with("cachet/deps/x86_64-unknown-linux-gnu/release/"),
            "{id}"
        );
        assert_eq!(id, dependency_cache_id(&base.clone()).unwrap());
        let other_env = vec![("RUSTFLAGS".to_string(), "-O -g".to_string())];
        let other_command = vec![
            "cargo".to_string(),
            "build".into(),
            "--features".into(),
            "x".into(),
        ];
        let moved = [
            DependencyCacheInputs {
                sdk: "sha256:other",
                ..base.clone()
            },
            DependencyCacheInputs {
                platform: "linux/arm64",
                ..base.clone()
            },
            DependencyCacheInputs {
                profile: "dev",
                ..base.clone()
            },
            DependencyCacheInputs {
                env: &other_env,
                ..base.clone()
            },
            DependencyCacheInputs {
                command: &other_command,
                ..base.clone()
            },
            DependencyCacheInputs {
                toolchain_files: &toolchain,
                ..base.clone()
            },
            DependencyCacheInputs {
                cargo_config: &toolchain,
                ..base.clone()
            },
        ];
        for inputs in moved {
            assert_ne!(dependency_cache_id(&inputs).unwrap(), id, "{inputs:?}");
        }
    }

    #[test]
    fn mount_id_is_readable_and_stable() {
        let key = strict(&inputs());
        assert!(
            key.mount_id
                .starts_with("cachet/hello/x86_64-unknown-linux-gnu/release/"),
            "{}",
            key.mount_id
        );
        assert_eq!(key.mount_id.rsplit('/').next().unwrap().len(), SHORT_HASH);
        assert_eq!(key, strict(&inputs()));
        let fast = inputs().keys(KeyMode::Fast).unwrap();
        assert_eq!(fast.selected(), &fast.fast);
        assert!(
            fast.fast.mount_id.contains("/release/fast-"),
            "{}",
            fast.fast.mount_id
        );
        assert_ne!(fast.fast.hash, fast.strict.hash);
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = strict(&inputs());
        let base_fast = inputs().fast_key();
        type Change = Box<dyn Fn(&mut TargetKeyInputs)>;
        // Every strict input; the ones in FAST_INPUTS also key fast mode.
        let changes: Vec<(&str, Change)> = vec![
            ("project", Box::new(|i| i.project = "other".into())),
            ("sdk", Box::new(|i| i.sdk = "sha256:2222".into())),
            ("platform", Box::new(|i| i.platform = "linux/arm64".into())),
            (
                "triple",
                Box::new(|i| i.triple = "aarch64-unknown-linux-gnu".into()),
            ),
            ("profile", Box::new(|i| i.profile = "dev".into())),
            ("features", Box::new(|i| i.features.push("json".into()))),
            ("default_features", Box::new(|i| i.default_features = false)),
            (
                "rustflags",
                Box::new(|i| i.rustflags[1] = "target-cpu=native".into()),
            ),
            (
                "env value",
                Box::new(|i| {
                    i.env
                        .insert("CFLAGS".into(), "-O3".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            (
                "env name",
                Box::new(|i| {
                    i.env
                        .insert("CC".into(), "clang".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            (
                "toolchain file",
                Box::new(|i| {
                    i.toolchain_files
                        .insert("rust-toolchain.toml".into(), "sha256:bbbb".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            (
                "cargo config",
                Box::new(|i| {
                    i.cargo_config
                        .insert(".cargo/config.toml".into(), "sha256:cccc".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            ("network", Box::new(|i| i.network = "host".into())),
            (
                "volatile env name",
                Box::new(|i| i.volatile_env.push("CACHET_COMMIT".into())),
            ),
            (
                "named context mapping",
                Box::new(|i| {
                    i.contexts
                        .insert("shared".into(), "../shared-lib".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            (
                "cargo args",
                Box::new(|i| {
                    i.cargo_args = vec!["--config".into(), "env.CACHET_FACT=\"b\"".into()]
                }),
            ),
            (
                "source date epoch",
                Box::new(|i| i.source_date_epoch = Some(1_700_000_000)),
            ),
            (
                "reproducible (remap flags)",
                Box::new(|i| {
                    i.rustflags
                        .extend(crate::compile::remap_rustflags("/usr/local/cargo"))
                }),
            ),
            (
                "build platform",
                Box::new(|i| i.build_platform = "linux/arm64".into()),
            ),
            ("emulated", Box::new(|i| i.emulated = true)),
            (
                "cross env",
                Box::new(|i| {
                    i.cross_env
                        .insert("CC_aarch64_unknown_linux_gnu".into(), "clang".into())
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
        ];
        const FAST_INPUTS: &[&str] = &[
            "project",
            "sdk",
            "platform",
            "triple",
            "profile",
            "build platform",
            "emulated",
            "cross env",
        ];
        for (what, change) in changes {
            let mut i = inputs();
            change(&mut i);
            assert_ne!(
                strict(&i).hash,
                base.hash,
                "changing {what} must change the strict key"
            );
            assert_ne!(
                strict(&i).mount_id,
                base.mount_id,
                "{what}: strict mount id"
            );
            let fast = i.fast_key();
            if FAST_INPUTS.contains(&what) {
                assert_ne!(fast, base_fast, "changing {what} must change the fast key");
            } else {
                assert_eq!(fast, base_fast, "fast mode must not key on {what}");
            }
        }
    }

    #[test]
    fn cargo_args_key_in_order_from_the_spec_arguments() {
        let with = |args: &[&str]| {
            let mut i = inputs();
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            i.cargo_args = crate::spec::cargo_args::keyed_args(&args);
            i
        };
        let plain = with(&["build", "--workspace"]);
        // Selection and reporting share a mount: `build` and `test` targets stay warm for each
        // other.
        for same in [
            &["test", "-p", "app", "--", "--nocapture"][..],
            &["build", "-v", "--bin", "app", "--message-format", "json"],
            &["check", "-j", "2", "--keep-going", "--timings"],
        ] {
            assert_eq!(strict(&with(same)), strict(&plain), "{same:?}");
        }
        for moved in [
            &["build", "--config", "env.CACHET_FACT=\"a\""][..],
            &["build", "--config", "profile.release.opt-level=1"],
            &["build", "-Zbuild-std"],
            &["rustc", "--", "--cfg", "foo"],
            &["build", "--unknown-flag"],
        ] {
            let i = with(moved);
            assert_ne!(strict(&i), strict(&plain), "{moved:?}");
            assert_eq!(
                i.fast_key(),
                plain.fast_key(),
                "fast mode trusts cargo: {moved:?}"
            );
        }
        assert_ne!(
            strict(&with(&["build", "--config", "a=1", "--config", "a=2"])),
            strict(&with(&["build", "--config", "a=2", "--config", "a=1"])),
            "the last --config wins, so order keys"
        );
        assert_ne!(
            strict(&with(&["build", "--config", "env.X=\"a\""])),
            strict(&with(&["build", "--config", "env.X=\"b\""])),
        );
    }

    #[test]
    fn the_two_modes_never_share_a_mount() {
        let keys = inputs().keys(KeyMode::Strict).unwrap();
        assert_ne!(keys.strict.mount_id, keys.fast.mount_id);
        assert_eq!(keys, inputs().keys(KeyMode::Strict).unwrap());
        assert_eq!(inputs().keys(KeyMode::Fast).unwrap().strict, keys.strict);
    }

    #[test]
    fn feature_order_and_duplicates_do_not_matter() {
        let mut a = inputs();
        a.features = vec!["b".into(), "a".into(), "a".into()];
        let mut b = inputs();
        b.features = vec!["a".into(), "b".into()];
        assert_eq!(strict(&a), strict(&b));
    }

    #[test]
    fn reverting_an_input_returns_to_the_same_mount() {
        let mut i = inputs();
        let before = strict(&i);
        i.rustflags.push("-Dwarnings".into());
        assert_ne!(strict(&i), before);
        i.rustflags.pop();
        assert_eq!(strict(&i), before);
    }

    #[test]
    fn every_setup_input_moves_the_extended_sdk_identity() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (packages, setup) = (strings(&["cmake", "make"]), strings(&["true", "id"]));
        let base = SdkSetupInputs {
            packages: &packages,
            setup: &setup,
            script: "set -eu",
        };
        let image = "sha256:1111";
        let id = extended_sdk_identity(image, &base);
        assert!(
            id.strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "{id}"
        );
        assert_ne!(id, image, "an extended SDK is not the image");
        assert_eq!(id, extended_sdk_identity(image, &base), "deterministic");
        let (more, fewer) = (strings(&["cmake", "file", "make"]), strings(&["cmake"]));
        let (other_setup, reordered) = (strings(&["true", "id", "true"]), strings(&["id", "true"]));
        let changes: Vec<(&str, &str, SdkSetupInputs)> = vec![
            ("image", "sha256:2222", base),
            (
                "a package more",
                image,
                SdkSetupInputs {
                    packages: &more,
                    ..base
                },
            ),
            (
                "a package less",
                image,
                SdkSetupInputs {
                    packages: &fewer,
                    ..base
                },
            ),
            (
                "a command more",
                image,
                SdkSetupInputs {
                    setup: &other_setup,
                    ..base
                },
            ),
            (
                "commands reordered",
                image,
                SdkSetupInputs {
                    setup: &reordered,
                    ..base
                },
            ),
            (
                "script",
                image,
                SdkSetupInputs {
                    script: "set -eux",
                    ..base
                },
            ),
        ];
        for (what, image, inputs) in changes {
            assert_ne!(extended_sdk_identity(image, &inputs), id, "{what}");
        }
    }

    #[test]
    fn the_why_mount_is_keyed_on_project_and_target_only() {
        assert_eq!(why_mount_id("hello", "build"), "cachet/hello/why/build");
        assert_ne!(
            why_mount_id("hello", "build"),
            why_mount_id("hello", "test")
        );
        assert_ne!(
            why_mount_id("hello", "build"),
            why_mount_id("other", "build")
        );
        // Never a target cache: those are `cachet/<project>/<triple>/<profile>/<hash>`.
        let target_cache = strict(&inputs()).mount_id;
        assert!(!target_cache.contains("/why/"), "{target_cache}");
    }

    #[test]
    fn sdk_identity_prefers_the_manifest_digest() {
        assert_eq!(sdk_identity("sha256:abc", b"{}"), "sha256:abc");
        assert_eq!(
            sdk_identity("", b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
