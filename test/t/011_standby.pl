# A standby runs no pg_pipeline worker until it is promoted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = pipeline_node('primary', init => { allows_streaming => 1 });
$primary->start;
$primary->safe_psql('postgres', 'CREATE DATABASE app');
$primary->safe_psql('app', 'CREATE EXTENSION pg_pipeline');
ok(defined wait_until(10, sub { coordinator_pid($primary, 'app') ne '' }),
	'primary runs a coordinator');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# give a wrongly started launcher every chance to show up
sleep 2;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_pipeline%'"),
	'0', 'standby runs no pg_pipeline worker');

$standby->promote;
ok(defined wait_until(30, sub { coordinator_pid($standby, 'app') ne '' }),
	'promoted standby starts the coordinator');
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline launcher'"),
	'1', 'and its launcher');

$standby->stop;
$primary->stop;
done_testing();
