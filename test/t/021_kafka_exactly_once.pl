# Exactly once under faults.  1,000,000 JSON events in a 4-partition topic
# are ingested in small batches while the consumer is killed with SIGKILL
# (which restarts the whole server) 7 times and the server is stopped in
# immediate mode 3 times; at the end the table holds
# exactly one row per message.  Then the broker goes down for 20 seconds in
# the middle of another ingestion: it resumes with nothing lost or doubled,
# and the outage was visible meanwhile.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use IPC::Run;
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $t_start = time();
my $tmp = PostgreSQL::Test::Utils::tempdir('exactly_once');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(eo:4 bd:4));

my $node = pipeline_node('exactly_once',
	conf => "restart_after_crash = on\nlog_statement = none\nmax_wal_size = 1GB\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# The same, but '' while the server is restarting.
sub try_sql
{
	my ($stmt) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $stmt);
	return $ret == 0 ? $out : '';
}

sub phase { note(sprintf('%6.1f s  %s', time() - $t_start, $_[0])); }

# Write the events of ids $from..$to into a file, one JSON object a line.
sub event_file
{
	my ($name, $from, $to) = @_;
	my $file = "$tmp/$name";
	my @actions = qw(view click add_to_cart purchase scroll);
	open(my $fh, '>', $file) or die;
	for my $id ($from .. $to)
	{
		printf $fh
		  qq({"id":%d,"user_id":%d,"action":"%s","page":"/p/%d","event_time":"2026-01-%02dT%02d:%02d:%02d.%03dZ","amount":%d.%02d}\n),
		  $id, $id * 7919 % 100_000, $actions[ $id % 5 ], $id % 500, 1 + $id % 28, $id % 24,
		  $id % 60, ($id * 7) % 60, $id % 1000, $id % 500, $id % 100;
	}
	close($fh);
	return $file;
}

sub kcat_cmd
{
	my ($topic, $partition, $file) = @_;
	return [ 'kcat', '-P', '-b', $addr, '-t', $topic, '-p', $partition, '-l', '-z', 'zstd',
		'-X', 'linger.ms=50', '-X', 'batch.num.messages=10000', $file ];
}

# Messages per partition the broker holds: first offset and count, read
# back with kcat (the mock broker silently drops the oldest messages of a
# partition beyond about 5 MiB).
sub broker_partitions
{
	my ($topic) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'kcat', '-C', '-b', $addr, '-t', $topic, '-o', 'beginning', '-e', '-q',
			'-f', '%p %o\n', '-X', 'fetch.wait.max.ms=10', '-X', 'queued.min.messages=1000000' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(120))
	  or die "kcat -C failed: $err";
	my (%min, %max, %n);
	for my $line (split /\n/, $out)
	{
		my ($p, $o) = split / /, $line;
		$min{$p} = $o if !defined $min{$p} || $o < $min{$p};
		$max{$p} = $o if !defined $max{$p} || $o > $max{$p};
		$n{$p}++;
	}
	return join(' ', map { "$_:" . ($min{$_} // '-') . ':' . (defined $max{$_} ? $max{$_} + 1 : '-') . ':' . ($n{$_} // 0) } 0 .. 3);
}

sub stored_total
{
	my ($source) = @_;
	my $n = try_sql("SELECT coalesce(sum(next_offset), 0) FROM pipeline.source_offsets WHERE source = '$source'");
	return $n eq '' ? -1 : $n;
}

# Rows and offsets commit together: in any snapshot, the rows of every
# partition number exactly its stored next offset.
sub consistent
{
	my ($table, $source) = @_;
	return sql(qq{SELECT count(*) FROM generate_series(0, 3) p
	               WHERE (SELECT count(*) FROM $table WHERE _partition = p)
	                     <> coalesce((SELECT next_offset FROM pipeline.source_offsets
	                                   WHERE source = '$source' AND partition = p), 0)});
}

my $per_partition = 250_000;
my $total = 4 * $per_partition;

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE events (id bigint, user_id int, action text, page text, event_time timestamptz,
                     amount numeric(10,2), _partition int, _offset bigint);
CREATE TABLE events_bd (LIKE events);
});

########################################################################
# 1,000,000 events, partition p holding ids p*250000+1 .. (p+1)*250000.
########################################################################
phase('writing and producing 1,000,000 events');
{
	my @runs;
	for my $p (0 .. 3)
	{
		my $file = event_file("eo$p", $p * $per_partition + 1, ($p + 1) * $per_partition);
		my ($out, $err) = ('', '');
		push @runs, [ IPC::Run::start(kcat_cmd('eo', $p, $file), '>', \$out, '2>', \$err,
				IPC::Run::timeout(120)), \$err ];
	}
	for my $r (@runs)
	{
		$r->[0]->finish or die "kcat failed: ${ $r->[1] }";
	}
}
phase('produced');
is(broker_partitions('eo'), join(' ', map { "$_:0:$per_partition:$per_partition" } 0 .. 3),
	'the broker kept all 1,000,000 events (low watermark 0, high watermark 250000 per partition)');
