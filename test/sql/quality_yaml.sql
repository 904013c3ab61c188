-- pipeline.parse_yaml (issue 13, contracts): YAML through libyaml into
-- jsonb.  Core-schema typing, quoted scalars, block scalars, anchors and
-- aliases, JSON (a YAML subset), and every refusal: malformed YAML with
-- its line and column, a second document, duplicate and complex keys,
-- tags, .inf, NUL, an alias bomb.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
\set VERBOSITY default

------------------------------------------------------------------------
-- 1. Scalars by the YAML 1.2 core schema: only plain scalars are typed.
------------------------------------------------------------------------
SELECT key, value, jsonb_typeof(value)
FROM jsonb_each(pipeline.parse_yaml($$
int: 42
negative: -17
octal: 0o17
hex: 0x1F
leading_zero: 012
float: 3.25
exponent: 1.5e3
dot: .5
tilde: ~
null_word: Null
empty:
bool_true: True
bool_false: FALSE
yaml11_yes: yes
yaml11_on: on
quoted_int: "42"
single_quoted_bool: 'true'
quoted_null: "null"
underscore: 1_000
version: 1.2.3
date: 2024-01-02
tagged_str: !!str 12
tagged_float: !!float 3
$$)) ORDER BY key;

-- strings: block literal and folded, escapes, unicode, keys as written
SELECT pipeline.parse_yaml($$
literal: |
  line one
  line two
folded: >
  one
  two
escaped: "tab\there \u00e9"
1: key one is the string "1"
null: key null is the string "null"
$$);

-- a document that is one scalar, or empty
SELECT pipeline.parse_yaml('42') AS scalar, pipeline.parse_yaml('"s"') AS string,
       pipeline.parse_yaml('') IS NULL AS empty_is_null,
       pipeline.parse_yaml('---') AS empty_document;

-- JSON is read as YAML
SELECT pipeline.parse_yaml('{"a": [1, 2.5, "x", null, true, {"b": {}}], "c": []}');

-- nesting, flow and block
SELECT pipeline.parse_yaml($$
schema:
  - name: orders
    properties:
      - {name: id, required: true}
      - name: amount
        logicalTypeOptions: {minimum: 0, maximum: 1000}
$$);

------------------------------------------------------------------------
-- 2. Anchors and aliases are expanded; an anchor may be redefined.
------------------------------------------------------------------------
SELECT pipeline.parse_yaml($$
base: &base {severity: warn, unit: percent}
first: *base
list: [&x 1, *x, *x]
again: &x two
after: *x
$$);

------------------------------------------------------------------------
-- 3. Refusals: SQLSTATE, line and column, libyaml's text.
------------------------------------------------------------------------
-- each refusal as SQLSTATE and message; two with their detail below
CREATE FUNCTION yaml_error(doc text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pipeline.parse_yaml(doc);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $f$;
SELECT what, yaml_error(doc) FROM (VALUES
    ('unclosed flow sequence', E'a: 1\nb: [1, 2\nc: 3'),
    ('bad indentation', E'a: 1\n  b: 2'),
    ('unterminated quoted string', E'a: "open\nb: 3'),
    ('tab as indentation', E'a:\n\t- 1'),
    ('second document', E'a: 1\n---\nb: 2'),
    ('key twice', E'schema:\n  name: a\n  name: b'),
    ('key that is a sequence', E'? [a, b]\n: 1'),
    ('undefined alias', 'a: *nowhere'),
    ('alias of itself', 'a: &self [1, *self]'),
    ('unknown tag', 'a: !custom 1'),
    ('value not of its tag', 'a: !!int twelve'),
    ('unsupported core tag', 'a: !!binary aGVsbG8='),
    ('infinity', 'a: -.inf'),
    ('not a number', 'a: .NaN'),
    ('NUL in a string', E'a: "x\\0y"'),
    ('hex beyond bigint', 'a: 0xFFFFFFFFFFFFFFFFF'),
    ('nested 1001 deep', repeat('[', 1001) || repeat(']', 1001)),
    ('nested 200000 deep, at once', repeat('[', 200000) || repeat(']', 200000))
) AS t(what, doc);

-- libyaml's context in the detail, the second document with its hint
SELECT pipeline.parse_yaml(E'a: 1\nb: [1, 2\nc: 3');
SELECT pipeline.parse_yaml(E'a: 1\n---\nb: 2');

------------------------------------------------------------------------
-- 4. An alias bomb ("billion laughs") is refused before it expands; the
-- same pattern a few levels deep is fine.
------------------------------------------------------------------------
SELECT pipeline.parse_yaml($$
a: &a [l, o, l, o, l, o, l, o, l, o]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
$$);
-- a large scalar repeated by aliases counts its bytes: 1 MB times 200
-- aliases is refused (it would build 200 MB), times 3 is fine
SELECT length(pipeline.parse_yaml('a: &x ' || repeat('x', 1000000) || E'\nb: ['
                                  || rtrim(repeat('*x, ', 200), ', ') || ']')::text);
SELECT jsonb_array_length(pipeline.parse_yaml('a: &x ' || repeat('x', 1000000) || E'\nb: [*x, *x, *x]')->'b')
       AS three_copies;
SELECT jsonb_array_length(pipeline.parse_yaml($$
a: &a [l, o, l, o, l, o, l, o, l, o]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
$$)->'c') AS c_items,
       jsonb_array_length(pipeline.parse_yaml($$
a: &a [l, o, l, o, l, o, l, o, l, o]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
$$)->'c'->9->9) AS innermost;

-- 1000 levels are fine
SELECT pipeline.parse_yaml(repeat('[', 1000) || repeat(']', 1000)) #> array_fill('0'::text, ARRAY[999]) AS innermost_1000;

DROP FUNCTION yaml_error(text);
DROP EXTENSION pg_pipeline;
