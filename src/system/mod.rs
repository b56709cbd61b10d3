//! All unsafe code and libc calls of nsgate, wrapped into safe functions that
//! return `io::Result`. Nothing outside this module uses `unsafe`.

mod pidfd;
mod random;

pub use pidfd::pidfd_open;
pub use random::getrandom;
