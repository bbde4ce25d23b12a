-- Schema version 8 (issue 20): the folders a team server may serve a project's images from, recorded
-- by a server administrator (`labelport media-roots PROJECT ROOT... --db URL`); one media root no
-- longer serves every project.
CREATE TABLE project_media_roots (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    root TEXT NOT NULL,
    PRIMARY KEY (project_id, root)
);
