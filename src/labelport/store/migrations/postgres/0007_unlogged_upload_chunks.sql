-- Schema version 7 (issue 15): an upload's chunks wait only until their import runs, and the client
-- sends them again when they are lost, so they skip the write-ahead log (every chunk's gzip written
-- there and flushed would be a large part of PostgreSQL's work for an upload). After a crash the
-- table comes back empty; the import of an upload that lost its chunks says it holds 0 chunks,
-- and nothing is imported. The uploads themselves stay logged.
ALTER TABLE upload_chunks SET UNLOGGED;
