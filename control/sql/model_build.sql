------------------------------------------------------------------------
-- Models: building one model (materializations and incremental
-- strategies).  See model.sql for the catalog.
------------------------------------------------------------------------

