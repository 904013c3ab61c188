# Connection settings reach running consumers (issue 11's lifecycle bugs):
# on 0.4.0, ALTER SERVER and user mapping changes did not reach running
# consumers and sinks until a pause and resume.  Now they restart with the
# new settings at once; a role's own user mapping restarts only its own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('settings_change');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(a:1 b:1));

my $node = pipeline_node('settings_change');
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
GRANT USAGE ON FOREIGN SERVER kafka TO alice, bob;
CREATE TABLE ta (payload jsonb);
CREATE TABLE tb (payload jsonb);
GRANT INSERT ON ta TO alice;
GRANT INSERT ON tb TO bob;
SET ROLE alice;
SELECT pipeline.create_source('sa', 'kafka', 'a', 'public.ta', format => 'jsonb');
SET ROLE bob;
SELECT pipeline.create_source('sb', 'kafka', 'b', 'public.tb', format => 'jsonb');
});

my ($a0, $b0);
ok(defined wait_until(30, sub {
	$a0 = worker_pids($node, 'consumer', 'sa');
	$b0 = worker_pids($node, 'consumer', 'sb');
	$a0 ne '' && $b0 ne '' }),
	'both consumers run');

# bob's own user mapping: only bob's consumer takes it
sql(q{SET ROLE bob; CREATE USER MAPPING FOR bob SERVER kafka OPTIONS ("client.id" 'bobs')});
my $b1;
ok(defined wait_until(20, sub { $b1 = worker_pids($node, 'consumer', 'sb'); $b1 ne '' && $b1 ne $b0 }),
	'a user mapping created for bob restarts bob\'s consumer');
is(worker_pids($node, 'consumer', 'sa'), $a0, 'and not alice\'s');

# the server's options: every consumer on it
sql(q{ALTER SERVER kafka OPTIONS (SET "fetch.wait.max.ms" '20')});
ok(defined wait_until(20, sub {
	my $a = worker_pids($node, 'consumer', 'sa');
	my $b = worker_pids($node, 'consumer', 'sb');
	$a ne '' && $a ne $a0 && $b ne '' && $b ne $b1 }),
	'ALTER SERVER restarts every consumer on the server with the new settings');

# a mapping for a role that does not exist touches nothing
my ($a2, $b2) = (worker_pids($node, 'consumer', 'sa'), worker_pids($node, 'consumer', 'sb'));
sql(q{DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER kafka});
sleep 2;
is(worker_pids($node, 'consumer', 'sa') . ',' . worker_pids($node, 'consumer', 'sb'), "$a2,$b2",
	'a user mapping of another role restarts nobody\'s consumer');

done_testing();
