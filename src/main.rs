//! The `omnikiosk` binary: all behaviour lives in the library (`omnikiosk::cli`).

fn main() -> std::process::ExitCode {
    omnikiosk::cli::main()
}
