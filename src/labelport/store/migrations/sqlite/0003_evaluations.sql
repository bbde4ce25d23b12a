-- labelport embedded store, schema version 3: stored evaluations of a prediction branch against a
-- ground-truth branch, and the columns an evaluation read from each branch (both keyed by the state
-- of the branches they came from: a changed branch is read and evaluated again).
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
CREATE TABLE evaluation_columns (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    branch TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    columns BLOB NOT NULL,
    PRIMARY KEY (project_id, branch, kind)
);
