# on_error => 'skip' and 'dead_letter' set aside only what a message caused
# (issue 10): an error of the target table pauses the source with the error
# and moves no offset, whatever the policy; resume_source() after the fix
# loads every message exactly once.
#
# Two sources (skip, dead_letter) of one topic, owned by a role that is not
# a superuser, each into its own table.  Good messages only; the targets
# are broken in turn, each time so that every row fails:
#   - the owner loses USAGE on the sequence of a column default (42501,
#     an error of the target by its class),
#   - a NOT NULL column without a default is added (23502 for every row of
#     the batch: the uniform-failure rule),
#   - a BEFORE trigger raises for every row (P0001, uniform),
#   - a CHECK constraint every row violates is added NOT VALID (23514,
#     uniform),
#   - the owner loses INSERT on the table (found before loading: the
#     consumer fails and is retried, and recovers by itself).
# Then genuinely bad messages, among good ones and alone in pairs (two
# data errors; two duplicates of loaded rows), still go to the dead letters
# or are skipped, one by one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t_start = time();
my $tmp = PostgreSQL::Test::Utils::tempdir('kafka_on_error_target');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(tg:1));

my $node = pipeline_node('kafka_on_error_target',
	init => { extra => [ '--encoding=UTF8', '--locale=C' ] },
	conf => "log_min_messages = info\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# Messages produced at once (one produce request), counted.
my $produced = 0;
sub produce
{
	my (@messages) = @_;
	kcat_produce($addr, 'tg', \@messages, partition => 0);
	$produced += @messages;
}
sub good { return map { qq({"id": $_, "name": "n$_"}) } @_; }

my %table = (s_skip => 'tg_skip', s_dead => 'tg_dead');
my @sources = sort keys %table;

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE ROLE pp_owner LOGIN;
GRANT USAGE ON FOREIGN SERVER kafka TO pp_owner;
CREATE SEQUENCE tg_seq;
CREATE TABLE tg_skip (id int PRIMARY KEY, name text NOT NULL, n bigint DEFAULT nextval('public.tg_seq'), _offset bigint);
CREATE TABLE tg_dead (LIKE tg_skip INCLUDING ALL);
GRANT INSERT ON tg_skip, tg_dead TO pp_owner;
GRANT USAGE ON SEQUENCE tg_seq TO pp_owner;
CREATE FUNCTION tg_refuse() RETURNS trigger LANGUAGE plpgsql
	AS \$\$BEGIN RAISE EXCEPTION 'loads into % are suspended', TG_TABLE_NAME; END\$\$;
SET ROLE pp_owner;
SELECT pipeline.create_source('s_skip', 'kafka', 'tg', 'public.tg_skip', on_error => 'skip', batch_ms => 1000);
SELECT pipeline.create_source('s_dead', 'kafka', 'tg', 'public.tg_dead', on_error => 'dead_letter', batch_ms => 1000);
});

# What each table must hold: the good ids and their offsets.
my @loaded;
sub check_loaded
{
	my ($what) = @_;
	my $want = join(',', map { "$_->[0]\@$_->[1]" } sort { $a->[0] <=> $b->[0] } @loaded);
	for my $s (@sources)
	{
		wait_for_sql($node, 60, qq{SELECT coalesce(max(next_offset), -1) FROM pipeline.source_partitions WHERE source = '$s'},
			$produced, "$what: $s reaches the end of the topic");
		is(sql(qq{SELECT string_agg(id || '\@' || _offset, ',' ORDER BY id) FROM $table{$s}}), $want,
			"$what: $s holds every good message exactly once");
	}
}
sub produce_good
{
	my (@ids) = @_;
	my $first = $produced;
	push @loaded, [ $ids[$_], $first + $_ ] for 0 .. $#ids;
	produce(good(@ids));
}

