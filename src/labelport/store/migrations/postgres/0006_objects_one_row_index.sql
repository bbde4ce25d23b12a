-- Schema version 6 (issue 15): objects_row_class (label_row_id, feature_hash, confidence) begins with
-- label_row_id, so it answers every look-up by label row that objects_label_row did (a label row's
-- objects, the cascade from a deleted label row). Keeping both made each imported object update one
-- index more, a noticeable part of a large import's insert.
DROP INDEX objects_label_row;
