//! Entering the pinned target (§5): namespaces, cgroup, confinement, user,
//! working directory, environment, then exec.
#![forbid(unsafe_code)]
