//! Typed database ids, so a group id is never passed where a user id belongs.

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A user: requester, agent, lead or admin.
    UserId,
    /// An assignment group (team).
    GroupId,
    /// A node of the category tree.
    CategoryId,
    /// A ticket's internal id (users see its number).
    TicketId,
);
