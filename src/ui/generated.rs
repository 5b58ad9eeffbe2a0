//! What `slint-build` generates from `ui/app.slint`: the window, the adapter globals,
//! their row structs and enums. Only `adapter/` and `kiosk.rs` use them.

slint::include_modules!();
