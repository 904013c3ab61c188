# Scale-out (docs/scale-out.md): two PostgreSQL servers share one topic of 6
# partitions through one broker, each with the same source given its part
# ('hash 0 of 2': partitions 0, 2, 4; 'hash 1 of 2': 1, 3, 5), and the
# union of their tables is exactly what was produced.
#
#   (a) produce while the consumer of server A is killed with SIGKILL in the
#       middle of the ingestion (its server restarts): each server holds
#       exactly its partitions, once
#   (b) re-split while producing: partition 4 is handed over from A to B
#       (export_offsets on A, import_offsets on B); A stops at the exported
#       offset and B continues from it, nothing lost or doubled
#   (c) A restarted afterwards does not read partition 4 again, and a second
#       import of the same hand-over on B is refused; a consumer that still
#       has a partition assigned after it was marked exported has its batch
#       refused
#   (d) at the end, the union of both tables is exactly the messages
#       produced: every (partition, offset) once, with its own message
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use IPC::Run;
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

skip_without_kcat();

my $t_start = time();
my $tmp = PostgreSQL::Test::Utils::tempdir('scale_out');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(so:6));
my @partitions = (0 .. 5);

my $na = pipeline_node('scale_a', conf => "restart_after_crash = on\nlog_min_messages = info\n");
my $nb = pipeline_node('scale_b', conf => "log_min_messages = info\n");
$na->start;
$nb->start;

sub phase { note(sprintf('%6.1f s  %s', time() - $t_start, $_[0])); }

# SQL on a node; '' while it restarts (try_sql).
sub sql { my ($node, $stmt) = @_; return $node->safe_psql('postgres', $stmt); }
sub try_sql
{
	my ($node, $stmt) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $stmt);
	return $ret == 0 ? $out : '';
}

# Messages of partition p are {"id": p * 1000000 + n}, n = 1, 2, ...: the
# id says which message it is.  Produced with kcat, one process per
# partition, in the background; returns the runs to finish().
my %produced = map { $_ => 0 } @partitions;
sub produce_start
{
	my ($per_partition) = @_;
	my @runs;
	for my $p (@partitions)
	{
		my $file = "$tmp/p$p-$produced{$p}";
		open(my $fh, '>', $file) or die "$file: $!";
		printf $fh qq({"id":%d}\n), $p * 1_000_000 + $_ for $produced{$p} + 1 .. $produced{$p} + $per_partition;
		close($fh);
		$produced{$p} += $per_partition;
		my ($out, $err) = ('', '');
		push @runs, [ IPC::Run::start([ 'kcat', '-P', '-b', $addr, '-t', 'so', '-p', $p, '-l', '-z', 'zstd',
					'-X', 'linger.ms=20', $file ], '>', \$out, '2>', \$err, IPC::Run::timeout(120)), \$err ];
	}
	return \@runs;
}
sub produce_finish
{
	my ($runs) = @_;
	for my $r (@$runs)
	{
		$r->[0]->finish or die "kcat failed: ${ $r->[1] }";
	}
}

# Rows per partition on a node: { p => "count:min offset:max offset" }.
sub rows_per_partition
{
	my ($node) = @_;
	my %rows;
	for my $line (split /\n/, try_sql($node,
			q{SELECT _partition, count(*), min(_offset), max(_offset) FROM events GROUP BY 1}))
	{
		my ($p, $n, $min, $max) = split /\|/, $line;
		$rows{$p} = "$n:$min:$max";
	}
	return \%rows;
}
sub total_rows
{
	my $n = 0;
	for my $node ($na, $nb)
	{
		my $c = try_sql($node, 'SELECT count(*) FROM events');
		return -1 if $c eq '';
		$n += $c;
	}
	return $n;
}
sub total_produced { my $n = 0; $n += $_ for values %produced; return $n; }

