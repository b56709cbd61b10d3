#![forbid(unsafe_code)]

fn main() {
    // The last step of entering a container, from nsgate's sealed copy.
    if nsgate::enter::stage::is_exec_stage() {
        nsgate::enter::stage::main();
    }
    std::process::exit(nsgate::cli::main());
}
