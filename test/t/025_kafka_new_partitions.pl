# Partitions found after a source started are read from their beginning
# (issue 10, item 1; Flink's rule for discovered partitions).
#
# start_from ('latest' here) applies to the partitions a source finds when it
# first starts.  A partition that appears later has no stored offset either,
# and starting it at 'latest' would skip what was written to it before the
# consumer's next metadata refresh (up to 5 s).  The mock broker cannot add
# partitions to a topic, so the later partitions are those of a new topic
# that a regular expression source and a list source (two consumers) take
# in:
#
#   (a) start_from => 'latest': messages already on the first topic are
#       skipped, in every partition and by both consumers of the list source
#   (b) a new topic appears with messages written before the consumers
#       notice it: all of them are loaded, once
#   (c) a consumer restarted afterwards neither reloads nor skips anything
#   (d) reset_offsets(name, 'latest') is a first assignment again
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
my $tmp = PostgreSQL::Test::Utils::tempdir('kafka_new_partitions');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(np-old:4));

my $node = pipeline_node('new_partitions', conf => "log_min_messages = info\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# Produce JSON messages {"id": n} with kcat: round robin over the
# partitions unless one is given.  kcat creates an unknown topic (4
# partitions) on the mock broker.
sub produce
{
	my ($topic, $from, $to, $partition) = @_;
	kcat_produce($addr, $topic, [ map { qq({"id": $_}) } $from .. $to ], partition => $partition);
}

# Every partition of every topic the sources read has a stored offset:
# the first assignment of all their consumers is done.
sub offsets_stored
{
	my ($source, $n) = @_;
	return sql("SELECT count(*) FROM pipeline.source_offsets WHERE source = '$source'") eq $n;
}

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka
	OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE ev_re (id int, _topic text, _partition int, _offset bigint);
CREATE TABLE ev_list (id int, _topic text, _partition int, _offset bigint);
});

# ---- (a) start_from => 'latest' on the partitions there at the start -------

# old messages, in each of the 4 partitions
for my $p (0 .. 3)
{
	produce('np-old', $p * 100 + 1, $p * 100 + 10, $p);
}
sql(q{SELECT pipeline.create_source('src_re', 'kafka', '^np-', 'ev_re',
		start_from => 'latest', batch_ms => 10)});
sql(q{SELECT pipeline.create_source('src_list', 'kafka', 'np-old,np-new', 'ev_list',
		start_from => 'latest', consumers => 2, batch_ms => 10)});
ok(defined wait_until(30, sub { offsets_stored('src_re', 4) && offsets_stored('src_list', 4) }),
	'(a) both sources resolved "latest" for the 4 partitions of np-old');
is(sql(q{SELECT string_agg(source || ':' || partition || '@' || next_offset, ',' ORDER BY source, partition)
           FROM pipeline.source_offsets}),
	join(',', (map { "src_list:$_\@10" } 0 .. 3), (map { "src_re:$_\@10" } 0 .. 3)),
	'(a) every partition starts at its end (10)');
ok(defined wait_until(30, sub { split(/,/, worker_pids($node, 'consumer', 'src_list')) == 2 }),
	'(a) the list source runs two consumers');
produce('np-old', 1001, 1020);
wait_for_sql($node, 30, 'SELECT count(*) FROM ev_re', '20', '(a) regex source: the 20 messages produced after the start arrive');
wait_for_sql($node, 30, 'SELECT count(*) FROM ev_list', '20', '(a) list source: the 20 messages produced after the start arrive');
# what each partition holds against its stored offset (read if (a) fails)
note('(a) rows / stored next offset per partition: ' . sql(q{
	SELECT string_agg(format('%s:%s %s/%s', o.source, o.partition,
	                         (SELECT count(*) FROM ev_list l WHERE o.source = 'src_list' AND l._topic = 'np-old' AND l._partition = o.partition)
	                         + (SELECT count(*) FROM ev_re r WHERE o.source = 'src_re' AND r._topic = 'np-old' AND r._partition = o.partition),
	                         o.next_offset), ' ' ORDER BY o.source, o.partition)
	  FROM pipeline.source_offsets o WHERE o.topic = 'np-old'}));