for my $node ($na, $nb)
{
	sql($node, qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE events (id bigint, _partition int, _offset bigint);
});
}
sql($na, q{SELECT pipeline.create_source('so', 'kafka', 'so', 'events', batch_rows => 200,
                                         partitions => 'hash 0 of 2')});
sql($nb, q{SELECT pipeline.create_source('so', 'kafka', 'so', 'events', batch_rows => 200,
                                         partitions => 'hash 1 of 2')});

########################################################################
# (a) producing, and A's consumer killed in the middle
########################################################################
my $round1 = 60_000;
phase("producing 6 x $round1");
my $runs = produce_start($round1);
my $pid;
ok(defined wait_until(60, sub {
	$pid = worker_pids($na, 'consumer', 'so');
	my $n = try_sql($na, 'SELECT count(*) FROM events');
	return $pid ne '' && $n ne '' && $n > 2000;
}), 'A ingests');
my $at_kill = try_sql($na, 'SELECT count(*) FROM events');
kill 'KILL', $pid;
phase("kill -9 of A's consumer $pid at $at_kill rows");
produce_finish($runs);
ok(defined wait_until(180, sub { total_rows() == total_produced() }),
	'after the kill, both servers together hold as many rows as produced')
  or diag('rows: ' . total_rows() . ' of ' . total_produced());
cmp_ok($at_kill, '<', 3 * $round1, 'the kill came in the middle of A\'s ingestion');
like(slurp_file($na->logfile), qr/background worker "pg_pipeline consumer" \(PID $pid\) was terminated by signal 9/,
	'A\'s log shows its consumer killed');
is(join(' ', sort keys %{ rows_per_partition($na) }), '0 2 4', 'A holds partitions 0, 2, 4 only');
is(join(' ', sort keys %{ rows_per_partition($nb) }), '1 3 5', 'B holds partitions 1, 3, 5 only');
is(sql($na, q{SELECT string_agg(partition::text, ' ' ORDER BY partition) FROM pipeline.source_offsets}),
	'0 2 4', 'A stored offsets of its own partitions only');
phase('checked (a)');

