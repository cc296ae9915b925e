//! What a page's pickers offer, read the same way everywhere: the active support groups by name
//! and the active categories by path (empty when they cannot be read: a picker with no choices,
//! never a failed page).

use crate::AppState;
use crate::ui::session::WebUser;

/// The names of the active support groups.
pub(crate) async fn group_names(s: &AppState, user: &WebUser) -> Vec<String> {
    s.app.list_groups(&user.actor).await.unwrap_or_default().into_iter().filter(|g| g.active).map(|g| g.name).collect()
}

/// The paths of the active categories (`Hardware/Laptop`).
pub(crate) async fn category_paths(s: &AppState, user: &WebUser) -> Vec<String> {
    s.app
        .list_categories(&user.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.active)
        .map(|c| c.path)
        .collect()
}
