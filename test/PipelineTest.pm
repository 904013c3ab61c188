# PipelineTest.pm: the helpers pg_pipeline's TAP tests share.
#
# A preloaded PostgreSQL::Test::Cluster node, SQL on it (as another role,
# an error's SQLSTATE, the running workers), waits on what the workers do,
# and the test Kafka broker with kcat as an independent client to produce
# to it and read from it.  Every wait is bounded; a helper that checks
# something says so.  Helpers take the node (or the broker's address)
# explicitly; what only one test needs stays in that test.
package PipelineTest;

use strict;
use warnings;
use Exporter 'import';
use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(pipeline_node coordinator_pid wait_until wait_for_sql listen_json broker_program start_broker
  sql_as sql_error worker_pids wait_sink_drained broker_cmd skip_without_kcat kcat_produce read_topic);

########################################################################
# The node and SQL on it
########################################################################

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

# Wait at most $timeout seconds until a query on the node's postgres
# database gives the wanted text; an error counts as another answer (the
# server may be restarting).  With a test name, the last answer is then
# checked with is() (so a timeout shows what it was); without one, a
# timeout is only reported with diag.  Returns the seconds waited, or undef
# when the answer never came.
sub wait_for_sql
{
	my ($node, $timeout, $stmt, $want, $name) = @_;
	my $got;
	my $waited = wait_until($timeout, sub {
		$got = eval { $node->safe_psql('postgres', $stmt) } // "error: $@";
		$got eq $want });
	if (defined $name)
	{
		is($got, $want, $name);
	}
	elsif (!defined $waited)
	{
		diag("timeout after $timeout s: $stmt gave '$got', not '$want'");
	}
	return $waited;
}

# SQL on the node's postgres database as a role (connected as it);
# returns the output, dies on an error.
sub sql_as
{
	my ($node, $role, $query) = @_;
	return $node->safe_psql('postgres', $query, extra_params => [ '-U', $role ]);
}

# Run SQL that must fail on the node's postgres database: returns the
# first error as "SQLSTATE: message", or "no error (output: ...)".
sub sql_error
{
	my ($node, $stmt) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$stmt");
	return "no error (output: '$out')" if $ret == 0;
	return $err =~ /ERROR:\s+([0-9A-Z]{5}):\s+([^\n]*)/ ? "$1: $2" : "unparsed: $err";
}

# The pids of the running workers of a kind in the postgres database, of
# those working on $works_on when it is given (a source, a sink), as
# pipeline.workers shows them: comma-separated in ascending order, '' when
# there is none or the server does not answer (it may be restarting).
sub worker_pids
{
	my ($node, $kind, $works_on) = @_;
	my $which = defined $works_on ? " AND works_on = '$works_on'" : '';
	my ($ret, $out) = $node->psql('postgres',
		"SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pipeline.workers
		  WHERE kind = '$kind'$which AND state = 'running'");
	return $ret == 0 ? $out : '';
}

# Wait at most $timeout seconds until a sink's outbox is empty (nothing
# waiting in pipeline.sink_status; an error counts as not yet).  Returns
# the seconds waited, or undef.
sub wait_sink_drained
{
	my ($node, $sink, $timeout) = @_;
	return wait_until($timeout, sub {
		my ($ret, $out) = $node->psql('postgres',
			"SELECT waiting FROM pipeline.sink_status WHERE sink = '$sink'");
		$ret == 0 && $out eq '0' });
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

########################################################################
# The test Kafka broker (test/broker) and kcat
########################################################################

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
	die "the test broker did not start: $addr" unless $? == 0 && $addr =~ /^127\.0\.0\.1:\d+$/;
	push @brokers, $dir;
	return $addr;
}
END
{
	local $?;
	system(broker_program(), 'stop', $_) for grep { -d } @brokers;
}

# Send a control command to the broker started in $dir (down, up, rtt,
# produce...: test/broker/README.md); dies when it fails.
sub broker_cmd
{
	my ($dir, @command) = @_;
	system(broker_program(), 'cmd', $dir, @command) == 0
	  or die "pp-broker cmd @command failed";
}

# Skip the whole test file when kcat is not on PATH.
sub skip_without_kcat
{
	plan skip_all => 'kcat not found in PATH'
	  unless grep { -x "$_/kcat" } split /:/, ($ENV{PATH} // '');
}

# Produce messages to a topic with kcat, zstd-compressed, all in one call:
# each element of @$messages is one message (without "\n": kcat -l reads
# them a line each; an empty one is an empty message).  Options:
#   partition => N        to this partition (else kcat's partitioner)
#   key => 'C'            each message is KEY C VALUE (kcat -K C)
#   null_empty => 1       an empty value is NULL (kcat -Z)
#   headers => [ 'name=value', ... ]   on every message
#   whole => 1            @$messages holds one message, line breaks and all
# Dies when kcat fails.
my ($kcat_dir, $kcat_files);
sub kcat_produce
{
	my ($addr, $topic, $messages, %opt) = @_;
	$kcat_dir //= PostgreSQL::Test::Utils::tempdir('kcat');
	my $file = "$kcat_dir/msg" . $kcat_files++;
	open(my $fh, '>:raw', $file) or die "$file: $!";
	print $fh $opt{whole} ? @$messages : map { "$_\n" } @$messages;
	close($fh);
	my @cmd = ('kcat', '-P', '-b', $addr, '-t', $topic, '-z', 'zstd',
		'-X', 'message.max.bytes=20000000');
	push @cmd, '-l' unless $opt{whole};
	push @cmd, '-K', $opt{key} if defined $opt{key};
	push @cmd, '-Z' if $opt{null_empty};
	push @cmd, '-p', $opt{partition} if defined $opt{partition};
	push @cmd, map { ('-H', $_) } @{ $opt{headers} // [] };
	my ($out, $err) = ('', '');
	IPC::Run::run([ @cmd, $file ], '>', \$out, '2>', \$err, IPC::Run::timeout(60))
	  or die "kcat failed: $err";
}

# Every message of a topic, read from its beginning with kcat: hashrefs
# { partition, offset, key, payload, headers, seq, sig } in kcat's order;
# key and payload are undef for NULL, headers is a hashref of every header,
# seq and sig are the pg_pipeline_seq and pg_pipeline_sig headers a sink
# adds (undef without).  Dies when kcat fails.
sub read_topic
{
	my ($addr, $topic) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ('kcat', '-C', '-b', $addr, '-t', $topic, '-o', 'beginning', '-e', '-q',
		'-f', '%p\t%o\t%K\t%k\t%S\t%s\t%h\n');
	IPC::Run::run(\@cmd, '<', \'', '>', \$out, '2>', \$err, IPC::Run::timeout(60))
	  or die "kcat failed on topic $topic: $err";
	my @msgs;
	for my $line (split /\n/, $out)
	{
		my ($p, $o, $klen, $k, $slen, $s, $h) = split /\t/, $line, 7;
		die "unexpected kcat line: $line" unless defined $h;
		my %hdr;
		for my $kv (split /,/, $h)
		{
			my ($name, $value) = split /=/, $kv, 2;
			$hdr{$name} = $value;
		}
		push @msgs, {
			partition => $p,
			offset => $o,
			key => $klen < 0 ? undef : $k,
			payload => $slen < 0 ? undef : $s,
			headers => \%hdr,
			seq => $hdr{pg_pipeline_seq},
			sig => $hdr{pg_pipeline_sig} };
	}
	return @msgs;
}

1;
