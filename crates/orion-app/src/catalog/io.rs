//! An item as one JSON file: exported from one Orion, imported into another (or back, after
//! editing it by hand or keeping it in version control).

use super::*;

/// What a file says it is.
pub const FORMAT: &str = "orion.catalog-item";
pub const FORMAT_VERSION: i64 = 1;

/// The items Orion ships as examples (`examples/catalog/`): file name and text. The demo imports
/// them; `orion catalog import examples/catalog/<file>` imports one into any instance.
pub const EXAMPLES: [(&str, &str); 8] = [
    ("new-laptop.json", include_str!("../../../../examples/catalog/new-laptop.json")),
    ("software-install.json", include_str!("../../../../examples/catalog/software-install.json")),
    ("shared-drive-access.json", include_str!("../../../../examples/catalog/shared-drive-access.json")),
    ("password-reset.json", include_str!("../../../../examples/catalog/password-reset.json")),
    ("new-mailbox.json", include_str!("../../../../examples/catalog/new-mailbox.json")),
    ("meeting-room-equipment.json", include_str!("../../../../examples/catalog/meeting-room-equipment.json")),
    ("new-joiner.json", include_str!("../../../../examples/catalog/new-joiner.json")),
    ("leaver.json", include_str!("../../../../examples/catalog/leaver.json")),
];

/// A catalog item as a file: its fields and its package (the published one, or the draft of an
/// item never published).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogExport {
    /// Always `orion.catalog-item`
    pub format: String,
    /// 1
    pub format_version: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[schema(schema_with = icons_exact)]
    pub icon: String,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default = "yes")]
    pub active: bool,
    pub package: Package,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/catalog/import`: an exported item.
pub type CatalogImport = CatalogExport;

impl App {
    /// An item as a file (administrators).
    pub async fn export_catalog_item(&self, actor: &Actor, id: i64) -> AppResult<CatalogExport> {
        require_admin(actor, "export catalog items")?;
        let item = self.catalog_item(actor, id).await?;
        let package = item.package.or(item.draft).unwrap_or_default();
        Ok(CatalogExport {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            name: item.name,
            description: item.description,
            category: item.category,
            icon: item.icon,
            audience: item.audience,
            active: item.active,
            package,
        })
    }

    /// Imports an item from a file (administrators): a new item if none has its name, else the
    /// one that has it gets the file's fields; either way the package is published (a package
    /// equal to the published one makes no new version). With `dry_run`, only checked.
    pub async fn import_catalog_item(
        &self,
        actor: &Actor,
        file: CatalogImport,
        dry_run: bool,
    ) -> AppResult<Option<CatalogItem>> {
        require_admin(actor, "import catalog items")?;
        let mut errs = FieldErrors::new();
        if file.format != FORMAT {
            errs.push("format", format!("expected {FORMAT:?}: this is not an exported catalog item"));
        }
        if file.format_version != FORMAT_VERSION {
            errs.push("format_version", format!("this Orion reads version {FORMAT_VERSION} files"));
        }
        errs.into_result()?;
        let existing = {
            let mut r = self.db.read().await?;
            store::find_item(&mut r.conn(), &file.name).await?
        };
        let input = CatalogItemInput {
            name: file.name,
            description: file.description,
            category: file.category,
            icon: Some(file.icon),
            audience: Some(file.audience),
            active: Some(file.active),
            package: Some(file.package),
            publish: true,
            row_version: existing.as_ref().map(|e| e.row_version),
        };
        if dry_run {
            let mut errs = FieldErrors::new();
            let mut r = self.db.read().await?;
            self.item_fields(&mut r.conn(), &input, &mut errs).await?;
            errs.into_result()?;
            return Ok(None);
        }
        Ok(Some(match existing {
            Some(e) => self.update_catalog_item(actor, e.id, input).await?,
            None => self.create_catalog_item(actor, input).await?,
        }))
    }
}
