//! nsgate: an OpenSSH forced command that runs whitelisted commands inside a
//! running container, with an audit trail.
//!
//! The modules follow the flow of a session:
//! request → policy → resolve → audit → enter → supervise.
//! `system` is the only module with `unsafe`. The modules are crate-private:
//! the binary is the product, so the compiler reports what nothing uses.

#![warn(unreachable_pub)]

pub(crate) mod audit;
pub(crate) mod authorized_keys;
pub(crate) mod cert;
pub(crate) mod cli;
pub(crate) mod config;
pub(crate) mod enter;
pub(crate) mod error;
pub(crate) mod identity;
pub(crate) mod output;
pub(crate) mod own_dir;
pub(crate) mod policy;
pub(crate) mod probe;
pub(crate) mod quote;
pub(crate) mod reader;
pub(crate) mod recording;
pub(crate) mod report;
pub(crate) mod request;
pub(crate) mod resolve;
pub(crate) mod session;
pub(crate) mod supervise;
pub(crate) mod system;
#[cfg(test)]
mod test_support;

/// The whole program; its exit status. In nsgate's sealed copy inside a
/// container, the last step of entering it, which never returns.
pub fn main() -> i32 {
    if enter::stage::is_exec_stage() {
        enter::stage::main();
    }
    cli::main()
}
