//! nsgate's binary as the exec stage runs it, made by the entering process
//! while it is still on the host's side: through a private overlayfs mount
//! that nothing can write through or unwrap (no copy), else as a sealed
//! memfd copy (nsgate(8) SECURITY, "Entering").
#![forbid(unsafe_code)]

use crate::own_dir;
use crate::system;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The running nsgate's binary, sealed one way or the other.
pub(super) fn exec_stage() -> std::io::Result<OwnedFd> {
    let source = Path::new("/proc/self/exe");
    if let Some(view) = overlay_view(source) {
        return Ok(view);
    }
    system::sealed_copy_of(source)
}

/// The overlay's second, empty layer below `own_dir::RUN`: overlayfs is
/// read-only only with two.
const EMPTY_LAYER: &str = "empty";

/// `source` seen through a read-only overlay, if that can be had and shows
/// the very binary (same size and times) that `source` names.
fn overlay_view(source: &Path) -> Option<OwnedFd> {
    let path = std::fs::read_link(source).unwrap_or_else(|_| source.to_path_buf());
    // An upgraded or removed binary: the path no longer names ours.
    if path.to_string_lossy().ends_with(" (deleted)") {
        return None;
    }
    let run = Path::new(own_dir::RUN);
    let run_fd = own_dir::open(run, true, own_dir::SHARED_WRITE).ok()?;
    let empty = own_dir::open_at(
        run_fd.as_fd(),
        run,
        EMPTY_LAYER,
        true,
        own_dir::SHARED_WRITE,
    )
    .ok()?;
    // The layer checked is the layer mounted: the kernel resolves this
    // path to the open directory itself.
    let empty_path = PathBuf::from(format!("/proc/self/fd/{}", empty.as_raw_fd()));
    let view = system::sealed_view_of(&path, &empty_path).ok()?;
    let seen = std::fs::File::from(view.try_clone().ok()?)
        .metadata()
        .ok()?;
    let ours = std::fs::metadata(source).ok()?;
    let same = seen.len() == ours.len()
        && seen.mtime() == ours.mtime()
        && seen.mtime_nsec() == ours.mtime_nsec()
        && seen.ctime() == ours.ctime();
    same.then_some(view)
}
