# The consumer's private memory behind a backlog (issue 15): 0.8 raised
# librdkafka's queued.min.messages to 1,000,000 and held every message of a
# batch until it committed, so a consumer that started behind a backlog of
# small messages kept most of it in memory (about 300 MB for 1,000,000).
# Since 0.9.0 the fetch queue is sized from the batch limits and each
# message is copied out of librdkafka as it is taken: a backlog of 400,000
# messages stays well under 120 MB, and is loaded exactly once.  A fetch
# queue the user sized still wins: the same backlog with 0.8's setting
# fills memory as 0.8 did.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

skip_without_kcat();

my $per_partition = 100_000;
my $n = 4 * $per_partition;
my $bound_kb = 120 * 1024;

my $tmp = PostgreSQL::Test::Utils::tempdir('consumer_memory');
my $addr = start_broker("$tmp/broker", 'ev:4');

my $node = pipeline_node('consumer_memory');
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

# 400,000 events of about 110 bytes, like bench/kafka_ingest.sh's
for my $p (0 .. 3)
{
	my @msgs = map {
		my $i = $_ * 4 + $p;
		sprintf('{"user_id":%d,"action":"view","page":"/products/%d","event_time":"2026-11-25T12:00:%02d.%03dZ","amount":%d.%02d}',
			$i, $i % 2000, $i % 60, $i % 1000, $i % 500, $i % 100)
	} 0 .. $per_partition - 1;
	kcat_produce($addr, 'ev', \@msgs, partition => $p);
}

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr');
CREATE TABLE sized (user_id bigint, action text, page text, event_time timestamptz, amount numeric(10,2),
	_partition integer, _offset bigint);
CREATE TABLE by_hand (LIKE sized);
});

# Load the backlog with a source; returns the peak RssAnon (kB) of its
# consumer, sampled every 5 ms until every offset is stored.
sub load_backlog
{
	my ($source, $table, $properties) = @_;
	sql(qq{SELECT pipeline.create_source('$source', 'kafka', 'ev', '$table', format => 'json',
		properties => '$properties')});
	my ($pid, $peak) = ('', 0);
	my $done = wait_until(120, sub {
		$pid = worker_pids($node, 'consumer', $source) if $pid eq '';
		# 20 samples 5 ms apart, then one look at the offsets
		for (1 .. 20)
		{
			last if $pid eq '' || !open(my $fh, '<', "/proc/$pid/status");
			while (<$fh>)
			{
				$peak = $1 if /^RssAnon:\s+(\d+)/ && $1 > $peak;
			}
			close($fh);
			usleep(5_000);
		}
		sql(qq{SELECT coalesce(sum(next_offset), 0) FROM pipeline.source_offsets WHERE source = '$source'}) == $n;
	});
	ok(defined $done, "$source: the backlog of $n events is loaded");
	note("$source: consumer $pid, peak RssAnon $peak kB");
	return $peak;
}

my $sized = load_backlog('sized', 'sized', '{"fetch.wait.max.ms": "10"}');
cmp_ok($sized, '>', 0, 'the consumer\'s memory was sampled');
cmp_ok($sized, '<', $bound_kb, 'the default fetch queue keeps the consumer under 120 MB');
is(sql(q{SELECT count(*), count(DISTINCT (_partition, _offset)) FROM sized}), "$n|$n",
	'each event once');
is(sql(q{SELECT count(*) FROM sized s
	WHERE s.user_id <> s._offset * 4 + s._partition OR s.page <> '/products/' || (s.user_id % 2000)}),
	'0', 'each row is the event at its partition and offset');

# a fetch-queue property set on the source: the user sizes the queue
my $by_hand = load_backlog('by_hand', 'by_hand',
	'{"fetch.wait.max.ms": "10", "queued.min.messages": "1000000"}');
cmp_ok($by_hand, '>', $sized + 40 * 1024,
	'queued.min.messages set by the user wins: its queue holds the backlog, as in 0.8');
is(sql(q{SELECT count(*) FROM (TABLE sized EXCEPT ALL TABLE by_hand) d}), '0',
	'both sources loaded the same rows');

$node->stop;
done_testing();
