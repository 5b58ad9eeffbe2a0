//! `AppAdapter`: which screen shows.

use slint::ComponentHandle;

use crate::ui::controller::Screen;
use crate::ui::generated::{AppAdapter, AppWindow, Screen as SlintScreen};

pub fn show(w: &AppWindow, screen: Screen) {
    w.global::<AppAdapter>().set_screen(match screen {
        Screen::Attract => SlintScreen::Attract,
        Screen::Shopper => SlintScreen::Shopper,
        Screen::Pickup => SlintScreen::Pickup,
        Screen::Help => SlintScreen::Help,
        Screen::Staff => SlintScreen::Staff,
        Screen::Manager => SlintScreen::Manager,
    });
}