# The warnings of the skip policy, by offset.
sub skipped
{
	my %off;
	my $log = slurp_file($node->logfile);
	$off{$1}++ while $log =~ /source "s_skip" skipped the message at partition 0 offset (\d+)/g;
	return join(',', sort { $a <=> $b } keys %off);
}
sub dead_letters
{
	return sql(q{SELECT coalesce(string_agg("offset" || ':' || sqlstate, ',' ORDER BY "offset"), '')
	               FROM pipeline.dead_letters WHERE source = 's_dead'});
}

produce_good(1 .. 5);
check_loaded('before any break');

# A break of the target: the source pauses, nothing moves; the fix and
# resume_source() load what came meanwhile.
my $next_id = 6;
sub target_break
{
	my ($what, $break, $error, $fix) = @_;
	my $offset = $produced;
	my ($skipped, $dead) = (skipped(), dead_letters());
	sql($break);
	my @ids = ($next_id .. $next_id + 4);
	$next_id += 5;
	produce_good(@ids);
	for my $s (@sources)
	{
		wait_for_sql($node, 60, qq{SELECT state FROM pipeline.source_status WHERE source = '$s'}, 'stopped',
			"$what: $s pauses");
		like(sql(qq{SELECT error FROM pipeline.sources WHERE name = '$s' AND paused}), $error,
			"$what: $s shows the target's error");
		like(sql(qq{SELECT last_error FROM pipeline.source_status WHERE source = '$s'}), $error,
			"$what: source_status of $s shows it");
		is(sql(qq{SELECT next_offset FROM pipeline.source_partitions WHERE source = '$s'}), $offset,
			"$what: the offset of $s did not move");
		is(sql(qq{SELECT count(*) FROM $table{$s} WHERE id >= $ids[0]}), '0', "$what: nothing loaded into $table{$s}");
	}
	is(skipped(), $skipped, "$what: skip skipped nothing");
	is(dead_letters(), $dead, "$what: dead_letter stored no dead letter");
	like(slurp_file($node->logfile), qr/source "s_skip" paused: its target refused a batch/,
		"$what: the pause is logged");
	sql($fix);
	sql(qq{SELECT pipeline.resume_source('$_')}) for @sources;
	check_loaded("$what, fixed and resumed");
	wait_for_sql($node, 20, qq{SELECT string_agg(state || ':' || (last_error IS NULL), ',' ORDER BY source)
	                  FROM pipeline.source_status WHERE source IN ('s_skip', 's_dead')},
		'running:true,running:true', "$what: both run again, the error cleared");
}

target_break('USAGE on a default\'s sequence revoked (42501)',
	q{REVOKE USAGE ON SEQUENCE tg_seq FROM pp_owner},
	qr/permission denied for sequence tg_seq.*42501/,
	q{GRANT USAGE ON SEQUENCE tg_seq TO pp_owner});
target_break('a NOT NULL column without default added (23502 for every row)',
	q{ALTER TABLE tg_skip ADD COLUMN must int NOT NULL DEFAULT 0;
	  ALTER TABLE tg_skip ALTER must DROP DEFAULT;
	  ALTER TABLE tg_dead ADD COLUMN must int NOT NULL DEFAULT 0;
	  ALTER TABLE tg_dead ALTER must DROP DEFAULT;},
	qr/every one of the 5 messages of the batch failed with SQLSTATE 23502: null value in column "must"/,
	q{ALTER TABLE tg_skip ALTER must SET DEFAULT 7; ALTER TABLE tg_dead ALTER must SET DEFAULT 7;});
target_break('a trigger that raises for every row (P0001)',
	q{CREATE TRIGGER refuse BEFORE INSERT ON tg_skip FOR EACH ROW EXECUTE FUNCTION tg_refuse();
	  CREATE TRIGGER refuse BEFORE INSERT ON tg_dead FOR EACH ROW EXECUTE FUNCTION tg_refuse();},
	qr/every one of the 5 messages of the batch failed with SQLSTATE P0001: loads into tg_(skip|dead) are suspended/,
	q{DROP TRIGGER refuse ON tg_skip; DROP TRIGGER refuse ON tg_dead;});
