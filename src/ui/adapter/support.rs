//! What every adapter uses: the action handle, the callback macro, list models.

use std::rc::Rc;

use slint::{ModelRc, VecModel};

use crate::ui::controller::Kiosk;

/// Runs a controller action and brings the window up to date (made by `kiosk.rs`).
pub type Act = Rc<dyn Fn(&dyn Fn(&mut Kiosk))>;

/// Connects a Slint callback to a controller action.
macro_rules! on {
    ($act:expr, $global:expr, $setter:ident, |$k:ident $(, $arg:ident)*| $body:expr) => {{
        let act = $act.clone();
        $global.$setter(move |$($arg),*| act(&|$k: &mut $crate::ui::controller::Kiosk| $body));
    }};
}

/// A controller's enum as the screen's Slint enum of the same meaning, variant by variant
/// (the compiler checks every variant is named).
macro_rules! mirror {
    ($value:expr, $from:ident => $to:ident { $($a:ident => $b:ident),* $(,)? }) => {
        match $value {
            $($from::$a => $to::$b),*
        }
    };
}

/// A list model of `rows`, each made into its Slint struct.
pub fn model<R, T: Clone + 'static>(rows: &[R], row: impl Fn(&R) -> T) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows.iter().map(row).collect::<Vec<_>>()))
}

/// A count for an `int` property (the screens never show more than `i32::MAX`).
pub fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}
