-- Data contracts (issue 13): contract_expectations (the pure mapping of
-- ODCS v3.1 and Data Contract Specification contracts, YAML or JSON) and
-- apply_contract (expect() with origin contract:<id>, dry run, re-apply,
-- removal, column and type mismatches, strict), malformed contracts, and
-- a role applying a contract to someone else's table.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE ROLE contract_alice LOGIN;
CREATE ROLE contract_mallory LOGIN;
CREATE SCHEMA contract_a AUTHORIZATION contract_alice;
SET ROLE contract_alice;
SET search_path = contract_a, public;
CREATE TABLE customers (id integer PRIMARY KEY, name text);
CREATE TABLE orders (
    order_id    bigint PRIMARY KEY,
    customer_id integer,
    status      text,
    email       text,
    amount      numeric,
    quantity    text,
    created_at  timestamptz
);
INSERT INTO customers VALUES (1, 'a'), (2, 'b');
INSERT INTO orders VALUES
    (1, 1, 'new', 'x@y', 10, '1', now()),
    (2, 2, 'lost', 'N/A', 20, '2', now()),
    (3, 9, 'paid', NULL, 200000, '3', now());

------------------------------------------------------------------------
-- 1. ODCS v3.1 in YAML: every mapped field, and what does not map.
------------------------------------------------------------------------
\set odcs '''apiVersion: v3.1.0\nkind: DataContract\nid: orders-odcs\nname: orders\nversion: 1.0.0\nstatus: active\nservers:\n  - server: prod\n    type: postgres\n    schema: contract_a\nschema:\n  - name: orders\n    physicalName: orders\n    properties:\n      - name: order_id\n        logicalType: integer\n        physicalType: bigint\n        primaryKey: true\n      - name: customer_id\n        logicalType: integer\n        required: true\n        relationships:\n          - to: customers.id\n      - name: status\n        logicalType: string\n        quality:\n          - id: status_valid\n            metric: invalidValues\n            arguments:\n              validValues: [new, paid, shipped]\n            mustBeLessThan: 5\n            unit: rows\n            severity: warning\n      - name: email\n        logicalType: string\n        logicalTypeOptions:\n          pattern: "^[^@]+@[^@]+$"\n          maxLength: 320\n          format: email\n        quality:\n          - metric: nullValues\n            mustBeLessThan: 1\n            unit: percent\n          - metric: missingValues\n            arguments:\n              missingValues: [null, "", "N/A"]\n            mustBeLessOrEqualTo: 10\n      - name: amount\n        logicalType: number\n        logicalTypeOptions: {minimum: 0, maximum: 100000, exclusiveMaximum: 100001}\n      - name: quantity\n        logicalType: integer\n        logicalTypeOptions: {exclusiveMinimum: 0}\n      - name: created_at\n        logicalType: timestamp\n        required: true\n        quality:\n          - metric: nullValues\n            mustBe: 0\n      - name: coupon\n        logicalType: string\n    quality:\n      - id: orders_row_count\n        metric: rowCount\n        mustBeGreaterThan: 0\n      - metric: duplicateValues\n        arguments: {properties: [customer_id, created_at]}\n        mustBe: 0\n      - type: sql\n        query: SELECT count(*) FROM {object} WHERE amount > 50000;\n        mustBeLessThan: 3\n      - type: sql\n        query: SELECT max(amount) FROM {object}\n        mustBeLessOrEqualTo: 1000000\n      - type: text\n        description: Orders are complete.\n      - type: custom\n        engine: soda\n        implementation: "type: duplicate_percent"\n      - metric: nullValues\n        mustBe: 0\n      - metric: someMetric\n        mustBe: 0\n      - metric: nullValues\n        mustBeGreaterThan: 3\nslaProperties:\n  - property: latency\n    value: 4\n    unit: d\n    element: orders.created_at\n  - property: retention\n    value: 3\n    unit: y\n'''
SELECT * FROM pipeline.contract_expectations(E:odcs);

------------------------------------------------------------------------
-- 2. The Data Contract Specification in JSON: fields, $ref definitions,
-- enum, references, model primaryKey, model quality, servicelevels.
------------------------------------------------------------------------
\set dcs '''{"dataContractSpecification": "1.2.1", "id": "orders-dcs", "info": {"title": "Orders", "version": "2.0.0"},\n "definitions": {"order_id": {"type": "long", "minimum": 1}},\n "models": {"orders": {"type": "table", "primaryKey": ["order_id"],\n   "fields": {"order_id": {"$ref": "#/definitions/order_id", "required": true},\n              "customer_id": {"type": "int", "references": "customers.id"},\n              "status": {"type": "string", "enum": ["new", "paid", "shipped"], "minLength": 3, "maxLength": 10},\n              "email": {"type": "text", "format": "email", "pattern": "^[^@]+@[^@]+$",\n                        "quality": [{"metric": "duplicateValues", "mustBeLessOrEqualTo": 1}]},\n              "quantity": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100},\n              "created_at": {"type": "timestamp", "unique": true}},\n   "quality": [{"type": "sql", "query": "SELECT count(*) FROM {model}", "mustBeBetween": [1, 1000]},\n               {"metric": "rowCount", "mustBeLessThan": 5, "unit": "percent"}]}},\n "servicelevels": {"freshness": {"threshold": "25 hours", "timestampField": "orders.created_at"},\n                   "retention": {"period": "1 year"}},\n "quality": {"type": "SodaCL"}}'''
SELECT * FROM pipeline.contract_expectations(E:dcs);

