# Worker slots come back when a database or the extension goes (issue 11's
# lifecycle bugs): on 0.4.0, DROP DATABASE and DROP EXTENSION ... CASCADE
# with a source and a sink left their consumer's and sink's slots taken until
# the server restarted (and the consumer running until its next message).
# With pg_pipeline.max_workers = 4 (a coordinator, a consumer and a sink
# per database), a second and a third database could then not start theirs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('worker_slots');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(ev:1));

my $node = pipeline_node('worker_slots', conf => "pg_pipeline.max_workers = 4\n");
$node->start;

# a database with the extension, a source and a sink, all running
sub pipeline_database
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE ev (payload jsonb);
SELECT pipeline.create_source('ev', 'kafka', 'ev', 'ev', format => 'jsonb');
SELECT pipeline.create_sink('out', 'kafka', 'out');
});
	my $got = '';
	my $ok = defined wait_until(30, sub {
		$got = $node->safe_psql($db, q{SELECT string_agg(kind || ':' || state, ',' ORDER BY kind)
		                                  FROM pipeline.workers WHERE kind IN ('consumer', 'sink')});
		$got eq 'consumer:running,sink:running' });
	is($got, 'consumer:running,sink:running', "$db: its consumer and sink run");
}

sub processes
{
	my ($db) = @_;
	return $node->safe_psql('postgres', qq{SELECT count(*) FROM pg_stat_activity
	                                         WHERE datname = '$db' AND backend_type LIKE 'pg_pipeline %'});
}

pipeline_database('d1');
$node->safe_psql('postgres', 'DROP DATABASE d1');
pipeline_database('d2');

$node->safe_psql('d2', 'DROP EXTENSION pg_pipeline CASCADE');
ok(defined wait_until(15, sub { processes('d2') eq '0' }),
	'DROP EXTENSION stops the database\'s consumer and sink, not only its coordinator');
pipeline_database('d3');

# switched off for a database: its consumer and sink stop too
$node->append_conf('postgresql.conf', "pg_pipeline.databases = 'postgres'");
$node->reload;
ok(defined wait_until(15, sub { processes('d3') eq '0' }),
	'pg_pipeline.databases without d3: d3\'s consumer and sink stop');

# Out of slots: said where users look, not only in the server log.  d3's
# coordinator, consumer and sink fill three of the four slots; two more
# sources in d4 (its coordinator takes the fourth) cannot start.
$node->append_conf('postgresql.conf', "pg_pipeline.databases = ''");
$node->reload;
$node->safe_psql('postgres', 'CREATE DATABASE d4');
$node->safe_psql('d4', qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE ev (payload jsonb);
});
ok(defined wait_until(30, sub { processes('d3') eq '3' && processes('d4') eq '1' }),
	'd3 runs again, and d4 has its coordinator: every slot is taken');
$node->safe_psql('d4', q{SELECT pipeline.create_source('ev', 'kafka', 'ev', 'ev', format => 'jsonb')});
my $err = '';
ok(defined wait_until(30, sub {
	$err = $node->safe_psql('d4', q{SELECT coalesce(last_error, '') FROM pipeline.workers WHERE kind = 'coordinator'});
	$err =~ /no free pg_pipeline worker slot for a consumer/ }),
	'the coordinator\'s last_error in pipeline.workers says a consumer found no slot');
like($err, qr/raise pg_pipeline\.max_workers/, 'with what to do');

done_testing();
