# Kafka sinks: pipeline.publish() and pipeline.outbox to a 4-partition topic
# of the test broker, read back with kcat.
#
#   (a) committed messages arrive exactly once, with key, payload, headers
#   (b) messages of aborted transactions (ROLLBACK, an error after publish,
#       a rolled-back savepoint) never arrive
#   (c) messages of an open transaction appear only after its COMMIT
#   (d) a sink worker killed (SIGKILL: crash restart of the server, and
#       pg_terminate_backend) while publishing neither loses nor repeats
#   (e) pause_sink stops publishing, resume_sink publishes the rest
#   (f) drop_sink removes its outbox rows, and only those
#   (g) bad definitions are refused with clear errors and SQLSTATEs
#
# Every comparison is between exact multisets (sorted lists), so a missing
# or a duplicated message fails.
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

# ---- the broker ----------------------------------------------------------

my $broker_dir = "$PostgreSQL::Test::Utils::tmp_check/broker_022";
my $addr = start_broker($broker_dir, qw(sink-main:4 sink-crash:4 sink-pause:4 sink-drop:4 sink-keep:4));

# A message as one comparable string: key, payload, user headers (not the
# sink's pg_pipeline_seq and pg_pipeline_sig).
sub canon
{
	my ($m) = @_;
	my $h = $m->{headers};
	return join("\t",
		$m->{key} // '<null>',
		$m->{payload} // '<null>',
		join(',', map { "$_=$h->{$_}" } grep { !/^pg_pipeline_(seq|sig)$/ } sort keys %$h));
}

sub canon_list { return [ sort map { canon($_) } @_ ] }

# Read the topic until it holds at least $n messages (at most $timeout s).
sub wait_topic
{
	my ($topic, $n, $timeout) = @_;
	my @msgs;
	my $start = time();
	while (1)
	{
		@msgs = read_topic($addr, $topic);
		last if @msgs >= $n || time() - $start > $timeout;
		sleep 0.3;
	}
	return @msgs;
}

# ---- the node ------------------------------------------------------------

my $node = pipeline_node('sinks', conf => 'restart_after_crash = on');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_pipeline');
$node->safe_psql('postgres', "CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr')");

sub sql { return $node->safe_psql('postgres', $_[0]) }

# Check a topic against the expected messages: wait for them, let the sink
# drain, then compare the exact multiset.
sub check_topic
{
	my ($topic, $sink, $expected, $name) = @_;
	my @msgs = wait_topic($topic, scalar(@$expected), 60);
	ok(defined wait_sink_drained($node, $sink, 60), "$name: the outbox of $sink drained");
	@msgs = read_topic($addr, $topic);
	is_deeply(canon_list(@msgs), [ sort @$expected ], "$name: exactly the expected messages, each once")
	  or diag(sprintf('%d messages on %s, %d expected', scalar(@msgs), $topic, scalar(@$expected)));
	return @msgs;
}

# ---- (a) committed messages arrive exactly once ----------------------------

sql("SELECT pipeline.create_sink('main', server => 'kafka', topic => 'sink-main')");
ok(defined wait_until(30, sub { worker_pids($node, 'sink', 'main') ne '' }), 'the sink worker of main runs');
is(sql("SELECT state || ':' || waiting || ':' || published FROM pipeline.sink_status WHERE sink = 'main'"),
	'running:0:0', 'sink_status: running, nothing waiting or published');

