//! The `omnikiosk-hub` binary: all behaviour lives in the library (`omnikiosk_hub::cli`).

fn main() -> std::process::ExitCode {
    omnikiosk_hub::cli::main()
}
