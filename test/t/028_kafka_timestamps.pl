# Kafka timestamps set by a producer are any int64 (issue 10): one that is
# no valid timestamptz (its microseconds overflow, or before 1970) loads as
# a NULL _timestamp, with the raw milliseconds in _timestamp_ms, and never
# as a wrong or infinite timestamptz; the same in dead letters (NULL
# message_time) and in replay_archive().  A
# normal timestamp loads exactly.  start_from refuses a time Kafka cannot
# search for.
#
# kcat cannot set a message's timestamp: the test broker's "produce"
# command does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t_start = time();
my $tmp = PostgreSQL::Test::Utils::tempdir('kafka_timestamps');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(ts:1));

my $node = pipeline_node('kafka_timestamps',
	init => { extra => [ '--encoding=UTF8', '--locale=C' ] },
	conf => "log_min_messages = info\ntimezone = 'UTC'\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# [ timestamp in ms, what _timestamp must be (undef: NULL) ]
my @cases = (
	[ '1700000000123', '2023-11-14 22:13:20.123+00' ],
	[ '9223372036854775807', undef ],	# ms * 1000 overflows
	[ '9223372036854776', undef ],		# the first that overflows
	[ '9223372036854775', '294247-01-10 04:00:54.775+00' ],	# the last that does not
	[ '-9223372036854775808', undef ],
	[ '-5', undef ],					# Kafka has no time before 1970
	[ '1', '1970-01-01 00:00:00.001+00' ],
);
my $i = 0;
for my $c (@cases)
{
	broker_cmd($bdir, 'produce', 'ts', '0', $c->[0], qq({"id":$i}));
	$i++;
}
# and messages that are dead letters, with a good and a bad timestamp
broker_cmd($bdir, 'produce', 'ts', '0', '1700000000123', 'notjson1');
broker_cmd($bdir, 'produce', 'ts', '0', '9223372036854775807', 'notjson2');
my $total = @cases + 2;

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE t_ts (id int, _timestamp timestamptz, _timestamp_ms bigint, _offset bigint);
CREATE TABLE t_ts_text (id int, _timestamp text);
CREATE TABLE t_ts_replay (LIKE t_ts);
SELECT pipeline.create_source('s_ts', 'kafka', 'ts', 't_ts', archive => true);
SELECT pipeline.create_source('s_ts_text', 'kafka', 'ts', 't_ts_text', on_error => 'skip');
});
wait_for_sql($node, 60, q{SELECT string_agg(source || ':' || next_offset, ',' ORDER BY source) FROM pipeline.source_partitions},
	"s_ts:$total,s_ts_text:$total", 'both sources reach the end of the topic');

my $want = join("\n", map { "$_|" . ($cases[$_][1] // 'NULL') . "|$cases[$_][0]" } 0 .. $#cases);
is(sql(q{SELECT string_agg(id || '|' || coalesce(_timestamp::text, 'NULL') || '|' || coalesce(_timestamp_ms::text, 'NULL'), E'\n' ORDER BY id) FROM t_ts}),
	$want, 'every message loads: _timestamp when valid, else NULL; _timestamp_ms the raw value');
is(sql(q{SELECT string_agg(id || '|' || coalesce(_timestamp, 'NULL'), ',' ORDER BY id) FROM t_ts_text}),
	join(',', map { "$_|" . ($cases[$_][1] // 'NULL') } 0 .. $#cases),
	'a text _timestamp column gets the same: no invalid or infinite timestamp as text');
is(sql(q{SELECT string_agg(encode(pipeline.zstd_decompress(payload), 'escape') || '|' || coalesce(message_time::text, 'NULL'), ',' ORDER BY "offset")
           FROM pipeline.dead_letters WHERE source = 's_ts'}),
	'notjson1|2023-11-14 22:13:20.123+00,notjson2|NULL', 'dead letters: message_time when valid, else NULL');

# replay_archive into another table: the same timestamps
is(sql(q{SELECT pipeline.replay_archive('s_ts', 't_ts_replay')}), scalar(@cases),
	'replay_archive loads every message that is not bad');
is(sql(q{SELECT string_agg(id || '|' || coalesce(_timestamp::text, 'NULL') || '|' || coalesce(_timestamp_ms::text, 'NULL'), E'\n' ORDER BY id) FROM t_ts_replay}),
	$want, 'replay_archive: the same _timestamp and _timestamp_ms');

# start_from: a time Kafka can search for, from 1970 on
my $nbad = 0;
for my $bad ('infinity', '-infinity', '1969-12-31 23:59:59.999+00')
{
	$nbad++;
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT pipeline.create_source('s_bad$nbad', 'kafka', 'ts', 't_ts', start_from => '$bad')");
	like($err, qr/22023: start_from "\Q$bad\E" is not a time Kafka can search for/, "start_from '$bad' is refused");
}
sql(q{SELECT pipeline.create_source('s_1970', 'kafka', 'ts', 't_ts', start_from => '1970-01-01 00:00:00+00');
      SELECT pipeline.create_source('s_far', 'kafka', 'ts', 't_ts', start_from => '294276-12-31 23:59:59+00');
      SELECT pipeline.pause_source('s_1970'); SELECT pipeline.pause_source('s_far');});
is(sql(q{SELECT count(*) FROM pipeline.sources WHERE name IN ('s_1970', 's_far')}), '2',
	'start_from 1970-01-01 and the last timestamptz are accepted');

unlike(slurp_file($node->logfile), qr/terminated by signal|exited with exit code [^01]/, 'no worker crashed');
$node->stop('immediate');
note(sprintf('028 took %.1f s', time() - $t_start));
done_testing();