is(sql(q{SELECT coalesce(string_agg(source || ' ' || partition || '@' || "offset" || ': ' || error, '; '), '') FROM pipeline.dead_letters}),
	'', '(a) no dead letters');
is(sql('SELECT count(*) FROM ev_re WHERE id < 1000') . ':' . sql('SELECT count(*) FROM ev_list WHERE id < 1000'),
	'0:0', '(a) none of the 40 old messages was loaded, by either source or consumer');

# ---- (b) a topic that appears later: from its beginning --------------------

# kcat creates np-new (4 partitions) and writes to it at once; the
# consumers look for new topics about every 5 s, so most of these are there
# before they notice
my $t0 = time();
produce('np-new', 2001 + $_ * 10, 2010 + $_ * 10, $_) for 0 .. 3;
note(sprintf('(b) np-new was written in %.1f s; the regex source had %s of its messages by then',
	time() - $t0, sql(q{SELECT count(*) FROM ev_re WHERE _topic = 'np-new'})));
wait_for_sql($node, 30, q{SELECT count(*) FROM ev_re WHERE _topic = 'np-new'}, '40',
	'(b) regex source: all 40 messages of the new topic arrive');
wait_for_sql($node, 30, q{SELECT count(*) FROM ev_list WHERE _topic = 'np-new'}, '40',
	'(b) list source: all 40 messages of the new topic arrive');
note(sprintf('(b) loaded %.1f s after the topic was created', time() - $t0));
for my $s (qw(ev_re ev_list))
{
	is(sql(qq{SELECT count(DISTINCT id) || ':' || min(id) || ':' || max(id) || ':' ||
	                 count(*) FILTER (WHERE (id - 2001) / 10 = _partition AND (id - 2001) % 10 = _offset)
	            FROM $s WHERE _topic = 'np-new'}),
		'40:2001:2040:40', "(b) $s: each message of np-new once, every partition from offset 0");
}

# ---- (c) a restart afterwards changes nothing --------------------------------

my $old = worker_pids($node, 'consumer', 'src_list');
sql("SELECT pg_terminate_backend(pid) FROM pipeline.workers WHERE kind = 'consumer' AND works_on IN ('src_re', 'src_list') AND pid IS NOT NULL");
ok(defined wait_until(60, sub { my $p = worker_pids($node, 'consumer', 'src_list'); split(/,/, $p) == 2 && $p ne $old && worker_pids($node, 'consumer', 'src_re') ne '' }),
	'(c) the consumers are back');
produce('np-new', 3001 + $_ * 2, 3002 + $_ * 2, $_) for 0 .. 3;
produce('np-old', 3101, 3108);
wait_for_sql($node, 30, 'SELECT count(*) FROM ev_re', '76', '(c) regex source: the 16 new messages arrive');
wait_for_sql($node, 30, 'SELECT count(*) FROM ev_list', '76', '(c) list source: the 16 new messages arrive');
sleep 1;
is(sql('SELECT count(*) - count(DISTINCT id) FROM ev_re') . ':' . sql('SELECT count(*) - count(DISTINCT id) FROM ev_list'),
	'0:0', '(c) nothing loaded twice');

# ---- (d) reset_offsets(name, 'latest'): a first assignment again -------------

produce('np-new', 4001, 4010, 1);
wait_for_sql($node, 30, 'SELECT count(*) FROM ev_re', '86', '(d) regex source is at the end of both topics');
sql("TRUNCATE ev_re");
sql(q{SELECT pipeline.reset_offsets('src_re', 'latest')});
ok(defined wait_until(30, sub { offsets_stored('src_re', 8) }), '(d) latest resolved again for all 8 partitions');
sleep 1;
is(sql('SELECT count(*) FROM ev_re'), '0', '(d) nothing old is loaded again after reset_offsets(latest)');
produce('np-new', 5001 + $_, 5001 + $_, $_) for 0 .. 3;
wait_for_sql($node, 30, 'SELECT count(*) FROM ev_re', '4', '(d) only what came after the reset');

unlike(slurp_file($node->logfile), qr/terminated by signal|exited with exit code [^01]/,
	'no worker crashed');
$node->stop;
note(sprintf('025_kafka_new_partitions: %.1f s', time() - $t_start));
done_testing();
