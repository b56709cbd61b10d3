//! nsgate: an OpenSSH forced command that runs whitelisted commands inside a
//! running container, with an audit trail.
//!
//! The modules follow the flow of a session:
//! request → policy → resolve → audit → enter → supervise.
//! `system` is the only module with `unsafe`.

pub mod audit;
pub mod cli;
pub mod config;
pub mod enter;
pub mod error;
pub mod identity;
pub mod output;
pub mod policy;
pub mod request;
pub mod resolve;
pub mod session;
pub mod supervise;
pub mod system;
#[cfg(test)]
mod test_support;
