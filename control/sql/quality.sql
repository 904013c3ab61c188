------------------------------------------------------------------------
-- Quality: expectations, checks in one scan, results and failing keys
-- (src/quality/).
------------------------------------------------------------------------

-- ==== quality engine (helper Q) ====
