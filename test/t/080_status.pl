# pipeline.status with running workers and the test broker: a source and a
# sink that work (ok, with their last success), a source whose target
# refuses every batch (failing, then ok again after resume_source), a job
# that fails and one that succeeds, an async window drained by the
# maintainer, every worker-bound object 'not running' while
# pg_pipeline.enabled is off; and a hostile role that can neither see
# another role's objects nor make the view fail for pipeline_admin.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('status');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, 'ev:1', 'out:1');
skip_without_kcat();

my $node = pipeline_node('status');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub status
{
	my ($name, $columns) = @_;
	return sql("SELECT $columns FROM pipeline.status WHERE name = '$name'");
}

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka
	OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE ev (id int, k text);
SELECT pipeline.create_source('src', 'kafka', 'ev', 'ev');
SELECT pipeline.create_sink('snk', 'kafka', 'out');
});

########################################################################
# A source: ok once its consumer runs and has ingested, with the lag.
########################################################################
like(status('src', 'state'), qr/^(starting|ok)$/, 'a new source is starting (or already ok)');
kcat_produce($addr, 'ev', [ map { qq({"id": $_, "k": "a"}) } 1 .. 5 ], partition => 0);
wait_for_sql($node, 60, 'SELECT count(*) FROM ev', '5');
wait_for_sql($node, 30, q{SELECT state || ', ' || figure || ', ' || (last_success IS NOT NULL) || ', '
                          || (since IS NOT NULL) || ', ' || (hint IS NULL)
                          FROM pipeline.status WHERE name = 'src'},
	'ok, lag 0 messages, true, true, true', 'the source is ok, lag 0, with its last success and no hint');

# its target refuses every row: the source stops, status says failing
sql(q{ALTER TABLE ev ADD CONSTRAINT negative CHECK (id < 0) NOT VALID});
kcat_produce($addr, 'ev', [ map { qq({"id": $_, "k": "b"}) } 6 .. 8 ], partition => 0);
wait_for_sql($node, 60, q{SELECT state FROM pipeline.status WHERE name = 'src'}, 'failing',
	'a source whose target refuses its batches is failing');
like(status('src', 'last_error'), qr/check constraint "negative"|every one of the 3 messages/,
	'with the target\'s error');
is(status('src', 'hint'),
	q{The source stopped (on_error => 'stop', or its target refused a batch): fix the cause, then SELECT pipeline.resume_source('src').},
	'and how to go on');
sql(q{ALTER TABLE ev DROP CONSTRAINT negative; SELECT pipeline.resume_source('src')});
wait_for_sql($node, 60, 'SELECT count(*) FROM ev', '8');
wait_for_sql($node, 30, q{SELECT state FROM pipeline.status WHERE name = 'src'}, 'ok',
	'fixed and resumed: ok again');

########################################################################
# A sink: ok once it has published, with its last success.
########################################################################
sql(q{SELECT pipeline.publish('snk', '{"n": 1}')});
ok(defined wait_sink_drained($node, 'snk', 60), 'the sink publishes');
wait_for_sql($node, 30, q{SELECT state || ', ' || figure || ', ' || (last_success IS NOT NULL)
                          FROM pipeline.status WHERE name = 'snk'},
	'ok, 0 messages waiting, true', 'the sink is ok, nothing waiting, with its last success');

########################################################################
# Jobs: one fails, one succeeds.
########################################################################
sql(q{SELECT pipeline.schedule('good', '1 second', 'SELECT 1');
      SELECT pipeline.schedule('bad', '1 second', 'SELECT 1/0', history_errors_only => false)});
wait_for_sql($node, 60, q{SELECT state || ', ' || last_sqlstate || ', ' || last_error
                          FROM pipeline.status WHERE name = 'bad'},
	'failing, 22012, division by zero', 'a job whose run failed is failing, with the error and SQLSTATE');
is(status('bad', 'hint'),
	q{Task bad failed: see pipeline.task_runs; after the fix, SELECT pipeline.clear('bad') runs the failed tasks again.},
	'and the hint names the task and pipeline.clear');
