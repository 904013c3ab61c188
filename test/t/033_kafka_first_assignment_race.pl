# Two consumers making a source's first assignment at once never move a
# stored offset past messages they did not load.
#
# With consumers => 2, each worker's first assignment resolves start_from
# for every partition of the source and stores it (its own partitions and,
# unless already stored, the other worker's), in one transaction.  When
# both begin that transaction before either commits, the one that commits
# second used to resolve 'latest' for its own partitions after the other
# had stored them, and overwrote the stored offset with the newer end: what
# was written to those partitions in between was never loaded, not even
# after a restart (seen once in t/025: 5 messages of one np-old partition).
#
# A trigger on pipeline.source_offsets holds the consumers where the race
# is, with advisory locks the test holds:
#   4201  both consumers wait before their first offset write: both are in
#         their first assignment (its snapshot taken) before either commits
#   4202  taken for good (a session lock) by the first one to go on, so
#         that the other, however late it wakes up, is the second
#   4203  the second one waits again, until the first has committed all
#         four offsets and 20 more messages are written
# Then every one of the 20 messages must arrive, and the offsets stored by
# the first consumer must be where reading started.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

skip_without_kcat();

my $tmp = PostgreSQL::Test::Utils::tempdir('kafka_first_assignment');
my $addr = start_broker("$tmp/broker", qw(race:4));

my $node = pipeline_node('first_assignment', conf => "log_min_messages = info\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# 10 old messages in each partition: 'latest' is offset 10 everywhere
kcat_produce($addr, 'race', [ map { qq({"id": $_}) } 1 .. 10 ], partition => $_) for 0 .. 3;

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka
	OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE ev (id int, _partition int, _offset bigint);
CREATE FUNCTION public.hold_first_assignment() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.source = 'race' THEN
		PERFORM pg_catalog.pg_advisory_xact_lock_shared(4201);
		IF NOT pg_catalog.pg_try_advisory_lock(4202) THEN
			PERFORM pg_catalog.pg_advisory_xact_lock_shared(4203);
		END IF;
	END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER hold_first_assignment BEFORE INSERT ON pipeline.source_offsets
	FOR EACH ROW EXECUTE FUNCTION public.hold_first_assignment();
});

my $hold = $node->background_psql('postgres');
$hold->query_safe('SELECT pg_advisory_lock(4201), pg_advisory_lock(4203)');

sql(q{SELECT pipeline.create_source('race', 'kafka', 'race', 'ev',
		start_from => 'latest', consumers => 2, batch_ms => 10)});
my $waiting = q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %d AND NOT granted};
ok(defined wait_until(60, sub { sql(sprintf($waiting, 4201)) eq '2' }),
	'both consumers are in their first assignment, neither has stored an offset');

# one goes on and commits the offsets of all four partitions; the other waits
$hold->query_safe('SELECT pg_advisory_unlock(4201)');
ok(defined wait_until(30, sub { sql(sprintf($waiting, 4203)) eq '1'
			&& sql(q{SELECT count(*) FROM pipeline.source_offsets WHERE source = 'race'}) eq '4' }),
	'the first consumer stored every offset, the second waits');
is(sql(q{SELECT string_agg(partition || '@' || next_offset, ',' ORDER BY partition) FROM pipeline.source_offsets}),
	'0@10,1@10,2@10,3@10', "'latest' is offset 10 in every partition");

# written after the offsets were stored: every one must be loaded
for my $p (0 .. 3)
{
	kcat_produce($addr, 'race', [ map { qq({"id": $_}) } $p * 100 + 11 .. $p * 100 + 15 ], partition => $p);
}
$hold->query_safe('SELECT pg_advisory_unlock(4203)');
wait_for_sql($node, 30, 'SELECT count(*) FROM ev', '20',
	'the 20 messages written after the offsets were stored all arrive');
is(sql(q{SELECT string_agg(_partition || ':' || n || ':' || lo, ',' ORDER BY _partition)
           FROM (SELECT _partition, count(*) n, min(_offset) lo FROM ev GROUP BY _partition) s}),
	'0:5:10,1:5:10,2:5:10,3:5:10', 'each partition from offset 10 (where the stored offsets said)');
is(sql(q{SELECT string_agg(partition || '@' || next_offset, ',' ORDER BY partition) FROM pipeline.source_offsets}),
	'0@15,1@15,2@15,3@15', 'the stored offsets are past the loaded messages, no further');
$hold->quit;

sql('DROP TRIGGER hold_first_assignment ON pipeline.source_offsets');
unlike(slurp_file($node->logfile), qr/terminated by signal|exited with exit code [^01]/,
	'no worker crashed');
$node->stop;
done_testing();
