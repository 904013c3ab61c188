# A row lock on a planted catalog row must not make another role's DROP
# wait (issue 11 review, docs/security.md "0.6.0").  Any role may insert
# rows into pipeline.windows (they are its own), naming any relation.  The
# object access hook deletes, as the bootstrap superuser, the windows' rows
# that name a dropped relation: before the fix it deleted Mallory's row
# naming Alice's window too, and so waited for Mallory's open transaction
# that held it: Alice's drop_window (and DROP TABLE of any table Mallory
# named) hung for as long as Mallory liked.  Now the hook runs no SQL for
# a relation that is no window's, waits only for the rows of the
# relation's owner and skips another role's row that someone holds.
# test/sql/security_lifecycle.sql has the single-session parts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('security_lifecycle');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
CREATE SCHEMA a AUTHORIZATION alice;
GRANT USAGE ON SCHEMA a TO mallory;
});
sql_as($node, 'alice', q{
CREATE TABLE a.ev (ts timestamptz NOT NULL, v int);
CREATE TABLE a.plain (id int);
SELECT pipeline.create_window('a.w', 'a.ev', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n');
});

# Mallory plants two rows, one naming Alice's window, one her plain table,
# and holds them in a transaction she leaves open
sql_as($node, 'mallory', q{
INSERT INTO pipeline.windows (name, result, state_table, source, time_column, kind, size, aggregates,
                              agg_names, agg_kinds, agg_exprs, agg_args, agg_types, columns, emit,
                              late_rows, mode)
SELECT x.name, x.rel, x.rel, x.rel, 'ts', 'tumble', '1 hour', 'count(*) AS n', '{n}', '{count}',
       '{count(*)}', '{""}', '{bigint}', '{ts}', 'on_update', 'update', 'sync'
  FROM (VALUES ('planted_window', 'a.w'::regclass), ('planted_plain', 'a.plain'::regclass)) x(name, rel);
});
my $hold = $node->background_psql('postgres', extra_params => [ '-U', 'mallory' ]);
$hold->query_safe('BEGIN');
is($hold->query_safe('SELECT count(*) FROM (SELECT 1 FROM pipeline.windows FOR UPDATE) held'), '2', 'Mallory holds her two rows');

# Alice's DROPs do not wait for Mallory (a statement_timeout of 10 s says
# so rather than hanging the test)
my ($rc, $out, $err) = $node->psql('postgres', q{
SET statement_timeout = '10s';
DROP TABLE a.plain;
SELECT pipeline.drop_window('a.w');
}, extra_params => [ '-U', 'alice' ]);
is($rc, 0, "Alice's DROP TABLE and drop_window do not wait for Mallory's lock");
is($err, '', 'without error') or diag $err;
is(sql(q{SELECT string_agg(name, ',' ORDER BY name) FROM pipeline.windows}), 'planted_plain,planted_window',
	"Alice's window is gone; Mallory's held rows were neither deleted nor waited for");
is(sql(q{SELECT count(*) FROM pg_class WHERE relname IN ('w', 'plain') AND relnamespace = 'a'::regnamespace}),
	'0', 'both relations are dropped');
$hold->query_safe('COMMIT');
$hold->quit;

# Alice's own window still goes whole with its relations (DROP ... CASCADE
# of its result, DROP OWNED)
sql_as($node, 'alice', q{
SELECT pipeline.create_window('a.w2', 'a.ev', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n');
SELECT pipeline.create_window('a.w3', 'a.ev', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n',
                              mode => 'async', late_rows => 'side_table');
DROP TABLE a.w2 CASCADE;
});
is(sql(q{SELECT string_agg(name, ',' ORDER BY name) FROM pipeline.windows WHERE owner = 'alice'}), 'a.w3',
	'DROP TABLE ... CASCADE of a result takes its window row');
sql('DROP OWNED BY alice CASCADE');
is(sql(q{SELECT count(*) FROM pipeline.windows WHERE owner = 'alice'}), '0', 'DROP OWNED takes the rest');

$node->stop;
done_testing();