wait_for_sql($node, 60, q{SELECT state || ', ' || (last_success IS NOT NULL)
                          FROM pipeline.status WHERE name = 'good'},
	'ok, true', 'a job whose runs succeed is ok, with its last success');
like(status('good', 'figure'), qr/^next run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, 'its figure is the next run');
sql(q{SELECT pipeline.unschedule('good'), pipeline.unschedule('bad')});

########################################################################
# An async window: the maintainer drains its delta.
########################################################################
sql(q{CREATE TABLE w_src (t timestamptz, v int);
      SELECT pipeline.create_window('w_async', 'w_src', 't', pipeline.tumble('1 minute'),
                                    'sum(v) AS s', mode => 'async');
      INSERT INTO w_src SELECT now(), i FROM generate_series(1, 100) i});
wait_for_sql($node, 60, q{SELECT state || ', ' || split_part(figure, ',', 1) || ', ' || (last_success IS NOT NULL)
                          FROM pipeline.status WHERE name = 'w_async'},
	'ok, 0 rows waiting, true', 'an async window drained by the maintainer is ok');

########################################################################
# A hostile role sees none of it, and cannot make the view fail for an
# admin: pipeline_admin may not read her async window's delta table.
########################################################################
sql(q{CREATE ROLE mallory LOGIN; CREATE ROLE ops LOGIN IN ROLE pipeline_admin;
      CREATE SCHEMA mal AUTHORIZATION mallory});
sql_as($node, 'mallory', q{
	CREATE TABLE mal.t (t timestamptz, v int);
	SELECT pipeline.create_window('mal.w', 'mal.t', 't', pipeline.tumble('1 minute'), 'count(*) AS n',
	                              mode => 'async');
	SELECT pipeline.create_dag('mal_dag')});
is(sql_as($node, 'mallory', q{SELECT string_agg(kind || ' ' || name, ', ' ORDER BY kind, name) FROM pipeline.status}),
	'dag mal_dag, window mal.w', 'mallory sees her own objects only');
is(sql_as($node, 'ops', q{SELECT count(*) FILTER (WHERE owner = 'mallory') || ' of ' || count(*)
                          FROM pipeline.status}),
	'2 of 5', 'pipeline_admin sees everyone\'s');
like(sql_as($node, 'ops', q{SELECT state || ', ' || figure FROM pipeline.status WHERE name = 'mal.w'}),
	qr/^ok, rows waiting unknown, /, 'a delta table the admin may not read: unknown, not an error');
# the superuser's consumer (source src, with its label and errors) is not
# mallory's to see through pipeline.get_workers(), executable by PUBLIC
# (review of 0.9.0: it returned every slot); the admin sees it
is(sql_as($node, 'mallory', q{SELECT count(*) FROM pipeline.get_workers() WHERE kind = 'consumer'}),
	'0', 'get_workers() shows mallory no other role\'s consumer');
isnt(sql_as($node, 'ops', q{SELECT count(*) FROM pipeline.get_workers() WHERE kind = 'consumer'}),
	'0', 'and shows it to pipeline_admin');

########################################################################
# pg_pipeline.enabled off: what needs a worker is 'not running', and why.
########################################################################
sql(q{ALTER SYSTEM SET pg_pipeline.enabled = off; SELECT pg_reload_conf()});
wait_for_sql($node, 30, q{SELECT string_agg(kind || ' ' || name || ': ' || state, ', ' ORDER BY kind, name)
                          FROM pipeline.status},
	'dag mal_dag: ok, sink snk: not running, source src: not running, window mal.w: not running, '
	  . 'window w_async: not running',
	'with pg_pipeline.enabled off, sources, sinks and async windows are not running');
is(status('src', 'hint'), 'pg_pipeline.enabled is off: set it to on and reload (SELECT pg_reload_conf()).',
	'the hint says why');
sql(q{ALTER SYSTEM RESET pg_pipeline.enabled; SELECT pg_reload_conf()});
wait_for_sql($node, 60, q{SELECT string_agg(state, ',') FROM pipeline.status WHERE name IN ('src', 'snk')},
	'ok,ok', 'enabled again: ok again');

$node->stop;
done_testing();
