//! All unsafe code and libc calls of nsgate, wrapped into safe functions
//! returning io::Result.
