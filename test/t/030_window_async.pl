# Windowed aggregates under concurrent writers (issue 4): async windows
# (merged by the maintainer worker) and sync windows on one source while
# pgbench clients insert, update and delete at once; every window ends equal
# to a from-scratch query (EXCEPT ALL both ways), without deadlocks, and the
# async ones catch up without flush_window; a LISTENing session sees each
# closed window announced; TRUNCATE empties and resets; a killed maintainer
# comes back and loses nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use IPC::Run;
use JSON::PP;
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t_start = time();
my $node = pipeline_node('window_async', conf => "log_min_messages = info\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

my $aggs = 'count(*) AS n, count(DISTINCT user_id) AS users, sum(amount) AS amount, max(amount) AS top';

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE SEQUENCE clock;
CREATE TABLE ev (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, page text, user_id int, amount numeric(10,2));

-- the from-scratch query (is_final expected where window_end <= the
-- watermark) and the window's rows with the same columns
CREATE FUNCTION window_queries(win regclass, expected text, OUT exp text, OUT act text)
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
BEGIN
    EXECUTE format('CREATE TEMP VIEW mismatch_expected AS %s', expected);
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = 'mismatch_expected'::regclass AND attnum > 0;
    DROP VIEW mismatch_expected;
    exp := format('SELECT e.*, e.window_end <= s.watermark AS is_final
                     FROM (%s) e, pipeline.windows w JOIN pipeline.window_status s ON s.name = w.name
                    WHERE w.result::oid = %s', expected, win::oid);
    act := format('SELECT %s, is_final FROM %s', cols, win);
END
$$;
-- missing/extra rows of a window against a from-scratch query, as 'missing/extra'
CREATE FUNCTION mismatch(win regclass, expected text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q record;
    missing bigint;
    extra bigint;
BEGIN
    q := window_queries(win, expected);
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', q.exp, q.act) INTO missing;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', q.act, q.exp) INTO extra;
    RETURN missing || '/' || extra;
END
$$;
-- the first differing rows, for the log
CREATE FUNCTION mismatch_rows(win regclass, expected text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    q record;
BEGIN
    q := window_queries(win, expected);
    RETURN QUERY EXECUTE format(
        'SELECT * FROM (SELECT ''missing '' || d::text AS r FROM ((%1$s) EXCEPT ALL (%2$s)) d
                        UNION ALL SELECT ''extra   '' || d::text FROM ((%2$s) EXCEPT ALL (%1$s)) d) x
          ORDER BY substr(r, 9), r LIMIT 30', q.exp, q.act);
END
$$;
});

my $relations = sql("SELECT count(*) FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'pipeline'::regnamespace)");

my %expected = (
	w_tumble_async => qq{
		SELECT date_bin('1 min', ts, '1970-01-01 00:00+00') AS window_start,
		       date_bin('1 min', ts, '1970-01-01 00:00+00') + interval '1 min' AS window_end, page, $aggs
		  FROM ev GROUP BY 1, 2, 3},
	w_hop_async => qq{
		SELECT w.ws AS window_start, w.ws + interval '5 min' AS window_end, page, $aggs
		  FROM ev, LATERAL (SELECT date_bin('1 min', ts, '1970-01-01 00:00+00') - i * interval '1 min' AS ws
		                      FROM generate_series(0, 4) i) w
		 GROUP BY 1, 2, 3},
	w_session_async => qq{
		SELECT min(ts) AS window_start, max(ts) + interval '1 min' AS window_end, user_id, $aggs
		  FROM (SELECT *, sum(brk) OVER (PARTITION BY user_id ORDER BY ts, id) AS sid
		          FROM (SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts, id) < interval '1 min'
		                               THEN 0 ELSE 1 END AS brk FROM ev) b) s
		 GROUP BY user_id, sid});
$expected{w_tumble_sync} = $expected{w_tumble_async};
$expected{w_session_sync} = $expected{w_session_async};
my @async = qw(w_hop_async w_session_async w_tumble_async);
my @sync = qw(w_session_sync w_tumble_sync);

