# Window aggregates in mode append under concurrent writers (0.12.0):
# pgbench clients insert (each statement appends its partials) while other
# clients update and delete random rows of the same groups (each statement
# recomputes its groups from the source and takes out their partials) and
# the maintainer folds meanwhile.  The double count this hunts: a recompute
# and the partials of a writer that commits concurrently.  While they run,
# the view must equal the from-scratch GROUP BY in any one snapshot; at the
# end, before flush_window and after it (then with is_final as the
# watermark says); no window has an error, no deadlock.
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
my $node = pipeline_node('window_append', conf => "log_min_messages = info\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

my $aggs = 'count(*) AS n, count(DISTINCT user_id) AS users, sum(amount) AS amount, min(amount) AS low, max(amount) AS top';

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE SEQUENCE clock;
CREATE TABLE ev (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, page text, user_id int, amount numeric(10,2));
CREATE INDEX ON ev (ts);

-- missing/extra rows of a window against a from-scratch query, as
-- 'missing/extra'; with_final: is_final compared too (expected where
-- window_end <= the watermark)
CREATE FUNCTION mismatch(win regclass, expected text, with_final boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    exp text;
    act text;
    missing bigint;
    extra bigint;
BEGIN
    EXECUTE format('CREATE TEMP VIEW mismatch_expected AS %s', expected);
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = 'mismatch_expected'::regclass AND attnum > 0;
    DROP VIEW mismatch_expected;
    IF with_final THEN
        exp := format('SELECT e.*, e.window_end <= s.watermark AS is_final
                         FROM (%s) e, pipeline.windows w JOIN pipeline.window_status s ON s.name = w.name
                        WHERE w.result::oid = %s', expected, win::oid);
        act := format('SELECT %s, is_final FROM %s', cols, win);
    ELSE
        exp := expected;
        act := format('SELECT %s FROM %s', cols, win);
    END IF;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', exp, act) INTO missing;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', act, exp) INTO extra;
    RETURN missing || '/' || extra;
END
$$;
});

my %expected = (
	p_tumble => qq{
		SELECT date_bin('10 s', ts, '1970-01-01 00:00+00') AS window_start,
		       date_bin('10 s', ts, '1970-01-01 00:00+00') + interval '10 s' AS window_end, page, $aggs
		  FROM ev GROUP BY 1, 2, 3},
	p_hop => qq{
		SELECT w.ws AS window_start, w.ws + interval '30 s' AS window_end, page, $aggs
		  FROM ev, LATERAL (SELECT date_bin('10 s', ts, '1970-01-01 00:00+00') - i * interval '10 s' AS ws
		                      FROM generate_series(0, 2) i) w
		 GROUP BY 1, 2, 3},
	p_global => qq{
		SELECT date_bin('1 min', ts, '1970-01-01 00:00+00') AS window_start,
		       date_bin('1 min', ts, '1970-01-01 00:00+00') + interval '1 min' AS window_end, $aggs
		  FROM ev GROUP BY 1, 2});
my @wins = sort keys %expected;

sql(qq{
SELECT pipeline.create_window('p_tumble', 'ev', 'ts', pipeline.tumble('10 s'), '$aggs',
                              group_by => '{page}', mode => 'append');
SELECT pipeline.create_window('p_hop', 'ev', 'ts', pipeline.hop('30 s', '10 s'), '$aggs',
                              group_by => '{page}', mode => 'append', allowed_lateness => '5 s');
SELECT pipeline.create_window('p_global', 'ev', 'ts', pipeline.tumble('1 min'), '$aggs', mode => 'append');
});
ok(defined wait_until(10, sub { worker_pids($node, 'maintainer') =~ /^\d+$/ }), 'the maintainer runs');

sub mismatches
{
	my ($with_final) = @_;
	# one snapshot for the view and the source
	return join(' ', map {
		"$_=" . sql("BEGIN ISOLATION LEVEL REPEATABLE READ; "
			  . "SELECT mismatch('$_', \$q\$$expected{$_}\$q\$, $with_final); COMMIT;") } @wins);
}
my $zero = join(' ', map { "$_=0/0" } @wins);

