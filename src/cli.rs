//! The command line of §2.
#![forbid(unsafe_code)]

/// Runs nsgate and returns its exit code.
pub fn main() -> i32 {
    125
}