target_break('a CHECK constraint no row passes (23514)',
	q{ALTER TABLE tg_skip ADD CONSTRAINT negative CHECK (id < 0) NOT VALID;
	  ALTER TABLE tg_dead ADD CONSTRAINT negative CHECK (id < 0) NOT VALID;},
	qr/SQLSTATE 23514: new row for relation "tg_(skip|dead)" violates check constraint "negative"/,
	q{ALTER TABLE tg_skip DROP CONSTRAINT negative; ALTER TABLE tg_dead DROP CONSTRAINT negative;});

# INSERT revoked on the table itself: found before loading, so the
# consumer fails and is retried with backoff; nothing skipped, no offset
# moved, and the grant alone brings it back.
{
	my $offset = $produced;
	my ($skipped, $dead) = (skipped(), dead_letters());
	sql(q{REVOKE INSERT ON tg_skip, tg_dead FROM pp_owner});
	my @ids = ($next_id .. $next_id + 4);
	$next_id += 5;
	produce_good(@ids);
	for my $s (@sources)
	{
		wait_for_sql($node, 60, qq{SELECT state || ':' || (last_error LIKE '%permission denied for table $table{$s}%')
		                  FROM pipeline.source_status WHERE source = '$s'},
			'error:true', "INSERT revoked: $s shows the error");
		is(sql(qq{SELECT next_offset FROM pipeline.source_partitions WHERE source = '$s'}), $offset,
			"INSERT revoked: the offset of $s did not move");
	}
	is(skipped(), $skipped, 'INSERT revoked: skip skipped nothing');
	is(dead_letters(), $dead, 'INSERT revoked: dead_letter stored no dead letter');
	sql(q{GRANT INSERT ON tg_skip, tg_dead TO pp_owner});
	check_loaded('INSERT granted again');
}

# Genuinely bad messages among good ones: one by one, as before.
my @bad_offsets;
my @bad_states;
sub produce_mixed
{
	my (@items) = @_;	# [ 'good', id ] or [ 'bad', message, sqlstate ]
	my @lines;
	for my $it (@items)
	{
		my $offset = $produced + @lines;
		if ($it->[0] eq 'good')
		{
			push @loaded, [ $it->[1], $offset ];
			push @lines, good($it->[1]);
		}
		else
		{
			push @bad_offsets, $offset;
			push @bad_states, "$offset:$it->[2]";
			push @lines, $it->[1];
		}
	}
	produce(@lines);
}
produce_mixed([ 'good', $next_id ], [ 'bad', '{"id": "x", "name": "bad"}', '22P02' ], [ 'good', $next_id + 1 ],
	[ 'bad', '{"id": 9001}', '23502' ], [ 'good', $next_id + 2 ], [ 'bad', '{"id": 1, "name": "dup"}', '23505' ],
	[ 'good', $next_id + 3 ]);
$next_id += 4;
check_loaded('bad messages among good ones');
# a batch of only bad messages with a data error, or with duplicates of
# loaded rows, is the messages' fault however uniform
produce_mixed([ 'bad', '{"id": "y", "name": "bad"}', '22P02' ], [ 'bad', '{"id": "z", "name": "bad"}', '22P02' ]);
check_loaded('two data errors alone');
produce_mixed([ 'bad', '{"id": 2, "name": "dup"}', '23505' ], [ 'bad', '{"id": 3, "name": "dup"}', '23505' ]);
check_loaded('two duplicates alone');
is(dead_letters(), join(',', @bad_states), 'dead_letter: each bad message is a dead letter, nothing else is');
wait_until(10, sub { skipped() eq join(',', @bad_offsets) });
is(skipped(), join(',', @bad_offsets), 'skip: a warning for each bad message, for nothing else');
is(sql(q{SELECT string_agg(state, ',' ORDER BY source) FROM pipeline.source_status WHERE source IN ('s_skip', 's_dead')}),
	'running,running', 'bad messages do not pause the sources');

unlike(slurp_file($node->logfile), qr/terminated by signal|exited with exit code [^01]/, 'no worker crashed');
$node->stop('immediate');
note(sprintf('027 took %.1f s', time() - $t_start));
done_testing();
