# A table model rebuilt while another session reads it: the reader sees
# the old rows or the new ones, never none and never a mix (the new rows
# are written into a new heap and swapped in at commit, keeping the
# relation's OID), and a user's view on the model keeps working.
#
# The reader is a procedure in its own session that counts the model's
# rows, and the rows of a view on it, in a loop, one transaction per count
# (a count in the same transaction as the previous one would hold its lock
# and keep the swap waiting); the test session rebuilds the model several
# times, its size switching between two known counts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = pipeline_node('model_reader');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

my ($small, $big) = (100_000, 150_000);
sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SCHEMA marts;
CREATE TABLE public.size (n int);
INSERT INTO public.size VALUES ($small);
SELECT pipeline.create_model('marts.big',
    'SELECT g AS id, g % 7 AS k, md5(g::text) AS pad FROM generate_series(1, (SELECT n FROM public.size)) g',
    materialized => 'table');
});
is(sql(q{SELECT status || ':' || rows FROM pipeline.run('marts.big')}), "success:$small", 'first build');
my $oid = sql(q{SELECT 'marts.big'::regclass::oid});
sql(q{
CREATE VIEW public.big_ids AS SELECT id FROM marts.big WHERE k >= 0;
CREATE TABLE public.seen (n bigint, via_view bigint, read_at timestamptz);
CREATE TABLE public.reader_stop (stop boolean);
INSERT INTO public.reader_stop VALUES (false);
CREATE PROCEDURE public.read_until_stopped()
LANGUAGE plpgsql AS $$
DECLARE
    a bigint;
    b bigint;
BEGIN
    LOOP
        SELECT count(*) INTO a FROM marts.big;
        COMMIT;
        SELECT count(*) INTO b FROM public.big_ids;
        INSERT INTO public.seen VALUES (a, b, clock_timestamp());
        COMMIT;
        EXIT WHEN (SELECT stop FROM public.reader_stop);
    END LOOP;
END
$$;
});

my ($out, $err) = ('', '');
my $reader = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
	  '-c', 'CALL public.read_until_stopped()' ],
	'>', \$out, '2>', \$err);
ok(defined wait_until(30, sub { sql('SELECT count(*) FROM public.seen') > 0 }), 'the reader reads');

my $rebuilds = 8;
my @sizes;
for my $i (1 .. $rebuilds)
{
	my $n = $i % 2 ? $big : $small;
	push @sizes, $n;
	sql("UPDATE public.size SET n = $n");
	is(sql(q{SELECT status || ':' || rows FROM pipeline.run('marts.big')}), "success:$n", "rebuild $i ($n rows)");
}
sql('UPDATE public.reader_stop SET stop = true');
$reader->finish;
is($? >> 8, 0, 'the reader ended without an error') or diag($err);

my %seen = map { split /\|/ } split /\n/,
  sql(q{SELECT n || '|' || count(*) FROM public.seen GROUP BY n});
my $reads = 0;
$reads += $_ for values %seen;
note('counts seen: ' . join(', ', map { "$_ rows x $seen{$_}" } sort keys %seen));
is(join(',', grep { $_ != $small && $_ != $big } sort keys %seen), '',
	'every count the reader saw is the old or the new size (never 0, never a mix)');
is(sql(q{SELECT count(*) FROM public.seen WHERE via_view IS DISTINCT FROM n AND via_view NOT IN (} . "$small, $big)"),
	'0', 'the user\'s view on the model always answered with the old or the new rows');
ok(exists $seen{$small} && exists $seen{$big}, 'the reader saw both sizes (it read across rebuilds)');
my $during = sql(q{SELECT count(*) FROM public.seen s
                     JOIN pipeline.model_runs r ON s.read_at > r.started_at AND s.read_at < r.ended_at
                    WHERE r.model = 'marts.big'});
note("$reads reads, $during of them ended while a rebuild was running");
cmp_ok($during, '>', 0, 'reads ended while rebuilds were running');
is(sql(q{SELECT 'marts.big'::regclass::oid}), $oid, 'the model kept its relation (same OID)');
is(sql(q{SELECT count(*) FROM public.big_ids}), $sizes[-1], 'the view reads the last build');

$node->stop;
done_testing();
