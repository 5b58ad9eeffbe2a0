//! Choosing how the window reaches the screen, from `[display]` in `kiosk.toml`: a
//! desktop window (winit) when a desktop session is there, else DRM/KMS straight on the
//! display (Slint's `linuxkms` backend, in builds with the `linuxkms` feature: the
//! Raspberry Pi package). FemtoVG draws where OpenGL ES works; the software renderer
//! takes over where it does not.

use crate::config::{DisplayBackend, DisplayConfig, DisplayRenderer};

/// Passes rotation and output to the linuxkms backend, which reads them from the
/// environment. Must run before any other thread starts (it sets environment variables).
pub fn prepare(cfg: &DisplayConfig) {
    // SAFETY of set_var: called from `main` before the runtime's threads exist.
    if cfg.rotation.degrees() != 0 && std::env::var_os("SLINT_KMS_ROTATION").is_none() {
        std::env::set_var("SLINT_KMS_ROTATION", cfg.rotation.degrees().to_string());
    }
    if let Some(output) = cfg.output.as_deref().filter(|_| std::env::var_os("SLINT_DRM_OUTPUT").is_none()) {
        std::env::set_var("SLINT_DRM_OUTPUT", output);
    }
}

/// The backend `auto` picks in this environment.
pub fn backend_for(cfg: &DisplayConfig, desktop_session: bool) -> Result<&'static str, String> {
    match cfg.backend {
        DisplayBackend::Winit => Ok("winit"),
        DisplayBackend::Linuxkms if cfg!(feature = "linuxkms") => Ok("linuxkms"),
        DisplayBackend::Linuxkms => Err("display.backend is linuxkms, but this build has no linuxkms support".into()),
        DisplayBackend::Auto if desktop_session => Ok("winit"),
        DisplayBackend::Auto if cfg!(feature = "linuxkms") => Ok("linuxkms"),
        DisplayBackend::Auto => Err("no display: the kiosk window needs a graphical session, and neither DISPLAY nor \
             WAYLAND_DISPLAY is set (a build with the linuxkms feature draws on the display directly)"
            .into()),
    }
}

/// Whether a desktop session (X11 or Wayland) is there to open a window in.
pub fn desktop_session() -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Sets Slint's platform as the configuration says. Call once, before the window exists.
pub fn select(cfg: &DisplayConfig) -> Result<(), String> {
    let backend = backend_for(cfg, desktop_session())?;
    let mut selector = slint::BackendSelector::new().backend_name(backend.into());
    match cfg.renderer {
        // linuxkms tries FemtoVG, then the software renderer; winit starts with FemtoVG.
        DisplayRenderer::Auto => {}
        DisplayRenderer::Femtovg => selector = selector.renderer_name("femtovg".into()),
        DisplayRenderer::Software => selector = selector.renderer_name("software".into()),
    }
    selector.select().map_err(|e| {
        let reason = e.to_string();
        let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        format!("cannot open the kiosk window on {backend}: {reason}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn auto_picks_the_desktop_when_there_is_one() {
        let cfg = DisplayConfig::default();
        assert_eq!(backend_for(&cfg, true), Ok("winit"));
        let without = backend_for(&cfg, false);
        if cfg!(feature = "linuxkms") {
            assert_eq!(without, Ok("linuxkms"));
        } else {
            assert!(without.unwrap_err().starts_with("no display:"));
        }
    }

    #[test]
    fn the_display_section_is_checked_with_its_line() {
        let cfg = Config::parse("[display]\nbackend = \"winit\"\nrotation = 90\noutput = \"DSI-1\"\n").unwrap();
        assert_eq!(cfg.display.rotation.degrees(), 90);
        assert_eq!(backend_for(&cfg.display, false), Ok("winit"));
        let err = Config::parse("[display]\nrotation = 45\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("0, 90, 180 or 270"), "{err}");
        let err = Config::parse("[display]\nbackend = \"fbdev\"\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("winit"), "{err}");
        let linuxkms = Config::parse("[display]\nbackend = \"linuxkms\"\n");
        assert_eq!(linuxkms.is_ok(), cfg!(feature = "linuxkms"), "{linuxkms:?}");
    }
}
