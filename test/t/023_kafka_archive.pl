# The raw archive of a source (archive => true): every consumed message kept
# zstd-compressed with its offsets, reported by pipeline.source_archive_stats,
# and loaded again by pipeline.replay_archive() into another table, from an
# offset on, or into the source's own target after the data left Kafka.
#
# The messages are produced with kcat to explicit partitions, so the test
# knows the offset of every message, good or bad, and compares exact counts
# and exact row multisets (EXCEPT ALL both ways).
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
my $partitions = 4;

# ---- the broker ----------------------------------------------------------

my $broker_dir = "$PostgreSQL::Test::Utils::tmp_check/broker_023";
my $addr = start_broker($broker_dir, "arch:$partitions");

# What was produced: per partition, the list of messages in offset order,
# each [key, payload, good?].
my %produced = map { $_ => [] } 0 .. $partitions - 1;

# Produce lines "key#payload" to one partition, zstd-compressed, with a
# header src=pp on every message.
sub produce
{
	my ($partition, @msgs) = @_;
	kcat_produce($addr, 'arch', [ map { "$_->[0]#$_->[1]" } @msgs ],
		partition => $partition, key => '#', headers => ['src=pp']);
	push @{ $produced{$partition} }, @msgs;
}

my $next_id = 1;
my @actions = qw(view click buy scroll share);

# n good messages plus bad ones at given positions (index => payload)
sub batch
{
	my ($n, %bad) = @_;
	my @msgs;
	for my $i (0 .. $n - 1)
	{
		if (exists $bad{$i})
		{
			push @msgs, [ "bad$i", $bad{$i}, 0 ];
			next;
		}
		my $id = $next_id++;
		push @msgs, [ 'u' . ($id % 53),
			sprintf('{"id": %d, "user_id": "u%d", "action": "%s", "page": "/products/%d", "amount": %d.%02d, "ts": "2024-05-%02dT%02d:%02d:%02dZ"}',
				$id, $id % 53, $actions[ $id % 5 ], $id % 211, $id % 500, $id % 100,
				1 + $id % 28, $id % 24, $id % 60, ($id * 7) % 60),
			1 ];
	}
	return @msgs;
}

sub total_produced { my $n = 0; $n += scalar(@{ $produced{$_} }) for keys %produced; return $n }

sub good_produced
{
	my ($from) = @_;
	$from //= 0;
	my %per;
	for my $p (keys %produced)
	{
		my @m = @{ $produced{$p} };
		$per{$p} = scalar(grep { $m[$_][2] && $_ >= $from } 0 .. $#m);
	}
	return \%per;
}

# ---- the node ------------------------------------------------------------

my $node = pipeline_node('archive', conf => 'restart_after_crash = on');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]) }

# Wait until the source stored offsets past every produced message.
sub wait_ingested
{
	my ($timeout) = @_;
	my $want = total_produced();
	return wait_until($timeout, sub {
		sql("SELECT coalesce(sum(next_offset), 0) FROM pipeline.source_offsets WHERE source = 'arch'") == $want });
}

sql('CREATE EXTENSION pg_pipeline');
sql("CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr')");
sql('CREATE TABLE events (id int NOT NULL, user_id text, action text, page text, amount numeric(10,2),
	ts timestamptz, _topic text, _partition int, _offset bigint, _key text, _timestamp timestamptz,
	_headers jsonb)');
# the columns the replay can rebuild (all but _headers, checked apart)
my $cols = 'id, user_id, action, page, amount, ts, _topic, _partition, _offset, _key, _timestamp';

# round 1: 3000 messages with 4 bad ones, produced before the source exists,
# so batches are large
produce(0, batch(750, 100 => '[1, 2, 3]'));
produce(1, batch(750, 200 => 'not json at all'));
produce(2, batch(750, 650 => '{"id": "seven", "user_id": "u7"}'));
produce(3, batch(750, 740 => '{"id": 5, "user_id": '));

sql("SELECT pipeline.create_source('arch', server => 'kafka', topic => 'arch', target => 'events',
	archive => true)");
ok(defined wait_ingested(60), 'round 1 ingested') or diag(sql('SELECT * FROM pipeline.source_status'));

# round 2, after a restart of the consumer: 1200 messages, one bad
sql("SELECT pipeline.pause_source('arch')");
ok(defined wait_until(20, sub {
	sql("SELECT count(*) FROM pipeline.workers WHERE kind = 'consumer' AND works_on = 'arch' AND state = 'running'") eq '0' }),
	'paused: the consumer is gone');