########################################################################
# (b) hand-over of partition 4 from A to B while producing
########################################################################
$runs = produce_start(30_000);
ok(defined wait_until(60, sub { my $r = rows_per_partition($na)->{4} // ''; $r =~ /^(\d+):/ && $1 > $round1 + 1000 }),
	'A ingests the second round');
my $export = sql($na, q{SELECT pipeline.export_offsets('so', '4')});
like($export, qr/^\{"so:4": (\d+)\}$/, "A exports partition 4: $export");
my ($handed_at) = $export =~ /(\d+)\}$/;
sql($nb, qq{SELECT pipeline.import_offsets('so', '$export')});
phase("partition 4 handed over at offset $handed_at");
my $more = produce_start(20_000);
produce_finish($runs);
produce_finish($more);
ok(defined wait_until(180, sub { total_rows() == total_produced() }),
	'after the hand-over, both servers together hold as many rows as produced')
  or diag('rows: ' . total_rows() . ' of ' . total_produced());
sleep 1;
is(rows_per_partition($na)->{4}, "$handed_at:0:" . ($handed_at - 1),
	'A holds partition 4 up to the exported offset, once');
is(rows_per_partition($nb)->{4}, ($produced{4} - $handed_at) . ":$handed_at:" . ($produced{4} - 1),
	'B holds partition 4 from the exported offset on, once');
is(sql($na, q{SELECT next_offset || ' ' || handover FROM pipeline.source_offsets WHERE partition = 4}),
	"$handed_at exported", 'A\'s offset of partition 4 stays where it was exported, marked exported');
phase('checked (b)');

########################################################################
# (c) A restarted does not take partition 4 back; a second import is refused
########################################################################
$na->restart;
$runs = produce_start(5_000);
produce_finish($runs);
ok(defined wait_until(120, sub { total_rows() == total_produced() }),
	'after A\'s restart, both servers together hold as many rows as produced');
sleep 6;	# more than a metadata interval (5 s): a wrong assignment would load
is(rows_per_partition($na)->{4}, "$handed_at:0:" . ($handed_at - 1), 'restarted, A still does not read partition 4');
like(sql_error($nb, qq{SELECT pipeline.import_offsets('so', '$export')}),
	qr/^55006: source "so" already reads partition 4 of topic "so" on this server/,
	'the same hand-over imported twice into B: refused');
like(sql_error($na, qq{SELECT pipeline.import_offsets('so', '{"so:4": 0}')}),
	qr/^22023: offset 0 of partition 4 of topic "so" is behind source "so" on this server/,
	'a hand-over behind what A ingested, imported into A: refused');
like(sql_error($na, q{SELECT pipeline.export_offsets('so', '4')}),
	qr/^55000: source "so" does not read partition 4 of topic "so" on this server/,
	'A cannot export partition 4 a second time');
phase('checked (c)');

########################################################################
# (c2) a stale consumer: partition 2 marked exported under a running
# consumer of A that still has it assigned (the mark written directly, so
# that config_version does not move and nothing restarts the consumer):
# its next batch with partition 2 is refused, nothing of it is loaded
# past the mark, and B takes the partition over from there
########################################################################
my $stale_at = sql($na, q{UPDATE pipeline.source_offsets SET handover = 'exported'
                           WHERE source = 'so' AND partition = 2 RETURNING next_offset});
my $log_pos = -s $na->logfile;
$runs = produce_start(2_000);
produce_finish($runs);
ok(defined wait_until(60, sub {
	substr(slurp_file($na->logfile), $log_pos) =~
	  /partition 2 of topic "so" was handed over by source "so" at offset $stale_at/ }),
	'the stale consumer\'s batch with partition 2 is refused');
ok(defined wait_until(60, sub { my $r = rows_per_partition($na)->{0} // ''; $r =~ /^(\d+):/ && $1 == $produced{0} }),
	'A, restarted, loads its other partitions');
is((rows_per_partition($na)->{2} // '') =~ s/:.*//r, $stale_at, 'A loaded nothing of partition 2 past the mark');
sql($nb, qq{SELECT pipeline.import_offsets('so', '{"so:2": $stale_at}')});
ok(defined wait_until(120, sub { total_rows() == total_produced() }),
	'B takes partition 2 over from the mark: both servers together hold as many rows as produced');
phase('checked (c2)');

########################################################################
# (d) the union of both tables is exactly what was produced
########################################################################
my %union;
my $bad = 0;
for my $node ($na, $nb)
{
	is(sql($node, q{SELECT count(*) FROM events WHERE id <> _partition * 1000000 + _offset + 1}), '0',
		$node->name . ': every row is the message at its partition and offset');
	is(sql($node, q{SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM events}), '0',
		$node->name . ': no (partition, offset) twice');
	my $rows = rows_per_partition($node);
	for my $p (keys %$rows)
	{
		my ($n, $min, $max) = split /:/, $rows->{$p};
		$bad++ unless $max - $min + 1 == $n;	# distinct and contiguous
		push @{ $union{$p} }, [ $min, $max ];
	}
}
is($bad, 0, 'on each server, each partition\'s rows are a contiguous run of offsets');
my @union;
for my $p (@partitions)
{
	my @runs = sort { $a->[0] <=> $b->[0] } @{ $union{$p} // [] };
	my $next = 0;
	for my $r (@runs)
	{
		$bad++ unless $r->[0] == $next;
		$next = $r->[1] + 1;
	}
	push @union, "$p:$next";
}
is($bad, 0, 'no gap and no overlap between the two servers\' runs');
is(join(' ', @union), join(' ', map { "$_:$produced{$_}" } @partitions),
	'the union covers every partition up to its last message');
is(total_rows(), total_produced(), 'rows in both tables: exactly the messages produced (' . total_produced() . ')');
phase('checked (d)');

$na->stop;
$nb->stop;
done_testing();
