//! `AppAdapter`: which screen shows.

use slint::ComponentHandle;

use crate::ui::controller::Screen;
use crate::ui::generated::{AppAdapter, AppWindow, Screen as SlintScreen};

pub fn show(w: &AppWindow, screen: Screen) {
    w.global::<AppAdapter>().set_screen(mirror!(screen, Screen => SlintScreen { Attract => Attract, Shopper => Shopper, Pickup => Pickup, Help => Help, Staff => Staff, Manager => Manager }));
}