produce(0, batch(300));
produce(1, batch(300));
produce(2, batch(300));
produce(3, batch(300, 10 => '{}'));    # id NOT NULL: a constraint violation
sql("SELECT pipeline.resume_source('arch')");
ok(defined wait_ingested(60), 'round 2 ingested');
my $produced = total_produced();
my $good = 0;
$good += $_ for values %{ good_produced() };
is($produced, 4200, 'test setup: 4200 messages produced');
is($good, 4195, 'test setup: 4195 of them good');

# ---- what was ingested ----------------------------------------------------

is(sql('SELECT count(*) FROM events'), $good, 'the target has every good message');
is(sql('SELECT count(*) FROM (SELECT DISTINCT _partition, _offset FROM events) d'), $good,
	'... each once');
is(sql("SELECT count(*) FROM pipeline.dead_letters WHERE source = 'arch'"), 5, 'the 5 bad ones are dead letters');

# ---- the archive and its statistics ------------------------------------------

my $stats = sql("SELECT messages, batches, raw_bytes, stored_bytes, compression_ratio
	FROM pipeline.source_archive_stats WHERE source = 'arch'");
note("archive stats (messages|batches|raw|stored|ratio): $stats");
my ($messages, $batches, $raw, $stored, $ratio) = split /\|/, $stats;
is($messages, $produced, 'source_archive_stats: messages = every produced message, bad ones too');
cmp_ok($batches, '>=', 2 * $partitions, 'at least one archived batch per partition and round');
cmp_ok($ratio, '>', 1, 'compression ratio above 1');
cmp_ok($stored, '<', $raw, 'stored bytes below raw bytes');
my $raw_payload = 0;
for my $p (keys %produced) { $raw_payload += length($_->[1]) for @{ $produced{$p} } }
cmp_ok($raw, '>=', $raw_payload, 'raw bytes cover at least every payload');

# every offset of every partition archived exactly once: per partition,
# the batches tile 0 .. last without gap or overlap
my $tiles = sql("SELECT partition, min(first_offset), max(last_offset), sum(messages),
	bool_and(last_offset - first_offset + 1 = messages),
	bool_and(first_offset = coalesce(prev_last + 1, 0))
	FROM (SELECT *, lag(last_offset) OVER (PARTITION BY partition ORDER BY first_offset) AS prev_last
	        FROM pipeline.source_archive WHERE source = 'arch') a
	GROUP BY partition ORDER BY partition");
is($tiles, join("\n", map { my $n = scalar(@{ $produced{$_} }); "$_|0|" . ($n - 1) . "|$n|t|t" } 0 .. $partitions - 1),
	'per partition, the archived batches cover every offset exactly once');

# ---- replay into another table ------------------------------------------------

sql('CREATE TABLE events_replay (LIKE events)');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT pipeline.replay_archive('arch', 'events_replay')");
is($ret, 0, 'replay_archive into another table works') or diag($err);
is($out, $good, 'replay_archive returns the number of rows loaded');
my @warnings = $err =~ /WARNING:  archived message at partition \d+ offset \d+ was not loaded/g;
is(scalar(@warnings), 5, 'each bad message is reported by a warning');
like($err, qr/partition 2 offset 650 was not loaded/, '... naming its partition and offset');

is(sql('SELECT count(*) FROM events_replay'), $good, 'the replay has as many rows as the target');
is(sql("SELECT count(*) FROM (SELECT $cols FROM events EXCEPT ALL SELECT $cols FROM events_replay) d"), '0',
	'every row of the target is in the replay');
is(sql("SELECT count(*) FROM (SELECT $cols FROM events_replay EXCEPT ALL SELECT $cols FROM events) d"), '0',
	'every row of the replay is in the target');
is(sql(q{SELECT count(*) FROM events WHERE _headers IS DISTINCT FROM '{"src": "pp"}'}), '0',
	'the target has the message headers');
is(sql(q{SELECT count(*) FROM events_replay WHERE _headers IS DISTINCT FROM '{"src": "pp"}'}), '0',
	'the replay has the message headers too');

# from_offset: only the later messages, in every partition
my $from = 600;
sql('TRUNCATE events_replay');
is(sql("SELECT pipeline.replay_archive('arch', 'events_replay', from_offset => $from)"),
	do { my $n = 0; $n += $_ for values %{ good_produced($from) }; $n },
	"replay from offset $from returns the rows loaded");
my $want = good_produced($from);
is(sql(q{SELECT string_agg(_partition || ':' || n, ',' ORDER BY _partition) FROM
	  (SELECT _partition, count(*) AS n FROM events_replay GROUP BY 1) c}),
	join(',', map { "$_:$want->{$_}" } 0 .. $partitions - 1),
	"replay from offset $from: the expected count in every partition");
is(sql("SELECT min(_offset) FROM events_replay"), $from, "... starting at offset $from");
is(sql("SELECT count(*) FROM (
	  (SELECT $cols FROM events WHERE _offset >= $from EXCEPT ALL SELECT $cols FROM events_replay)
	  UNION ALL
	  (SELECT $cols FROM events_replay EXCEPT ALL SELECT $cols FROM events WHERE _offset >= $from)) d"), '0',
	"... exactly the target's rows from offset $from on");
is(sql("SELECT pipeline.replay_archive('arch', 'events_replay', from_offset => 1000000)"), '0',
	'replay from past the end loads nothing');

# errors
like(sql_error($node, "SELECT pipeline.replay_archive('nope', 'events_replay')"),
	qr/^42704: source "nope" does not exist/, 'replay of an unknown source: undefined_object');
like(sql_error($node, "SELECT pipeline.replay_archive(NULL, 'events_replay')"),
	qr/^22004: /, 'replay of a NULL source: null_value_not_allowed');
like(sql_error($node, "SELECT pipeline.replay_archive('arch', 'no_such_table')"),
	qr/^42P01: relation "no_such_table" does not exist/, 'replay into a missing table: undefined_table');

# another role sees and replays only the archives of its own sources
sql('CREATE ROLE pp_other');
sql('GRANT SELECT, INSERT ON events_replay TO pp_other');
like(sql_error($node, "SET ROLE pp_other; SELECT pipeline.replay_archive('arch', 'events_replay')"),
	qr/^42704: source "arch" does not exist/, 'another role cannot replay the archive of our source');
is(sql('SET ROLE pp_other; SELECT count(*) FROM pipeline.source_archive'), '0',
	'another role sees no archived batch of ours');
is(sql('SET ROLE pp_other; SELECT count(*) FROM pipeline.source_archive_stats'), '0',
	'... not even in pipeline.source_archive_stats');

# ---- the archive outlives Kafka ------------------------------------------------

sql('CREATE TABLE events_saved AS SELECT * FROM events');
sql("SELECT pipeline.pause_source('arch')");
ok(defined wait_until(20, sub {
	sql("SELECT count(*) FROM pipeline.workers WHERE kind = 'consumer' AND works_on = 'arch' AND state = 'running'") eq '0' }),
	'paused again');
# the whole cluster goes away: nothing of the topic is left anywhere
system(broker_program(), 'stop', $broker_dir) == 0 or die 'could not stop the broker';
ok(system(broker_program() . " status $broker_dir >/dev/null 2>&1") != 0, 'the broker is gone, with every message');
sql('TRUNCATE events');
is(sql("SELECT pipeline.replay_archive('arch')"), $good, 'replay into the source\'s own target loads every good message');
is(sql("SELECT count(*) FROM (
	  (SELECT $cols FROM events EXCEPT ALL SELECT $cols FROM events_saved)
	  UNION ALL
	  (SELECT $cols FROM events_saved EXCEPT ALL SELECT $cols FROM events)) d"), '0',
	'the rebuilt target equals the saved copy');
is(sql('SELECT count(*) FROM events'), sql('SELECT count(*) FROM events_saved'), '... with the same count');
is(sql("SELECT messages FROM pipeline.source_archive_stats WHERE source = 'arch'"), $produced,
	'the archive is unchanged by the replays');

# dropping the source drops its archive
sql("SELECT pipeline.drop_source('arch')");
is(sql("SELECT count(*) FROM pipeline.source_archive WHERE source = 'arch'"), '0', 'drop_source drops the archive');

unlike(slurp_file($node->logfile), qr/terminated by signal|exited with exit code [^01]/,
	'no worker crashed');
$node->stop;
note(sprintf('023_kafka_archive: %.1f s', time() - $t_start));
done_testing();
