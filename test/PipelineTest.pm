# PipelineTest.pm: helpers shared by pg_pipeline's TAP tests.
#
# A preloaded PostgreSQL::Test::Cluster node and waits on what the workers
# do.  Every wait is bounded and fails the test when the bound is reached.
package PipelineTest;

use strict;
use warnings;
use Exporter 'import';
use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(pipeline_node coordinator_pid wait_until wait_for_sql listen_json broker_program start_broker);

# A new node with pg_pipeline preloaded (test/preload.conf) plus any extra
# configuration lines.
sub pipeline_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	unless ($opts{no_preload})
	{
		$node->append_conf('postgresql.conf',
			PostgreSQL::Test::Utils::slurp_file("$FindBin::RealBin/../preload.conf"));
	}
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	return $node;
}

# The pid of a database's coordinator as pg_stat_activity shows it, or ''.
sub coordinator_pid
{
	my ($node, $dbname) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity
		  WHERE backend_type = 'pg_pipeline coordinator' AND datname = '$dbname'");
}

# Poll a Perl condition every 20 ms for at most $timeout seconds; returns
# the seconds waited, or undef when it never held.
sub wait_until
{
	my ($timeout, $cond) = @_;
	my $start = time();
	while (time() - $start < $timeout)
	{
		return time() - $start if $cond->();
		usleep(20_000);
	}
	return undef;
}

# Wait until a query on the node's postgres database gives the wanted text,
# then check it (so a timeout shows what it was).
sub wait_for_sql
{
	my ($node, $timeout, $stmt, $want, $name) = @_;
	my $got;
	wait_until($timeout, sub { $got = $node->safe_psql('postgres', $stmt); $got eq $want });
	is($got, $want, $name);
}

# A session LISTENing on a channel whose payloads are JSON.  Returns the
# session (quit it at the end) and a function that returns the
# notifications arrived since its last call, in order, as
# { payload => decoded JSON (or { bad => text }), pid => sender }.
sub listen_json
{
	my ($node, $channel, $dbname) = @_;
	my $session = $node->background_psql($dbname // 'postgres');
	$session->query_safe("LISTEN $channel");
	my $poll = sub {
		my ($out) = $session->query('SELECT 1');
		my @new;
		for my $line (split /\n/, $out)
		{
			next unless $line =~ /^Asynchronous notification "\Q$channel\E" with payload "(.*)" received from server process with PID (\d+)\.$/;
			my $p = eval { decode_json($1) };
			push @new, { payload => $p // { bad => $1 }, pid => $2 };
		}
		return @new;
	};
	return ($session, $poll);
}

# The test Kafka broker's control program (test/broker/pp-broker).
sub broker_program
{
	return "$FindBin::RealBin/../broker/pp-broker";
}

# Start a test broker in $dir with topics given as "name:partitions";
# returns its address.  Every broker started so is stopped at exit.
my @brokers;
sub start_broker
{
	my ($dir, @topics) = @_;
	my $prog = broker_program();
	my $addr = `$prog start $dir @{[ map { "--topic $_" } @topics ]}`;
	chomp $addr;
	die "broker did not start" unless $? == 0 && $addr =~ /^127\.0\.0\.1:\d+$/;
	push @brokers, $dir;
	return $addr;
}
END
{
	local $?;
	system(broker_program(), 'stop', $_) for grep { -d } @brokers;
}

1;