-- the same contract as YAML maps the same
SELECT count(*) AS same_rows FROM (
    SELECT * FROM pipeline.contract_expectations(E:dcs)
    INTERSECT
    SELECT * FROM pipeline.contract_expectations(
        'dataContractSpecification: 1.2.1
id: orders-dcs
info: {title: Orders, version: 2.0.0}
definitions: {order_id: {type: long, minimum: 1}}
models:
  orders:
    type: table
    primaryKey: [order_id]
    fields:
      order_id: {$ref: "#/definitions/order_id", required: true}
      customer_id: {type: int, references: customers.id}
      status: {type: string, enum: [new, paid, shipped], minLength: 3, maxLength: 10}
      email:
        type: text
        format: email
        pattern: "^[^@]+@[^@]+$"
        quality: [{metric: duplicateValues, mustBeLessOrEqualTo: 1}]
      quantity: {type: integer, exclusiveMinimum: 0, exclusiveMaximum: 100}
      created_at: {type: timestamp, unique: true}
    quality:
      - {type: sql, query: "SELECT count(*) FROM {model}", mustBeBetween: [1, 1000]}
      - {metric: rowCount, mustBeLessThan: 5, unit: percent}
servicelevels:
  freshness: {threshold: 25 hours, timestampField: orders.created_at}
  retention: {period: 1 year}
quality: {type: SodaCL}
')) s;

------------------------------------------------------------------------
-- 3. Operators: every one on a metric, a SQL rule, and a rowCount.
------------------------------------------------------------------------
SELECT op, m.what, m.kind, m.options ->> 'sql' LIKE 'SELECT CASE%' AS bound_in_query,
       m.options - 'sql' AS options, m.threshold, m.note
FROM (VALUES ('mustBe: 0'), ('mustBe: 2'), ('mustNotBe: 0'), ('mustBeLessThan: 10'),
             ('mustBeLessOrEqualTo: 10'), ('mustBeLessThanOrEqualTo: 10'), ('mustBeGreaterThan: 1'),
             ('mustBeBetween: [0, 5]'), ('mustBeBetween: [1, 5]'), ('mustNotBeBetween: [0, 5]'),
             ('mustBeBetween: [5, 1]'), ('mustBeLessThan: 2.5, unit: percent'), ('mustBeLessThan: 10, unit: kg'),
             ('mustBeLessThan: ten')) o(op),
     LATERAL (SELECT 'null' AS what, e.* FROM pipeline.contract_expectations(format(
                 E'apiVersion: v3.1.0\nkind: DataContract\nid: ops\nschema:\n  - name: t\n    properties:\n      - name: c\n        quality:\n          - {metric: nullValues, %s}', o.op)) e
              UNION ALL
              SELECT 'sql', e.* FROM pipeline.contract_expectations(format(
                 E'apiVersion: v3.1.0\nkind: DataContract\nid: ops\nschema:\n  - name: t\n    quality:\n      - {type: sql, query: "SELECT 1", %s}', o.op)) e
              UNION ALL
              SELECT 'rows', e.* FROM pipeline.contract_expectations(format(
                 E'apiVersion: v3.1.0\nkind: DataContract\nid: ops\nschema:\n  - name: t\n    quality:\n      - {metric: rowCount, %s}', o.op)) e
             ) m
ORDER BY op, m.what;

------------------------------------------------------------------------
-- 4. Malformed and wrong contracts: the error, with the line for YAML.
------------------------------------------------------------------------
\set VERBOSITY default
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v3.1.0\nkind: DataContract\nschema:\n  - name: t\n   properties: []');
SELECT * FROM pipeline.contract_expectations('{"apiVersion": "v3.1.0", ');
SELECT * FROM pipeline.contract_expectations('just a string');
SELECT * FROM pipeline.contract_expectations(E'name: not a contract\nversion: 1');
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v2.2.2\nkind: DataContract\nid: old\ndataset: []');
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v3.1.0\nkind: DataProduct\nid: x');
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v3.1.0\nkind: DataContract\nschema: []');
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nschema: {name: t}');
SELECT * FROM pipeline.contract_expectations(E'dataContractSpecification: 1.2.1\nid: x\nmodels: [orders]');
-- an alias bomb in a contract is refused like any other
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v3.1.0\nkind: DataContract\nid: bomb\nx1: &a [l, o, l, o, l, o, l, o, l, o]\nx2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nx3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nx4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nx5: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nx6: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]');
-- oddities that map to nothing instead of failing
SELECT * FROM pipeline.contract_expectations(E'apiVersion: v3.1.0\nkind: DataContract\nid: odd\nschema:\n  - description: no name\n  - name: t\n    properties:\n      - {logicalType: string}\n      - name: c\n        quality: [text rule, {type: magic}, {metric: nullValues, mustBe: 0, unit: kg}]\n        relationships: [{to: "other.yaml#/schema/x/properties/y"}, {from: t.c, to: u.d}]\n      - name: n\n        logicalType: object\n        properties: [{name: inner}]');

------------------------------------------------------------------------
-- 5. apply_contract: a dry run writes nothing; applying creates; again
-- changes nothing; a changed contract updates and removes.
------------------------------------------------------------------------
-- no multi-column duplicateValues here: the engine's unique over several
-- columns fails its own validation at this commit (reported to the lead)
\set odcs_apply '''apiVersion: v3.1.0\nkind: DataContract\nid: orders-apply\nschema:\n  - name: orders\n    properties:\n      - {name: order_id, logicalType: integer, physicalType: bigint, primaryKey: true}\n      - name: customer_id\n        logicalType: integer\n        required: true\n        relationships: [{to: customers.id}]\n      - name: status\n        logicalType: string\n        quality: [{id: status_valid, metric: invalidValues, arguments: {validValues: [new, paid, shipped]}, mustBeLessThan: 5, severity: warning}]\n      - {name: email, logicalType: string, logicalTypeOptions: {pattern: "^[^@]+@[^@]+$"}}\n      - {name: quantity, logicalType: integer}\n      - {name: coupon, logicalType: string}\n    quality:\n      - {id: orders_row_count, metric: rowCount, mustBeGreaterThan: 0}\n      - {id: big_orders, type: sql, query: "SELECT count(*) FROM {object} WHERE amount > 50000", mustBeLessThan: 3}\n      - {type: text, description: Orders are complete.}\nslaProperties:\n  - {property: latency, value: 1, unit: d, element: orders.created_at}\n'''
SELECT * FROM pipeline.apply_contract(E:odcs_apply, dry_run => true);
SELECT count(*) AS after_dry_run FROM pipeline.expectations;

SELECT * FROM pipeline.apply_contract(E:odcs_apply);
SELECT name, kind, columns, options, severity, threshold, origin, search_path
  FROM pipeline.expectations ORDER BY name;
SELECT expectation, status, failing, total FROM pipeline.check('orders') ORDER BY expectation;

-- again: unchanged, nothing written
SELECT max(updated_at) AS before_reapply FROM pipeline.expectations \gset
SELECT * FROM pipeline.apply_contract(E:odcs_apply);
SELECT max(updated_at) = :'before_reapply' AS nothing_rewritten FROM pipeline.expectations;

-- a by-hand expectation under a name the contract wants stays as it is
SELECT pipeline.drop_expectation('orders', 'regex_email');
SELECT pipeline.expect('orders', 'email', 'regex', '{"pattern": "@"}', name => 'regex_email') > 0 AS by_hand;

-- the contract changes: status_valid becomes an error with no tolerance,
-- the rowCount and the SQL rule go, the pattern stays by hand
SELECT * FROM pipeline.apply_contract(replace(replace(replace(E:odcs_apply,
    ', mustBeLessThan: 5, severity: warning', ', mustBe: 0'),
    E'      - {id: orders_row_count, metric: rowCount, mustBeGreaterThan: 0}\n', ''),
    E'      - {id: big_orders, type: sql, query: "SELECT count(*) FROM {object} WHERE amount > 50000", mustBeLessThan: 3}\n', ''));
SELECT name, severity, threshold, origin FROM pipeline.expectations ORDER BY name;

-- strict: a mismatch is an error, and nothing is written
SELECT * FROM pipeline.apply_contract(E:odcs_apply, strict => true);
SELECT count(*) AS still FROM pipeline.expectations;

-- the contract's relation is missing
SELECT * FROM pipeline.apply_contract(E'apiVersion: v3.1.0\nkind: DataContract\nid: ghost\nschema:\n  - name: no_such_table\n    properties: [{name: a, required: true}]');

------------------------------------------------------------------------
-- 6. Another role's table: applying a contract to it is refused by
-- expect(), and the contract's SQL never runs as anyone but the caller.
------------------------------------------------------------------------
RESET ROLE;
GRANT USAGE ON SCHEMA contract_a TO contract_mallory;
GRANT SELECT ON contract_a.orders TO contract_mallory;
SET ROLE contract_mallory;
SET search_path = contract_a, public;
SELECT * FROM pipeline.apply_contract(E'apiVersion: v3.1.0\nkind: DataContract\nid: mallory\nschema:\n  - name: orders\n    properties: [{name: order_id, required: true}]');
-- nor can mallory's contract remove or rewrite alice's expectations
SELECT * FROM pipeline.apply_contract(E'apiVersion: v3.1.0\nkind: DataContract\nid: orders-apply\nschema: []');
RESET ROLE;
SELECT count(*) AS alice_kept FROM pipeline.expectations WHERE origin = 'contract:orders-apply';

DROP SCHEMA contract_a CASCADE;
DROP ROLE contract_alice, contract_mallory;
DROP EXTENSION pg_pipeline;
