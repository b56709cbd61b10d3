//! Helpers for unit tests only.
#![forbid(unsafe_code)]

/// Whether `test` must be skipped because it needs root: a notice for a
/// developer without root, a failure when CI asked for everything
/// (NSGATE_E2E), as for the integration tests.
pub(crate) fn skip_without_root(test: &str, why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    assert!(
        std::env::var_os("NSGATE_E2E").is_none(),
        "{test}: NSGATE_E2E is set but it needs root ({why})"
    );
    eprintln!("{test}: needs root ({why}); skipped");
    true
}
