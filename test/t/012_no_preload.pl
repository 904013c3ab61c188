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

$node->safe_psql('postgres', 'DROP EXTENSION pg_pipeline');
$node->stop;
done_testing();
