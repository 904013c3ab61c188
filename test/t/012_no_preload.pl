# Without shared_preload_libraries: what needs no worker works, what needs
# one says so clearly.
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

$node->safe_psql('postgres', 'DROP EXTENSION pg_pipeline');
$node->stop;
done_testing();
