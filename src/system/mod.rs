//! All unsafe code and libc calls of nsgate, wrapped into safe functions that
//! return `io::Result`. Nothing outside this module uses `unsafe`.

mod pidfd;
mod random;

pub use pidfd::pidfd_open;
pub use random::getrandom;

// Target resolution (§3.1): runtime sockets, pid files, liveness via pidfd.
mod open;
mod pidfd_signal;
mod unix_connect;

pub use open::open_nofollow_nonblocking;
pub use pidfd_signal::{is_no_such_process, pidfd_send_signal};
pub use unix_connect::connect_unix;
