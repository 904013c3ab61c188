------------------------------------------------------------------------
-- Models: runs (pipeline.run, pipeline.build), selection, history and
-- status.  See model.sql for the catalog, model_build.sql for one build.
------------------------------------------------------------------------