my @expected_main;
# keyed messages with headers, in one transaction
sql("BEGIN;
	SELECT count(pipeline.publish('main', json_build_object('n', g, 'what', 'keyed')::text,
		'user-' || (g % 7), jsonb_build_object('trace', 't' || g, 'app', 'pp-test')))
	  FROM generate_series(1, 50) g;
	COMMIT");
push @expected_main, map { join("\t", 'user-' . ($_ % 7), qq({"n" : $_, "what" : "keyed"}), "app=pp-test,trace=t$_") } 1 .. 50;
# no key, no headers, in another
sql("SELECT count(pipeline.publish('main', 'plain-' || g)) FROM generate_series(1, 20) g");
push @expected_main, map { join("\t", '<null>', "plain-$_", '') } 1 .. 20;
# a tombstone (NULL payload), an empty payload, UTF-8, an empty header value
sql("SELECT pipeline.publish('main', NULL, 'tomb')");
push @expected_main, join("\t", 'tomb', '<null>', '');
sql("SELECT pipeline.publish('main', '', 'empty')");
push @expected_main, join("\t", 'empty', '', '');
sql("SELECT pipeline.publish('main', 'h\xc3\xa9llo \xe2\x9c\x93', 'utf8', '{\"lang\": \"fr\", \"blank\": \"\"}')");
push @expected_main, join("\t", 'utf8', "h\xc3\xa9llo \xe2\x9c\x93", 'blank=,lang=fr');

my $t0 = time();
my @msgs = check_topic('sink-main', 'main', \@expected_main, '(a) committed messages');
note(sprintf('(a) %d messages on the topic %.1f s after the last commit', scalar(@msgs), time() - $t0));

my %seq_seen;
my $seq_ok = 1;
my %last_seq;
my %key_partition;
my $key_ok = 1;
for my $m (sort { $a->{partition} <=> $b->{partition} || $a->{offset} <=> $b->{offset} } @msgs)
{
	$seq_ok = 0 unless defined $m->{seq} && $m->{seq} =~ /^\d+$/ && !$seq_seen{ $m->{seq} }++;
	$seq_ok = 0 if defined $last_seq{ $m->{partition} } && $m->{seq} <= $last_seq{ $m->{partition} };
	$last_seq{ $m->{partition} } = $m->{seq};
	next unless defined $m->{key};
	$key_partition{ $m->{key} } //= $m->{partition};
	$key_ok = 0 if $key_partition{ $m->{key} } != $m->{partition};
}
ok($seq_ok, '(a) every message has a unique pg_pipeline_seq header, increasing in each partition');
my %sig_seen;
is(scalar(grep { defined $_->{sig} && $_->{sig} =~ /^[0-9a-f]{32}$/ && !$sig_seen{ $_->{sig} }++ } @msgs),
	scalar(@msgs), '(a) every message has its own pg_pipeline_sig, 32 hex digits');
ok($key_ok, '(a) messages with the same key share a partition');
cmp_ok(scalar(keys %last_seq), '>', 1, '(a) messages are spread over several partitions');
is(sql("SELECT published || ':' || last_seq FROM pipeline.sink_progress WHERE sink = 'main'"),
	scalar(@expected_main) . ':' . scalar(@expected_main), '(a) sink_progress counts every message once');
is(sql("SELECT count(*) FROM pipeline.outbox WHERE sink = 'main'"), '0', '(a) published rows left the outbox');

# ---- (b) aborted transactions never publish --------------------------------

sql("BEGIN; SELECT pipeline.publish('main', 'aborted-rollback-' || g, 'ab') FROM generate_series(1, 10) g; ROLLBACK");
my ($ret, $out, $err) = $node->psql('postgres',
	"BEGIN; SELECT pipeline.publish('main', 'aborted-error-' || g, 'ab') FROM generate_series(1, 10) g; SELECT 1/0; COMMIT");
isnt($ret, 0, '(b) the transaction that errors after publish fails');
like($err, qr/division by zero/, '(b) ... on the division by zero');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT pipeline.publish('main', 'aborted-same-statement'), 1/0");
isnt($ret, 0, '(b) a statement that errors after its publish fails');
sql("BEGIN;
	SELECT pipeline.publish('main', 'kept-before-savepoint', 'sp');
	SAVEPOINT a;
	SELECT pipeline.publish('main', 'aborted-savepoint', 'sp');
	ROLLBACK TO SAVEPOINT a;
	SELECT pipeline.publish('main', 'kept-after-savepoint', 'sp');
	COMMIT");
push @expected_main, join("\t", 'sp', 'kept-before-savepoint', ''), join("\t", 'sp', 'kept-after-savepoint', '');
# a marker committed after all of them: once it is there, the sink has
# looked at the outbox after the aborted transactions ended
sql("SELECT pipeline.publish('main', 'marker-b')");
push @expected_main, join("\t", '<null>', 'marker-b', '');
@msgs = check_topic('sink-main', 'main', \@expected_main, '(b) after aborted transactions');
is_deeply([ grep { ($_->{payload} // '') =~ /aborted/ } @msgs ], [], '(b) no message of an aborted transaction or savepoint on the topic');

# ---- (c) an open transaction's messages appear only at COMMIT ----------------

my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe("SELECT count(pipeline.publish('main', 'open-' || g, 'open', '{\"tx\": \"open\"}')) FROM generate_series(1, 30) g");
# another transaction commits after it; wait until its message is out
sql("SELECT pipeline.publish('main', 'marker-c')");
push @expected_main, join("\t", '<null>', 'marker-c', '');
@msgs = wait_topic('sink-main', scalar(@expected_main), 30);
ok((grep { ($_->{payload} // '') eq 'marker-c' } @msgs), '(c) a message committed later is published meanwhile');
sleep 1;    # give the sink every chance to get it wrong
@msgs = read_topic($addr, 'sink-main');
is(scalar(grep { ($_->{payload} // '') =~ /^open-/ } @msgs), 0, '(c) nothing of the open transaction on the topic yet');
is(sql("SELECT count(*) FROM pipeline.outbox WHERE sink = 'main'"), '0', '(c) its rows are invisible to others');
$t0 = time();
$open->query_safe('COMMIT');
$open->quit;
push @expected_main, map { join("\t", 'open', "open-$_", 'tx=open') } 1 .. 30;
@msgs = check_topic('sink-main', 'main', \@expected_main, '(c) after COMMIT');
note(sprintf('(c) the committed transaction was on the topic after %.1f s', time() - $t0));

# ---- (d) killed sink workers neither lose nor repeat -------------------------

# Acknowledgements take 100 ms, so a kill often lands after a batch was
# sent and before its rows left the outbox (the case the tail check is for).
broker_cmd($broker_dir, 'rtt', 'all', '100');
sql("SELECT pipeline.create_sink('crash', server => 'kafka', topic => 'sink-crash', batch_rows => 250)");
sql('CREATE TABLE crash_ids (id int PRIMARY KEY)');
ok(defined wait_until(30, sub { worker_pids($node, 'sink', 'crash') ne '' }), '(d) the sink worker of crash runs');

# Wait for the server to be back after a crash restart, and the sink worker.
sub wait_sink_back
{
	my ($sink, $old_pid, $timeout) = @_;
	return wait_until($timeout, sub {
		my $p = worker_pids($node, 'sink', $sink);
		$p ne '' && $p ne $old_pid });
}

my $chunk = 2000;
my $chunks = 10;
my @kills = qw(KILL TERM KILL TERM KILL);    # after chunks 1..5
my ($sigkills, $terms, $landed) = (0, 0, 0);
my $next_id = 1;
for my $c (1 .. $chunks)
{
	my ($lo, $hi) = ($next_id, $next_id + $chunk - 1);
	$next_id = $hi + 1;
	# the ids that committed are recorded in the same transaction
	my $published_before = sql("SELECT published FROM pipeline.sink_progress WHERE sink = 'crash'");
	sql("BEGIN;
		INSERT INTO crash_ids SELECT g FROM generate_series($lo, $hi) g;
		SELECT count(pipeline.publish('crash', json_build_object('id', g)::text, 'k' || (g % 97),
			'{\"src\": \"crash\"}')) FROM generate_series($lo, $hi) g;
		COMMIT");
	my $how = $kills[ $c - 1 ] or next;

	# kill once the sink is under way with this chunk: some published,
	# some still waiting
	my $in_flight = wait_until(30, sub {
		sql("SELECT published > $published_before AND waiting > 0
			   FROM pipeline.sink_status WHERE sink = 'crash'") eq 't' });
	$landed++ if defined $in_flight;
	my $pid = worker_pids($node, 'sink', 'crash');
	if ($pid eq '')
	{
		fail("(d) no sink worker to kill after chunk $c");
		next;
	}
	my $bg;
	if ($how eq 'KILL')
	{
		# a transaction in progress dies with the crash: its messages
		# must never appear (its ids are not in crash_ids either)
		if ($sigkills == 1)
		{
			$bg = $node->background_psql('postgres', on_error_stop => 0);
			$bg->query_safe('BEGIN');
			$bg->query_safe("INSERT INTO crash_ids SELECT g FROM generate_series(900001, 900500) g");
			$bg->query_safe("SELECT count(pipeline.publish('crash', json_build_object('id', g)::text, NULL,
				'{\"src\": \"crash\"}')) FROM generate_series(900001, 900500) g");
		}
		kill 'KILL', $pid;
		$sigkills++;
	}
	else
	{
		sql("SELECT pg_terminate_backend($pid)");
		$terms++;
	}
	ok(defined wait_sink_back('crash', $pid, 90), "(d) the sink worker is back after $how $c");
	if ($bg)
	{
		eval { $bg->quit };
	}
}
is($sigkills . ':' . $terms, '3:2', '(d) killed with SIGKILL 3 times and terminated twice');
note("(d) $landed of 5 kills landed while the sink had published part of a chunk");
broker_cmd($broker_dir, 'rtt', 'all', '0');

my $expected_count = sql('SELECT count(*) FROM crash_ids');
is($expected_count, $chunk * $chunks, '(d) every chunk committed; the transaction killed by the crash did not');
ok(defined wait_sink_drained($node, 'crash', 120), '(d) the outbox of crash drained');
@msgs = wait_topic('sink-crash', $expected_count, 60);
@msgs = read_topic($addr, 'sink-crash');
my %count;
my $bad_payloads = 0;
for my $m (@msgs)
{
	if (($m->{payload} // '') =~ /^\{"id" : (\d+)\}$/) { $count{$1}++ }
	else { $bad_payloads++ }
}
my %want = map { $_ => 1 } split /\n/, sql('SELECT id FROM crash_ids');
my @missing = grep { !$count{$_} } sort { $a <=> $b } keys %want;
my @dups = grep { $count{$_} > 1 } sort { $a <=> $b } keys %count;
my @extra = grep { !$want{$_} } sort { $a <=> $b } keys %count;
is(scalar(@msgs), $expected_count, '(d) the topic holds one message per committed id')
  or diag(scalar(@msgs) . " messages for $expected_count ids");
is_deeply(\@missing, [], '(d) no message lost')
  or diag(scalar(@missing) . ' missing, first: ' . join(',', @missing[ 0 .. ($#missing < 9 ? $#missing : 9) ]));
is_deeply(\@dups, [], '(d) no message repeated')
  or diag(scalar(@dups) . ' repeated, first: ' . join(',', @dups[ 0 .. ($#dups < 9 ? $#dups : 9) ]));
is_deeply(\@extra, [], '(d) no message of an aborted transaction');
is($bad_payloads, 0, '(d) every payload is one of ours');
my %seqs;
my %last;
my $order_ok = 1;
for my $m (sort { $a->{partition} <=> $b->{partition} || $a->{offset} <=> $b->{offset} } @msgs)
{
	$order_ok = 0 if !defined $m->{seq} || $seqs{ $m->{seq} }++;
	$order_ok = 0 if defined $m->{seq} && defined $last{ $m->{partition} } && $m->{seq} <= $last{ $m->{partition} };
	$last{ $m->{partition} } = $m->{seq};
}
ok($order_ok, '(d) sequence numbers unique and increasing in every partition');
is(sql("SELECT published FROM pipeline.sink_progress WHERE sink = 'crash'"), $expected_count,
	'(d) sink_progress.published counts each message once');

# ---- (e) pause and resume ---------------------------------------------------

sql("SELECT pipeline.create_sink('pz', server => 'kafka', topic => 'sink-pause')");
sql("SELECT count(pipeline.publish('pz', 'before-pause-' || g, 'p' || (g % 5))) FROM generate_series(1, 100) g");
my @expected_pz = map { join("\t", 'p' . ($_ % 5), "before-pause-$_", '') } 1 .. 100;
check_topic('sink-pause', 'pz', \@expected_pz, '(e) before pause');
sql("SELECT pipeline.pause_sink('pz')");
ok(defined wait_until(20, sub { worker_pids($node, 'sink', 'pz') eq '' }), '(e) the paused sink has no running worker');
is(sql("SELECT state FROM pipeline.sink_status WHERE sink = 'pz'"), 'paused', '(e) sink_status says paused');
sql("SELECT count(pipeline.publish('pz', 'while-paused-' || g, 'p' || (g % 5))) FROM generate_series(1, 300) g");
sleep 3;
is(sql("SELECT waiting FROM pipeline.sink_status WHERE sink = 'pz'"), '300', '(e) the outbox keeps filling while paused');
is(scalar(read_topic($addr, 'sink-pause')), 100, '(e) nothing published while paused');
$t0 = time();
sql("SELECT pipeline.resume_sink('pz')");
push @expected_pz, map { join("\t", 'p' . ($_ % 5), "while-paused-$_", '') } 1 .. 300;
check_topic('sink-pause', 'pz', \@expected_pz, '(e) after resume');
note(sprintf('(e) resumed sink drained in %.1f s', time() - $t0));
is(sql("SELECT state FROM pipeline.sink_status WHERE sink = 'pz'"), 'running', '(e) sink_status says running again');

# ---- (f) drop_sink removes its outbox rows ----------------------------------

sql("BEGIN;
	SELECT pipeline.create_sink('dropme', server => 'kafka', topic => 'sink-drop');
	SELECT pipeline.pause_sink('dropme');
	SELECT pipeline.create_sink('keepme', server => 'kafka', topic => 'sink-keep');
	SELECT pipeline.pause_sink('keepme');
	COMMIT");
sql("SELECT count(pipeline.publish('dropme', 'drop-' || g)), count(pipeline.publish('keepme', 'keep-' || g))
	   FROM generate_series(1, 50) g");
is(sql("SELECT string_agg(sink || ':' || n, ',' ORDER BY sink) FROM
	  (SELECT sink, count(*) AS n FROM pipeline.outbox GROUP BY sink) o"),
	'dropme:50,keepme:50', '(f) both paused sinks have waiting rows');
sql("SELECT pipeline.drop_sink('dropme')");
is(sql("SELECT count(*) FROM pipeline.outbox WHERE sink = 'dropme'"), '0', '(f) drop_sink removed its outbox rows');
is(sql("SELECT count(*) FROM pipeline.outbox WHERE sink = 'keepme'"), '50', '(f) ... and only its own');
is(sql("SELECT (SELECT count(*) FROM pipeline.sinks WHERE name = 'dropme') + (SELECT count(*) FROM pipeline.sink_progress WHERE sink = 'dropme')"),
	'0', '(f) the sink and its progress are gone');
is(sql("SELECT count(*) FROM pipeline.sink_status WHERE sink = 'dropme'"), '0', '(f) sink_status no longer lists it');
like(sql_error($node, "SELECT pipeline.drop_sink('dropme')"), qr/^42704: sink "dropme" does not exist/,
	'(f) dropping it again: undefined_object');
($ret, $out, $err) = $node->psql('postgres', "SELECT pipeline.drop_sink('dropme', if_exists => true)");
ok($ret == 0 && $err =~ /NOTICE:  sink "dropme" does not exist, skipping/, '(f) if_exists: a notice, no error');
sleep 1;
is(scalar(read_topic($addr, 'sink-drop')), 0, '(f) nothing of the dropped sink was published');
sql("SELECT pipeline.drop_sink('keepme')");

# ---- (g) bad definitions ----------------------------------------------------

sql("CREATE FOREIGN DATA WRAPPER other_fdw");
sql("CREATE SERVER other FOREIGN DATA WRAPPER other_fdw");
my $sinks_before = sql('SELECT count(*) FROM pipeline.sinks');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'nope', topic => 't')"),
	qr/^42704: server "nope" does not exist/, '(g) unknown server: undefined_object');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'other', topic => 't')"),
	qr/^42809: server "other" is not a Kafka server/, '(g) a server of another wrapper: wrong_object_type');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'kafka', topic => 'bad topic!')"),
	qr/^22023: invalid Kafka topic name "bad topic!"/, '(g) invalid topic name: invalid_parameter_value');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'kafka', topic => '')"),
	qr/^22023: invalid Kafka topic name ""/, '(g) empty topic name: invalid_parameter_value');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'kafka', topic => 't', properties => '{\"no.such.property\": \"1\"}')"),
	qr/^22023: invalid Kafka property "no.such.property"/, '(g) unknown property: invalid_parameter_value');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'kafka', topic => 't', properties => '{\"linger.ms\": \"soon\"}')"),
	qr/^22023: invalid Kafka property "linger.ms" in the sink properties/,
	'(g) invalid property value: invalid_parameter_value, naming the sink properties');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'kafka', topic => 't', properties => '{\"linger.ms\": [1]}')"),
	qr/^22023: Kafka property "linger.ms" must be a string, number or boolean/, '(g) non-scalar property: invalid_parameter_value');
like(sql_error($node, "SELECT pipeline.create_sink('main', server => 'kafka', topic => 'sink-main')"),
	qr/^42710: sink "main" already exists/, '(g) duplicate sink name: duplicate_object');
like(sql_error($node, "SELECT pipeline.create_sink('bad name!', server => 'kafka', topic => 't')"),
	qr/^42602: invalid sink name "bad name!"/, '(g) invalid sink name: invalid_name');
like(sql_error($node, "SELECT pipeline.create_sink(NULL, server => 'kafka', topic => 't')"),
	qr/^22004: /, '(g) NULL name: null_value_not_allowed');
like(sql_error($node, "SELECT pipeline.create_sink('g1', server => 'kafka', topic => 't', batch_rows => 0)"),
	qr/^22023: batch_rows must be between 1 and 100000/, '(g) batch_rows 0: invalid_parameter_value');
like(sql_error($node, "SELECT pipeline.publish('nope', 'x')"),
	qr/^42704: sink "nope" does not exist/, '(g) publish to an unknown sink: undefined_object');
like(sql_error($node, "SELECT pipeline.publish('main', 'x', headers => '[1, 2]')"),
	qr/^23514: /, '(g) headers that are not an object: check_violation');
like(sql_error($node, "SELECT pipeline.pause_sink('nope')"),
	qr/^42704: sink "nope" does not exist/, '(g) pause an unknown sink: undefined_object');
like(sql_error($node, "SELECT pipeline.resume_sink('nope')"),
	qr/^42704: sink "nope" does not exist/, '(g) resume an unknown sink: undefined_object');
# another role sees and touches only its own sinks (row-level security)
sql('CREATE ROLE pp_other');
is(sql("SET ROLE pp_other; SELECT count(*) FROM pipeline.sinks"), '0', '(g) another role sees no sink of ours');
is(sql("SET ROLE pp_other; SELECT count(*) FROM pipeline.sink_status"), '0', '(g) ... not even in pipeline.sink_status');
like(sql_error($node, "SET ROLE pp_other; SELECT pipeline.publish('main', 'from-other')"),
	qr/^42704: sink "main" does not exist/, '(g) another role cannot publish to our sink');
like(sql_error($node, "SET ROLE pp_other; INSERT INTO pipeline.outbox (sink, payload) VALUES ('main', 'from-other')"),
	qr/^42501: new row violates row-level security policy/, '(g) ... nor insert into our outbox');
like(sql_error($node, "SET ROLE pp_other; SELECT pipeline.pause_sink('main')"),
	qr/^42704: sink "main" does not exist/, '(g) ... nor pause our sink');
is(sql('SELECT count(*) FROM pipeline.sinks'), $sinks_before, '(g) no bad definition was stored');
is(sql("SELECT count(*) FROM pipeline.outbox"), '0', '(g) no failed publish left a row');

# ---- the end ----------------------------------------------------------------

unlike(slurp_file($node->logfile), qr/terminated by signal (?!9)|exited with exit code [^01]/,
	'no worker crashed except the ones we killed');
$node->stop;
note(sprintf('022_kafka_sinks: %.1f s', time() - $t_start));
done_testing();
