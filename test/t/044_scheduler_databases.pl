# Several databases (issue 5): each database with the extension has its own
# scheduler (its coordinator), nothing configured per database; a job runs
# in its own database only.  A database still at 0.3.0 (no scheduler yet)
# keeps a healthy coordinator, and after ALTER EXTENSION UPDATE its first
# job runs without a restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('sched_dbs');
$node->start;

for my $db (qw(sales hr old))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
}
for my $db (qw(sales hr))
{
	$node->safe_psql($db, q{
		CREATE EXTENSION pg_pipeline;
		CREATE TABLE ticks (db text DEFAULT current_database(), at timestamptz DEFAULT clock_timestamp());
	});
}
$node->safe_psql('old', q{
	CREATE EXTENSION pg_pipeline VERSION '0.3.0';
	CREATE TABLE ticks (db text DEFAULT current_database(), at timestamptz DEFAULT clock_timestamp());
});

$node->safe_psql('sales', q{SELECT pipeline.schedule('tick', '1 second', 'INSERT INTO ticks DEFAULT VALUES')});
$node->safe_psql('hr', q{SELECT pipeline.schedule('tick', '2 seconds', 'INSERT INTO ticks DEFAULT VALUES')});

ok(defined wait_until(30, sub {
	$node->safe_psql('sales', 'SELECT count(*) >= 3 FROM ticks') eq 't'
	  && $node->safe_psql('hr', 'SELECT count(*) >= 2 FROM ticks') eq 't' }),
	'each database runs its own job');
is($node->safe_psql('sales', q{SELECT string_agg(DISTINCT db, ',') FROM ticks}), 'sales',
	'sales job ran in sales');
is($node->safe_psql('hr', q{SELECT string_agg(DISTINCT db, ',') FROM ticks}), 'hr',
	'hr job ran in hr');
is($node->safe_psql('hr', q{SELECT count(*) FROM pipeline.dags}), '1',
	'each database has its own catalogs');

# the 0.3.0 database: a coordinator without a scheduler, and no error
ok(coordinator_pid($node, 'old') ne '', 'coordinator runs in a 0.3.0 database');
is($node->safe_psql('old', q{SELECT coalesce(max(last_error), '') FROM pipeline.workers WHERE kind = 'coordinator'}),
	'', 'no error without the scheduler');

$node->safe_psql('old', q{ALTER EXTENSION pg_pipeline UPDATE});
$node->safe_psql('old', q{SELECT pipeline.schedule('tick', '1 second', 'INSERT INTO ticks DEFAULT VALUES')});
ok(defined wait_until(20, sub { $node->safe_psql('old', 'SELECT count(*) >= 2 FROM ticks') eq 't' }),
	'after ALTER EXTENSION UPDATE the first job runs');

# dropping the extension in one database stops its scheduling only
$node->safe_psql('hr', q{DROP EXTENSION pg_pipeline});
my $before = $node->safe_psql('hr', 'SELECT count(*) FROM ticks');
my $sales_before = $node->safe_psql('sales', 'SELECT count(*) FROM ticks');
sleep 3;
is($node->safe_psql('hr', 'SELECT count(*) FROM ticks'), $before, 'no runs after DROP EXTENSION');
ok($node->safe_psql('sales', 'SELECT count(*) FROM ticks') > $sales_before, 'sales goes on');
ok(!$node->log_contains(qr/could not open relation|pg_pipeline coordinator .* exited with exit code 1/),
	'no coordinator error around DROP EXTENSION');

$node->stop;
done_testing();
