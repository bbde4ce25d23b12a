-- Schema version 6 (issue 15): objects_row_class (label_row_id, feature_hash, confidence) begins with
-- label_row_id, so it answers every look-up by label row that objects_label_row did (a label row's
-- objects, the cascade from a deleted label row). Keeping both made each imported object update one
-- index more: at COCO-train scale that was 0.6 s of a 4.6 s insert (measured).
DROP INDEX objects_label_row;
