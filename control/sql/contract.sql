------------------------------------------------------------------------
-- Quality: data contracts (ODCS v3.1 and the Data Contract
-- Specification) applied as expectations (src/quality/contract.c).
------------------------------------------------------------------------

-- ==== contracts (helper C) ====
