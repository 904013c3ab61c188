#
# 001_broker.pl - tests for the mock Kafka broker in test/broker
#
# Builds pp_test_broker, drives it over stdin and, through the pp-broker
# wrapper, over its control FIFO, and checks with kcat that a 3-broker
# cluster stores and returns messages, that a broker outage delays but
# does not lose messages, and that injected errors reach the client.
#
# Needs kcat and librdkafka-dev, not PostgreSQL.  Run with
#	prove -v test/t/001_broker.pl
#
use strict;
use warnings;

use File::Temp qw(tempdir);
use FindBin;
use IO::Socket::INET;
use IPC::Run qw(start pump finish timeout);
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

my $broker_dir = "$FindBin::RealBin/../broker";
my $wrapper = "$broker_dir/pp-broker";
my $binary = "$broker_dir/pp_test_broker";

sub have_program
{
	my ($prog) = @_;

	return grep { -x "$_/$prog" } split /:/, ($ENV{PATH} // '');
}

plan skip_all => 'kcat not found in PATH' unless have_program('kcat');
plan skip_all => 'make not found in PATH' unless have_program('make');

# Run a command with a time limit; returns (exit status, stdout, stderr).
# The exit status is -1 if the command timed out (it is then killed).
sub run_timed
{
	my ($cmd, $stdin, $seconds) = @_;
	my ($out, $err) = ('', '');

	$stdin = '' unless defined $stdin;
	my $ok = eval {
		IPC::Run::run($cmd, '<', \$stdin, '>', \$out, '2>', \$err,
			timeout($seconds));
		1;
	};
	return (-1, $out, $err . ($@ // '')) unless $ok;
	return ($? >> 8, $out, $err);
}

# true if the process exists and is not a zombie
sub process_alive
{
	my ($pid) = @_;

	return 0 unless kill(0, $pid);
	if (open(my $fh, '<', "/proc/$pid/stat"))
	{
		my $stat = <$fh>;
		close($fh);
		return 0 if defined $stat && $stat =~ /\) Z /;
	}
	return 1;
}

# can we open a TCP connection to 127.0.0.1:$port?
sub port_accepts
{
	my ($port) = @_;
	my $sock = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto => 'tcp',
		Timeout => 5);

	return 0 unless $sock;
	close($sock);
	return 1;
}

# produce "key:value" lines with kcat; returns (exit status, stderr)
sub produce
{
	my ($addr, $topic, $lines, $seconds) = @_;
	my ($rc, $out, $err) = run_timed(
		[
			'kcat', '-P', '-b', $addr, '-t', $topic, '-z', 'zstd',
			'-K', ':', '-m', '10',
			'-X', 'message.timeout.ms=45000'
		],
		join('', map { "$_\n" } @$lines),
		$seconds // 60);
	return ($rc, $err);
}

# consume a whole topic with kcat; returns (exit status, list of
# [partition, offset, "key:value"])
sub consume
{
	my ($addr, $topic) = @_;
	my ($rc, $out, $err) = run_timed(
		[
			'kcat', '-C', '-b', $addr, '-t', $topic, '-o', 'beginning',
			'-e', '-q', '-m', '10', '-f', '%p\t%o\t%k:%s\n'
		],
		'', 60);
	diag("kcat -C failed ($rc): $err") if $rc != 0;
	my @msgs = map { [ split /\t/, $_, 3 ] } split /\n/, $out;
	return ($rc, @msgs);
}

# check that @$msgs contains exactly the lines in @$expected, each once
sub check_messages
{
	my ($msgs, $expected, $name) = @_;
	my @got = sort map { $_->[2] } @$msgs;
	my @want = sort @$expected;

	is(scalar(@got), scalar(@want), "$name: message count");
	is_deeply(\@got, \@want, "$name: message contents, none lost or doubled");
}

sub wrapper
{
	my (@args) = @_;
	return run_timed([ $wrapper, @args ], '', 30);
}

my $dir = tempdir('pp_broker_XXXX', TMPDIR => 1, CLEANUP => 1);
my $started = 0;

END
{
	# never leave a broker behind, whatever happened
	system($wrapper, 'stop', $dir) if $started;
}

#
# Build
#
{
	my ($rc, $out, $err) = run_timed([ 'make', '-s', '-C', $broker_dir ],
		'', 300);
	is($rc, 0, 'make -C test/broker succeeds') or diag($out . $err);
	ok(-x $binary, 'pp_test_broker exists') or BAIL_OUT('no broker binary');

	($rc, $out) = run_timed([ $binary, '--help' ], '', 10);
	is($rc, 0, '--help exits with 0');
	like($out, qr/^  leader TOPIC PARTITION/m, '--help lists the commands');

	($rc, $out, $err) = run_timed([ $binary, '--brokers', '0' ], '', 10);
	isnt($rc, 0, '--brokers 0 is rejected');
	like($err, qr/invalid --brokers/, '--brokers 0 error message');
}

#
# The stdin protocol, in the foreground
#
{
	my ($in, $out, $err) = ('', '', '');
	my $h = start([ $binary, '--brokers', '2', '--topic', 'x:2' ],
		'<', \$in, '>', \$out, '2>', \$err, timeout(30));

	# send one line, return the reply lines up to the final ok/error
	my $send = sub {
		my ($line) = @_;
		$out = '';
		$in .= "$line\n";
		pump $h until $out =~ /^(ok|error\b.*)\n\z/m;
		return $out;
	};

	pump $h until $out =~ /\n/;
	like($out, qr/^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\n\z/,
		'first stdout line is the bootstrap address of 2 brokers');
	my ($addr) = $out =~ /^(\S+)\n/;

	is($send->('frobnicate 1'), "error unknown command \"frobnicate\"\n",
		'unknown command gets an error');
	is($send->('topic x 2'), "error cannot create topic \"x\": TOPIC_ALREADY_EXISTS\n",
		'--topic created the topic');
	is($send->('topic y 3'), "ok\n", 'topic command');
	like($send->('topic bad/name 1'), qr/^error invalid topic name/,
		'invalid topic name rejected');
	like($send->('down 3'), qr/^error invalid broker id "3"/,
		'broker id out of range rejected');
	is($send->('down 2'), "ok\n", 'down command');
	is($send->('up 2'), "ok\n", 'up command');
	like($send->('error 1 123456 1'), qr/^error unknown error code/,
		'unknown error code rejected');
	is($send->('error Fetch NOT_LEADER_FOR_PARTITION 2'), "ok\n",
		'error command with names');
	is($send->('clear 1'), "ok\n", 'clear command');
	is($send->('leader y 2 1'), "ok\n", 'leader command');
	is($send->('bootstrap'), "$addr\nok\n", 'bootstrap command');
	is($send->('quit'), "ok\n", 'quit command');

	$in = '';
	my $finished = eval { finish $h; 1 };
	ok($finished, 'exits after quit');
	is($h->result(0), 0, 'exit status 0 after quit') if $finished;
	is($err, '', 'nothing on stderr without --verbose');
}

#
# In the background with the wrapper: 3 brokers, a topic of 4 partitions
#
my ($rc, $out, $err) = wrapper('start', $dir, '--brokers', '3',
	'--topic', 't:4');
is($rc, 0, 'pp-broker start succeeds') or diag($err);
$started = 1;
chomp(my $addr = $out);
my @ports = $addr =~ /^127\.0\.0\.1:(\d+),127\.0\.0\.1:(\d+),127\.0\.0\.1:(\d+)$/;
is(scalar(@ports), 3, 'bootstrap address lists 3 brokers')
  or BAIL_OUT("bad bootstrap address \"$addr\"");

{
	open(my $fh, '<', "$dir/bootstrap") or die "cannot open bootstrap: $!";
	local $/;
	my $content = <$fh>;
	close($fh);
	is($content, "$addr\n", 'bootstrap file holds the address and a newline');
}
ok(-p "$dir/control", 'control FIFO exists');
is((stat("$dir/control"))[2] & 07777, 0666, 'control FIFO mode is 0666');

my $pid = do { open(my $fh, '<', "$dir/pid") or die; local $/; <$fh> };
chomp($pid);
like($pid, qr/^\d+$/, 'pid file');
ok(process_alive($pid), 'broker runs in the background with stdin at EOF');

# Fix the partition leaders so that broker 2 leads partitions 1 and 3.
my %leaders = (0 => 1, 1 => 2, 2 => 3, 3 => 2);
for my $p (sort keys %leaders)
{
	($rc, $out) = wrapper('cmd', $dir, 'leader', 't', $p, $leaders{$p});
	is("$rc $out", "0 ok\n", "leader t $p $leaders{$p} via the FIFO");
}
{
	($rc, $out, $err) = run_timed([ 'kcat', '-L', '-J', '-b', $addr,
		'-t', 't', '-m', '10' ], '', 30);
	is($rc, 0, 'kcat -L succeeds') or diag($err);
	my $meta = eval { decode_json($out) } // {};
	my %got = map { $_->{partition} => $_->{leader} }
	  map { @{ $_->{partitions} } }
	  grep { $_->{topic} eq 't' } @{ $meta->{topics} // [] };
	is_deeply(\%got, \%leaders, 'metadata shows the leaders that were set');
}

#
# Produce 1000 messages and read them back
#
my @sent = map { "key$_:value-$_-" . ('x' x ($_ % 97)) } 1 .. 1000;
($rc, $err) = produce($addr, 't', \@sent);
is($rc, 0, 'kcat produced 1000 messages') or diag($err);

my @msgs;
($rc, @msgs) = consume($addr, 't');
is($rc, 0, 'kcat consumed');
check_messages(\@msgs, \@sent, 'first batch');
{
	my %per_partition;
	my $offsets_ok = 1;
	for my $m (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @msgs)
	{
		my $expected_offset = $per_partition{ $m->[0] }++;
		$offsets_ok = 0 if $m->[1] != $expected_offset;
	}
	is(join(',', sort keys %per_partition), '0,1,2,3',
		'messages landed in all 4 partitions');
	ok($offsets_ok, 'offsets in each partition are 0, 1, 2, ...');
}

#
# Broker outage: take broker 2 down, produce, bring it back
#
($rc, $out) = wrapper('cmd', $dir, 'down', '2');
is("$rc $out", "0 ok\n", 'down 2 via the FIFO');
ok(!port_accepts($ports[1]), 'broker 2 refuses connections while down');
ok(port_accepts($ports[0]) && port_accepts($ports[2]),
	'brokers 1 and 3 still accept connections');

my @sent2 = map { "key$_:value-$_-after-outage" } 1001 .. 1500;
my $input_file = "$dir/input2.txt";
{
	# a file, not a scalar: kcat must see EOF without being pumped
	open(my $fh, '>', $input_file) or die "cannot write $input_file: $!";
	print $fh map { "$_\n" } @sent2;
	close($fh) or die "cannot write $input_file: $!";
}
my ($pout, $perr) = ('', '');
my $producer = start(
	[
		'kcat', '-P', '-b', $addr, '-t', 't', '-z', 'zstd', '-K', ':',
		'-m', '10', '-X', 'message.timeout.ms=45000'
	],
	'<', $input_file, '>', \$pout, '2>', \$perr, timeout(90));

# kcat has read all input, but the messages for partitions 1 and 3 cannot
# be delivered yet
sleep(2);
ok(process_alive($producer->{KIDS}[0]{PID}),
	'producer is stuck while the leader is down');

($rc, $out) = wrapper('cmd', $dir, 'up', '2');
is("$rc $out", "0 ok\n", 'up 2 via the FIFO');
ok(port_accepts($ports[1]), 'broker 2 accepts connections again');

{
	my $t0 = time;
	my $finished = eval { $producer->finish; 1 };
	ok($finished, 'producer finished after the broker came back')
	  or do { diag($@); $producer->kill_kill; };
	is($finished ? $producer->result(0) : -1, 0,
		'producer delivered everything')
	  or diag($perr);
	note(sprintf('producer needed %.1f s after "up"', time - $t0));
}

($rc, @msgs) = consume($addr, 't');
is($rc, 0, 'kcat consumed after the outage');
check_messages(\@msgs, [ @sent, @sent2 ], 'after the outage');

#
# Error injection: a non-retriable Produce error for the next request
#
($rc, $out) = wrapper('cmd', $dir, 'topic', 'e', '1');
is("$rc $out", "0 ok\n", 'topic e created via the FIFO');
($rc, $out) = wrapper('cmd', $dir, 'error', '0', '10', '1');
is("$rc $out", "0 ok\n", 'error 0 10 1 (Produce, MSG_SIZE_TOO_LARGE)');

($rc, $err) = produce($addr, 'e', ['k0:doomed']);
isnt($rc, 0, 'produce fails with the injected error');
like($err, qr/Message size too large/, 'kcat reports the injected error');

($rc, @msgs) = consume($addr, 'e');
check_messages(\@msgs, [], 'nothing stored by the failed produce');

my @sent3 = map { "k$_:v$_" } 1 .. 10;
($rc, $err) = produce($addr, 'e', \@sent3);
is($rc, 0, 'the injected error was used up: next produce succeeds')
  or diag($err);
($rc, @msgs) = consume($addr, 'e');
check_messages(\@msgs, \@sent3, 'after the injected error');

#
# Bad commands through the FIFO
#
($rc, $out) = wrapper('cmd', $dir, 'frobnicate', 'now');
is($rc, 1, 'unknown command: pp-broker cmd exits with 1');
is($out, "error unknown command \"frobnicate\"\n",
	'unknown command gets an error reply');
($rc, $out) = wrapper('cmd', $dir, 'up', '4');
is($rc, 1, 'up 4 on a 3-broker cluster is an error');

#
# Many writers: each opens the FIFO, writes one line and closes it
#
{
	my $count_ok = sub {
		open(my $fh, '<', "$dir/broker.log") or return -1;
		my $n = grep { $_ eq "ok\n" } <$fh>;
		close($fh);
		return $n;
	};
	my $before = $count_ok->();
	my @writers;
	for my $i (1 .. 20)
	{
		push @writers, start(
			[ 'sh', '-c', 'printf "rtt all 0\n" > "$1"', 'sh', "$dir/control" ],
			timeout(30));
	}
	my $writers_ok = 1;
	for my $w (@writers)
	{
		$writers_ok = 0 unless eval { $w->finish; 1 } && $w->result(0) == 0;
	}
	ok($writers_ok, '20 concurrent writers could write to the FIFO');

	my $deadline = time + 10;
	sleep(0.1) while $count_ok->() < $before + 20 && time < $deadline;
	is($count_ok->() - $before, 20, 'all 20 commands were executed');
}

ok(process_alive($pid), 'broker still running');

#
# Stop
#
($rc, $out, $err) = wrapper('stop', $dir);
is($rc, 0, 'pp-broker stop succeeds') or diag($err);
ok(!-e "$dir/control", 'control FIFO removed');
ok(!process_alive($pid), 'broker process gone');
$started = 0;
{
	open(my $fh, '<', "$dir/broker.log") or die "cannot open broker.log: $!";
	my @unexpected = grep { !/^(ok|error .*|127\.0\.0\.1:\S+)$/ } <$fh>;
	close($fh);
	is(join('', @unexpected), '', 'broker.log has nothing but replies');
}

($rc) = wrapper('cmd', $dir, 'bootstrap');
isnt($rc, 0, 'pp-broker cmd fails once the broker is stopped');

done_testing();
