-- labelport embedded store, schema version 1.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL DEFAULT '',
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE ontologies (
    id INTEGER PRIMARY KEY,
    ontology_hash TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    structure BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    project_hash TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    ontology_id INTEGER NOT NULL REFERENCES ontologies(id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    extra BLOB
);
CREATE TABLE memberships (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE TABLE data_units (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    data_hash TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    data_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    fps REAL,
    location TEXT NOT NULL DEFAULT '',
    members BLOB,
    extra BLOB
);
CREATE INDEX data_units_project ON data_units(project_id, id);
CREATE TABLE label_rows (
    id INTEGER PRIMARY KEY,
    label_hash TEXT NOT NULL UNIQUE,
    data_unit_id INTEGER NOT NULL REFERENCES data_units(id) ON DELETE CASCADE,
    branch TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (data_unit_id, branch)
);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    branch TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (project_id, branch, name)
);
CREATE TABLE objects (
    id INTEGER PRIMARY KEY,
    label_row_id INTEGER NOT NULL REFERENCES label_rows(id) ON DELETE CASCADE,
    frame INTEGER NOT NULL,
    object_hash TEXT NOT NULL,
    feature_hash TEXT NOT NULL,
    geometry BLOB,
    confidence REAL NOT NULL,
    manual INTEGER NOT NULL,
    created_by TEXT,
    created_at TEXT,
    answers BLOB,
    source_id INTEGER REFERENCES sources(id),
    source_key INTEGER,
    record BLOB,
    edited INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX objects_label_row ON objects(label_row_id);
CREATE UNIQUE INDEX objects_source_key ON objects(source_id, source_key);
CREATE TABLE classifications (
    id INTEGER PRIMARY KEY,
    label_row_id INTEGER NOT NULL REFERENCES label_rows(id) ON DELETE CASCADE,
    classification_hash TEXT NOT NULL,
    feature_hash TEXT NOT NULL,
    frames BLOB NOT NULL,
    answer BLOB,
    created_by TEXT,
    created_at TEXT
);
CREATE INDEX classifications_label_row ON classifications(label_row_id);
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    source_id INTEGER REFERENCES sources(id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    report BLOB NOT NULL
);
CREATE TABLE nonces (
    nonce TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
