-- Assets and the CMDB (SQLite): configuration items, their history, relationships, links to
-- tickets, what inventory agents found on them, software licences and inventory tokens.
-- Keep in step with migrations/postgres/0013_cmdb.sql.

-- A configuration item: a device, a piece of software or a service. name_key is the lower-cased
-- name (matching alerts and inventories); owner_id is the user it is checked out to; hardware is
-- the JSON summary of the last inventory (CPUs, memory, disks, network interfaces).
CREATE TABLE ci (
    id                INTEGER PRIMARY KEY,
    ci_type           TEXT    NOT NULL CHECK (ci_type IN ('desktop', 'laptop', 'server', 'virtual_machine', 'printer',
                          'network_device', 'phone', 'peripheral', 'room_equipment', 'software', 'service')),
    name              TEXT    NOT NULL,
    name_key          TEXT    NOT NULL,
    asset_tag         TEXT    UNIQUE,
    serial            TEXT,
    hw_uuid           TEXT,
    device_id         TEXT,
    model             TEXT    NOT NULL DEFAULT '',
    manufacturer      TEXT    NOT NULL DEFAULT '',
    vendor            TEXT    NOT NULL DEFAULT '',
    location          TEXT    NOT NULL DEFAULT '',
    department        TEXT    NOT NULL DEFAULT '',
    cost_cents        INTEGER,
    purchase_date     TEXT,
    warranty_end      TEXT,
    notes             TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL CHECK (state IN ('ordered', 'in_stock', 'deployed', 'in_repair', 'retired', 'disposed')),
    attributes        TEXT    NOT NULL DEFAULT '{}',
    owner_id          INTEGER REFERENCES app_user (id),
    due_back          TEXT,
    group_id          INTEGER REFERENCES agent_group (id),
    os_name           TEXT    NOT NULL DEFAULT '',
    os_version        TEXT    NOT NULL DEFAULT '',
    kernel            TEXT    NOT NULL DEFAULT '',
    hardware          TEXT    NOT NULL DEFAULT '{}',
    last_inventory_at INTEGER,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
-- Every list filter has an index ending in id, so a keyset page reads only its own rows.
CREATE INDEX ci_type_idx ON ci (ci_type, id);
CREATE INDEX ci_type_state_idx ON ci (ci_type, state, id);
CREATE INDEX ci_state_idx ON ci (state, id);
CREATE INDEX ci_name_idx ON ci (name_key, id);
CREATE INDEX ci_owner_idx ON ci (owner_id, id) WHERE owner_id IS NOT NULL;
CREATE INDEX ci_location_idx ON ci (location, id);
CREATE INDEX ci_serial_idx ON ci (serial) WHERE serial IS NOT NULL;
CREATE INDEX ci_uuid_idx ON ci (hw_uuid) WHERE hw_uuid IS NOT NULL;
CREATE INDEX ci_device_idx ON ci (device_id) WHERE device_id IS NOT NULL;
CREATE INDEX ci_inventory_idx ON ci (last_inventory_at, id) WHERE last_inventory_at IS NOT NULL;

-- The MAC addresses an inventory reported (lower-case, colon-separated), for matching.
CREATE TABLE ci_mac (
    mac   TEXT    NOT NULL,
    ci_id INTEGER NOT NULL REFERENCES ci (id) ON DELETE CASCADE,
    PRIMARY KEY (mac, ci_id)
);
CREATE INDEX ci_mac_ci_idx ON ci_mac (ci_id);

-- Software installed on a CI, as its last inventory listed it.
CREATE TABLE ci_software (
    ci_id     INTEGER NOT NULL REFERENCES ci (id) ON DELETE CASCADE,
    name_key  TEXT    NOT NULL,
    version   TEXT    NOT NULL DEFAULT '',
    name      TEXT    NOT NULL,
    publisher TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (ci_id, name_key, version)
);
CREATE INDEX ci_software_name_idx ON ci_software (name_key, ci_id);

-- Everything that happened to a CI: created, changed (with the fields), checked out and in,
-- sent to and back from repair, related, linked to a ticket, inventoried (with what changed).
CREATE TABLE ci_event (
    id       INTEGER PRIMARY KEY,
    ci_id    INTEGER NOT NULL REFERENCES ci (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    actor_id INTEGER REFERENCES app_user (id),
    kind     TEXT    NOT NULL,
    summary  TEXT    NOT NULL,
    data     TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX ci_event_idx ON ci_event (ci_id, id);

-- source <kind> target: a VM runs_on a server, a service depends_on a database, a workstation is
-- connected_to a switch, a product is installed_on a device. An outage of the target affects the source.
CREATE TABLE ci_relation (
    id         INTEGER PRIMARY KEY,
    source_id  INTEGER NOT NULL REFERENCES ci (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('runs_on', 'depends_on', 'connected_to', 'installed_on')),
    target_id  INTEGER NOT NULL REFERENCES ci (id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    UNIQUE (source_id, kind, target_id),
    CHECK (source_id <> target_id)
);
CREATE INDEX ci_relation_target_idx ON ci_relation (target_id, source_id);

-- The CIs a ticket is about.
CREATE TABLE ticket_ci (
    ticket_id  INTEGER NOT NULL REFERENCES ticket (id),
    ci_id      INTEGER NOT NULL REFERENCES ci (id),
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, ci_id)
);
CREATE INDEX ticket_ci_ci_idx ON ticket_ci (ci_id, ticket_id);

-- A software licence: seats of a product (NULL for a site licence); software_match is the
-- installed-software name it covers, `%` as a wildcard, matched case-insensitively.
CREATE TABLE licence (
    id             INTEGER PRIMARY KEY,
    product        TEXT    NOT NULL,
    vendor         TEXT    NOT NULL DEFAULT '',
    licence_type   TEXT    NOT NULL CHECK (licence_type IN ('per_device', 'per_user', 'site')),
    seats          INTEGER,
    software_match TEXT    NOT NULL,
    purchase_date  TEXT,
    expires_on     TEXT,
    cost_cents     INTEGER,
    reference      TEXT    NOT NULL DEFAULT '',
    notes          TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK ((licence_type = 'site') = (seats IS NULL))
);
CREATE INDEX licence_product_idx ON licence (product, id);
CREATE INDEX licence_expiry_idx ON licence (expires_on) WHERE expires_on IS NOT NULL;

-- A seat given to a device or a person.
CREATE TABLE licence_assignment (
    id         INTEGER PRIMARY KEY,
    licence_id INTEGER NOT NULL REFERENCES licence (id) ON DELETE CASCADE,
    ci_id      INTEGER REFERENCES ci (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES app_user (id),
    created_by INTEGER REFERENCES app_user (id),
    created_at INTEGER NOT NULL,
    CHECK ((ci_id IS NULL) <> (user_id IS NULL)),
    UNIQUE (licence_id, ci_id),
    UNIQUE (licence_id, user_id)
);
CREATE INDEX licence_assignment_ci_idx ON licence_assignment (ci_id) WHERE ci_id IS NOT NULL;

-- A token inventory agents present (only its SHA-256 is kept).
CREATE TABLE inventory_token (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    token_hash   TEXT    NOT NULL UNIQUE,
    received     INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER,
    created_at   INTEGER NOT NULL
);