# Few groups (4 pages), time moving by a second a row with up to 20 s of
# jitter: the updaters and deleters hit groups the inserters are writing to.
my $base = PostgreSQL::Test::Utils::tempdir('window_append');
my %scripts = (
	'insert.sql' => q{
\set n random(1, 5)
\set jitter random(0, 20)
INSERT INTO ev (ts, page, user_id, amount)
SELECT '2024-01-01 00:00+00'::timestamptz + (nextval('clock') - :jitter) * interval '1 second',
       'p' || (1 + floor(random() * 4)::int), 1 + floor(random() * 40)::int, round((random() * 100)::numeric, 2)
  FROM generate_series(1, :n);
},
	'update.sql' => q{
UPDATE ev SET amount = amount + 1, page = 'p' || (1 + floor(random() * 4)::int)
 WHERE id = (SELECT max(id) FROM ev) - floor(random() * 60)::int;
UPDATE ev SET user_id = 1 + floor(random() * 40)::int, ts = ts - interval '7 s'
 WHERE id = (SELECT max(id) FROM ev) - floor(random() * 60)::int;
},
	'delete.sql' => q{
DELETE FROM ev WHERE id = (SELECT max(id) FROM ev) - floor(random() * 60)::int;
});
for my $f (keys %scripts)
{
	PostgreSQL::Test::Utils::append_to_file("$base/$f", $scripts{$f});
}
sub pgbench_start
{
	my ($clients, $seconds, @files) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'pgbench', '--no-vacuum', '-h', $node->host, '-p', $node->port,
		'-c', $clients, '-j', $clients, '-T', $seconds, (map { ('-f', "$base/$_") } @files), 'postgres' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(120));
	return { h => $h, out => \$out, err => \$err };
}
sub pgbench_finish
{
	my ($run, $name) = @_;
	ok($run->{h}->finish, "$name: pgbench ran without error") or diag("stderr:\n${$run->{err}}");
	like(${$run->{out}}, qr/number of transactions actually processed: [1-9]/, "$name: transactions committed");
	unlike(${$run->{err}}, qr/aborted|deadlock|ERROR/i, "$name: no client aborted")
	  or diag("stderr:\n${$run->{err}}");
}

my $seconds = 15;
my $t0 = time();
my $inserters = pgbench_start(3, $seconds, 'insert.sql');
my $modifiers = pgbench_start(2, $seconds, 'update.sql@2', 'delete.sql@1');

# while they run: the view equals the GROUP BY in every snapshot looked at
my (@during, $folded_during);
while (time() - $t0 < $seconds - 1)
{
	sleep(2);
	push @during, mismatches('false');
	$folded_during ||= sql('SELECT count(*) > 0 FROM p_tumble_state') eq 't';
}
pgbench_finish($inserters, 'inserters');
pgbench_finish($modifiers, 'updaters and deleters');
note(sprintf('writers ran %.1f s; %d rows', time() - $t0, sql('SELECT count(*) FROM ev')));
cmp_ok(scalar(@during), '>=', 3, 'looked while the writers ran');
is(join("\n", grep { $_ ne $zero } @during), '', 'while the writers ran: every window equal to its GROUP BY');
ok($folded_during, 'the maintainer folded while the writers ran');

# the end, before any flush (the maintainer may have folded or not)
is(mismatches('false'), $zero, 'after the writers, before flush_window: equal to the GROUP BY');
cmp_ok(sql('SELECT sum(late_rows) FROM pipeline.window_status'), '>', 0, 'some rows were late');

sql('SELECT pipeline.flush_window(NULL)');
is(sql('SELECT sum(pending_delta) FROM pipeline.window_status'), '0', 'flush_window folded every partial');
is(mismatches('true'), $zero, 'after flush_window: equal to the GROUP BY, is_final as the watermark says');
is(sql("SELECT count(*) FILTER (WHERE is_final) > 5 FROM p_tumble"), 't', 'many windows are final');
is(sql('SELECT count(*) FROM pipeline.window_status WHERE last_error IS NOT NULL'), '0', 'no window has an error')
  or diag(sql('SELECT name, last_error FROM pipeline.window_status'));
unlike(slurp_file($node->logfile), qr/deadlock detected/, 'no deadlock in the server log');

sql("SELECT pipeline.drop_window(result) FROM pipeline.windows");
is(sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'p\\_%'"), '0', 'drop_window left no relation behind');
sql('DROP EXTENSION pg_pipeline');
$node->stop;
note(sprintf('total %.1f s', time() - $t_start));
done_testing();