phase('checked the watermarks');

########################################################################
# Ingest with faults.
########################################################################
# Ten faults must all land in the middle of the ingestion, whatever the
# speed of the loader: every batch's COPY sleeps 50 ms (a statement
# trigger, in the batch's transaction), so a consumer that lives for one
# poll of wait_until() (20 ms) takes a few thousand rows, not 100,000.
# Dropped after the faults.
sql(q{
CREATE FUNCTION throttle() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END$$;
CREATE TRIGGER events_throttle AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION throttle();
});
sql(q{SELECT pipeline.create_source('eo', 'kafka', 'eo', 'events', batch_rows => 5000)});
my $t_ingest = time();
my @faults = qw(kill kill immediate kill kill immediate kill kill immediate kill);
my ($mid_ingest, $last_pid, $last_at, $inconsistent) = (0, '', 0, 0);
for my $i (0 .. $#faults)
{
	my $fault = $faults[$i];
	# a consumer that is not the one we hit last, having committed a batch
	my $pid;
	my $before = $i == 0 ? 0 : $last_at;
	my $ok = wait_until(60, sub {
		$pid = worker_pids($node, 'consumer', 'eo');
		return $pid ne '' && $pid ne $last_pid && stored_total('eo') > $before;
	});
	ok(defined $ok, "fault " . ($i + 1) . ": a new consumer is running and ingesting")
	  or last;
	$inconsistent++ if consistent('events', 'eo') ne '0';
	my $at = stored_total('eo');
	$mid_ingest++ if $at < $total;
	if ($fault eq 'kill')
	{
		kill 'KILL', $pid;
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
	phase(sprintf('fault %d: %s of consumer %d at %d rows', $i + 1, $fault eq 'kill' ? 'kill -9' : 'immediate stop', $pid, $at));
	$last_pid = $pid;
	$last_at = $at;
}
# (the last fault restarted the server: retry until it answers)
wait_until(60, sub { ($node->psql('postgres', 'DROP TRIGGER events_throttle ON events'))[0] == 0 });
is(sql(q{SELECT count(*) FROM pg_trigger WHERE tgname = 'events_throttle'}), '0', 'the throttle is dropped');
is($mid_ingest, scalar(@faults), '7 kill -9 and 3 immediate stops, all in the middle of the ingestion');
is($inconsistent, 0, 'at every fault, each partition had exactly as many rows as its stored offset');

ok(defined wait_until(120, sub { stored_total('eo') == $total }), 'ingestion finishes after the faults');
phase(sprintf('ingested, %.1f s after the source was created', time() - $t_ingest));
{
	my $log = slurp_file($node->logfile);
	my $killed = () = $log =~ /background worker "pg_pipeline consumer" \(PID \d+\) was terminated by signal 9/g;
	my $reinit = () = $log =~ /all server processes terminated; reinitializing/g;
	my $recovered = () = $log =~ /database system was (?:interrupted|not properly shut down)/g;
	is("$killed:$reinit", '7:7', 'the log shows 7 consumers killed and 7 crash restarts');
	cmp_ok($recovered, '>=', 10, 'the log shows crash recovery after each of the 10 faults');
}
sleep 1;
is(sql(q{SELECT count(*) FROM events}), $total, 'exactly 1,000,000 rows');
is(sql(q{SELECT count(DISTINCT id) FROM events}), $total, '1,000,000 distinct ids');
is(sql(q{SELECT count(*) FROM (SELECT 1 FROM events GROUP BY _partition, _offset HAVING count(*) > 1) d}), '0',
	'no duplicate (partition, offset)');
is(sql(qq{SELECT count(*) FROM events WHERE id = _partition * $per_partition + _offset + 1
                                       AND _offset BETWEEN 0 AND $per_partition - 1}),
	$total, 'every row at the partition and offset of its message');
is(sql(q{SELECT string_agg(partition || ':' || next_offset, ' ' ORDER BY partition) FROM pipeline.source_offsets WHERE source = 'eo'}),
	join(' ', map { "$_:$per_partition" } 0 .. 3), 'per partition the stored next offset is the high watermark');
is(sql(q{SELECT count(*) FROM pipeline.dead_letters}), '0', 'no dead letters');
is(sql(q{SELECT concat_ws(':', count(*), sum(amount)::numeric(30,2), sum(user_id),
                        sum(extract(epoch FROM event_time))::numeric(30,3), count(DISTINCT page),
                        sum(length(action))) FROM events}),
	sql(q{SELECT concat_ws(':', count(*), sum((g % 500) + (g % 100) / 100.0)::numeric(30,2), sum(g * 7919 % 100000),
	                       sum(extract(epoch FROM make_timestamptz(2026, 1, (1 + g % 28)::int, (g % 24)::int, (g % 60)::int,
	                                                               ((g * 7) % 60) + (g % 1000) / 1000.0, 'UTC')))::numeric(30,3),
	                       count(DISTINCT '/p/' || g % 500),
	                       sum(length((ARRAY['view', 'click', 'add_to_cart', 'purchase', 'scroll'])[g % 5 + 1])))
	        FROM generate_series(1::bigint, 1000000) g}),
	'the values are those produced (sums over every column)');
phase('checked 1,000,000 rows');
$node->safe_psql('postgres', 'CHECKPOINT');

########################################################################
# The broker down for 20 seconds in the middle of an ingestion.
########################################################################
my $bd_per_partition = 75_000;
my $bd_more = 25_000;
my @bd_files;
for my $p (0 .. 3)
{
	my $file = event_file("bd$p", $p * 100_000 + 1, $p * 100_000 + $bd_per_partition);
	my ($out, $err) = ('', '');
	IPC::Run::run(kcat_cmd('bd', $p, $file), '>', \$out, '2>', \$err, IPC::Run::timeout(60))
	  or die "kcat failed: $err";
	push @bd_files, event_file("bd_more$p", $p * 100_000 + $bd_per_partition + 1,
		$p * 100_000 + $bd_per_partition + $bd_more);
}
sql(q{SELECT pipeline.create_source('bd', 'kafka', 'bd', 'events_bd', batch_rows => 1000)});
ok(defined wait_until(30, sub { stored_total('bd') >= 10_000 }), 'broker outage: the ingestion started');
broker_cmd($bdir, 'down', '1');
my $t_down = time();
my $at_down = stored_total('bd');
phase("broker down at $at_down rows of " . (4 * $bd_per_partition));
cmp_ok($at_down, '<', 4 * $bd_per_partition, 'broker outage: it came in the middle of the ingestion');

my (%states, %errors);
while (time() - $t_down < 20)
{
	my $row = sql(q{SELECT state || '|' || coalesce(last_error, '') FROM pipeline.source_status WHERE source = 'bd'});
	my ($state, $error) = split /\|/, $row, 2;
	$states{$state}++;
	$errors{$error}++ if $error ne '';
	my $w = sql(q{SELECT coalesce(string_agg(last_error, '; '), '') FROM pipeline.workers
	               WHERE kind = 'consumer' AND works_on = 'bd' AND last_error IS NOT NULL AND last_error <> ''});
	$errors{"worker: $w"}++ if $w ne '';
	sleep 0.5;
}
my $at_up = stored_total('bd');
broker_cmd($bdir, 'up', '1');
phase("broker up again at $at_up rows; states seen: " . join(', ', map { "$_ x$states{$_}" } sort keys %states));
note("errors seen: $_") for sort keys %errors;
# the outage must not look like a healthy source: an error state, or the
# broker's complaint as the last error
ok($states{error} || (grep { /Kafka: .*(?:transport|Connect|connection|down)/i } keys %errors),
	'broker outage: source_status or pipeline.workers showed the problem meanwhile');

note($at_up < 4 * $bd_per_partition
	? 'the outage stalled the ingestion (the consumer had not prefetched everything)'
	: 'the consumer had prefetched everything before the outage');

# More messages after the outage: the consumer must fetch again.
for my $p (0 .. 3)
{
	my ($out, $err) = ('', '');
	IPC::Run::run(kcat_cmd('bd', $p, $bd_files[$p]), '>', \$out, '2>', \$err, IPC::Run::timeout(60))
	  or die "kcat failed: $err";
}
my $bd_total = 4 * ($bd_per_partition + $bd_more);
is(broker_partitions('bd'), join(' ', map { "$_:0:" . ($bd_per_partition + $bd_more) . ':' . ($bd_per_partition + $bd_more) } 0 .. 3),
	'broker outage: the broker holds all 400,000 events');
ok(defined wait_until(90, sub { stored_total('bd') == $bd_total }), 'broker outage: the ingestion resumes and finishes');
phase('ingested after the outage');
sleep 1;
is(sql(q{SELECT count(*) || ':' || count(DISTINCT id) FROM events_bd}), "$bd_total:$bd_total",
	'broker outage: every message once');
is(sql(q{SELECT count(*) FROM (SELECT 1 FROM events_bd GROUP BY _partition, _offset HAVING count(*) > 1) d}), '0',
	'broker outage: no duplicate (partition, offset)');
is(sql(q{SELECT count(*) FROM events_bd WHERE (id - 1) / 100000 = _partition}), $bd_total,
	'broker outage: every row from its partition');
is(sql(q{SELECT string_agg(partition || ':' || next_offset || ':' || high_watermark, ' ' ORDER BY partition) FROM pipeline.source_offsets WHERE source = 'bd'}),
	join(' ', map { "$_:" . ($bd_per_partition + $bd_more) . ':' . ($bd_per_partition + $bd_more) } 0 .. 3),
	'broker outage: per partition the stored offset is the high watermark');
ok(defined wait_until(15, sub { sql(q{SELECT state FROM pipeline.source_status WHERE source = 'bd'}) eq 'running' }),
	'broker outage: the source is running again');
note('consumer restarts during the outage: ' . sql(q{SELECT restarts FROM pipeline.workers WHERE kind = 'consumer' AND works_on = 'bd'}));

phase('stopping the server');
$node->stop;
phase('done');
done_testing();