sql(qq{
SELECT pipeline.create_window('w_tumble_async', 'ev', 'ts', pipeline.tumble('1 min'), '$aggs',
                              group_by => '{page}', mode => 'async');
SELECT pipeline.create_window('w_hop_async', 'ev', 'ts', pipeline.hop('5 min', '1 min'), '$aggs',
                              group_by => '{page}', mode => 'async', allowed_lateness => '10 s');
SELECT pipeline.create_window('w_session_async', 'ev', 'ts', pipeline.session('1 min'), '$aggs',
                              group_by => '{user_id}', mode => 'async');
SELECT pipeline.create_window('w_tumble_sync', 'ev', 'ts', pipeline.tumble('1 min'), '$aggs',
                              group_by => '{page}');
SELECT pipeline.create_window('w_session_sync', 'ev', 'ts', pipeline.session('1 min'), '$aggs',
                              group_by => '{user_id}');
});

my $mpid;
ok(defined wait_until(10, sub { $mpid = worker_pids($node, 'maintainer'); $mpid =~ /^\d+$/ }),
	'one maintainer worker runs for the async windows (pipeline.workers)');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline maintainer'"), '1',
	'pg_stat_activity shows it as pg_pipeline maintainer');

sub mismatches
{
	my (@wins) = @_;
	return join(' ', map { "$_=" . sql("SELECT mismatch('$_', \$q\$$expected{$_}\$q\$)") } @wins);
}
sub zero { return join(' ', map { "$_=0/0" } @_); }
# exact, or the differing rows in the log
sub exact
{
	my ($name, @wins) = @_;
	my $ok = is(mismatches(@wins), zero(@wins), $name);
	unless ($ok)
	{
		for my $w (@wins)
		{
			my $rows = sql("SELECT mismatch_rows('$w', \$q\$$expected{$w}\$q\$)");
			diag("$w:\n$rows") if $rows ne '';
		}
		diag(sql('SELECT name, watermark, max_event_time, late_rows, pending_delta FROM pipeline.window_status ORDER BY name'));
	}
	return $ok;
}

# A session that listens; psql prints what arrived after each command.
my ($listener, $poll) = listen_json($node, 'pipeline_window_closed');
my @notes;

# ---- four writers at once ----------------------------------------------------

# Time moves on by a second a row (a shared sequence), each row up to 20 s
# behind: windows close while clients write, and some rows are late.
my $base = PostgreSQL::Test::Utils::tempdir('window_async');
my %scripts = (
	'insert.sql' => q{
\set n random(1, 5)
\set jitter random(0, 20)
INSERT INTO ev (ts, page, user_id, amount)
SELECT '2024-01-01 00:00+00'::timestamptz + (nextval('clock') - :jitter) * interval '1 second',
       'p' || (1 + floor(random() * 8)::int), 1 + floor(random() * 40)::int, round((random() * 100)::numeric, 2)
  FROM generate_series(1, :n);
},
	'update.sql' => q{
\set id random(1, 3000)
UPDATE ev SET amount = amount + 1, page = 'p' || (1 + floor(random() * 8)::int) WHERE id = :id;
\set id2 random(1, 3000)
UPDATE ev SET user_id = 1 + floor(random() * 40)::int, ts = ts - interval '30 s' WHERE id = :id2;
},
	'delete.sql' => q{
\set id random(1, 3000)
DELETE FROM ev WHERE id = :id;
});
for my $f (keys %scripts)
{
	PostgreSQL::Test::Utils::append_to_file("$base/$f", $scripts{$f});
}

sub pgbench
{
	my ($clients, $jobs, $tx, $name) = @_;
	my ($out, $err) = ('', '');
	my $t0 = time();
	my $ok = IPC::Run::run([ 'pgbench', '--no-vacuum', '-h', $node->host, '-p', $node->port,
		'-c', $clients, '-j', $jobs, '-t', $tx,
		'-f', "$base/insert.sql\@8", '-f', "$base/update.sql\@1", '-f', "$base/delete.sql\@1",
		'postgres' ], '>', \$out, '2>', \$err, IPC::Run::timeout(300));
	note(sprintf('%s: pgbench %d clients x %d transactions in %.1f s', $name, $clients, $tx, time() - $t0));
	ok($ok, "$name: pgbench ran without error") or diag("stdout:\n$out\nstderr:\n$err");
	my $total = $clients * $tx;
	like($out, qr{number of transactions actually processed: $total/$total}, "$name: every transaction committed");
	unlike($err, qr/aborted|deadlock|ERROR/i, "$name: no client aborted");
}

