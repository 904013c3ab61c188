# A sink's restart check cannot be fooled by another producer of its topic
# (issue 10, item 2).
#
# After a restart, a sink looks at its topic to find which of the numbered
# rows still in pipeline.outbox were delivered before it stopped.  Anyone
# who may write to the topic can add messages with a pg_pipeline_seq header:
# a forged high number would make the sink drop rows it never sent, and any
# foreign message at the end of a partition would hide the sink's own last
# one (rows sent again).  The state a worker leaves when it dies between
# Kafka's acknowledgement and its delete is recreated here exactly, with
# the sink paused:
#
#   - rows acknowledged but not deleted: published rows put back into the
#     outbox with the sequence number and partition they were sent with;
#   - rows numbered but never sent: seq and partition set the way the
#     worker sets them (round robin for rows without a key);
#   - then forged messages at the end of every partition: a real message
#     of another partition copied whole, a high pg_pipeline_seq with the
#     pg_pipeline_sig of a real message of the partition, and last a huge
#     pg_pipeline_seq alone.
#
# After resume_sink, every row must be on the topic exactly once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

skip_without_kcat();

my $t_start = time();
my $broker_dir = "$PostgreSQL::Test::Utils::tmp_check/broker_026";
my $addr = start_broker($broker_dir, qw(sink-forge:4));

# Write one message to a partition with the given headers (name=value).
sub forge
{
	my ($partition, $payload, @headers) = @_;
	kcat_produce($addr, 'sink-forge', [$payload], partition => $partition, headers => \@headers);
}

my $node = pipeline_node('sink_forgery');
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]) }
sql('CREATE EXTENSION pg_pipeline');
sql("CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr')");

# ---- published normally ------------------------------------------------------

sql("SELECT pipeline.create_sink('forge', server => 'kafka', topic => 'sink-forge')");
sql("SELECT count(pipeline.publish('forge', 'a-' || g)) FROM generate_series(1, 20) g");
ok(defined wait_sink_drained($node, 'forge', 60), 'the 20 first rows are published');
my @first;
ok(defined wait_until(30, sub { @first = read_topic($addr, 'sink-forge'); @first == 20 }), '... and on the topic');
my %real = map { $_->{payload} => $_ } @first;
ok(!(grep { ($_->{headers}{pg_pipeline_seq} // '') !~ /^\d+$/ } @first), 'each carries pg_pipeline_seq');

# ---- the state a worker leaves when it dies ------------------------------------

sql("SELECT pipeline.pause_sink('forge')");
ok(defined wait_until(30, sub { worker_pids($node, 'sink', 'forge') eq '' }), 'paused: the worker is gone');

# a-11 .. a-20 were acknowledged, but their delete did not commit
my @values;
for my $n (11 .. 20)
{
	my $m = $real{"a-$n"};
	push @values, "('forge', 'a-$n', $m->{headers}{pg_pipeline_seq}, $m->{partition})";
}
sql("INSERT INTO pipeline.outbox (sink, payload, seq, partition) VALUES " . join(',', @values));
sql("UPDATE pipeline.sink_progress SET published = published - 10 WHERE sink = 'forge'");
# b-1 .. b-40 were numbered, and not sent
sql("SELECT count(pipeline.publish('forge', 'b-' || g)) FROM generate_series(1, 40) g");
sql("WITH p AS (SELECT last_seq FROM pipeline.sink_progress WHERE sink = 'forge'),
	      n AS (SELECT o.id, p.last_seq + row_number() OVER (ORDER BY o.id) AS seq
	              FROM pipeline.outbox o, p WHERE o.sink = 'forge' AND o.seq IS NULL)
	 UPDATE pipeline.outbox o SET seq = n.seq, partition = n.seq % 4 FROM n WHERE o.id = n.id");
sql("UPDATE pipeline.sink_progress SET last_seq = last_seq + 40 WHERE sink = 'forge'");
is(sql("SELECT count(*) || ':' || min(seq) || ':' || max(seq) FROM pipeline.outbox WHERE sink = 'forge'"),
	'50:11:60', 'the outbox holds 10 delivered and 40 unsent numbered rows');

# ---- forged messages at the end of every partition -----------------------------

my %by_partition;
push @{ $by_partition{ $_->{partition} } }, $_ for @first;
my $forged = 0;
for my $p (0 .. 3)
{
	my ($mine) = $by_partition{$p} ? @{ $by_partition{$p} } : ();
	my ($other) = grep { $_->{partition} != $p } @first;
	# another partition's real message, headers and all
	forge($p, "forged-$p-copy", map { "$_=$other->{headers}{$_}" } sort keys %{ $other->{headers} });
	$forged++;
	if ($mine && defined $mine->{headers}{pg_pipeline_sig})
	{
		forge($p, "forged-$p-sig", 'pg_pipeline_seq=1000001', "pg_pipeline_sig=$mine->{headers}{pg_pipeline_sig}");
		$forged++;
	}
	# last: a huge number alone
	forge($p, "forged-$p-seq", 'pg_pipeline_seq=1000000');
	$forged++;
}
note("$forged forged messages written");

# ---- the sink comes back -------------------------------------------------------

sql("SELECT pipeline.resume_sink('forge')");
ok(defined wait_sink_drained($node, 'forge', 60), 'resumed: the outbox drains');
my @all;
wait_until(30, sub { @all = read_topic($addr, 'sink-forge'); @all >= 20 + 40 + $forged });
sleep 1;
@all = read_topic($addr, 'sink-forge');
my %count;
$count{ $_->{payload} }++ for grep { $_->{payload} !~ /^forged-/ } @all;
my @want = ((map { "a-$_" } 1 .. 20), (map { "b-$_" } 1 .. 40));
is_deeply([ grep { !$count{$_} } @want ], [], 'no row lost');
is_deeply([ grep { $count{$_} > 1 } sort keys %count ], [], 'no row sent twice');
is(scalar(keys %count), 60, 'nothing else from the sink');
is(sql("SELECT published || ':' || last_seq FROM pipeline.sink_progress WHERE sink = 'forge'"), '60:60',
	'sink_progress counts each row once');
is(sql("SELECT count(*) FROM pipeline.outbox"), '0', 'the outbox is empty');

unlike(slurp_file($node->logfile), qr/terminated by signal|exited with exit code [^01]/, 'no worker crashed');
$node->stop;
note(sprintf('026_kafka_sink_forgery: %.1f s', time() - $t_start));
done_testing();
