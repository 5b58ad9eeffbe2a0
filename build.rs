//! Compiles the Slint UI (`ui/`) with its bundled translations.

fn main() {
    // Plain msgids (no per-component context): one translation per sentence, whichever
    // screen shows it.
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("ui/lang")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config).expect("the Slint UI compiles");
    println!("cargo:rerun-if-changed=ui");
}