pgbench(4, 2, 150, 'writers');
my $rows = sql('SELECT count(*) FROM ev');
cmp_ok($rows, '>', 800, "the source has $rows rows");

exact('sync windows equal the from-scratch queries right after the writers', @sync);

my $caught = wait_until(30, sub {
	sql('SELECT sum(pending_delta) FROM pipeline.window_status') eq '0'
	  && mismatches(@async) eq zero(@async) });
ok(defined $caught, 'async windows catch up without flush_window');
note(sprintf('async windows caught up %.2f s after the writers ended', $caught // -1));
exact('async windows equal the from-scratch queries', @async);
is(sql('SELECT count(*) FROM pipeline.window_status WHERE last_error IS NOT NULL'), '0', 'no window has an error');
is(sql("SELECT string_agg(name || ':' || (late_rows > 0), ',' ORDER BY name) FROM pipeline.window_status"),
	'public.w_hop_async:true,public.w_session_async:true,public.w_session_sync:true,public.w_tumble_async:true,public.w_tumble_sync:true',
	'late rows were seen by every window');
is(sql("SELECT bool_and(n > 0) AND count(*) FILTER (WHERE is_final) > 10 FROM w_tumble_async"), 't',
	'many windows are final');

# ---- the announcements -------------------------------------------------------

# Every final window of each window aggregate was announced, by the
# maintainer for async windows and by a writer (or, for rows a writer found
# locked, the maintainer's sweep) for sync ones.
sub announced_ok
{
	my ($win) = @_;
	my @mine = grep { ($_->{payload}{window} // '') eq "public.$win" } @notes;
	my $values = join(',', map {
		"('$_->{payload}{window_start}'::timestamptz, '$_->{payload}{window_end}'::timestamptz)" } @mine);
	$values = "(NULL::timestamptz, NULL::timestamptz)" unless @mine;
	return sql("SELECT (SELECT count(*) FROM (SELECT window_start, window_end FROM $win WHERE is_final
	                                           EXCEPT SELECT * FROM (VALUES $values) v) d)
	                || '/' ||
	                   (SELECT count(*) FROM (SELECT * FROM (VALUES $values) v WHERE column1 IS NOT NULL
	                                           EXCEPT SELECT window_start, window_end FROM $win WHERE is_final) d)");
}
# Tumbling and hopping windows keep their bounds, so the announced windows
# are exactly the final ones.  Sessions are merged, split and extended by
# late rows, deletes and updates after they were announced: there, every
# announcement must have been final when made, and some must have come.
my @fixed = grep { !/session/ } (@async, @sync);
my @sessions = grep { /session/ } (@async, @sync);
my $announced = wait_until(20, sub {
	push @notes, $poll->();
	!grep { announced_ok($_) ne '0/0' } @fixed });
ok(defined $announced, 'a listening session saw every final window announced');
for my $win (@fixed)
{
	is(announced_ok($win), '0/0', "$win: announced windows = final windows (unannounced/not final)");
}
for my $win (@sessions)
{
	my @mine = grep { ($_->{payload}{window} // '') eq "public.$win" } @notes;
	cmp_ok(scalar(@mine), '>', 10, "$win: sessions were announced");
	my @early = grep { ($_->{payload}{window_end} // '') gt ($_->{payload}{watermark} // '') } @mine;
	is(scalar(@early), 0, "$win: no session announced before the watermark passed its end")
	  or diag(explain($early[0]));
}
my @bad = grep { !defined $_->{payload}{groups} || $_->{payload}{groups} !~ /^\d+$/ || $_->{payload}{groups} < 1
	  || !defined $_->{payload}{watermark} } @notes;
is(scalar @bad, 0, 'every payload has a positive group count and a watermark')
  or diag(explain($bad[0]));
my %async_pid = map { $_->{pid} => 1 } grep { $_->{payload}{window} =~ /_async$/ } @notes;
my %sync_pid = map { $_->{pid} => 1 } grep { $_->{payload}{window} =~ /_sync$/ } @notes;
is(join(',', sort keys %async_pid), $mpid, 'async windows are announced by the maintainer');
# sync windows are closed by the writers; the maintainer's sweep closes only
# what a writer skipped because another writer held the rows
ok(scalar(grep { $_ ne $mpid } keys %sync_pid) >= 1, 'sync windows are announced by the writers');
my %seen;
my @dups = grep { $seen{"$_->{payload}{window} $_->{payload}{window_start} $_->{payload}{window_end}"}++ } @notes;
note(scalar(@notes) . ' announcements, ' . scalar(@dups) . ' of an already announced window (late rows)');

# ---- no deadlock -------------------------------------------------------------

my $log = slurp_file($node->logfile);
unlike($log, qr/deadlock detected/, 'no deadlock in the server log');
unlike($log, qr/could not serialize/, 'no serialization failure in the server log');

# ---- TRUNCATE, then writers again while the maintainer is killed ------------

sql('TRUNCATE ev RESTART IDENTITY');
is(join(',', map { sql("SELECT count(*) FROM $_") } @sync), '0,0', 'TRUNCATE empties the sync windows');
ok(defined wait_until(30, sub { join(',', map { sql("SELECT count(*) FROM $_") } @async) eq '0,0,0' }),
	'TRUNCATE empties the async windows');
is(sql('SELECT count(*) FROM pipeline.window_status WHERE watermark IS NOT NULL OR max_event_time IS NOT NULL'), '0',
	'TRUNCATE resets every watermark');
sql("SELECT setval('clock', 1)");

my $bg = IPC::Run::start([ 'pgbench', '--no-vacuum', '-h', $node->host, '-p', $node->port,
	'-c', 2, '-j', 2, '-t', 150, '-f', "$base/insert.sql\@8", '-f', "$base/update.sql\@1",
	'-f', "$base/delete.sql\@1", 'postgres' ], '>', \my $bg_out, '2>', \my $bg_err, IPC::Run::timeout(300));
ok(defined wait_until(30, sub { sql('SELECT count(*) FROM ev') > 100 }), 'writers are busy again');
my $old = worker_pids($node, 'maintainer');
sql("SELECT pg_terminate_backend($old)");
ok(defined wait_until(30, sub { my $p = worker_pids($node, 'maintainer'); $p =~ /^\d+$/ && $p ne $old }),
	'the maintainer comes back after SIGTERM');
ok($bg->finish, 'second pgbench run ended without error') or diag("stdout:\n$bg_out\nstderr:\n$bg_err");
like($bg_out, qr{number of transactions actually processed: 300/300}, 'second run: every transaction committed');

exact('after TRUNCATE and more writers: sync windows exact', @sync);
ok(defined wait_until(30, sub {
	sql('SELECT sum(pending_delta) FROM pipeline.window_status') eq '0'
	  && mismatches(@async) eq zero(@async) }),
	'after TRUNCATE, more writers and a killed maintainer: async windows catch up');
exact('async windows exact', @async);
is(sql('SELECT count(*) FROM pipeline.window_status WHERE last_error IS NOT NULL'), '0', 'no window has an error');
unlike(slurp_file($node->logfile), qr/deadlock detected/, 'still no deadlock in the server log');

# ---- drop --------------------------------------------------------------------

$listener->quit;
sql("SELECT pipeline.drop_window(result) FROM pipeline.windows");
is(sql("SELECT count(*) FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'pipeline'::regnamespace)"),
	$relations, 'drop_window left no relation behind');
is(sql("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ev'::regclass"), '0', 'and no trigger on the source');
sql('DROP EXTENSION pg_pipeline');
$node->stop;
note(sprintf('total %.1f s', time() - $t_start));
done_testing();
