# Without shared_preload_libraries: what needs no worker works (a sync
# window aggregate too), what needs one says so clearly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('plain', no_preload => 1);
$node->start;

my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION pg_pipeline');
is($ret, 0, 'CREATE EXTENSION works without preload');
like($err, qr/WARNING:  pg_pipeline is not in shared_preload_libraries.*\n.*HINT:  Add pg_pipeline to shared_preload_libraries/s,
	'CREATE EXTENSION warns that the workers will not run');

is($node->safe_psql('postgres', 'SELECT pipeline.version() = extversion FROM pg_extension WHERE extname = \'pg_pipeline\''),
	't', 'pipeline.version() works');

($ret, $out, $err) = $node->psql('postgres',
	'\set VERBOSITY verbose' . "\n" . 'SELECT * FROM pipeline.workers');
isnt($ret, 0, 'pipeline.workers fails without preload');
like($err, qr/ERROR:  55000: pg_pipeline's background workers are not available/,
	'with SQLSTATE 55000 and a clear message');
like($err, qr/HINT:  Add pg_pipeline to shared_preload_libraries/, 'and a hint');

is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_pipeline%'"),
	'0', 'no worker runs');

# a sync window needs no worker: maintained in the writer's statement
$node->safe_psql('postgres', q{
	CREATE TABLE ev (t timestamptz, k text, v int);
	SELECT pipeline.create_window('ev_w', 'ev', 't', pipeline.tumble('1 minute'),
	    'count(*) AS n, sum(v) AS s', group_by => '{k}');
	INSERT INTO ev VALUES ('2026-01-01 00:00:10+00', 'a', 1), ('2026-01-01 00:00:20+00', 'a', 2),
	                      ('2026-01-01 00:01:30+00', 'b', 5);
	DELETE FROM ev WHERE v = 2;
});
is($node->safe_psql('postgres',
	"SELECT string_agg(k || n || '/' || s || ':' || is_final, ',' ORDER BY window_start, k) FROM ev_w"),
	'a1/1:true,b1/5:false', 'a sync window works without preload (insert, delete, a final window)');
($ret, $out, $err) = $node->psql('postgres', q{
	\set VERBOSITY verbose
	SELECT pipeline.create_window('ev_a', 'ev', 't', pipeline.tumble('1 minute'), 'count(*) AS n', mode => 'async')});
isnt($ret, 0, 'an async window is refused without preload');
like($err, qr/ERROR:  55000: pg_pipeline's background workers are not available/,
	'with SQLSTATE 55000: its maintainer cannot run');
$node->safe_psql('postgres', "SELECT pipeline.drop_window('ev_w'); DROP TABLE ev");

# What needs a worker still succeeds (a pipeline may be defined before the
# restart), but says at once that nothing will happen, with the hint.
$node->safe_psql('postgres', q{
	CREATE SERVER k FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
	CREATE TABLE t (payload jsonb);
	CREATE TABLE ev (t timestamptz, k text, v int);
	SELECT pipeline.create_window('ev_w', 'ev', 't', pipeline.tumble('1 minute'), 'count(*) AS n');
});
my @needs_worker = (
	[ q{SELECT pipeline.create_source('src', 'k', 'topic', 't')},
	  qr/source "src" will not consume until it is/ ],
	[ q{SELECT pipeline.create_sink('snk', 'k', 'out')}, qr/sink "snk" will not publish until it is/ ],
	[ q{SELECT pipeline.publish('snk', 'hello')}, qr/messages for sink "snk" wait in the outbox until it is/ ],
	[ q{SELECT pipeline.schedule('job', '0 3 * * *', 'SELECT 1')}, qr/job "job" will not run until it is/ ],
	[ q{SELECT pipeline.create_dag('dag', '@daily')}, qr/DAG "dag" will not run until it is/ ],
	[ q{SELECT pipeline.run_now('job')}, qr/run \d+ of "job" stays queued until it is/ ],
	[ q{SELECT pipeline.pause_source('src'); SELECT pipeline.resume_source('src')},
	  qr/source "src" will not consume until it is/ ]);
for my $case (@needs_worker)
{
	my ($sql, $what) = @$case;
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	is($ret, 0, "$sql succeeds without preload");
	like($err, qr/WARNING:  55000: pg_pipeline is not in shared_preload_libraries: $what\n.*\nHINT:  Add pg_pipeline to shared_preload_libraries in postgresql\.conf and restart the server\./,
		"$sql warns that it will not happen, with the hint");
}
# once per transaction: publish() from a trigger or a loop warns once
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT pipeline.publish('snk', 'm' || i) FROM generate_series(1, 50) i});
is(scalar(() = $err =~ /WARNING/g), 1, 'publish() 50 times in one statement warns once');
# what needs no worker does not warn
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT pipeline.create_dag('manual');
	INSERT INTO ev VALUES (now(), 'a', 1);});
unlike($err, qr/WARNING/, 'a DAG without schedule or trigger, a sync window: no warning');

# pipeline.status says why nothing runs instead of failing as
# pipeline.workers does
is($node->safe_psql('postgres', q{
	SELECT string_agg(kind || ' ' || name || ': ' || state, ', ' ORDER BY kind, name) FROM pipeline.status}),
	'dag dag: not running, dag manual: ok, job job: not running, sink snk: not running, '
	  . 'source src: not running, window ev_w: ok',
	'pipeline.status works without preload: what needs a worker is not running');
is($node->safe_psql('postgres', q{
	SELECT DISTINCT hint FROM pipeline.status WHERE state = 'not running'}),
	'Add pg_pipeline to shared_preload_libraries in postgresql.conf and restart the server: '
	  . 'its background workers do not run without it.',
	'with the reason as its hint');
$node->safe_psql('postgres', q{
	SELECT pipeline.drop_source('src'), pipeline.drop_sink('snk'), pipeline.unschedule('job'),
	       pipeline.drop_dag('dag'), pipeline.drop_dag('manual'), pipeline.drop_window('ev_w');
	DROP TABLE t, ev; DROP SERVER k});

$node->safe_psql('postgres', 'DROP EXTENSION pg_pipeline');
$node->stop;
done_testing();
