-- labelport embedded store, schema version 3: stored evaluations of a prediction branch against a
-- ground-truth branch, keyed by the state of the branches they came from: a changed branch is
-- evaluated again.
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    gt_branch TEXT NOT NULL,
    pred_branch TEXT NOT NULL,
    iou_type TEXT NOT NULL,
    params TEXT NOT NULL,
    gt_state TEXT NOT NULL,
    pred_state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    summary BLOB NOT NULL,
    matches BLOB NOT NULL,
    UNIQUE (project_id, gt_branch, pred_branch, iou_type, params)
);
-- A change counter per branch, so that a stored evaluation knows at once whether its branches moved:
-- bumped by every saved, moved or deleted label row and by every import (not per object: imports stay fast).
CREATE TABLE branch_changes (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    branch TEXT NOT NULL,
    changes INTEGER NOT NULL,
    PRIMARY KEY (project_id, branch)
);
CREATE TRIGGER label_rows_changed AFTER UPDATE ON label_rows BEGIN
    INSERT INTO branch_changes (project_id, branch, changes)
    SELECT project_id, NEW.branch, 1 FROM data_units WHERE id = NEW.data_unit_id
    ON CONFLICT (project_id, branch) DO UPDATE SET changes = changes + 1;
    INSERT INTO branch_changes (project_id, branch, changes)
    SELECT project_id, OLD.branch, 1 FROM data_units WHERE id = OLD.data_unit_id
    ON CONFLICT (project_id, branch) DO UPDATE SET changes = changes + 1;
END;
CREATE TRIGGER label_rows_deleted AFTER DELETE ON label_rows BEGIN
    INSERT INTO branch_changes (project_id, branch, changes)
    SELECT project_id, OLD.branch, 1 FROM data_units WHERE id = OLD.data_unit_id
    ON CONFLICT (project_id, branch) DO UPDATE SET changes = changes + 1;
END;
CREATE TRIGGER imports_added AFTER INSERT ON imports BEGIN
    INSERT INTO branch_changes (project_id, branch, changes)
    SELECT project_id, branch, 1 FROM sources WHERE id = NEW.source_id
    ON CONFLICT (project_id, branch) DO UPDATE SET changes = changes + 1;
END;
