-- labelport team store, schema version 2: the same as the embedded store's 0002_ontology_owners.sql.
-- created_by_user_id: the user who created the ontology (it reads it even before any project uses it).
-- standalone: created on its own (`create_ontology`), not with a project: a project's import never
-- changes such an ontology, nor one that another project uses too: it changes a copy (copy on write).
ALTER TABLE ontologies ADD COLUMN created_by_user_id BIGINT;
ALTER TABLE ontologies ADD COLUMN standalone BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX projects_ontology ON projects(ontology_id);
